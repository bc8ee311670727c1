/**
 * What journaling a topic costs the engine: the one-to-one suite's batch case (main thread →
 * 1 worker, publishBatch of 256 24-byte messages, bench/one-to-one.ts) with the journal off and
 * with each fsync policy, in one process run, medians over rounds. A run is timed until the
 * worker's `report` reply and a drain(): every message handled and, with a journal, written (and
 * synced per policy); each journal is then read back and must hold every message published into it.
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

/**
 * Runs the comparison: `messages` per run, `runs` rounds. Each round creates, for each setting in
 * turn (the order alternating round by round), a fresh engine and journal directory, runs a
 * warm-up of half the messages and then the timed run, reads the journal back (it must hold
 * every message), and closes it: one engine alive at a time, so no idle journal thread or dirty
 * page cache of another setting runs beside the one measured.
 */
export async function journalEngineCost(messages: number, runs: number, log: (line: string) => void): Promise<JournalCostRow[]> {
  const policies: { name: string; fsync: JournalFsync | undefined }[] = [
    { name: 'off', fsync: undefined }, { name: "'none'", fsync: 'none' }, { name: 'interval 100 ms', fsync: { intervalMs: 100 } }, { name: "'always'", fsync: 'always' },
  ];
  const rates = policies.map((): number[] => []);
  for (let r = 0; r < runs; r++) {
    const order = policies.map((_, i) => i);
    if (r % 2 === 1) order.reverse();
    for (const i of order) rates[i]!.push(await measure(policies[i]!.fsync, messages));
  }
  const off = median(rates[0]!);
  const rows = policies.map((policy, i) => ({ journal: policy.name, rate: median(rates[i]!), ratio: median(rates[i]!) / off }));
  rows.forEach((row, i) => log(`  journal ${row.journal.padEnd(16)} ${(row.rate / 1e6).toFixed(2)} M msg/s  ${row.ratio.toFixed(2)}× off   (runs: ${rates[i]!.map((v) => (v / 1e6).toFixed(2)).join(', ')})`));
  return rows;
}

/** One engine under `fsync` (undefined: no journal): a warm-up, one timed run, the journal checked; messages/s. */
async function measure(fsync: JournalFsync | undefined, messages: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'wd-bench-journal-'));
  let engine: Engine<O2oTopics> | undefined;
  try {
    engine = await createEngine({ topics: o2oTopics, handlers: HANDLERS, workers: 1, journal: fsync === undefined ? undefined : { dir, topics: ['msg'], fsync } });
    await engine.subscribe('msg', { handler: 'sink', mode: 'group', workers: [0] });
    await engine.subscribe('report', { handler: 'report', mode: 'group', workers: [0] });
    const warmup = Math.floor(messages / 2);
    await run(engine, warmup);
    const started = performance.now();
    await run(engine, messages);
    const rate = messages / ((performance.now() - started) / 1000);
    await engine.close();
    engine = undefined;
    if (fsync !== undefined) {
      const journal = openJournal(dir);
      let count = 0;
      for (const _record of journal.records()) count++;
      journal.close();
      if (count !== warmup + messages) throw new Error(`the journal holds ${count} of ${warmup + messages} messages`);
    }
    return rate;
  } finally {
    await engine?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Publishes `messages`, then waits for the sink's report and a drain: every message handled and (with a journal) journaled. */
async function run(engine: Engine<O2oTopics>, messages: number): Promise<void> {
  await publishRun(engine, true, messages);
  const tally = await engine.request('report', { reset: true }, { timeout: 120_000 });
  await engine.drain({ timeout: 120_000 });
  if (tally.count !== messages) throw new Error(`the sink handled ${tally.count} of ${messages} messages`);
}
