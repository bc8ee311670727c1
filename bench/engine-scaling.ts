/**
 * Engine scaling with CPU-bound handlers: the same messages on 1 worker and on 2 workers.
 *
 *                                   ┌──▶ lane 0→1 ──▶ worker 0: spinHash(seq, rounds) ≈ 2 µs, sum
 *   main: writer+send × N ── group ─┤
 *         (balance)                 └──▶ lane 0→2 ──▶ worker 1: (2-worker engines only)
 *   main ◀── requestAll('report'): each worker's count and sum (same lanes, after the work)
 *
 * Per backend, three engines: 1 worker; 2 workers with the default group balance (round-robin);
 * 2 workers with balance 'least-loaded'. Each has one group subscription of `work` on all its
 * workers and a broadcast `report`. `rounds` is calibrated once per process on the main thread so
 * one message costs ~WORK_NS of hashing. A run publishes N messages (back-pressure honoured) and
 * then requestAll('report'); the run's time ends with the last reply, and the counts must add up
 * to N and the sums to the main thread's own sum of spinHash(0..N-1). Each timed round runs every
 * configuration back to back (in alternating order), so each `speedup` (2 workers ÷ 1 worker,
 * msgs/s) is computed per round, then its median is taken.
 *
 * On this 2-core VM the main thread (publishing, and waiting with Atomics.waitAsync when a lane
 * is full) competes with the two workers for the two cores, so 2× is out of reach by design.
 */
import type { Backend } from '../bindings/core-ops.ts';
import { createEngine, type Engine } from '../src/index.ts';
import { spinHash } from './engine/checksum.ts';
import { scalingTopics, type ScalingTopics } from './engine/scaling-topics.ts';
import {
  BACKENDS, VerificationError, WARMUP_RUNS, formatValue, makeEntry, selectedCase, within, type EngineBenchEntry,
} from './engine-common.ts';
import type { BenchOptions } from './results.ts';

const SUITE = 'scaling';
const HANDLERS = new URL('./engine/scaling-handlers.js', import.meta.url);
/** Target cost of one message's work, in ns. */
const WORK_NS = 2_000;
interface Config { readonly id: string; readonly workers: number; readonly balance: 'round-robin' | 'least-loaded'; readonly name: string }
const CONFIGS: readonly Config[] = [
  { id: '1', workers: 1, balance: 'round-robin', name: `1 worker (~${WORK_NS / 1000} µs/msg)` },
  { id: '2rr', workers: 2, balance: 'round-robin', name: `2 workers round-robin (~${WORK_NS / 1000} µs/msg)` },
  { id: '2ll', workers: 2, balance: 'least-loaded', name: `2 workers least-loaded (~${WORK_NS / 1000} µs/msg)` },
];
/** Speedup cases: name → the 2-worker configuration divided by the 1-worker one. */
const SPEEDUPS: readonly { readonly name: string; readonly config: string }[] = [
  { name: '2 vs 1 workers, round-robin', config: '2rr' },
  { name: '2 vs 1 workers, least-loaded', config: '2ll' },
];

function messagesPerRun(options: BenchOptions): number {
  if (options.quick) return 100_000;
  if (options.full) return 1_000_000;
  return 200_000;
}
function runTimeoutMs(messages: number): number {
  return 30_000 + Math.ceil((messages * WORK_NS) / 1e5); // 100× the expected time
}

type ScalingEngine = Engine<ScalingTopics>;

/**
 * spinHash rounds that take ~WORK_NS here: times the handler's own loop shape (a sum over seq)
 * and keeps the best of several trials, so load from other processes inflates it less.
 */
function calibrateRounds(): number {
  const probe = 1_000;
  const messages = 200;
  let best = Infinity;
  let sum = 0;
  for (let trial = 0; trial < 40; trial++) {
    const started = performance.now();
    for (let seq = 0; seq < messages; seq++) sum += spinHash(seq, probe);
    best = Math.min(best, ((performance.now() - started) * 1e6) / (messages * probe));
  }
  if (sum === 0.5) console.log(sum); // keep the work observable
  return Math.max(1, Math.round(WORK_NS / best));
}

async function workRun(engine: ScalingEngine, n: number, rounds: number, expectedSum: number): Promise<number> {
  const started = performance.now();
  const writer = engine.writer('work');
  writer.rounds = rounds;
  for (let seq = 0; seq < n; seq++) {
    writer.seq = seq;
    if (!engine.send('work')) await engine.whenWritable();
  }
  engine.flush();
  const replies = await engine.requestAll('report', { reset: true }, { timeout: runTimeoutMs(n) });
  const seconds = (performance.now() - started) / 1000;
  let count = 0;
  let sum = 0;
  for (const reply of replies) {
    count += reply.count;
    sum += reply.sum;
  }
  const problems: string[] = [];
  if (replies.length !== engine.workers) problems.push(`${replies.length} of ${engine.workers} workers replied`);
  if (count !== n) problems.push(`handled ${count} of ${n} messages (${replies.map((r) => `worker ${r.worker}: ${r.count}`).join(', ')})`);
  if (sum !== expectedSum) problems.push(`sum of results ${sum} != expected ${expectedSum}`);
  if (problems.length > 0) throw new VerificationError(problems.join('; '));
  return n / seconds;
}

/** Runs the scaling cases selected by `options`. */
export async function runEngineScaling(options: BenchOptions, log: (line: string) => void): Promise<EngineBenchEntry[]> {
  const names = [...CONFIGS.map((c) => c.name), ...SPEEDUPS.map((s) => s.name)];
  const backends = BACKENDS.filter((who) => names.some((name) => selectedCase(options, SUITE, name, who)));
  if (backends.length === 0) return [];
  const n = messagesPerRun(options);
  const rounds = calibrateRounds();
  let expectedSum = 0;
  for (let seq = 0; seq < n; seq++) expectedSum += spinHash(seq, rounds);
  log(`${SUITE}: ${options.runs} timed rounds of ${n.toLocaleString('en')} messages × ${rounds} hash rounds (~${WORK_NS / 1000} µs) on 1 worker and on 2 (round-robin, least-loaded) after warm-ups, ${backends.join(' and ')}`);

  const key = (who: Backend, config: Config): string => `${who}/${config.id}`;
  const engines = new Map<string, ScalingEngine>();
  const errors = new Map<string, Error[]>();
  const rates = new Map<string, number[]>();
  const speedups = new Map<string, number[]>();
  const failures = new Map<Backend, string>();
  try {
    for (const who of backends) {
      for (const config of CONFIGS) {
        const reported: Error[] = [];
        errors.set(key(who, config), reported);
        rates.set(key(who, config), []);
        const engine = await createEngine<ScalingTopics>({
          topics: scalingTopics, handlers: HANDLERS, backend: who, workers: config.workers, onError: (error) => reported.push(error),
        });
        engines.set(key(who, config), engine);
        await engine.subscribe('work', { handler: 'work', mode: 'group', balance: config.balance });
        await engine.subscribe('report', { handler: 'report', mode: 'broadcast' });
      }
      for (const speedup of SPEEDUPS) speedups.set(`${who}/${speedup.config}`, []);
    }
    const one = async (who: Backend, config: Config): Promise<number> => {
      const rate = await within(runTimeoutMs(n) + 5_000, `${who} ${config.name}`, workRun(engines.get(key(who, config))!, n, rounds, expectedSum));
      const reported = errors.get(key(who, config))!;
      if (reported.length > 0) throw new VerificationError(`engine reported: ${reported[0]!.message}`);
      return rate;
    };
    for (let run = 0; run < WARMUP_RUNS + options.runs; run++) {
      const timed = run >= WARMUP_RUNS;
      const order = run % 2 === 0 ? backends : [...backends].reverse();
      for (const who of order) {
        if (failures.has(who)) continue;
        try {
          const configs = run % 2 === 0 ? CONFIGS : [...CONFIGS].reverse();
          const got = new Map<string, number>();
          for (const config of configs) got.set(config.id, await one(who, config));
          if (!timed) continue;
          for (const config of CONFIGS) rates.get(key(who, config))!.push(got.get(config.id)!);
          for (const speedup of SPEEDUPS) speedups.get(`${who}/${speedup.config}`)!.push(got.get(speedup.config)! / got.get('1')!);
        } catch (error) {
          failures.set(who, (error as Error).message);
          log(`  ${who}: FAILED: ${(error as Error).message}`);
        }
      }
    }
  } finally {
    await Promise.all([...engines.values()].map((engine) => engine.close({ timeout: 5_000 })));
  }

  const entries: EngineBenchEntry[] = [];
  for (const who of backends) {
    const error = failures.get(who);
    for (const config of CONFIGS) entries.push(makeEntry(SUITE, config.name, who, 'msgs_per_s', rates.get(key(who, config))!, options.runs, error));
    for (const speedup of SPEEDUPS) entries.push(makeEntry(SUITE, speedup.name, who, 'speedup', speedups.get(`${who}/${speedup.config}`)!, options.runs, error));
    if (error === undefined) {
      log(`  ${who}: ${CONFIGS.map((c) => `${c.id} ${rates.get(key(who, c))!.map((r) => formatValue(r, 'msg/s')).join(', ')}`).join('; ')}`);
      log(`  ${who}: speedup ${SPEEDUPS.map((s) => `${s.config} ${speedups.get(`${who}/${s.config}`)!.map((v) => formatValue(v, '×')).join(', ')}`).join('; ')}`);
    }
  }
  return entries;
}
