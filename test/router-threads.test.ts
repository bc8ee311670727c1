/**
 * The routing table across real worker threads: one writer worker publishes WD_STRESS × 2000
 * table versions (replacing the whole subscription list each time, retrying on STATUS_BUSY) while
 * two reader workers enter, route and leave in a loop, each worker on its own backend.
 *
 *   writer (thread 0) ── edit list, compile into the idle buffer, VERSION++ ──▶ tables 0 / 1
 *   reader 1, reader 2 ── EPOCH = VERSION, route, EPOCH = 0 ──────────────────▶ tables 0 / 1
 *
 * Every lane carries the version it was published in (test/workers/router-common.ts), so each
 * route proves it read exactly the table of the version its thread entered: never lanes of two
 * versions, never a half-built table, never one the writer recompiled under it. Also checked:
 * every publish eventually succeeds, versions entered never go backwards, readers and writer
 * overlap (the writer waits for both readers to reach the newest version every HANDSHAKE_EVERY
 * versions, so each reader sees at least versions / HANDSHAKE_EVERY of them), and the final
 * table, epochs and lock as the main thread finds them afterwards. Every wait is bounded.
 */
import { describe, expect, test } from '@jest/globals';
import { ROUTER_EPOCHS_OFFSET, ROUTER_EPOCH_STRIDE, ROUTER_FIRST_VERSION, ROUTER_WRITER_LOCK_OFFSET } from '../assembly/layout/router.ts';
import type { Backend } from '../bindings/core-ops.ts';
import {
  CONTROL_BYTES, HANDSHAKE_EVERY, READER_THREADS, ROUTER_SUBSCRIPTIONS, ROUTER_TOPICS, STATE_DONE, CONTROL_STATE_OFFSET,
  THREAD_COUNT, WRITER_THREAD, checkTopic0, checkTopic1, type RouterReaderReport, type RouterWriterReport,
} from './workers/router-common.ts';
import { STRESS, newArena, runWorker } from './harness.ts';

const VERSIONS = Math.max(HANDSHAKE_EVERY, Math.round(2000 * STRESS));
const TIMEOUT_MS = 60_000 + VERSIONS * 10;

/** [writer, reader 1, reader 2] backends. */
const RUNS: readonly (readonly [Backend, Backend, Backend])[] = [
  ['wasm', 'wasm', 'wasm'],
  ['js', 'js', 'js'],
  ['wasm', 'js', 'js'],
  ['js', 'wasm', 'wasm'],
  ['wasm', 'wasm', 'js'],
];

describe.each(RUNS.map((run) => [`writer ${run[0]}, readers ${run[1]}/${run[2]}`, run] as const))('router across threads: %s', (name, [writerSide, ...readerSides]) => {
  test(`${name}: ${VERSIONS} versions published under 2 racing readers; every route is exactly one version's table`, async () => {
    const t = await newArena({ threads: THREAD_COUNT, routers: [{ maxTopics: ROUTER_TOPICS, maxSubscriptions: ROUTER_SUBSCRIPTIONS }], scratchBytes: 4096 });
    const router = t.arena.router(0).address;
    const control = t.scratch(WRITER_THREAD);
    expect(CONTROL_BYTES).toBeLessThanOrEqual(4096);
    const deadline = Date.now() + TIMEOUT_MS - 5_000;
    const base = { module: t.module, memory: t.memory, router, control, deadline, versions: VERSIONS };

    const readers = READER_THREADS.map((thread, r) => runWorker<RouterReaderReport>('router-reader', { ...base, backend: readerSides[r]!, thread }, TIMEOUT_MS));
    const writer = runWorker<RouterWriterReport>('router-writer', { ...base, backend: writerSide }, TIMEOUT_MS);
    const [writerReport, ...readerReports] = await Promise.all([writer, ...readers]);

    expect(writerReport!.errors).toEqual([]);
    expect(readerReports.map((r) => r.errors)).toEqual([[], []]);
    const finalVersion = ROUTER_FIRST_VERSION + VERSIONS;
    expect([writerReport!.published, writerReport!.finalVersion]).toEqual([VERSIONS, finalVersion]);
    expect(Atomics.load(t.views.i32, (control + CONTROL_STATE_OFFSET) >> 2)).toBe(STATE_DONE);
    for (const report of readerReports) {
      expect(report.lastVersion).toBe(finalVersion); // the last pass saw the final table
      expect(report.versionsSeen).toBeGreaterThanOrEqual(Math.floor(VERSIONS / HANDSHAKE_EVERY));
      expect(report.entries).toBeGreaterThanOrEqual(report.versionsSeen);
    }

    // Afterwards: lock free, every epoch idle, and the final table routes as version `finalVersion`.
    expect(t.views.u32[(router + ROUTER_WRITER_LOCK_OFFSET) >> 2]).toBe(0);
    for (let thread = 0; thread < THREAD_COUNT; thread++) {
      expect([thread, t.views.u32[(router + ROUTER_EPOCHS_OFFSET + thread * ROUTER_EPOCH_STRIDE) >> 2]]).toEqual([thread, 0]);
    }
    for (const core of [t.cores.wasm, t.cores.js]) {
      expect(core.routerVersion(router)).toBe(finalVersion);
      expect(core.routerEnter(router, WRITER_THREAD)).toBe(finalVersion);
      const out = t.scratch(WRITER_THREAD) + CONTROL_BYTES;
      const keyHash = core.hashU32(12345);
      expect(typeof checkTopic0(finalVersion, t.views.u32, out >> 2, core.routerRoute(router, WRITER_THREAD, 0, keyHash, out), keyHash)).toBe('number');
      expect(checkTopic1(finalVersion, t.views.u32, out >> 2, core.routerRoute(router, WRITER_THREAD, 1, 0, out))).toBeNull();
      core.routerLeave(router, WRITER_THREAD);
    }
  }, TIMEOUT_MS + 10_000);
});
