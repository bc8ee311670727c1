/**
 * Async handlers through the engine, and batching toward I/O inside them, in two parts; every
 * variant of a part runs on one engine in the same run, the variants taking turns run by run.
 *
 * overhead  What an async handler costs beside a synchronous one, on the one-to-one path (here):
 *
 *             main thread ── publishBatch(256) ──▶ lane ──▶ worker 0, group subscription:
 *                                                            (i)   handle(m) { sum += m.x }
 *                                                            (ii)  async handle(m) { sum += m.x }
 *                                                            (iii) async handle(m) { await null; sum += m.x }
 *
 *           16-byte messages, default concurrency (64). msgs/s from the first publish to drain()
 *           (every promise settled), runs of about OVERHEAD_MS, the median of RUNS after a
 *           warm-up; async ÷ sync. Checked: the count, seq order at each delivery's start, the sum
 *           of x (read after the await in (iii): the message stays valid until it settles).
 *
 * io        An I/O stage in the engine (bench/async-io.ts): a simulated resource of 1 ms per call
 *           in each of 2 workers, reached from an async handler by (a) a call per message, (b)
 *           DataLoader, (c) createBatcher, (c') createBatcher without its limit on calls in
 *           flight; the most msgs/s each completes, and latency and the library's overhead at a
 *           fixed 50 k msg/s, against the issue's targets.
 *
 *   node build/bench/async.js [overhead] [io] [wasm|js]     (default: both parts, wasm)
 *   env ASYNC_RUNS (3), ASYNC_OVERHEAD_MS (300), ASYNC_SATURATION_MS (1000), ASYNC_LATENCY_MS (1500),
 *       ASYNC_RATE (50000), ASYNC_CONCURRENCY (1024), ASYNC_KEYS (10000)
 *
 * A run that loses, duplicates or corrupts a message, or whose engine reports an error, throws:
 * the process exits non-zero. About 30–45 s on a 2-core machine.
 */
import { readFileSync } from 'node:fs';
import { createEngine, type Engine } from '../src/index.ts';
import { asyncTopics, xOf, type AsyncTopics } from './engine/async-topics.ts';
import { BATCH, DEADLINE_MS, EngineErrors, RUNS, VerificationError, check, median, printTable } from './async-common.ts';
import { ioStage } from './async-io.ts';
import { collectEnv, describeEnv, busyWarning, PROJECT_ROOT } from './env.ts';
import { formatRate, formatRatio } from './format.ts';

const OVERHEAD_MS = Number(process.env.ASYNC_OVERHEAD_MS ?? 300);

interface OverheadVariant {
  readonly name: string;
  readonly topic: 'msg.sync' | 'msg.async' | 'msg.await';
  readonly handler: 'sync' | 'async' | 'await';
}

const OVERHEAD_VARIANTS: readonly OverheadVariant[] = [
  { name: '(i) sync', topic: 'msg.sync', handler: 'sync' },
  { name: '(ii) async, settles at once', topic: 'msg.async', handler: 'async' },
  { name: '(iii) async, await null', topic: 'msg.await', handler: 'await' },
];

/** Σ xOf(0 .. n−1), memoised per n. */
const xSums = new Map<number, number>();
function xSum(n: number): number {
  let sum = xSums.get(n);
  if (sum === undefined) {
    sum = 0;
    for (let seq = 0; seq < n; seq++) sum += xOf(seq);
    xSums.set(n, sum);
  }
  return sum;
}

/** Publishes seq 0 .. n−1 to `topic` in batches of BATCH, drains, checks the report; returns msgs/s. */
async function overheadRun(engine: Engine<AsyncTopics>, errors: EngineErrors, variant: OverheadVariant, n: number): Promise<number> {
  const batch = Array.from({ length: BATCH }, () => ({ seq: 0, x: 0, stamp: 0 }));
  const t0 = performance.now();
  for (let start = 0; start < n; start += BATCH) {
    const size = Math.min(BATCH, n - start);
    const messages = size === BATCH ? batch : batch.slice(0, size);
    for (let i = 0; i < size; i++) {
      const m = messages[i]!;
      m.seq = start + i;
      m.x = xOf(start + i);
    }
    const taken = engine.publishBatch(variant.topic, messages);
    if (taken !== size) throw new VerificationError(`${variant.name}: publishBatch took ${taken} of ${size} (policy 'block' refuses none)`);
    await engine.whenWritable();
  }
  engine.flush();
  await engine.drain({ timeout: DEADLINE_MS });
  const seconds = (performance.now() - t0) / 1000;
  const r = await engine.request('report', { reset: true }, { timeout: DEADLINE_MS });
  const problems: string[] = [];
  if (r.count !== n) problems.push(`handled ${r.count} of ${n} messages`);
  if (r.orderErrors !== 0) problems.push(`${r.orderErrors} deliveries started out of order`);
  if (r.sum !== xSum(n)) problems.push(`sum of x ${r.sum} != sent ${xSum(n)}`);
  check(variant.name, problems);
  errors.check(variant.name);
  return n / seconds;
}

async function overhead(backend: 'wasm' | 'js'): Promise<void> {
  const errors = new EngineErrors();
  const engine = await createEngine({
    topics: asyncTopics, handlers: new URL('./engine/async-handlers.js', import.meta.url), workers: 1, backend, onError: errors.onError,
  });
  try {
    for (const v of OVERHEAD_VARIANTS) await engine.subscribe(v.topic, { handler: v.handler, mode: 'group' });
    await engine.subscribe('report', { handler: 'report', mode: 'group' });
    // Warm-up, which also sizes each variant's runs to about OVERHEAD_MS (twice: a short run's
    // rate is low, drain() looking every ms).
    const sizes: number[] = [];
    for (const v of OVERHEAD_VARIANTS) {
      let n = 200_000;
      for (let i = 0; i < 2; i++) {
        const rate = await overheadRun(engine, errors, v, n);
        n = Math.max(100_000, Math.round((rate * OVERHEAD_MS) / 1000 / BATCH) * BATCH);
      }
      sizes.push(n);
    }
    const rates = OVERHEAD_VARIANTS.map(() => [] as number[]);
    for (let run = 0; run < RUNS; run++) {
      for (let i = 0; i < OVERHEAD_VARIANTS.length; i++) rates[i]!.push(await overheadRun(engine, errors, OVERHEAD_VARIANTS[i]!, sizes[i]!));
    }
    const sync = median(rates[0]!);
    console.log(`\noverhead (${backend}): main thread → 1 worker, group subscription, publishBatch ${BATCH}, 16-byte messages, ` +
      `default concurrency; msgs/s from the first publish to drain(), median of ${RUNS} runs (each variant: ${sizes.map((s) => s.toLocaleString('en')).join(' / ')} messages)`);
    printTable(['handler', 'msgs/s', '÷ sync', 'runs (min – max)'], OVERHEAD_VARIANTS.map((v, i) => {
      const r = rates[i]!;
      return [v.name, formatRate(median(r)), `${formatRatio(median(r) / sync)}×`, `${formatRate(Math.min(...r))} – ${formatRate(Math.max(...r))}`];
    }));
  } finally {
    await engine.close();
  }
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(new URL(`node_modules/${name}/package.json`, PROJECT_ROOT), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

const args = process.argv.slice(2);
const parts = args.filter((a) => a === 'overhead' || a === 'io');
const backends = args.filter((a): a is 'wasm' | 'js' => a === 'wasm' || a === 'js');
const unknown = args.filter((a) => a !== 'overhead' && a !== 'io' && a !== 'wasm' && a !== 'js');
if (unknown.length > 0) throw new Error(`unknown argument(s) ${unknown.join(', ')}: usage node build/bench/async.js [overhead] [io] [wasm|js]`);
const env = await collectEnv(500);
console.log('async: async handlers, and batching toward I/O inside them');
console.log(describeEnv(env));
console.log(`dataloader ${packageVersion('dataloader')}`);
const warning = busyWarning(env);
if (warning !== null) console.log(warning);
const started = performance.now();
for (const backend of backends.length > 0 ? backends : (['wasm'] as const)) {
  if (parts.length === 0 || parts.includes('overhead')) await overhead(backend);
  if (parts.length === 0 || parts.includes('io')) await ioStage(backend);
}
console.log(`\nverified: every run's count and checksum; ${((performance.now() - started) / 1000).toFixed(0)} s`);
