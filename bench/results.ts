/**
 * What a benchmark result is and how results are read: the entry every suite writes (one per
 * suite, case, who and metric; a results file holds them all plus the env), the latency
 * distribution a latency case adds per side (its round trips by percentile), run options, case
 * selection, rounding for the files; each metric's plain name, unit and better direction; rows
 * (one case and metric, every side) and the best peer of a row; and how two sides compare, in
 * words that say who wins ('Wasm 1.70× faster', 'JS 1.20× lower latency'). The console summary
 * (summary.ts) and the report (report.ts) read results through these.
 */
import type { Backend } from '../bindings/core-ops.ts';
import { formatRatio } from './format.ts';

/** One measured (suite, case, who, metric), as bench/results/latest.json stores it. */
export interface ResultEntry {
  suite: string;
  case: string;
  who: string;
  metric: string;
  unit: string;
  median: number;
  min: number;
  max: number;
  /** Timed runs (or benchmark.js samples) behind median/min/max. */
  runs: number;
  /** Every timed run verified: nothing lost, duplicated or reordered, checksums equal. */
  verified: boolean;
  /** Why verification failed or the case did not finish, when it did not. */
  error?: string;
}

/** One ring case on one backend. Rates are records (messages) per second. */
export interface BenchEntry extends ResultEntry {
  /** 'micro' (one thread, benchmark.js) or 'one-to-one' (producer and consumer workers). */
  suite: 'micro' | 'one-to-one';
  who: Backend;
  metric: 'msgs_per_s';
  unit: 'msg/s';
  /** benchmark.js relative margin of error of the mean, in % (micro only). */
  rme?: number;
}

/** Who a number of the engine suites belongs to: one of the engine's backends, or a peer measured beside them. */
export type EngineWho = Backend | 'postMessage' | 'atomics' | 'ringbuf.js' | 'sab-ring' | 'piscina' | 'tinypool' | 'events' | 'eventemitter3' | 'mitt' | 'memcpy';

/** The order sides are shown in: engines first, then the peers. */
export const WHO_ORDER: readonly EngineWho[] = ['wasm', 'js', 'postMessage', 'atomics', 'ringbuf.js', 'sab-ring', 'piscina', 'tinypool', 'events', 'eventemitter3', 'mitt', 'memcpy'];

export type EngineMetric = 'msgs_per_s' | 'rtt_p50_us' | 'rtt_p99_us' | 'rtt_p999_us' | 'speedup' | 'gc_events' | 'heap_bytes_per_msg' | 'mb_per_s';
export type EngineUnit = 'msg/s' | 'µs' | '×' | 'events' | 'B' | 'MB/s';

export const UNITS: Readonly<Record<EngineMetric, EngineUnit>> = {
  msgs_per_s: 'msg/s', rtt_p50_us: 'µs', rtt_p99_us: 'µs', rtt_p999_us: 'µs', speedup: '×', gc_events: 'events', heap_bytes_per_msg: 'B', mb_per_s: 'MB/s',
};

/** One entry of the engine suites: more metrics than the ring's (latency, speedup, memory) and peers beside the backends. */
export interface EngineBenchEntry extends ResultEntry {
  who: EngineWho;
  metric: EngineMetric;
  unit: EngineUnit;
}

export interface BenchOptions {
  quick: boolean;
  full: boolean;
  /** Only cases whose id (`suite/case/who`, e.g. 'one-to-one/batch 256/js') contains this. */
  filter: string | null;
  /** Timed runs per cross-thread case, and minimum benchmark.js samples per micro case. */
  runs: number;
  /** Told before every run of a case (warm-ups included), for a progress display; not saved. */
  progress?: RunProgress;
  /** Told each side's latency distribution when a latency case ends, for the results file; not saved. */
  onDistribution?: (distribution: LatencyDistribution) => void;
}

/** `step` (e.g. 'ping-pong worker↔worker · wasm') is run `done + 1` of the case's `total`. */
export type RunProgress = (step: string, done: number, total: number) => void;

/** True when the case `suite/name/who` should run under `options.filter`. */
export function selected(options: BenchOptions, suite: string, name: string, who: string): boolean {
  return options.filter === null || `${suite}/${name}/${who}`.includes(options.filter);
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** An engine entry from a side's timed samples; verified when there was no error and every run counted. */
export function makeEntry(
  suite: string, name: string, who: EngineWho, metric: EngineMetric, values: readonly number[], runs: number, error: string | undefined,
): EngineBenchEntry {
  return {
    suite, case: name, who, metric, unit: UNITS[metric],
    median: median(values), min: Math.min(...values), max: Math.max(...values), runs: values.length,
    verified: error === undefined && values.length === runs,
    ...(error === undefined ? {} : { error }),
  };
}

/** Rounds for latest.json: rates to integers, latencies to 0.01 µs, ratios to 0.001. */
export function roundForJson(value: number, unit: string): number {
  if (!Number.isFinite(value)) return value;
  if (unit === 'µs') return Math.round(value * 100) / 100;
  if (unit === '×') return Math.round(value * 1000) / 1000;
  if (unit === 'B') return Math.round(value * 100) / 100;
  return Math.round(value);
}

/** The entries as a results file stores them: median, min and max rounded by roundForJson. */
export function roundEntries<E extends ResultEntry>(entries: readonly E[]): E[] {
  return entries.map((e) => ({ ...e, median: roundForJson(e.median, e.unit), min: roundForJson(e.min, e.unit), max: roundForJson(e.max, e.unit) }));
}

/** [percentile, value] of a latency distribution: [99.9, 1.45] is a p99.9 of 1.45 µs; percentile 100 is the largest round trip (max). */
export type PercentilePoint = [percentile: number, value: number];

/**
 * One side's round trips by percentile in one latency case (the ping-pong suite's), as a results
 * file stores it in its top-level `distributions` (beside `entries`; older files have none):
 *
 *   { suite: 'ping-pong', case: 'worker↔worker', who: 'wasm', unit: 'µs', runs: 5, verified: true,
 *     points: [[50, 0.64], [75, 0.7], [90, 0.8], [99, 1.19], [99.9, 3.2], [99.99, 25], [100, 80]] }
 */
export interface LatencyDistribution {
  suite: string;
  case: string;
  who: string;
  /** The unit of every point's value: µs, as the latency entries. */
  unit: 'µs';
  /** Timed runs behind the points. */
  runs: number;
  /** Every timed run of this side verified (as its entries say). */
  verified: boolean;
  /** Increasing percentiles, each value the median over the runs of that percentile (medianSpectrum). */
  points: PercentilePoint[];
}

/**
 * The per-percentile median of several runs' spectra (each the same increasing percentiles): at
 * each percentile, the median of the runs' values there. The medians of spectra that never fall
 * never fall either, and at p50/p99/p99.9 they are the medians the latency entries report.
 */
export function medianSpectrum(runs: readonly (readonly PercentilePoint[])[]): PercentilePoint[] {
  const first = runs[0] ?? [];
  return first.map(([percentile], i) => [percentile, median(runs.map((points) => points[i]?.[1] ?? NaN))]);
}

/** A percentile as tables and tips name it: 50 → 'p50', 99.9 → 'p99.9', 100 → 'max'. */
export function percentileName(percentile: number): string {
  return percentile >= 100 ? 'max' : `p${percentile}`;
}

/** The distributions as a results file stores them: values rounded by roundForJson. */
export function roundDistributions(distributions: readonly LatencyDistribution[]): LatencyDistribution[] {
  return distributions.map((d) => ({ ...d, points: d.points.map(([p, v]): PercentilePoint => [p, roundForJson(v, d.unit)]) }));
}


// ---------------------------------------------------------------------------------------------
// Metrics: plain names, units, which way is better

export type Better = 'higher' | 'lower';

const METRIC_NAMES: Readonly<Record<EngineMetric, string>> = {
  msgs_per_s: 'throughput',
  rtt_p50_us: 'round trip p50',
  rtt_p99_us: 'round trip p99',
  rtt_p999_us: 'round trip p99.9',
  speedup: 'speedup',
  gc_events: 'GC events',
  heap_bytes_per_msg: 'heap allocated per message',
  mb_per_s: 'payload throughput',
};

/** A metric's plain name: 'throughput', 'round trip p50', … (the metric itself when unknown). */
export function metricName(metric: string): string {
  return (METRIC_NAMES as Record<string, string | undefined>)[metric] ?? metric;
}

/** A unit as tables show it: bytes per message as 'B/msg', the others as stored. */
export function unitLabel(metric: string, unit: string): string {
  return unit === 'B' && metric.toLowerCase().includes('per_msg') ? 'B/msg' : unit;
}

function isLatency(metric: string, unit: string): boolean {
  const m = metric.toLowerCase();
  return unit === 'µs' || unit === 'us' || unit === 'ms' || unit === 'ns' || m.endsWith('_us') || m.includes('rtt') || m.includes('latency');
}

/** Which way a metric is better, or null for one this file cannot tell (a results file may hold anything). */
export function better(metric: string, unit: string): Better | null {
  const m = metric.toLowerCase();
  if (unit === 'msg/s' || m.includes('per_s') || unit === '×' || m.includes('speedup')) return 'higher';
  if (isLatency(metric, unit)) return 'lower';
  if (unit === 'B' || unit === 'events' || m.includes('gc') || m.includes('bytes')) return 'lower';
  return null;
}

/** What the better side is, after 'Wasm 1.70× …'. */
function winWords(metric: string, unit: string): string {
  if (isLatency(metric, unit)) return 'lower latency';
  if (unit === 'events' || metric.includes('gc')) return 'fewer GC events';
  if (unit === 'B' || metric.includes('bytes')) return 'fewer bytes';
  if (unit === '×' || metric.includes('speedup')) return 'higher';
  return 'faster';
}

/** A side's name in prose: 'Wasm', 'JS', a peer by its own name. */
export function sideName(who: string): string {
  return who === 'wasm' ? 'Wasm' : who === 'js' ? 'JS' : who;
}

/** One side's median, for compare(). */
export interface Side {
  who: string;
  value: number;
}

/**
 * How `a` and `b` compare on `metric`, in words naming the better side and the way it is better:
 * 'Wasm 1.70× faster', 'JS 1.20× lower latency', 'Wasm fewer GC events' (against 0), 'equal';
 * '' when a value is missing or the metric's better direction is unknown.
 */
export function compare(metric: string, unit: string, a: Side, b: Side): string {
  const way = better(metric, unit);
  if (way === null || !Number.isFinite(a.value) || !Number.isFinite(b.value)) return '';
  if (a.value === b.value) return 'equal';
  const aWins = way === 'higher' ? a.value > b.value : a.value < b.value;
  const [win, lose] = aWins ? [a, b] : [b, a];
  const ratio = way === 'higher' ? win.value / lose.value : lose.value / win.value;
  const words = winWords(metric, unit);
  // Against 0 (no GC events at all) there is no ratio: the better side, and the cells say by how much.
  if (!Number.isFinite(ratio) || ratio <= 0) return `${sideName(win.who)} ${words}`;
  if (formatRatio(ratio) === formatRatio(1)) return 'equal';
  return `${sideName(win.who)} ${formatRatio(ratio)}× ${words}`;
}

// ---------------------------------------------------------------------------------------------
// Rows: one case and metric of a suite, every side

/** One case and metric of a suite, with each side's entry. */
export interface Row {
  suite: string;
  case: string;
  metric: string;
  unit: string;
  byWho: Map<string, ResultEntry>;
}

/** A suite's rows in order of first appearance, and the sides it measured (engines first). */
export interface Suite {
  name: string;
  rows: Row[];
  whos: string[];
}

const ENGINES: ReadonlySet<string> = new Set(['wasm', 'js']);

/** True for the engine's own backends ('wasm', 'js'), false for the peers measured beside them. */
export function isEngine(who: string): boolean {
  return ENGINES.has(who);
}

/** Engines first, then peers in WHO_ORDER; anything else after them, alphabetically. */
export function sortWho(whos: Iterable<string>): string[] {
  const rank = (who: string): number => {
    const i = (WHO_ORDER as readonly string[]).indexOf(who);
    return i === -1 ? WHO_ORDER.length : i;
  };
  return [...new Set(whos)].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** Suites and rows (case, metric) in order of first appearance; one entry per who per row. */
export function groupRows(entries: readonly ResultEntry[]): Suite[] {
  const suites = new Map<string, { rows: Map<string, Row>; whos: Set<string> }>();
  for (const e of entries) {
    let suite = suites.get(e.suite);
    if (suite === undefined) suites.set(e.suite, (suite = { rows: new Map(), whos: new Set() }));
    const key = `${e.case}\u0000${e.metric}`;
    let row = suite.rows.get(key);
    if (row === undefined) suite.rows.set(key, (row = { suite: e.suite, case: e.case, metric: e.metric, unit: e.unit, byWho: new Map() }));
    if (!row.byWho.has(e.who)) row.byWho.set(e.who, e);
    suite.whos.add(e.who);
  }
  return [...suites].map(([name, s]) => ({ name, rows: [...s.rows.values()], whos: sortWho(s.whos) }));
}

/**
 * Peers measured in a case of their own (`suite/case`), and the engine cases of the same suite
 * they stand beside: one-to-one's postMessage baseline beside the engine's main → worker cases,
 * the raw Atomics.wait/notify game beside the engine's parked game (not the spinning one).
 */
const OWN_CASE_PEERS: Readonly<Record<string, (engineCase: string) => boolean>> = {
  'one-to-one/postMessage baseline': (name) => name.startsWith('engine '),
  'ping-pong/parked baseline: Atomics.wait/notify': (name) => name === 'worker↔worker parked',
};

/** The best peer of a row: its median, and `ownCase` when it was measured in a case of its own. */
export interface BestPeer {
  who: string;
  median: number;
  ownCase: string | null;
}

/**
 * The best peer beside `row` (highest or lowest median by the metric's direction): a peer in the
 * row itself, or a peer whose own case stands beside it (OWN_CASE_PEERS); null if there is none.
 */
export function bestPeer(suite: Suite, row: Row): BestPeer | null {
  const way = better(row.metric, row.unit);
  if (way === null) return null;
  const candidates: BestPeer[] = [];
  for (const [who, e] of row.byWho) if (!isEngine(who)) candidates.push({ who, median: e.median, ownCase: null });
  for (const other of suite.rows) {
    const besides = OWN_CASE_PEERS[`${other.suite}/${other.case}`];
    if (other === row || other.metric !== row.metric || besides === undefined || !besides(row.case)) continue;
    for (const [who, e] of other.byWho) if (!isEngine(who)) candidates.push({ who, median: e.median, ownCase: other.case });
  }
  let best: BestPeer | null = null;
  for (const c of candidates) {
    if (!Number.isFinite(c.median)) continue;
    if (best === null || (way === 'higher' ? c.median > best.median : c.median < best.median)) best = c;
  }
  return best;
}
