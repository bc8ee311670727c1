/**
 * What a benchmark result is and how it is shown: the entry every suite writes (one per suite,
 * case, who and metric; bench/results/latest.json holds them all plus the env), run options, case
 * selection, the numbers' formats and the side-by-side tables main.ts and demo.ts print.
 */
import type { Backend } from '../bindings/core-ops.ts';
import { formatRate, formatWithUnit } from './format.ts';

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
export type EngineWho = Backend | 'postMessage' | 'atomics' | 'ringbuf.js' | 'sab-ring' | 'piscina' | 'tinypool' | 'events' | 'eventemitter3' | 'mitt';

/** The order sides are shown in: engines first, then the peers. */
export const WHO_ORDER: readonly EngineWho[] = ['wasm', 'js', 'postMessage', 'atomics', 'ringbuf.js', 'sab-ring', 'piscina', 'tinypool', 'events', 'eventemitter3', 'mitt'];

export type EngineMetric = 'msgs_per_s' | 'rtt_p50_us' | 'rtt_p99_us' | 'rtt_p999_us' | 'speedup' | 'gc_events' | 'heap_bytes_per_msg';
export type EngineUnit = 'msg/s' | 'µs' | '×' | 'events' | 'B';

export const UNITS: Readonly<Record<EngineMetric, EngineUnit>> = {
  msgs_per_s: 'msg/s', rtt_p50_us: 'µs', rtt_p99_us: 'µs', rtt_p999_us: 'µs', speedup: '×', gc_events: 'events', heap_bytes_per_msg: 'B',
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
}

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

/** Prints header, rule and rows with columns as wide as their widest cell; the first `left` columns align left. */
function printColumns(header: string[], rows: string[][], left: number): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < left ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '─'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}

function describeEntry(entry: BenchEntry | undefined): string {
  if (!entry) return '(not run)';
  const spread = entry.rme !== undefined
    ? `±${entry.rme.toFixed(1)}%`
    : `[${formatRate(entry.min)}–${formatRate(entry.max)}]`;
  return `${formatRate(entry.median)} ${spread}${entry.verified ? '' : ' UNVERIFIED'}`;
}

/** Prints wasm and js of each ring case side by side, with the wasm/js ratio of the medians. */
export function printTable(title: string, entries: readonly BenchEntry[]): void {
  const cases: string[] = [];
  for (const e of entries) if (!cases.includes(e.case)) cases.push(e.case);
  if (cases.length === 0) return;
  const rows = cases.map((name) => {
    const wasm = entries.find((e) => e.case === name && e.who === 'wasm');
    const js = entries.find((e) => e.case === name && e.who === 'js');
    const ratio = wasm && js && js.median > 0 ? `${(wasm.median / js.median).toFixed(2)}×` : '—';
    return [name, describeEntry(wasm), describeEntry(js), ratio];
  });
  printColumns([title, 'wasm msg/s', 'js msg/s', 'wasm/js'], rows, 1);
}

function describeEngineEntry(entry: EngineBenchEntry | undefined): string {
  if (!entry) return '';
  if (entry.runs === 0) return entry.verified ? '—' : 'FAILED';
  const spread = `[${formatWithUnit(entry.min, entry.unit)}–${formatWithUnit(entry.max, entry.unit)}]`;
  return `${formatWithUnit(entry.median, entry.unit)} ${spread}${entry.verified ? '' : ' UNVERIFIED'}`;
}

/**
 * One table for all engine suites: a row per (suite, case, metric), a column per side present
 * (wasm, js, postMessage), and wasm/js of the medians (for latency, below 1 means wasm is faster).
 */
export function printEngineTable(title: string, entries: readonly EngineBenchEntry[]): void {
  if (entries.length === 0) return;
  const rowKeys: string[] = [];
  const whos: EngineWho[] = [];
  for (const e of entries) {
    const key = `${e.suite}\u0000${e.case}\u0000${e.metric}`;
    if (!rowKeys.includes(key)) rowKeys.push(key);
    if (!whos.includes(e.who)) whos.push(e.who);
  }
  whos.sort((a, b) => WHO_ORDER.indexOf(a) - WHO_ORDER.indexOf(b));
  const rows = rowKeys.map((key) => {
    const [suite, name, metric] = key.split('\u0000') as [string, string, EngineMetric];
    const find = (who: EngineWho): EngineBenchEntry | undefined => entries.find((e) => e.suite === suite && e.case === name && e.metric === metric && e.who === who);
    const wasm = find('wasm');
    const js = find('js');
    const ratio = wasm && js && wasm.runs > 0 && js.runs > 0 && js.median > 0 ? `${(wasm.median / js.median).toFixed(2)}×` : '';
    return [`${suite.replace(/^engine-/, '')} ${name}`, metric, ...whos.map((who) => describeEngineEntry(find(who))), ratio];
  });
  printColumns([title, 'metric', ...whos, 'wasm/js'], rows, 2);
}
