/**
 * Router across real threads: one writer publishes many table versions while two readers route
 * continuously. Each table's lanes encode its version, so a reader proves every route came from
 * exactly the version it announced (read-copy-update: no torn or recycled-while-read table), and
 * every publish eventually succeeds despite BUSY. Writer and readers run on every backend pairing.
 * Size: WD_STRESS × 2000 versions.
 */
import { describe, expect, test } from '@jest/globals';
import { PAIRS, STRESS, newArena, pairName, runWorker } from './harness.ts';

const VERSIONS = Math.round(2000 * STRESS);
const TIMEOUT_MS = 60_000 + VERSIONS * 5;

interface ReaderReport { error: string | null; routes: number; versionsSeen: number; lastVersion: number }

describe.each(PAIRS)('router RCU across threads: writer on %s, readers on %s', (writerBackend, readerBackend) => {
  test(`${pairName([writerBackend, readerBackend])}: ${VERSIONS} versions published under 2 readers, no torn table`, async () => {
    const t = await newArena({ threads: 3, routers: [{ maxTopics: 2, maxSubscriptions: 8 }], scratchBytes: 1024 });
    const doneFlag = t.scratch(0) + 512;
    const deadline = Date.now() + TIMEOUT_MS - 5_000;
    const base = { module: t.module, memory: t.memory, deadline, doneFlag };
    const readers = [1, 2].map((thread) => runWorker<ReaderReport>('rcu-reader', { ...base, backend: readerBackend, thread }, TIMEOUT_MS));
    const writer = await runWorker<{ error: string | null; busy: number }>('rcu-writer', { ...base, backend: writerBackend, versions: VERSIONS }, TIMEOUT_MS);
    const reports = await Promise.all(readers);
    expect(writer.error).toBeNull();
    expect(reports.map((r) => r.error)).toEqual([null, null]);
    for (const report of reports) {
      expect(report.lastVersion).toBe(VERSIONS + 1); // each reader's last look saw the final table
      expect(report.routes).toBeGreaterThan(0);
    }
    expect(t.cores.js.routerVersion(t.arena.router(0).address)).toBe(VERSIONS + 1);
  });
});
