/**
 * How the engine suites run (engine-throughput.ts, one-to-one.ts, engine-pingpong.ts, fan-out.ts,
 * keyed.ts, request-response.ts, engine-scaling.ts, in-thread.ts, memory.ts, browser.ts): their
 * engines (SuiteEngines: started and subscribed, every run bounded and checked against what the
 * engine reported, closed together), the sampling of every side into result entries
 * (measureCases, measureSides), the checks a run's result must pass, run sizes and deadlines.
 *
 * Every case runs WARMUP_RUNS untimed runs, then `options.runs` timed runs; the sides (the
 * backends and the peers measured beside them) take turns run by run, in alternating order, so a
 * burst of load from other processes does not land on one of them only. A run that fails
 * verification (or times out) stops that side; its entries say `verified: false` with the reason,
 * and main.ts exits non-zero.
 */
import type { Backend } from '../bindings/core-ops.ts';
import { createEngine, type Engine, type EngineOptions, type SubscribeOptions, type TopicMap, type TopicName } from '../src/index.ts';
import { formatWithUnit } from './format.ts';
import { UNITS, makeEntry, metricName, type BenchOptions, type EngineBenchEntry, type EngineMetric, type EngineWho } from './results.ts';

export const BACKENDS: readonly Backend[] = ['wasm', 'js'];

/** Untimed runs per case and side before the timed ones (JIT warm-up, worker caches, page faults). */
export const WARMUP_RUNS = 2;

/** Messages (or rounds, requests) per run at each length: --quick, the default, --full. */
export interface RunSizes {
  readonly quick: number;
  readonly normal: number;
  readonly full: number;
}

/** The size of a run under `options`. */
export function runSize(options: BenchOptions, sizes: RunSizes): number {
  return options.quick ? sizes.quick : options.full ? sizes.full : sizes.normal;
}

/** A run's deadline in ms: `slackMs` plus the time `count` items take at `minPerSecond`, a rate far below the expected one. */
export function runTimeoutMs(count: number, minPerSecond: number, slackMs = 20_000): number {
  return slackMs + Math.ceil((count * 1000) / minPerSecond);
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

/** Throws `problems` as one VerificationError; returns when there are none. */
export function verify(problems: readonly string[]): void {
  if (problems.length > 0) throw new VerificationError(problems.join('; '));
}

/** What the consumer of an in-order stream counted: messages, seq order errors, the checksum of their values. */
export interface StreamTally {
  count: number;
  checksum: number;
  orderErrors: number;
}

/** What `tally` gets wrong for a stream of `n` messages whose checksum is `expected`; `who` (e.g. 'worker 1: ') opens each problem. */
export function streamProblems(tally: StreamTally, n: number, expected: number, who = ''): string[] {
  const problems: string[] = [];
  if (tally.count !== n) problems.push(`${who}handled ${tally.count} of ${n} messages`);
  if (tally.orderErrors !== 0) problems.push(`${who}${tally.orderErrors} messages out of order`);
  if (tally.checksum !== expected) problems.push(`${who}checksum ${tally.checksum} != sent ${expected}`);
  return problems;
}

/** A subscription a suite's engine makes when it starts: the topic and how. */
export type SuiteSubscription<T extends TopicMap> = readonly [TopicName<T>, SubscribeOptions];

/**
 * A suite's engines, one per key (a backend, or a backend and a configuration), each started with
 * its subscriptions and collecting the errors it reports (onError); every run on one is bounded by
 * a deadline and then fails if its engine reported an error. Start them inside `try` and close()
 * in `finally`, so an engine that started is closed even if a later one fails to.
 */
export class SuiteEngines<T extends TopicMap, K = Backend> {
  private readonly engines = new Map<K, Engine<T>>();
  private readonly reported = new Map<K, Error[]>();

  /** Starts an engine under `key`, then makes `subscriptions` in order. */
  async start(key: K, options: Omit<EngineOptions<T>, 'onError'>, subscriptions: readonly SuiteSubscription<T>[]): Promise<Engine<T>> {
    const reported: Error[] = [];
    this.reported.set(key, reported);
    const engine = await createEngine<T>({ ...options, onError: (error) => reported.push(error) });
    this.engines.set(key, engine);
    for (const [topic, subscription] of subscriptions) await engine.subscribe(topic, subscription);
    return engine;
  }

  /** start() for each of `backends`, keyed by the backend, with the same options. */
  async startEach(
    this: SuiteEngines<T, Backend>, backends: readonly Backend[],
    options: Omit<EngineOptions<T>, 'onError' | 'backend'>, subscriptions: readonly SuiteSubscription<T>[],
  ): Promise<void> {
    for (const backend of backends) await this.start(backend, { ...options, backend }, subscriptions);
  }

  get(key: K): Engine<T> {
    const engine = this.engines.get(key);
    if (engine === undefined) throw new Error(`no engine started for ${String(key)}`);
    return engine;
  }

  /** Throws a VerificationError naming the first error `key`'s engine reported, if it reported one. */
  check(key: K): void {
    const reported = this.reported.get(key) ?? [];
    if (reported.length > 0) throw new VerificationError(`engine reported: ${reported[0]!.message}`);
  }

  /** Runs `work` on `key`'s engine, failing after `ms` (naming `what`), then check(key). */
  async run<R>(key: K, what: string, ms: number, work: (engine: Engine<T>) => Promise<R>): Promise<R> {
    const result = await within(ms, what, work(this.get(key)));
    this.check(key);
    return result;
  }

  /** run(), timed: `seconds` from just before `work` starts until its promise resolves. */
  async timed<R>(key: K, what: string, ms: number, work: (engine: Engine<T>) => Promise<R>): Promise<{ result: R; seconds: number }> {
    const engine = this.get(key);
    const started = performance.now();
    const result = await within(ms, what, work(engine));
    const seconds = (performance.now() - started) / 1000;
    this.check(key);
    return { result, seconds };
  }

  /** Closes every engine (each within 5 s) and forgets them; start() may follow. */
  async close(): Promise<void> {
    const engines = [...this.engines.values()];
    this.engines.clear();
    this.reported.clear();
    await Promise.all(engines.map((engine) => engine.close({ timeout: 5_000 })));
  }
}

/** One side of a case: runs one measurement and returns its values by key (throws on failure). */
export interface Side<K extends string = EngineMetric> {
  who: EngineWho;
  run(timed: boolean): Promise<Partial<Record<K, number>>>;
}

/** Where a side's values under `key` go: the entries of `case` and `metric`. */
export interface Slot<K extends string> {
  key: K;
  case: string;
  metric: EngineMetric;
}

/**
 * Runs WARMUP_RUNS then `options.runs` timed runs of every side (alternating order) and returns
 * one entry per (side, slot), in that order. A failing side is not run again; its entries carry
 * the error. `options.progress` hears of every run before it starts, and of the case's end.
 */
export async function measureCases<K extends string>(
  suite: string, sides: readonly Side<K>[], slots: readonly Slot<K>[], options: BenchOptions, log: (line: string) => void,
): Promise<EngineBenchEntry[]> {
  const samples = new Map<EngineWho, Map<K, number[]>>(sides.map((s) => [s.who, new Map(slots.map((slot) => [slot.key, []]))]));
  const errors = new Map<EngineWho, string>();
  const cases = [...new Set(slots.map((slot) => slot.case))];
  const step = `${suite} ${cases.join(', ')}`;
  const total = (WARMUP_RUNS + options.runs) * sides.length;
  let done = 0;
  const attempt = async (side: Side<K>, timed: boolean): Promise<void> => {
    options.progress?.(`${step} · ${side.who}`, done++, total);
    if (errors.has(side.who)) return;
    try {
      const values = await side.run(timed);
      if (!timed) return;
      for (const { key } of slots) {
        const value = values[key];
        if (value === undefined || !Number.isFinite(value)) throw new Error(`run gave no finite ${key} (${value})`);
        samples.get(side.who)!.get(key)!.push(value);
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
  options.progress?.(step, total, total);
  const entries: EngineBenchEntry[] = [];
  for (const side of sides) {
    const error = errors.get(side.who);
    const parts: string[] = [];
    for (const slot of slots) {
      const values = samples.get(side.who)!.get(slot.key)!;
      entries.push(makeEntry(suite, slot.case, side.who, slot.metric, values, options.runs, error));
      const name = cases.length > 1 ? `${slot.case} ${metricName(slot.metric)}` : metricName(slot.metric);
      parts.push(`${name} ${values.map((v) => formatWithUnit(v, UNITS[slot.metric])).join(', ')}`);
    }
    if (error === undefined) log(`  ${side.who}: ${parts.join('; ')}`);
  }
  return entries;
}

/** measureCases for one case whose sides return their values by metric. */
export function measureSides(
  suite: string, name: string, sides: readonly Side[], metrics: readonly EngineMetric[], options: BenchOptions, log: (line: string) => void,
): Promise<EngineBenchEntry[]> {
  return measureCases(suite, sides, metrics.map((metric) => ({ key: metric, case: name, metric })), options, log);
}
