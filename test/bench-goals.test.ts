/**
 * The benchmark's performance goals (bench/goals.ts) from synthetic entries: each goal a ratio of
 * two entries of one run against its target, `pass` or `short`; `not measured` when an entry is
 * missing or unverified (never a made-up value); the zero-GC goal over every side; the speedup
 * goals with the values they came from; the large-message rows matched by the size in the case
 * name; and the goals in the console lines, the report and the results file. No engine runs.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { evaluateGoals, goalCells, type GoalResult } from '../bench/goals.ts';
import { writeReport, writeRun } from '../bench/report.ts';
import type { ResultEntry } from '../bench/results.ts';
import { goalLines } from '../bench/summary.ts';

const UNITS: Record<string, string> = { msgs_per_s: 'msg/s', rtt_p50_us: 'µs', speedup: '×', gc_events: 'events' };

function entry(suite: string, name: string, who: string, metric: string, median: number, verified = true): ResultEntry {
  return {
    suite, case: name, who, metric, unit: UNITS[metric]!, median, min: median, max: median, runs: 5, verified,
    ...(verified ? {} : { error: 'checksum 1 != sent 2' }),
  };
}

/** A run that meets every goal. */
function meetingRun(): ResultEntry[] {
  return [
    entry('one-to-one', 'engine publish', 'wasm', 'msgs_per_s', 40e6),
    entry('one-to-one', 'engine publishBatch 256', 'wasm', 'msgs_per_s', 70e6),
    entry('one-to-one', 'engine publishBatch 256', 'js', 'msgs_per_s', 35e6),
    entry('one-to-one', 'postMessage baseline', 'postMessage', 'msgs_per_s', 1e6),
    entry('one-to-one', 'messages, batch 256', 'wasm', 'msgs_per_s', 40e6),
    entry('one-to-one', 'messages, batch 256', 'js', 'msgs_per_s', 20e6),
    entry('one-to-one', 'messages, batch 256', 'sab-ring', 'msgs_per_s', 80e6),
    entry('fan-out', 'broadcast 1→2 publishBatch 256, deliveries', 'wasm', 'msgs_per_s', 49e6),
    entry('request-response', 'add a+b, 2 workers', 'wasm', 'msgs_per_s', 1e6),
    entry('request-response', 'add a+b, 2 workers', 'piscina', 'msgs_per_s', 0.05e6),
    entry('request-response', 'add a+b, 2 workers', 'tinypool', 'msgs_per_s', 0.1e6),
    entry('request-response', 'engine ÷ best pool', 'wasm', 'speedup', 10),
    entry('request-response', 'add a+b, 2 workers, requestBatch 256', 'wasm', 'msgs_per_s', 3.2e6),
    entry('request-response', 'requestBatch ÷ best pool', 'wasm', 'speedup', 32),
    entry('ping-pong', 'worker↔worker', 'wasm', 'rtt_p50_us', 0.9),
    entry('ping-pong', 'worker↔worker', 'sab-ring', 'rtt_p50_us', 0.6),
    ...['wasm', 'js'].flatMap((who) => ['publisher', 'consumer'].map((side) => entry('memory', side, who, 'gc_events', 0))),
  ];
}

const byId = (results: readonly GoalResult[]): Map<string, GoalResult> => new Map(results.map((r) => [r.id, r]));

/** The run with the entry of (suite, case, who, metric) replaced by `replacement` (or removed when null). */
function replaced(run: readonly ResultEntry[], suite: string, name: string, who: string, metric: string, replacement: ResultEntry | null): ResultEntry[] {
  const i = run.findIndex((e) => e.suite === suite && e.case === name && e.who === who && e.metric === metric);
  if (i < 0) throw new Error(`no ${suite}/${name}/${who}/${metric}`);
  const copy = [...run];
  if (replacement === null) copy.splice(i, 1);
  else copy[i] = replacement;
  return copy;
}

describe('goals from one run', () => {
  test('pass: every targeted goal met, at its bound too (≥ 70× at 70×, ≤ 1.5× at 1.5×)', () => {
    const goals = byId(evaluateGoals(meetingRun()));
    for (const id of ['publishBatch-postMessage', 'publishBatch-sab-ring', 'publish-postMessage', 'broadcast-one-to-one', 'request-pool',
      'requestBatch-pool', 'ping-pong-sab-ring', 'wasm-js', 'zero-gc']) {
      expect([id, goals.get(id)!.mark]).toEqual([id, 'pass']);
    }
    const publishBatch = goals.get('publishBatch-postMessage')!;
    expect(publishBatch.value).toBe(70);
    expect(publishBatch.from.map((s) => [s.case, s.who, s.value])).toEqual([
      ['engine publishBatch 256', 'wasm', 70e6], ['postMessage baseline', 'postMessage', 1e6],
    ]);
    expect(goals.get('ping-pong-sab-ring')!.value).toBeCloseTo(1.5, 12);
    expect(goals.get('broadcast-one-to-one')!.value).toBeCloseTo(0.7, 12);
    expect(goalCells(publishBatch)).toEqual({
      goal: 'publishBatch 256, main → 1 worker ÷ postMessage', target: '≥ 70×', ratio: '70.0×', mark: 'pass', from: 'wasm 70.0M ÷ postMessage 1.00M msg/s',
    });
    expect(goalCells(goals.get('broadcast-one-to-one')!).from).toBe('deliveries 49.0M ÷ one-to-one 70.0M msg/s');
    expect(goalCells(goals.get('ping-pong-sab-ring')!)).toMatchObject({ target: '≤ 1.5×', ratio: '1.50×', from: 'wasm 0.9 ÷ sab-ring 0.6 µs' });
  });

  test('short: below a ≥ target, above a ≤ target', () => {
    let run = replaced(meetingRun(), 'one-to-one', 'engine publishBatch 256', 'wasm', 'msgs_per_s', entry('one-to-one', 'engine publishBatch 256', 'wasm', 'msgs_per_s', 13.8e6));
    run = replaced(run, 'ping-pong', 'worker↔worker', 'wasm', 'rtt_p50_us', entry('ping-pong', 'worker↔worker', 'wasm', 'rtt_p50_us', 0.75));
    run = replaced(run, 'ping-pong', 'worker↔worker', 'sab-ring', 'rtt_p50_us', entry('ping-pong', 'worker↔worker', 'sab-ring', 'rtt_p50_us', 0.25));
    const goals = byId(evaluateGoals(run));
    expect(goals.get('publishBatch-postMessage')).toMatchObject({ mark: 'short', value: 13.8 });
    expect(goals.get('wasm-js')).toMatchObject({ mark: 'short' }); // 13.8M ÷ 35M
    expect(goals.get('broadcast-one-to-one')).toMatchObject({ mark: 'pass' }); // 49M ÷ 13.8M
    expect(goals.get('ping-pong-sab-ring')!.mark).toBe('short');
    expect(goals.get('ping-pong-sab-ring')!.value).toBeCloseTo(3, 12);
    expect(goals.get('publish-postMessage')!.mark).toBe('pass'); // untouched
  });

  test('not measured: an entry missing from the run; nothing stands in for it', () => {
    const run = replaced(meetingRun(), 'one-to-one', 'postMessage baseline', 'postMessage', 'msgs_per_s', null);
    const goals = byId(evaluateGoals(run));
    for (const id of ['publishBatch-postMessage', 'publish-postMessage']) {
      const goal = goals.get(id)!;
      expect(goal).toMatchObject({ mark: 'not measured', value: null, from: [] });
      expect(goal.note).toBe('missing: one-to-one / postMessage baseline / postMessage (msgs_per_s)');
      expect(goalCells(goal)).toMatchObject({ ratio: '—', mark: 'not measured', from: goal.note });
    }
    expect(goals.get('wasm-js')!.mark).toBe('pass');
    // An empty run: every goal not measured, none with a value.
    for (const goal of evaluateGoals([])) expect(goal).toMatchObject({ mark: 'not measured', value: null });
  });

  test('not measured: an unverified entry, whatever its median says', () => {
    const run = replaced(meetingRun(), 'one-to-one', 'messages, batch 256', 'sab-ring', 'msgs_per_s', entry('one-to-one', 'messages, batch 256', 'sab-ring', 'msgs_per_s', 1, false));
    const goal = byId(evaluateGoals(run)).get('publishBatch-sab-ring')!;
    expect(goal).toMatchObject({ mark: 'not measured', value: null });
    expect(goal.note).toBe('unverified: one-to-one / messages, batch 256 / sab-ring (checksum 1 != sent 2)');
    // A metric on another case of the same name elsewhere, or another metric of the case, is no substitute.
    const other = [...replaced(meetingRun(), 'ping-pong', 'worker↔worker', 'sab-ring', 'rtt_p50_us', null),
      entry('ping-pong', 'worker↔worker parked', 'sab-ring', 'rtt_p50_us', 0.6), entry('ping-pong', 'worker↔worker', 'sab-ring', 'rtt_p99_us', 0.6)];
    expect(byId(evaluateGoals(other)).get('ping-pong-sab-ring')!.mark).toBe('not measured');
  });

  test('zero GC: pass when every side has 0, short when one has any, not measured when one is missing or unverified', () => {
    const gc = (run: ResultEntry[]): GoalResult => byId(evaluateGoals(run)).get('zero-gc')!;
    const zero = gc(meetingRun());
    expect(zero).toMatchObject({ mark: 'pass', value: 0, unit: 'events', target: { op: '=', value: 0, unit: 'events' } });
    expect(zero.from.map((s) => s.label)).toEqual(['wasm publisher', 'wasm consumer', 'js publisher', 'js consumer']);
    expect(goalCells(zero)).toMatchObject({ target: '0 events', ratio: '0 events', from: 'wasm publisher 0, wasm consumer 0, js publisher 0, js consumer 0' });

    const one = gc(replaced(meetingRun(), 'memory', 'consumer', 'js', 'gc_events', entry('memory', 'consumer', 'js', 'gc_events', 1)));
    expect(one).toMatchObject({ mark: 'short', value: 1 });
    const missing = gc(replaced(meetingRun(), 'memory', 'publisher', 'wasm', 'gc_events', null));
    expect(missing).toMatchObject({ mark: 'not measured', value: null, note: 'missing: memory / publisher / wasm (gc_events)' });
    const unverified = gc(replaced(meetingRun(), 'memory', 'consumer', 'wasm', 'gc_events', entry('memory', 'consumer', 'wasm', 'gc_events', 0, false)));
    expect(unverified.mark).toBe('not measured');
    // postMessage's GC events are no part of the goal.
    expect(gc([...meetingRun(), entry('memory', 'consumer', 'postMessage', 'gc_events', 105)]).mark).toBe('pass');
  });

  test('speedup goals read the suite\'s speedup entry, shown with the two rates it came from when they give it', () => {
    const goals = byId(evaluateGoals(meetingRun()));
    expect(goalCells(goals.get('request-pool')!)).toMatchObject({ ratio: '10.0×', from: 'wasm 1.00M ÷ tinypool 100K msg/s' });
    expect(goalCells(goals.get('requestBatch-pool')!)).toMatchObject({ ratio: '32.0×', from: 'wasm 3.20M ÷ tinypool 100K msg/s' });

    // Rates that do not give the entry's value are not what it came from: the entry alone is shown.
    const disagree = replaced(meetingRun(), 'request-response', 'requestBatch ÷ best pool', 'wasm', 'speedup', entry('request-response', 'requestBatch ÷ best pool', 'wasm', 'speedup', 29));
    const batch = byId(evaluateGoals(disagree)).get('requestBatch-pool')!;
    expect(batch).toMatchObject({ mark: 'short', value: 29 });
    expect(goalCells(batch).from).toBe('request-response / requestBatch ÷ best pool / wasm');

    // Without the speedup entry (the lead's case not in the run) the goal is not measured, even with the rates.
    const absent = replaced(meetingRun(), 'request-response', 'requestBatch ÷ best pool', 'wasm', 'speedup', null);
    expect(byId(evaluateGoals(absent)).get('requestBatch-pool')).toMatchObject({
      mark: 'not measured', note: 'missing: request-response / requestBatch ÷ best pool / wasm (speedup)',
    });
    // An unverified speedup entry (a pool failed) is not measured either.
    const failed = replaced(meetingRun(), 'request-response', 'engine ÷ best pool', 'wasm', 'speedup', entry('request-response', 'engine ÷ best pool', 'wasm', 'speedup', NaN, false));
    expect(byId(evaluateGoals(failed)).get('request-pool')!.mark).toBe('not measured');
  });

  test('large messages: informational rows, the transfer speedup of each size, found by suite, metric and case words', () => {
    // As the large-messages suite names its speedups: per size over postMessage transfer, clone and memcpy, and a broadcast.
    const large = [
      entry('large-messages', '4 KiB, engine ÷ postMessage clone', 'wasm', 'speedup', 7),
      entry('large-messages', '4 KiB broadcast 1→2, engine ÷ postMessage', 'wasm', 'speedup', 8),
      entry('large-messages', '4 KiB, engine ÷ memcpy', 'wasm', 'speedup', 0.2),
      entry('large-messages', '60 KiB, engine ÷ postMessage transfer', 'wasm', 'speedup', 9),
      entry('large-messages', '4 KiB, engine ÷ postMessage transfer', 'js', 'speedup', 2),
      entry('large-messages', '4 KiB, engine ÷ postMessage transfer', 'wasm', 'speedup', 3),
      entry('large-messages', '4 KiB, main → 1 worker', 'wasm', 'msgs_per_s', 1e6),
    ];
    const goals = byId(evaluateGoals([...meetingRun(), ...large]));
    expect(goals.get('large-4KiB')).toMatchObject({ mark: 'measured', value: 3, target: null });
    // A ratio row without a target: the 24-byte batch case beside a 56 KiB topic over the same case alone.
    expect(goals.get('beside-56KiB')).toMatchObject({ mark: 'not measured', value: null, target: null });
    const beside = byId(evaluateGoals([...meetingRun(), entry('one-to-one', 'messages, batch 256, beside a 56 KiB topic', 'wasm', 'msgs_per_s', 36e6)]));
    expect(beside.get('beside-56KiB')).toMatchObject({ mark: 'measured', value: 0.9, target: null });
    expect(goals.get('large-60-64KiB')).toMatchObject({ mark: 'measured', value: 9, target: null });
    expect(goalCells(goals.get('large-4KiB')!)).toMatchObject({
      target: '—', ratio: '3.00×', from: 'large-messages / 4 KiB, engine ÷ postMessage transfer / wasm',
    });
    // A 64 KiB case counts for the large row and is never taken for 4 KiB.
    const only64 = byId(evaluateGoals([entry('large-messages', '64 KiB engine MB/s ÷ postMessage with transfer', 'wasm', 'speedup', 11)]));
    expect(only64.get('large-4KiB')).toMatchObject({
      mark: 'not measured', note: 'missing: large-messages / 4 KiB, engine ÷ postMessage transfer / any side (speedup)',
    });
    expect(only64.get('large-60-64KiB')).toMatchObject({ mark: 'measured', value: 11 });
    // Without a transfer case the row is not measured, whatever other 4 KiB speedups there are.
    expect(byId(evaluateGoals(large.filter((e) => !e.case.includes('transfer')))).get('large-4KiB')!.mark).toBe('not measured');
    // Tolerant spelling: '4KiB', and a side other than wasm.
    expect(byId(evaluateGoals([entry('large-messages', 'msg 4KiB: MB/s ÷ postMessage (Transfer)', 'js', 'speedup', 2.5)])).get('large-4KiB'))
      .toMatchObject({ mark: 'measured', value: 2.5 });
    // An unverified speedup (a side failed) is not measured.
    expect(byId(evaluateGoals([entry('large-messages', '4 KiB, engine ÷ postMessage transfer', 'wasm', 'speedup', NaN, false)])).get('large-4KiB')!.mark)
      .toBe('not measured');
  });
});

describe('goals in the console, the report and the results file', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'wd-goals-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const dirUrl = (): URL => pathToFileURL(`${dir}/`);
  const ENV = { date: '2026-01-01T00:00:00.000Z' };

  test('console lines: a row per goal and what it came from under it, the count; under 100 columns', () => {
    const run = replaced(meetingRun(), 'one-to-one', 'postMessage baseline', 'postMessage', 'msgs_per_s', null);
    const lines = goalLines(evaluateGoals(run));
    expect(lines[0]).toMatch(/^Performance goals +target +ratio +result$/);
    expect(lines[1]).toMatch(/^─+ {2}─+ {2}─+ {2}─+$/);
    const row = lines.findIndex((line) => line.startsWith('publishBatch 256 ÷ a plain SAB ring'));
    expect(lines[row]).toMatch(/≥ 0\.5× +0\.500× {2}pass$/);
    expect(lines[row + 1]).toBe('    wasm 40.0M ÷ sab-ring 80.0M msg/s');
    const missing = lines.findIndex((line) => line.startsWith('publish() per message'));
    expect(lines[missing]).toMatch(/≥ 40× +— {2}not measured$/);
    expect(lines[missing + 1]).toBe('    missing: one-to-one / postMessage baseline / postMessage (msgs_per_s)');
    expect(lines).toHaveLength(2 + 2 * 12 + 1);
    expect(lines.at(-1)).toBe('7 of 9 goals met; 5 not measured (an entry missing from this run, or unverified)');
    for (const line of lines) expect([line, line.length < 100]).toEqual([line, true]);
    expect(goalLines([])).toEqual([]);
  });

  test('the report has a "Performance goals" section; the results file holds the goals, rounded', () => {
    const run = [...meetingRun(), entry('one-to-one', 'engine writer+send', 'wasm', 'msgs_per_s', 12_345_678.9)];
    const unrounded = replaced(run, 'ping-pong', 'worker↔worker', 'wasm', 'rtt_p50_us', entry('ping-pong', 'worker↔worker', 'wasm', 'rtt_p50_us', 0.9049));
    const files = writeRun({ env: ENV, entries: unrounded }, dirUrl(), 'run');
    const saved = JSON.parse(readFileSync(files.json, 'utf8')) as { goals: GoalResult[] };
    expect(saved.goals.map((g) => g.id)).toEqual(evaluateGoals([]).map((g) => g.id));
    const pingPong = saved.goals.find((g) => g.id === 'ping-pong-sab-ring')!;
    // 0.9049 ÷ 0.6 = 1.5082 (short): the mark comes from the unrounded medians, the file holds rounded values.
    expect(pingPong).toMatchObject({ mark: 'short', value: 1.508, target: { op: '≤', value: 1.5, unit: '×' } });
    expect(pingPong.from.map((s) => s.value)).toEqual([0.9, 0.6]);
    expect(saved.goals.find((g) => g.id === 'large-4KiB')).toMatchObject({ mark: 'not measured', value: null, from: [] });

    const md = readFileSync(files.markdown, 'utf8');
    expect(md).toContain('## Performance goals');
    expect(md).toContain('| goal | target | ratio | result | from |');
    expect(md).toContain('| publishBatch 256, main → 1 worker ÷ postMessage | ≥ 70× | 70.0× | **pass** | wasm 70.0M ÷ postMessage 1.00M msg/s |');
    expect(md).toContain('| spinning worker ↔ worker ping-pong p50 ÷ two raw SAB rings | ≤ 1.5× | 1.51× | **short** | wasm 0.9 ÷ sab-ring 0.6 µs |');
    expect(md).toContain('| 4 KiB messages: engine MB/s ÷ postMessage with transfer | — | — | not measured | missing: large-messages / 4 KiB, engine ÷ postMessage transfer / any side (speedup) |');
    expect(md).not.toMatch(/issue/i);
    // The section sits after the suites' tables, before Honesty.
    expect(md.indexOf('## ping-pong')).toBeLessThan(md.indexOf('## Performance goals'));
    expect(md.indexOf('## Performance goals')).toBeLessThan(md.indexOf('## Honesty'));
  });

  test('a report written from entries alone evaluates the goals itself', () => {
    const files = writeReport({ env: ENV, entries: meetingRun() }, dirUrl(), 'alone');
    const md = readFileSync(files.markdown, 'utf8');
    expect(md).toContain('| Wasm ÷ JS engine, publishBatch 256 to 1 worker | ≥ 1.5× | 2.00× | **pass** | wasm 70.0M ÷ js 35.0M msg/s |');
  });
});
