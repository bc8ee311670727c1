/**
 * What journaling a topic costs the engine: the one-to-one suite's batch case (main thread →
 * 1 worker, publishBatch of 256 24-byte messages, bench/one-to-one.ts) with the journal off and
 * with each fsync policy, in one process run: a warm-up each, then timed runs alternating between
 * the engines, medians. A run is timed until the worker's `report` reply and a drain(): every
 * message handled and, with a journal, written (and synced per policy). After the runs each
 * journal is read back and must hold every message published into it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, type Engine } from '../src/index.ts';
import type { JournalFsync } from '../src/engine/types.ts';
import { openJournal } from '../src/journal/reader.ts';
import { o2oTopics, type O2oTopics } from './engine/o2o-topics.ts';
import { publishRun } from './one-to-one.ts';
import { median } from './results.ts';

const HANDLERS = new URL('./engine/o2o-handlers.js', import.meta.url);

export interface JournalCostRow {
  readonly journal: string;
  /** Median messages/s. */
  readonly rate: number;
  /** rate ÷ the journal-off rate of the same run. */
  readonly ratio: number;
}

/** Runs the comparison: `messages` per run, `runs` timed runs per engine. */
export async function journalEngineCost(messages: number, runs: number, log: (line: string) => void): Promise<JournalCostRow[]> {
  const policies: { name: string; fsync: JournalFsync | undefined }[] = [
    { name: 'off', fsync: undefined }, { name: "'none'", fsync: 'none' }, { name: 'interval 100 ms', fsync: { intervalMs: 100 } }, { name: "'always'", fsync: 'always' },
  ];
  const dirs: string[] = [];
  const engines: Engine<O2oTopics>[] = [];
  try {
    for (const policy of policies) {
      const dir = mkdtempSync(join(tmpdir(), 'wd-bench-journal-'));
      dirs.push(dir);
      const engine = await createEngine({ topics: o2oTopics, handlers: HANDLERS, workers: 1, journal: policy.fsync === undefined ? undefined : { dir, topics: ['msg'], fsync: policy.fsync } });
      await engine.subscribe('msg', { handler: 'sink', mode: 'group', workers: [0] });
      await engine.subscribe('report', { handler: 'report', mode: 'group', workers: [0] });
      engines.push(engine);
    }
    const run = async (engine: Engine<O2oTopics>): Promise<number> => {
      const started = performance.now();
      await publishRun(engine, true, messages);
      const tally = await engine.request('report', { reset: true }, { timeout: 120_000 });
      await engine.drain({ timeout: 120_000 });
      const seconds = (performance.now() - started) / 1000;
      if (tally.count !== messages) throw new Error(`the sink handled ${tally.count} of ${messages} messages`);
      return messages / seconds;
    };
    for (const engine of engines) await run(engine); // warm-up
    const rates = policies.map((): number[] => []);
    for (let r = 0; r < runs; r++) {
      const order = engines.map((_, i) => i);
      if (r % 2 === 1) order.reverse();
      for (const i of order) rates[i]!.push(await run(engines[i]!));
    }
    await Promise.all(engines.splice(0).map((engine) => engine.close()));
    // Every journal holds every message published into it: warm-up + runs.
    for (let i = 1; i < policies.length; i++) {
      const journal = openJournal(dirs[i]!);
      let count = 0;
      for (const _record of journal.records()) count++;
      journal.close();
      if (count !== messages * (runs + 1)) throw new Error(`journal ${policies[i]!.name} holds ${count} of ${messages * (runs + 1)} messages`);
    }
    const off = median(rates[0]!);
    const rows = policies.map((policy, i) => ({ journal: policy.name, rate: median(rates[i]!), ratio: median(rates[i]!) / off }));
    for (const row of rows) log(`  journal ${row.journal.padEnd(16)} ${(row.rate / 1e6).toFixed(2)} M msg/s  ${row.ratio.toFixed(2)}× off   (runs: ${rates[rows.indexOf(row)]!.map((v) => (v / 1e6).toFixed(2)).join(', ')})`);
    return rows;
  } finally {
    await Promise.all(engines.map((engine) => engine.close()));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}
