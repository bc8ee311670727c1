/**
 * Batching calls toward I/O: createBatcher (src/batcher.ts) beside DataLoader and beside one
 * resource call per load, on one thread, all in the same run.
 *
 *   UNITS units of work, a closed loop each        the stage                a simulated resource
 *   ┌──────┐ [think] load(random key) ─▶ await     (a) one call per load     per call: CALL_US µs of CPU,
 *   │ unit │ ────────────────────────────────────▶ (b) DataLoader            then 1 ms (setTimeout),
 *   │  …   │   latency of each load recorded       (c) createBatcher         then ITEM_US µs of CPU per
 *   └──────┘                                       (c') … concurrency 1      key (parsing the answer)
 *                                                  (c'') … dispatch 'turn'
 *
 * Closed loop: UNITS units are always in the system, as thousands of requests each waiting on the
 * resource are. A faster stage then shows as more loads/s at that population (Little's law), with
 * the latency each load saw; an open loop at a fixed rate would show every stage at the same rate
 * until one saturates. Two arrival patterns, each its own table:
 *
 *   cohorts  a unit loads again as soon as its load is answered: the units answered by one call
 *            load again together, in one task, so every stage sees the same cohorts each time
 *            (the case DataLoader's per-tick batching is made for).
 *   spread   a unit thinks 0–2 ms (a timer) before each load, as a server's requests arrive, each
 *            in an I/O callback of its own: the loads of one loop turn come from many tasks, which
 *            only dispatch 'turn' coalesces (the default, 'job', closes a batch per task, as
 *            DataLoader does).
 *
 * Each unit checks its values (key · 2 + 1) into a checksum. Reported per variant (the median of
 * RUNS timed runs of RUN_MS each, after a WARMUP_MS warm-up, the variants taking turns run by
 * run): loads/s and its ratio to DataLoader; load() latency p50 and p99 (and the p99's ratio to
 * DataLoader's); the resource call's own p99; "overhead p99", load p99 minus call p99 (the issue's
 * figure); "outside p99", the p99 over loads of (the load's latency − the duration of the call
 * that answered it): the time a load spent in the stage rather than in the resource (batching,
 * waiting for a slot, settling, and on a saturated thread, waiting for the CPU); keys per call.
 *
 * CALL_US: a real call costs its client CPU too (a syscall or two, framing, a parse); without it a
 * call per load would cost only a timer, which no network resource does.
 *
 *   node build/bench/batcher.js [cohorts] [spread]     (default: both)
 *   env BATCH_UNITS (1000), BATCH_KEYS (10000), BATCH_CALL_US (20), BATCH_ITEM_US (2),
 *       BATCH_RUN_MS (1000), BATCH_WARMUP_MS (400), BATCH_RUNS (3)
 */
import { readFileSync } from 'node:fs';
import DataLoader from 'dataloader';
import { createBatcher } from '../src/batcher.ts';
import { Histogram } from '../src/histogram.ts';
import { collectEnv, describeEnv, busyWarning, PROJECT_ROOT } from './env.ts';
import { formatMicros, formatRate, formatRatio } from './format.ts';
import { ioValueOf, keyStream, makeIoResource, type IoAnswer, type IoCosts, type IoResource } from './io-resource.ts';

const UNITS = Number(process.env.BATCH_UNITS ?? 1000);
const KEYS = Number(process.env.BATCH_KEYS ?? 10_000);
const CALL_US = Number(process.env.BATCH_CALL_US ?? 20);
const ITEM_US = Number(process.env.BATCH_ITEM_US ?? 2);
const RUN_MS = Number(process.env.BATCH_RUN_MS ?? 1000);
const WARMUP_MS = Number(process.env.BATCH_WARMUP_MS ?? 400);
const RUNS = Number(process.env.BATCH_RUNS ?? 3);
/** The resource's fixed latency per call. */
const LATENCY_MS = 1;
const COSTS: IoCosts = { callUs: CALL_US, latencyMs: LATENCY_MS, itemUs: ITEM_US };
/** Most keys per call, the same for DataLoader and createBatcher. */
const MAX_BATCH = 256;
const NS_PER_MS = 1e6;

type Answer = IoAnswer;

/** One run's figures. */
class Tally {
  loads = 0;
  checksum = 0;
  expected = 0;
  calls = 0;
  keysCalled = 0;
  readonly latency = new Histogram();
  readonly outside = new Histogram();
  readonly callTime = new Histogram();
}

/** The simulated resource (bench/io-resource.ts) with this run's costs, counting into the current tally. */
function makeResource(tally: () => Tally): IoResource {
  return makeIoResource(COSTS, (keys, callMs) => {
    const t = tally();
    t.calls++;
    t.keysCalled += keys;
    t.callTime.record(callMs * NS_PER_MS);
  });
}

interface Variant {
  readonly name: string;
  /** A fresh stage over `resource`; `close` ends it after a run. */
  make(resource: (keys: readonly number[]) => Promise<Answer[]>): { load: (key: number) => Promise<Answer>; close: () => Promise<void> };
}

const VARIANTS: readonly Variant[] = [
  {
    name: '(a) a call per load',
    make: (resource) => ({ load: async (key) => (await resource([key]))[0]!, close: async () => {} }),
  },
  {
    // cache: false: createBatcher caches nothing across batches, and with a cache the repeated
    // random keys would never reach the resource.
    name: '(b) DataLoader',
    make: (resource) => {
      const loader = new DataLoader<number, Answer>(resource, { cache: false, maxBatchSize: MAX_BATCH });
      return { load: (key) => loader.load(key), close: async () => {} };
    },
  },
  {
    name: '(c) createBatcher',
    make: (resource) => {
      const b = createBatcher(resource, { maxBatch: MAX_BATCH });
      return { load: (key) => b.load(key), close: () => b.close() };
    },
  },
  {
    name: "(c') … concurrency 1",
    make: (resource) => {
      const b = createBatcher(resource, { maxBatch: MAX_BATCH, concurrency: 1 });
      return { load: (key) => b.load(key), close: () => b.close() };
    },
  },
  {
    // Loads from every timer and I/O callback of one loop phase in one call (setImmediate).
    name: "(c'') … dispatch 'turn'",
    make: (resource) => {
      const b = createBatcher(resource, { maxBatch: MAX_BATCH, dispatch: 'turn' });
      return { load: (key) => b.load(key), close: () => b.close() };
    },
  },
];

/** An arrival pattern: `thinkMs(random)` is a unit's pause before each load (0: none, not even a turn). */
interface Pattern {
  readonly name: string;
  readonly thinkMs: (next: () => number) => number;
}

const PATTERNS: readonly Pattern[] = [
  { name: 'cohorts: a unit loads again as soon as it is answered', thinkMs: () => 0 },
  { name: 'spread: a unit thinks 0–2 ms (a timer) before each load', thinkMs: (next) => next() % 3 },
];

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** UNITS units loading in a closed loop for `ms`; returns the tally and the elapsed ms. */
async function run(variant: Variant, pattern: Pattern, ms: number, seed: number): Promise<{ tally: Tally; elapsedMs: number }> {
  const tally = new Tally();
  const stage = variant.make(makeResource(() => tally));
  const nextKey = keyStream(seed, KEYS);
  const t0 = performance.now();
  const stopAt = t0 + ms;
  const unit = async (): Promise<void> => {
    while (performance.now() < stopAt) {
      const think = pattern.thinkMs(nextKey);
      if (think > 0) await sleep(think);
      const key = nextKey();
      const start = performance.now();
      const answer = await stage.load(key);
      const latencyMs = performance.now() - start;
      tally.loads++;
      tally.checksum += answer.value;
      tally.expected += ioValueOf(key);
      tally.latency.record(latencyMs * NS_PER_MS);
      tally.outside.record((latencyMs - answer.callMs) * NS_PER_MS);
    }
  };
  await Promise.all(Array.from({ length: UNITS }, unit));
  const elapsedMs = performance.now() - t0;
  await stage.close();
  if (tally.checksum !== tally.expected) throw new Error(`${variant.name}: checksum ${tally.checksum} ≠ expected ${tally.expected}`);
  return { tally, elapsedMs };
}

interface Row {
  rate: number;
  p50: number;
  p99: number;
  callP99: number;
  outsideP99: number;
  keysPerCall: number;
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1]!;
const us = (ns: number): number => ns / 1000;

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(new URL(`node_modules/${name}/package.json`, PROJECT_ROOT), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

const env = await collectEnv(500);
console.log(`batcher: ${UNITS} units in a closed loop, ${KEYS} keys; resource: ${CALL_US} µs CPU + ${LATENCY_MS} ms wait per call + ${ITEM_US} µs CPU per key; ` +
  `maxBatch ${MAX_BATCH}; median of ${RUNS} runs of ${RUN_MS} ms after ${WARMUP_MS} ms of warm-up each`);
console.log(describeEnv(env));
console.log(`dataloader ${packageVersion('dataloader')}`);
const warning = busyWarning(env);
if (warning !== null) console.log(warning);

const HEADER = ['variant', 'loads/s', '÷ (b)', 'p50 µs', 'p99 µs', 'p99 ÷ (b)', 'call p99 µs', 'overhead p99 µs', 'outside p99 µs', 'keys/call'];

const chosen = process.argv.slice(2);
for (const pattern of PATTERNS.filter((p) => chosen.length === 0 || chosen.includes(p.name.split(':')[0]!))) {
  const rows = VARIANTS.map(() => [] as Row[]);
  for (let i = 0; i < VARIANTS.length; i++) await run(VARIANTS[i]!, pattern, WARMUP_MS, 1);
  for (let r = 0; r < RUNS; r++) {
    for (let i = 0; i < VARIANTS.length; i++) {
      const { tally, elapsedMs } = await run(VARIANTS[i]!, pattern, RUN_MS, 1000 + r);
      rows[i]!.push({
        rate: (tally.loads / elapsedMs) * 1000,
        p50: us(tally.latency.percentile(50)),
        p99: us(tally.latency.percentile(99)),
        callP99: us(tally.callTime.percentile(99)),
        outsideP99: us(tally.outside.percentile(99)),
        keysPerCall: tally.keysCalled / tally.calls,
      });
    }
  }
  const summary = rows.map((runs) => ({
    rate: median(runs.map((x) => x.rate)),
    p50: median(runs.map((x) => x.p50)),
    p99: median(runs.map((x) => x.p99)),
    callP99: median(runs.map((x) => x.callP99)),
    outsideP99: median(runs.map((x) => x.outsideP99)),
    keysPerCall: median(runs.map((x) => x.keysPerCall)),
  }));
  const dataloader = summary[1]!;
  const table = summary.map((x, i) => [
    VARIANTS[i]!.name, formatRate(x.rate), `${formatRatio(x.rate / dataloader.rate)}×`, formatMicros(x.p50), formatMicros(x.p99),
    `${formatRatio(x.p99 / dataloader.p99)}×`, formatMicros(x.callP99), formatMicros(x.p99 - x.callP99), formatMicros(x.outsideP99),
    x.keysPerCall.toFixed(1),
  ]);
  const widths = HEADER.map((h, c) => Math.max(h.length, ...table.map((row) => row[c]!.length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(' | ')} |`;
  console.log(`\n${pattern.name}`);
  console.log(line(HEADER));
  console.log(`|${widths.map((w, c) => (c === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const row of table) console.log(line(row));
  const c = summary[2]!;
  console.log(`(c) ÷ (b): ${formatRatio(c.rate / dataloader.rate)}× loads/s, p99 ${formatRatio(c.p99 / dataloader.p99)}×; ` +
    `target ≥ 50 k loads/s with overhead p99 < 2 ms: ${c.rate >= 50_000 && c.p99 - c.callP99 < 2000 ? 'met' : 'not met'} ` +
    `(${formatRate(c.rate)} loads/s, overhead p99 ${formatMicros(c.p99 - c.callP99)} µs)`);
}
