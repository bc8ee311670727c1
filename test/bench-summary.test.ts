/**
 * How a run's results read (bench/results.ts, bench/summary.ts): comparisons in words that name
 * the better side in the metric's own direction, the best peer beside a row (its own row, or a
 * baseline case that stands beside it), and the console summary: one metric a row with its unit
 * and better direction, under 100 columns; the warning of a run on a busy machine.
 */
import { describe, expect, test } from '@jest/globals';
import { bestPeer, better, compare, groupRows, makeEntry, type EngineBenchEntry, type EngineMetric, type EngineWho } from '../bench/results.ts';
import { summaryLines } from '../bench/summary.ts';
import { busyWarning, type BenchEnv } from '../bench/env.ts';

function entry(suite: string, name: string, who: EngineWho, metric: EngineMetric, median: number): EngineBenchEntry {
  return makeEntry(suite, name, who, metric, [median], 1, undefined);
}

/** A run in small: engine rows, a peer beside them in the row, and baselines measured as cases of their own. */
const ENTRIES = [
  entry('demo', 'game server moves (2 workers)', 'wasm', 'msgs_per_s', 936_097),
  entry('demo', 'game server moves (2 workers)', 'js', 'msgs_per_s', 693_701),
  entry('one-to-one', 'engine publish', 'wasm', 'msgs_per_s', 10e6),
  entry('one-to-one', 'postMessage baseline', 'postMessage', 'msgs_per_s', 0.7e6),
  entry('ping-pong', 'worker↔worker', 'wasm', 'rtt_p50_us', 0.64),
  entry('ping-pong', 'request() main→worker', 'wasm', 'rtt_p50_us', 19.5),
  entry('ping-pong', 'request() main→worker', 'js', 'rtt_p50_us', 3.9),
  entry('ping-pong', 'worker↔worker parked', 'wasm', 'rtt_p50_us', 14.9),
  entry('ping-pong', 'worker↔worker parked', 'js', 'rtt_p50_us', 14.5),
  entry('ping-pong', 'worker↔worker parked', 'wasm', 'rtt_p999_us', 490),
  entry('ping-pong', 'worker↔worker parked', 'js', 'rtt_p999_us', 124),
  entry('ping-pong', 'worker↔worker parked', 'postMessage', 'rtt_p50_us', 68),
  entry('ping-pong', 'worker↔worker parked', 'postMessage', 'rtt_p999_us', 238),
  entry('ping-pong', 'parked baseline: Atomics.wait/notify', 'atomics', 'rtt_p50_us', 55.6),
  entry('request-response', 'add a+b, 2 workers', 'wasm', 'msgs_per_s', 179_180),
  entry('request-response', 'add a+b, 2 workers', 'js', 'msgs_per_s', 141_450),
  entry('request-response', 'add a+b, 2 workers', 'tinypool', 'msgs_per_s', 74_653),
];

describe('comparisons in words', () => {
  test('throughput: higher is better', () => {
    expect(better('msgs_per_s', 'msg/s')).toBe('higher');
    expect(compare('msgs_per_s', 'msg/s', { who: 'wasm', value: 10e6 }, { who: 'js', value: 5e6 })).toBe('Wasm 2.00× faster');
    expect(compare('msgs_per_s', 'msg/s', { who: 'wasm', value: 5e6 }, { who: 'js', value: 6e6 })).toBe('JS 1.20× faster');
  });

  test('latency: lower is better, the ratio is the worse over the better', () => {
    expect(better('rtt_p50_us', 'µs')).toBe('lower');
    // The example: 19.5 µs against 3.9 µs is JS 5× lower latency, not "4.99×" for Wasm.
    expect(compare('rtt_p50_us', 'µs', { who: 'wasm', value: 19.5 }, { who: 'js', value: 3.9 })).toBe('JS 5.00× lower latency');
    expect(compare('rtt_p50_us', 'µs', { who: 'wasm', value: 14.9 }, { who: 'atomics', value: 55.6 })).toBe('Wasm 3.73× lower latency');
  });

  test('memory, ties and missing values', () => {
    expect(compare('gc_events', 'events', { who: 'wasm', value: 0 }, { who: 'postMessage', value: 18 })).toBe('Wasm fewer GC events');
    expect(compare('gc_events', 'events', { who: 'wasm', value: 0 }, { who: 'js', value: 0 })).toBe('equal');
    expect(compare('msgs_per_s', 'msg/s', { who: 'wasm', value: 1000 }, { who: 'js', value: 1001 })).toBe('equal');
    expect(compare('msgs_per_s', 'msg/s', { who: 'wasm', value: NaN }, { who: 'js', value: 1 })).toBe('');
    expect(compare('mystery', '', { who: 'wasm', value: 1 }, { who: 'js', value: 2 })).toBe('');
  });
});

describe('best peer', () => {
  const suites = groupRows(ENTRIES);
  const row = (suite: string, name: string) => {
    const s = suites.find((x) => x.name === suite)!;
    return { s, r: s.rows.find((x) => x.case === name)! };
  };

  test('a baseline case stands beside the engine cases it was measured for', () => {
    const { s, r } = row('one-to-one', 'engine publish');
    expect(bestPeer(s, r)).toEqual({ who: 'postMessage', median: 0.7e6, ownCase: 'postMessage baseline' });
  });

  test('the parked game is compared with the parked baselines only, the best of them', () => {
    const parked = row('ping-pong', 'worker↔worker parked');
    expect(bestPeer(parked.s, parked.r)).toEqual({ who: 'atomics', median: 55.6, ownCase: 'parked baseline: Atomics.wait/notify' });
    const spinning = row('ping-pong', 'worker↔worker');
    expect(bestPeer(spinning.s, spinning.r)).toBeNull();
  });
});

describe('console summary', () => {
  const lines = summaryLines(ENTRIES);
  const text = lines.join('\n');

  test('under 100 columns', () => {
    for (const line of lines) expect(line.length).toBeLessThan(100);
  });

  test('one metric a row: plain name, unit, better direction, values, the comparison in words', () => {
    expect(text).toMatch(/^ {2}game server moves \(2 workers\) +msg\/s +higher +936K +694K +Wasm 1\.35× faster$/m);
    expect(text).toMatch(/^ {2}request\(\) main→worker, round trip p50 +µs +lower +19\.5 +3\.9 +JS 5\.00× lower latency$/m);
    expect(text).toMatch(/^ {2}worker↔worker parked$/m);
    expect(text).toMatch(/^ {4}round trip p99\.9 +µs +lower +490 +124 +JS 3\.95× lower latency$/m);
    expect(text).not.toMatch(/rtt_|msgs_per_s/);
  });

  test('the Wasm engine beside its best peer, named', () => {
    expect(text).toMatch(/^ {2}add a\+b, 2 workers +msg\/s +higher +179K +tinypool 74\.7K +Wasm 2\.40× faster$/m);
    expect(text).toMatch(/^ {4}round trip p50 +µs +lower +14\.9 +atomics 55\.6 +Wasm 3\.73× lower latency$/m);
    expect(text).toMatch(/^ {4}round trip p99\.9 +µs +lower +490 +postMessage 238 +postMessage 2\.06× lower latency$/m);
    expect(text).toMatch(/^ {2}engine publish +msg\/s +higher +10\.0M +postMessage 700K +Wasm 14\.3× faster$/m);
  });
});

describe('busy machine', () => {
  const env = (busyPercentBefore: number | null, load1: number): BenchEnv => ({
    date: '', runtime: { node: '', v8: '' }, packages: {},
    machine: { cpuModel: '', cpus: 2, totalMemMiB: 0, platform: '', arch: '', kernel: '' },
    load: { loadavgBefore: [load1, 0, 0], busyPercentBefore, sampleMs: 500 },
  });

  test('quiet: no warning', () => {
    expect(busyWarning(env(5, 0.5))).toBeNull();
  });

  test('busy CPUs just before the run, or a load average of one per core, warn and say which', () => {
    expect(busyWarning(env(39, 0.5))).toMatch(/^warning: the machine was busy before the run \(39% of the CPUs busy/);
    expect(busyWarning(env(0, 2.2))).toMatch(/^warning: the machine was busy before the run \(load average 2\.2 over the last minute on 2 cores/);
    expect(busyWarning(env(null, 2))).toMatch(/load average 2 over the last minute on 2 cores\): expect lower, noisier figures/);
  });
});
