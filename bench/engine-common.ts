/**
 * What the engine benchmarks (engine-throughput.ts, engine-pingpong.ts, engine-scaling.ts) share:
 * their result entry (more metrics than the ring benchmarks: latency in µs and a speedup ratio,
 * and a postMessage baseline beside the two backends), case selection, run scheduling with
 * alternating backends, percentiles, and the table they print.
 *
 * Every case runs WARMUP_RUNS untimed runs, then `options.runs` timed runs; the backends (and the
 * baseline) take turns run by run, in alternating order, so a burst of load from other processes
 * does not land on one of them only. A run that fails verification (or times out) stops that
 * case for that side; its entry says `verified: false` with the reason, and main.ts exits
 * non-zero.
 */
import type { Backend } from '../bindings/core-ops.ts';
import { formatRate, median, type BenchOptions } from './results.ts';

/** Who a number belongs to: one of the engine's backends, or a peer measured beside them. */
export type EngineWho = Backend | 'postMessage' | 'atomics' | 'ringbuf.js' | 'sab-ring' | 'piscina' | 'tinypool' | 'events' | 'eventemitter3' | 'mitt';

export type EngineMetric = 'msgs_per_s' | 'rtt_p50_us' | 'rtt_p99_us' | 'rtt_p999_us' | 'speedup' | 'gc_events' | 'heap_bytes_per_msg';
export type EngineUnit = 'msg/s' | 'µs' | '×' | 'events' | 'B';

/** One measured (suite, case, who, metric); the same fields as the ring benchmarks' BenchEntry. */
export interface EngineBenchEntry {
  suite: string;
  case: string;
  who: EngineWho;
  metric: EngineMetric;
  unit: EngineUnit;
  median: number;
  min: number;
  max: number;
  /** Timed runs behind median/min/max. */
  runs: number;
  /** Every run's count and checksum matched what was sent. */
  verified: boolean;
  error?: string;
}

export const BACKENDS: readonly Backend[] = ['wasm', 'js'];
export const UNITS: Readonly<Record<EngineMetric, EngineUnit>> = {
  msgs_per_s: 'msg/s', rtt_p50_us: 'µs', rtt_p99_us: 'µs', rtt_p999_us: 'µs', speedup: '×', gc_events: 'events', heap_bytes_per_msg: 'B',
};

/** Untimed runs per case and side before the timed ones (JIT warm-up, worker caches, page faults). */
export const WARMUP_RUNS = 2;

/** True when `suite/name/who` contains options.filter (or there is no filter). */
export function selectedCase(options: BenchOptions, suite: string, name: string, who: EngineWho): boolean {
  return options.filter === null || `${suite}/${name}/${who}`.includes(options.filter);
}

/** Resolves `promise`, or rejects after `ms` naming `what`: no benchmark run waits forever. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  // If the deadline wins, the abandoned promise may still reject later (e.g. ERR_ENGINE_CLOSED
  // at close): handled here, so it cannot become an unhandled rejection that kills the process.
  promise.catch(() => undefined);
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
    })]);
  } finally {
    clearTimeout(timer);
  }
}

/** Thrown by a run whose result does not verify. */
export class VerificationError extends Error {}

/** One side of a case: runs one measurement, returning metric → value (throws on failure). */
export interface Side {
  who: EngineWho;
  run(timed: boolean): Promise<Partial<Record<EngineMetric, number>>>;
}

/**
 * Runs WARMUP_RUNS then `runs` timed runs of every side (alternating order), and returns one entry
 * per (side, metric in `metrics`). A failing side is not run again; its entries carry the error.
 */
export async function measureSides(
  suite: string, name: string, sides: readonly Side[], metrics: readonly EngineMetric[],
  options: BenchOptions, log: (line: string) => void,
): Promise<EngineBenchEntry[]> {
  const samples = new Map<EngineWho, Map<EngineMetric, number[]>>(sides.map((s) => [s.who, new Map(metrics.map((m) => [m, []]))]));
  const errors = new Map<EngineWho, string>();
  const attempt = async (side: Side, timed: boolean): Promise<void> => {
    if (errors.has(side.who)) return;
    try {
      const values = await side.run(timed);
      if (!timed) return;
      for (const metric of metrics) {
        const value = values[metric];
        if (value === undefined || !Number.isFinite(value)) throw new Error(`run gave no finite ${metric} (${value})`);
        samples.get(side.who)!.get(metric)!.push(value);
      }
    } catch (error) {
      const message = (error as Error).message;
      errors.set(side.who, message);
      log(`  ${side.who}: FAILED: ${message}`);
    }
  };
  for (let run = 0; run < WARMUP_RUNS; run++) for (const side of sides) await attempt(side, false);
  for (let run = 0; run < options.runs; run++) {
    const order = run % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) await attempt(side, true);
  }
  const entries: EngineBenchEntry[] = [];
  for (const side of sides) {
    const error = errors.get(side.who);
    const parts: string[] = [];
    for (const metric of metrics) {
      const values = samples.get(side.who)!.get(metric)!;
      entries.push(makeEntry(suite, name, side.who, metric, values, options.runs, error));
      parts.push(`${metric} ${values.map((v) => formatValue(v, UNITS[metric])).join(', ')}`);
    }
    if (error === undefined) log(`  ${side.who}: ${parts.join('; ')}`);
  }
  return entries;
}

/** An entry from a side's timed samples; verified when there was no error and every run counted. */
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

/** The p-th percentile (0..100, nearest rank) of the first `n` values of `sorted` (ascending). */
export function percentile(sorted: Float64Array, n: number, p: number): number {
  if (n === 0) return NaN;
  const rank = Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1));
  return sorted[rank]!;
}

export function formatValue(value: number, unit: EngineUnit): string {
  if (!Number.isFinite(value)) return '—';
  switch (unit) {
    case 'msg/s': return formatRate(value);
    case 'µs': return value >= 100 ? `${value.toFixed(0)} µs` : `${value.toFixed(value >= 10 ? 1 : 2)} µs`;
    case '×': return `${value.toFixed(2)}×`;
    case 'events': return `${value.toFixed(0)} GC`;
    case 'B': return `${value.toFixed(2)} B`;
  }
}

/** Rounds for latest.json: rates to integers, latencies to 0.01 µs, ratios to 0.001. */
export function roundForJson(value: number, unit: string): number {
  if (!Number.isFinite(value)) return value;
  if (unit === 'µs') return Math.round(value * 100) / 100;
  if (unit === '×') return Math.round(value * 1000) / 1000;
  if (unit === 'B') return Math.round(value * 100) / 100;
  return Math.round(value);
}

function describe(entry: EngineBenchEntry | undefined): string {
  if (!entry) return '';
  if (entry.runs === 0) return entry.verified ? '—' : 'FAILED';
  const spread = `[${formatValue(entry.min, entry.unit)}–${formatValue(entry.max, entry.unit)}]`.replace(/ µs–/, '–');
  return `${formatValue(entry.median, entry.unit)} ${spread}${entry.verified ? '' : ' UNVERIFIED'}`;
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
  const order: EngineWho[] = ['wasm', 'js', 'postMessage', 'atomics', 'ringbuf.js', 'sab-ring', 'piscina', 'tinypool', 'events', 'eventemitter3', 'mitt'];
  whos.sort((a, b) => order.indexOf(a) - order.indexOf(b));
  const rows = rowKeys.map((key) => {
    const [suite, name, metric] = key.split('\u0000') as [string, string, EngineMetric];
    const find = (who: EngineWho): EngineBenchEntry | undefined => entries.find((e) => e.suite === suite && e.case === name && e.metric === metric && e.who === who);
    const wasm = find('wasm');
    const js = find('js');
    const ratio = wasm && js && wasm.runs > 0 && js.runs > 0 && js.median > 0 ? `${(wasm.median / js.median).toFixed(2)}×` : '';
    return [`${suite.replace(/^engine-/, '')} ${name}`, metric, ...whos.map((who) => describe(find(who))), ratio];
  });
  const header = [title, 'metric', ...whos, 'wasm/js'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '─'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}
