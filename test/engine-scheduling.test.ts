/**
 * Scheduling under load, on both backends with real workers: priority classes (overtaking, the
 * pre-emption of a lower class's drain, and the starvation guard's share), per-key order within a
 * class, admission control (exact, over several publishers; its stats gauge), load shedding by
 * priority (thresholds, hysteresis, 2× overload), the adaptive spin default, and the validation of
 * every scheduling option.
 *
 * The bounds are derived from the options each engine is given (batch, priorityWeights,
 * ringCapacity, maxInFlight, shed thresholds), so each test fails if its feature is missing or
 * broken: no priority (lows handled in publish order before the highs, or equal shares), no guard
 * (no low handled while highs wait), no pre-emption (a high request waits for the rest of a low
 * batch), an admission limit that lets one more in, shedding of high, thresholds or hysteresis
 * that are off by one record. Where a test needs a moment in which nothing is handled, a worker is
 * held by a busy-waiting handler that announces itself first (the `holding` topic), so no test
 * depends on the machine's scheduling. Sizes scale with WD_STRESS.
 */
import { availableParallelism } from 'node:os';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createEngine, type Engine } from '../src/index.ts';
import { ConfigError } from '../src/errors.ts';
import { defineSchema } from '../src/schema.ts';
import type { EngineOptions, EngineStats, LaneStats, Priority, TopicStats } from '../src/engine/types.ts';
import { BACKENDS, CORE_BUILD, STRESS } from './harness.ts';
import { within } from './engine/harness.ts';
import { identityProblems, prng, sleep, waitFor } from './engine/supervision.ts';
import {
  ANY_WORKER, API_ALTERNATE, API_PUBLISH, API_SEND, CLASSES, CRASH_MICROS, GATED_MAX, GATED_WIDE_MAX, HIGH, LOW, MIXED, NORMAL, PACED_BURST, PACED_RATE,
  TARGET_GATED, TARGET_PACED, TARGET_WORK,
  mixedClass, schedTopics, valueOf, type SchedTopics,
} from './engine/sched-topics.ts';
import type schedHandlers from './engine/sched-handlers.ts';

const SCHED_HANDLERS = new URL('./engine/sched-handlers.js', import.meta.url);
const CORES = availableParallelism();
const SPIN_DEFAULT = 20_000;
/** The default budget is the same on every engine; it is adaptive (spent only while the awake threads fit the cores). */
const defaultSpinFor = (_workers: number): number => SPIN_DEFAULT;

type SchedEngine = Engine<SchedTopics, typeof schedHandlers> & { errors: Error[] };
/** A worker's report (SchedReport's fields, all numbers). */
type Report = Record<string, number>;

async function startSched(backend: 'wasm' | 'js', options: Partial<EngineOptions<SchedTopics, typeof schedHandlers>>): Promise<SchedEngine> {
  const errors: Error[] = [];
  const engine = await within(30_000, 'createEngine', createEngine<SchedTopics, typeof schedHandlers>({
    topics: schedTopics, handlers: SCHED_HANDLERS, backend, coreBuild: CORE_BUILD, onError: (e) => errors.push(e), ...options,
  }));
  await within(10_000, 'subscribe report', engine.subscribe('report', { handler: 'report', mode: 'broadcast' }));
  return Object.assign(engine, { errors });
}

/** Every worker's report (sorted by worker), then (by default) resets their state. */
async function reports(engine: SchedEngine, reset = true): Promise<Report[]> {
  const replies = await within(30_000, 'report', engine.requestAll('report', { reset }, { timeout: 20_000 }));
  return (replies as unknown as Report[]).sort((a, b) => a.worker - b.worker);
}

/**
 * The accounting identity's problems (supervision.ts), read after drain(): only then is it
 * promised (a request's reply can reach this thread before its handler's delivery is counted).
 */
async function identityAfterDrain(engine: SchedEngine): Promise<string[]> {
  await within(30_000, 'drain', engine.drain());
  return identityProblems(engine.stats());
}

/** Holds the `holding` topic has seen start (its `unrouted`: handlers announce a hold there). */
function holdsStarted(engine: SchedEngine): number {
  return engine.stats().topics.holding!.unrouted;
}

/** Waits until `count` more holds than `since` have started: the workers holding are busy now. */
async function holdsStart(engine: SchedEngine, since: number, count = 1): Promise<void> {
  await waitFor(10_000, `${count} hold(s) starting`, () => holdsStarted(engine) >= since + count);
}

/** Publishes a hold of `ms` (to every member of hold's subscriptions: `receivers`) and waits until each has started it. */
async function hold(engine: SchedEngine, ms: number, receivers = 1): Promise<void> {
  const since = holdsStarted(engine);
  engine.publish('hold', { ms });
  engine.flush();
  await holdsStart(engine, since, receivers);
}

/** Lane `from` → `to` (threads: 0 the engine's, w + 1 worker w) of class `priority`, or zeros if never used. */
function lane(engine: SchedEngine, from: number, to: number, priority: Priority): LaneStats {
  return engine.stats().lanes.find((l) => l.from === from && l.to === to && l.priority === priority)
    ?? { from, to, priority, published: 0, depth: 0, highWater: 0 };
}

/** Records waiting in the engine thread's lanes to worker `worker`, every class. */
function depthTo(engine: SchedEngine, worker: number): number {
  return engine.stats().lanes.filter((l) => l.from === 0 && l.to === worker + 1).reduce((sum, l) => sum + l.depth, 0);
}

type Counts = Omit<TopicStats, 'firstError' | 'shed'> & { shedHigh: number; shedNormal: number; shedLow: number };
function counts(stats: EngineStats, topic: keyof SchedTopics): Counts {
  const { firstError: _, shed, ...rest } = stats.topics[topic]!;
  return { ...rest, shedHigh: shed.high, shedNormal: shed.normal, shedLow: shed.low };
}
/** after − before, per counter (inFlight: the value after). */
function delta(before: Counts, after: Counts): Counts {
  const result = { ...after };
  for (const key of Object.keys(after) as (keyof Counts)[]) if (key !== 'inFlight') result[key] = after[key] - before[key];
  return result;
}

let producers = 1;
/** A producer id no earlier test used (the handlers check every stream's order from seq 0). */
const nextProducer = (): number => producers++;

/** Message i of class `cls` of a producer: keys i % `keys`, consecutive seqs per (key, class). */
function work(producer: number, cls: number, i: number, keys = 8, micros = 0) {
  const key = i % keys;
  const seq = Math.floor(i / keys);
  return { producer, key, cls, seq, value: valueOf(producer, key, cls, seq), micros };
}

function busyWait(micros: number): void {
  const end = performance.now() + micros / 1000;
  while (performance.now() < end) { /* pacing */ }
}

/** Runs `fn` (sync or async) and expects a ConfigError naming `field`. */
async function expectConfig(fn: () => unknown, field: string): Promise<void> {
  let error: unknown;
  try {
    await fn();
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as ConfigError).field).toBe(field);
}

// ── one worker: overtaking, request priority, defaults, validation ──────────────────────────────

const BATCH = 64;
const WEIGHTS = { high: 16, normal: 4, low: 1 } as const;
/** The starvation guard's budget of a class with weight `w` (per lane per pass while a higher class had work). */
const guardBudget = (w: number, batch = BATCH, high: number = WEIGHTS.high): number => Math.max(1, Math.round((batch * w) / high));
const HOLD_MS = 200;
const N_LOW = 600;
const M_HIGH = 150;
const ROUNDS = Math.max(1, Math.round(STRESS));

describe.each(BACKENDS)('engine scheduling: priority classes on one worker (%s)', (backend) => {
  let engine: SchedEngine;
  beforeAll(async () => {
    engine = await startSched(backend, { workers: 1, batch: BATCH, priorityWeights: WEIGHTS, ringCapacity: 1024 });
    await engine.subscribe('hold', { handler: 'hold', mode: 'group' });
  });
  afterAll(async () => { await engine?.close({ timeout: 5000 }); });

  test("a topic's declared class is its default, a publish's own class overrides it; stats().lanes name the class", async () => {
    const sub = await engine.subscribe('work', { handler: 'work', mode: 'group' });
    try {
      const before = { high: lane(engine, 0, 1, 'high').published, normal: lane(engine, 0, 1, 'normal').published, low: lane(engine, 0, 1, 'low').published };
      const p = nextProducer();
      for (let i = 0; i < 3; i++) expect(engine.publish('work', work(p, NORMAL, i))).toBe(true); // work: normal by default
      expect(engine.publish('hold', { ms: 0 })).toBe(true); // hold: declared high
      expect(engine.publish('hold', { ms: 0 }, 'low')).toBe(true); // overridden
      await within(10_000, 'drain', engine.drain());
      const after = { high: lane(engine, 0, 1, 'high').published, normal: lane(engine, 0, 1, 'normal').published, low: lane(engine, 0, 1, 'low').published };
      expect({ high: after.high - before.high, normal: after.normal - before.normal, low: after.low - before.low }).toEqual({ high: 1, normal: 3, low: 1 });
      const [w] = await reports(engine);
      expect({ normal: w!.normal, orderErrors: w!.orderErrors }).toEqual({ normal: 3, orderErrors: 0 });
    } finally {
      await sub.unsubscribe();
    }
  });

  // Every round: the worker is held by a high hold; N lows, then M highs, then a high and a low
  // report request are published; all of it is visible before the hold ends. The high lane then
  // holds 1 + M + 1 records: ceil((M + 2) / batch) passes, each of which lets at most the low
  // guard budget of lows through before the next high batch (none in the last: highs go first).
  const lowBudget = guardBudget(WEIGHTS.low);
  const passes = Math.ceil((M_HIGH + 2) / BATCH);
  const bound = lowBudget * (passes - 1);
  test.each(['publish', 'publishBatch', 'send+tryPublish'] as const)(
    `%s: highs overtake a backlog of lows (at most ${bound} lows first: guard ${lowBudget} per pass), and a high request is answered ahead of it`,
    async (api) => {
      const sub = await engine.subscribe('work', { handler: 'work', mode: 'group' });
      try {
        for (let round = 0; round < ROUNDS; round++) {
          await reports(engine);
          const p = nextProducer();
          const lows = Array.from({ length: N_LOW }, (_, i) => work(p, LOW, i));
          const highs = Array.from({ length: M_HIGH }, (_, i) => work(p, HIGH, i));
          const before = { high: lane(engine, 0, 1, 'high').published, low: lane(engine, 0, 1, 'low').published };
          await hold(engine, HOLD_MS); // declared high; the worker is in it now: what follows is all visible before it ends
          const started = performance.now();
          let refused = 0;
          if (api === 'publish') {
            for (const m of lows) if (!engine.publish('work', m, 'low')) refused++;
            for (const m of highs) if (!engine.publish('work', m, 'high')) refused++;
          } else if (api === 'publishBatch') {
            refused += N_LOW - engine.publishBatch('work', lows, 'low');
            refused += M_HIGH - engine.publishBatch('work', highs, 'high');
          } else {
            const w = engine.writer('work');
            for (const m of lows) {
              w.producer = m.producer; w.key = m.key; w.cls = m.cls; w.seq = m.seq; w.value = m.value; w.micros = m.micros;
              if (!engine.send('work', 'low')) refused++;
            }
            for (const m of highs) if (engine.tryPublish('work', m, 'high') !== 'ok') refused++;
          }
          const highReport = engine.request('report', { reset: false }, { priority: 'high', timeout: 20_000 }) as Promise<unknown> as Promise<Report>;
          const lowReport = engine.request('report', { reset: false }, { priority: 'low', timeout: 20_000 }) as Promise<unknown> as Promise<Report>;
          engine.flush();
          const publishing = performance.now() - started;
          expect(refused).toBe(0);
          expect(publishing).toBeLessThan(HOLD_MS / 2); // the premise: published while the worker was held
          const [hi, lo] = await within(30_000, 'report requests', Promise.all([highReport, lowReport]));
          // The high request went behind the highs only; the low one behind every low.
          expect({ high: hi.high, lowsBeforeIt: hi.low <= bound, someLowsBeforeIt: hi.low > 0 }).toEqual({ high: M_HIGH, lowsBeforeIt: true, someLowsBeforeIt: true });
          expect({ high: lo.high, low: lo.low }).toEqual({ high: M_HIGH, low: N_LOW });
          await within(30_000, 'drain', engine.drain());
          const [w] = await reports(engine);
          const expectedSum = [...lows, ...highs].reduce((s, m) => s + m.value, 0);
          expect({ high: w!.high, low: w!.low, normal: w!.normal, sum: w!.sum, orderErrors: w!.orderErrors })
            .toEqual({ high: M_HIGH, low: N_LOW, normal: 0, sum: expectedSum, orderErrors: 0 });
          expect(w!.lowsBeforeLastHigh).toBeLessThanOrEqual(bound);
          // Every high (and the high request) went through the high lane, every low through the low one.
          expect({ high: lane(engine, 0, 1, 'high').published - before.high, low: lane(engine, 0, 1, 'low').published - before.low })
            .toEqual({ high: M_HIGH + 2, low: N_LOW + 1 });
        }
        expect(await identityAfterDrain(engine)).toEqual([]);
        expect(engine.errors).toEqual([]);
      } finally {
        await sub.unsubscribe();
      }
    },
  );

  test('a high request pre-empts a low drain between two records: it waits for the running handler, not the rest of the batch', async () => {
    const sub = await engine.subscribe('work', { handler: 'work', mode: 'group' });
    try {
      await reports(engine);
      const p = nextProducer();
      const lows = 200;
      const micros = 1000; // a batch of 64 lows: 64 ms
      const before = engine.stats().topics.work!.delivered;
      for (let i = 0; i < lows; i++) expect(engine.publish('work', work(p, LOW, i, 8, micros), 'low')).toBe(true);
      engine.flush();
      await waitFor(10_000, 'the worker draining the lows', () => engine.stats().topics.work!.delivered - before >= 10);
      const request = engine.request('report', { reset: false }, { priority: 'high', timeout: 20_000 }) as Promise<unknown> as Promise<Report>;
      // A request goes out with the task's flush, like a publish: flush now, so that the count below
      // is read after the request is visible to the worker.
      engine.flush();
      // Read after the request was flushed: every low done by then is in it (counted as each handler
      // returns), so the report may find one more at most, the low that was running.
      const handledAtFlush = engine.stats().topics.work!.delivered - before;
      const report = await within(20_000, 'high report', request);
      const overtaken = report.low! - handledAtFlush;
      expect({ overtaken: overtaken <= 1 ? 'at most the running handler' : overtaken, pending: report.low! < lows })
        .toEqual({ overtaken: 'at most the running handler', pending: true });
      await within(30_000, 'drain', engine.drain());
      const [w] = await reports(engine);
      expect({ low: w!.low, orderErrors: w!.orderErrors }).toEqual({ low: lows, orderErrors: 0 });
    } finally {
      await sub.unsubscribe();
    }
  });

  test(`spin: the default is an adaptive ${SPIN_DEFAULT}; an explicit spin wins and is fixed`, async () => {
    expect(engine.stats().spin).toBe(defaultSpinFor(1));
    expect(engine.stats().adaptiveSpin).toBe(true);
    const explicit = await startSched(backend, { workers: 1, spin: 777 });
    try {
      expect(explicit.stats().spin).toBe(777);
      expect(explicit.stats().adaptiveSpin).toBe(false);
      expect(await reports(explicit)).toHaveLength(1); // and it serves
    } finally {
      await explicit.close({ timeout: 5000 });
    }
    if (CORES <= 8) {
      // As many workers as cores: the threads outnumber the cores by one.
      const crowded = await startSched(backend, { workers: CORES });
      try {
        expect(crowded.stats()).toMatchObject({ spin: SPIN_DEFAULT, adaptiveSpin: true });
        expect(await reports(crowded)).toHaveLength(CORES);
      } finally {
        await crowded.close({ timeout: 5000 });
      }
    }
  });

  test('a bad priority is a ConfigError naming priority, from every call that takes one (handlers too), and routes nothing', async () => {
    const sub = await engine.subscribe('work', { handler: 'work', mode: 'group' });
    const probe = await engine.subscribe('probe', { handler: 'probe', mode: 'group' });
    try {
      await within(10_000, 'drain', engine.drain());
      const before = counts(engine.stats(), 'work');
      const m = work(nextProducer(), NORMAL, 0);
      for (const bad of ['urgent', 'HIGH', '', 0, null] as unknown as Priority[]) {
        await expectConfig(() => engine.publish('work', m, bad), 'priority');
        await expectConfig(() => engine.send('work', bad), 'priority');
        await expectConfig(() => engine.tryPublish('work', m, bad), 'priority');
        await expectConfig(() => engine.publishBatch('work', [m], bad), 'priority');
        await expectConfig(() => engine.request('report', { reset: false }, { priority: bad }), 'priority');
        await expectConfig(() => engine.requestAll('report', { reset: false }, { priority: bad }), 'priority');
      }
      for (const bad of ['urgent', 'Low']) {
        const reply = await within(20_000, 'probe', engine.request('probe', { priority: bad }, { timeout: 20_000 }));
        expect(reply).toEqual({ publishField: 'ConfigError:priority', sendField: 'ConfigError:priority' });
      }
      await within(10_000, 'drain', engine.drain());
      const after = counts(engine.stats(), 'work');
      expect({ routed: after.routed - before.routed, published: after.published - before.published, unrouted: after.unrouted - before.unrouted })
        .toEqual({ routed: 0, published: 0, unrouted: 0 });
      const [w] = await reports(engine);
      expect(w!.normal + w!.high + w!.low).toBe(0);
    } finally {
      await sub.unsubscribe();
      await probe.unsubscribe();
    }
  });

  test('bad scheduling options are ConfigErrors naming the field (topic priority, admission, shed; priorityWeights)', async () => {
    const schema = defineSchema({ a: 'u32' });
    const topic = (extra: Record<string, unknown>) => ({ t: { schema, ...extra } });
    const create = (options: Record<string, unknown>) => async () => {
      const created = await createEngine({ topics: topic({}), handlers: SCHED_HANDLERS, backend, workers: 1, ...options } as never);
      await (created as { close(): Promise<void> }).close(); // not reached when the options are refused
    };
    for (const priority of ['urgent', 'HIGH', 1, null]) await expectConfig(create({ topics: topic({ priority }) }), 'topics.t.priority');
    for (const admission of [3, null, 'on']) await expectConfig(create({ topics: topic({ admission }) }), 'topics.t.admission');
    for (const maxInFlight of [0, -1, 1.5, '8', 2 ** 31]) await expectConfig(create({ topics: topic({ admission: { maxInFlight } }) }), 'topics.t.admission.maxInFlight');
    await expectConfig(create({ topics: topic({ admission: {} }) }), 'topics.t.admission'); // neither maxInFlight nor rate
    for (const rate of [0, -5, NaN, '100', 1e8]) await expectConfig(create({ topics: topic({ admission: { rate } }) }), 'topics.t.admission.rate');
    for (const burst of [0, 1.5, 3e6]) await expectConfig(create({ topics: topic({ admission: { rate: 100, burst } }) }), 'topics.t.admission.burst');
    await expectConfig(create({ topics: topic({ admission: { maxInFlight: 4, burst: 10 } }) }), 'topics.t.admission.burst'); // a burst needs a rate
    for (const shed of ['yes', null, 1]) await expectConfig(create({ topics: topic({ shed }) }), 'topics.t.shed');
    for (const low of [0, -0.5, 1.5, '0.5', NaN]) await expectConfig(create({ topics: topic({ shed: { low } }) }), 'topics.t.shed.low');
    for (const shed of [{ normal: 0 }, { normal: 1.01 }, { low: 0.6, normal: 0.5 }, { low: 0.5, normal: 0.5 }]) await expectConfig(create({ topics: topic({ shed }) }), 'topics.t.shed.normal');
    for (const priorityWeights of [5, null, 'even']) await expectConfig(create({ priorityWeights }), 'priorityWeights');
    for (const high of [0, 2.5, 65537]) await expectConfig(create({ priorityWeights: { high } }), 'priorityWeights.high');
    await expectConfig(create({ priorityWeights: { high: 4, normal: 8 } }), 'priorityWeights.normal'); // above high
    await expectConfig(create({ priorityWeights: { high: 4, normal: 0 } }), 'priorityWeights.normal');
    await expectConfig(create({ priorityWeights: { high: 4, normal: 2, low: 3 } }), 'priorityWeights.low'); // above normal
    await expectConfig(create({ priorityWeights: { low: 0 } }), 'priorityWeights.low');
  });
});

// ── three workers: the guard's share, per-key order, admission over several publishers ──────────

const SHARE_WEIGHTS = { high: 4, normal: 2, low: 1 } as const;
/** Lanes hold every low and half the highs: both classes stay backlogged while the highs last, however the sprayers are scheduled. */
const SHARE_CAPACITY = 4096;
const SHARE_HIGHS = 2 * SHARE_CAPACITY;
const SHARE_LOWS = SHARE_CAPACITY - 96;
const SHARE_MICROS = 20;

describe.each(BACKENDS)('engine scheduling: three workers (%s)', (backend) => {
  let engine: SchedEngine;
  beforeAll(async () => {
    engine = await startSched(backend, { workers: 3, batch: BATCH, priorityWeights: SHARE_WEIGHTS, ringCapacity: SHARE_CAPACITY });
    await engine.subscribe('hold', { handler: 'hold', mode: 'group', workers: [0] });
  });
  afterAll(async () => { await engine?.close({ timeout: 5000 }); });

  test('the spin default follows the thread count', () => {
    expect(engine.stats().spin).toBe(defaultSpinFor(3));
  });

  // Worker 0 is held while worker 1 publishes highs (ctx.publish) and worker 2 lows (ctx.writer +
  // ctx.send) into it: its low lane takes every low, its high lane half the highs (worker 1 keeps
  // the rest in its backlog and moves them in as room frees). Both classes are backlogged until
  // the highs run out, and each pass takes a batch of highs and the low guard budget of lows: low's
  // share is budget / (batch + budget) (1/5 with weights 4:1). Starved: 0. No priority: about 1/2.
  const shareLowBudget = guardBudget(SHARE_WEIGHTS.low, BATCH, SHARE_WEIGHTS.high);
  const expectedShare = shareLowBudget / (BATCH + shareLowBudget);
  test(`starvation guard: under saturation by high, low keeps about its weight's share (${expectedShare.toFixed(2)}), never 0, well below an equal share`, async () => {
    const workSub = await engine.subscribe('work', { handler: 'work', mode: 'group', workers: [0] });
    const spraySub = await engine.subscribe('spray', { handler: 'spray', mode: 'broadcast', workers: [1, 2] });
    try {
      for (let round = 0; round < ROUNDS; round++) {
        await reports(engine);
        const p = nextProducer();
        const before = { high: lane(engine, 2, 1, 'high').published, low: lane(engine, 3, 1, 'low').published };
        await hold(engine, 300); // both lanes fill up meanwhile
        engine.publish('spray', { worker: 1, target: TARGET_WORK, producer: p, count: SHARE_HIGHS, cls: HIGH, keys: 8, micros: SHARE_MICROS, api: API_PUBLISH, flush: false });
        engine.publish('spray', { worker: 2, target: TARGET_WORK, producer: p, count: SHARE_LOWS, cls: LOW, keys: 8, micros: SHARE_MICROS, api: API_SEND, flush: false });
        await within(60_000, 'drain', engine.drain());
        const [w0, w1, w2] = await reports(engine);
        expect({ high: w0!.high, low: w0!.low, orderErrors: w0!.orderErrors, sum: w0!.sum })
          .toEqual({ high: SHARE_HIGHS, low: SHARE_LOWS, orderErrors: 0, sum: w1!.acceptedSum + w2!.acceptedSum });
        expect({ sprayed: w1!.attempted + w2!.attempted, accepted: w1!.accepted + w2!.accepted }).toEqual({ sprayed: SHARE_HIGHS + SHARE_LOWS, accepted: SHARE_HIGHS + SHARE_LOWS });
        // Each worker's class chose its lane.
        expect({ high: lane(engine, 2, 1, 'high').published - before.high, low: lane(engine, 3, 1, 'low').published - before.low })
          .toEqual({ high: SHARE_HIGHS, low: SHARE_LOWS });
        const share = w0!.windowLow / (w0!.windowLow + w0!.windowHigh);
        const seen = `low share ${share.toFixed(3)} (${w0!.windowLow} lows, ${w0!.windowHigh} highs while both were handled; lows before the last high: ${w0!.lowsBeforeLastHigh})`;
        expect(w0!.windowHigh > SHARE_HIGHS / 2 ? 'both backlogged long enough' : seen).toBe('both backlogged long enough');
        expect(share >= expectedShare / 2 && share <= 0.34 ? 'within bounds' : seen).toBe('within bounds');
      }
      expect(engine.errors).toEqual([]);
    } finally {
      await workSub.unsubscribe();
      await spraySub.unsubscribe();
    }
  });

  test('per-key order holds within each class: keyed over 2 workers, mixed classes from the engine thread and a worker, nothing lost or doubled', async () => {
    const workSub = await engine.subscribe('work', { handler: 'work', mode: 'keyed', workers: [0, 1] });
    const spraySub = await engine.subscribe('spray', { handler: 'spray', mode: 'broadcast', workers: [2] });
    try {
      await reports(engine);
      const keys = 32;
      const p = nextProducer();
      const sprayCount = Math.round(3000 * STRESS);
      const sprayProducer = p * 8 + 2;
      engine.publish('spray', { worker: ANY_WORKER, target: TARGET_WORK, producer: p, count: sprayCount, cls: MIXED, keys, micros: 0, api: API_ALTERNATE, flush: false });
      // The engine thread: producer p * 8 + 7, classes at random, in chunks of one API each.
      const main = p * 8 + 7;
      const total = Math.round(6000 * STRESS);
      const random = prng(p);
      const seqs = new Map<string, number>();
      const perClass = [0, 0, 0];
      let sum = 0;
      const next = (cls: number, key: number) => {
        const id = `${key}/${cls}`;
        const seq = seqs.get(id) ?? 0;
        seqs.set(id, seq + 1);
        perClass[cls]! += 1;
        const value = valueOf(main, key, cls, seq);
        sum += value;
        return { producer: main, key, cls, seq, value, micros: 0 };
      };
      const w = engine.writer('work');
      for (let i = 0, chunk = 0; i < total; chunk++) {
        const size = Math.min(64, total - i);
        const api = chunk % 3;
        if (api === 2) {
          const cls = Math.floor(random() * 3);
          const messages = Array.from({ length: size }, () => next(cls, Math.floor(random() * keys)));
          expect(engine.publishBatch('work', messages, CLASSES[cls])).toBe(size);
        } else {
          for (let k = 0; k < size; k++) {
            const m = next(Math.floor(random() * 3), Math.floor(random() * keys));
            let ok: boolean;
            if (api === 0) ok = engine.publish('work', m, CLASSES[m.cls]);
            else {
              w.producer = m.producer; w.key = m.key; w.cls = m.cls; w.seq = m.seq; w.value = m.value; w.micros = m.micros;
              ok = engine.send('work', CLASSES[m.cls]);
            }
            if (!ok) await within(30_000, 'whenWritable', engine.whenWritable());
          }
        }
        i += size;
        await within(30_000, 'whenWritable', engine.whenWritable());
      }
      await within(60_000, 'drain', engine.drain());
      const [w0, w1, w2] = await reports(engine);
      const sprayPerClass = [0, 0, 0];
      for (let i = 0; i < sprayCount; i++) sprayPerClass[mixedClass(sprayProducer, i)]! += 1;
      const handled = (k: 'high' | 'normal' | 'low') => w0![k] + w1![k];
      expect({ high: handled('high'), normal: handled('normal'), low: handled('low'), orderErrors: w0!.orderErrors + w1!.orderErrors, sum: w0!.sum + w1!.sum }).toEqual({
        high: perClass[HIGH]! + sprayPerClass[HIGH]!, normal: perClass[NORMAL]! + sprayPerClass[NORMAL]!, low: perClass[LOW]! + sprayPerClass[LOW]!,
        orderErrors: 0, sum: sum + w2!.acceptedSum,
      });
      expect(w2!.accepted).toBe(sprayCount);
      // Keyed: each key on exactly one worker, every key somewhere.
      expect({ overlap: (w0!.keysLow & w1!.keysLow) >>> 0, union: (w0!.keysLow | w1!.keysLow) >>> 0 }).toEqual({ overlap: 0, union: 0xffffffff });
      expect(w0!.keysLow !== 0 && w1!.keysLow !== 0).toBe(true);
      expect(await identityAfterDrain(engine)).toEqual([]);
      expect(engine.errors).toEqual([]);
    } finally {
      await workSub.unsubscribe();
      await spraySub.unsubscribe();
    }
  });

  test('work stealing: while one member is held by a slow message, the other runs what is queued behind it; each message exactly once', async () => {
    const sub = await engine.subscribe('skewed', { handler: 'skewed', mode: 'group', workers: [0, 1], steal: true });
    try {
      await reports(engine);
      const before = counts(engine.stats(), 'skewed');
      const holdBefore = engine.stats().topics.holding!.unrouted;
      const p = producers++;
      const n = Math.round(400 * STRESS);
      // One slow message holds the member it reaches; the rest are light and split round-robin.
      const slow = work(p, NORMAL, 0, 1, 300_000);
      let sum = slow.value;
      expect(engine.publish('skewed', slow)).toBe(true);
      engine.flush();
      await waitFor(10_000, 'a member holding', () => engine.stats().topics.holding!.unrouted > holdBefore);
      for (let i = 1; i <= n; i++) {
        const m = work(p, NORMAL, i, 1, 200);
        sum += m.value;
        if (!engine.publish('skewed', m)) await within(10_000, 'whenWritable', engine.whenWritable());
      }
      engine.flush();
      await within(30_000, 'drain', engine.drain());
      const [w0, w1] = await reports(engine);
      const after = delta(before, counts(engine.stats(), 'skewed'));
      // Exactly once: n + 1 runs in all, the values' sum matches (a lost and a doubled message would have to cancel out).
      expect({ count: w0!.gated + w1!.gated, sum: w0!.gatedSum + w1!.gatedSum }).toEqual({ count: n + 1, sum });
      expect({ delivered: after.delivered, routed: after.routed }).toEqual({ delivered: n + 1, routed: n + 1 });
      // Round-robin gave the held member about half; the other took most of those from its lane.
      expect(after.stolen).toBeGreaterThan(n / 4);
      expect(Math.max(w0!.gated, w1!.gated)).toBeGreaterThan((3 * n) / 4);
      expect(await identityAfterDrain(engine)).toEqual([]);
    } finally {
      await sub.unsubscribe();
    }
  });

  test('work stealing and crashes: a thief that dies running a stolen message gives it back; it runs again (deliveries 2) and nothing is lost', async () => {
    const own = await startSched(backend, { workers: 2 });
    try {
      await own.subscribe('skewed', { handler: 'skewed', mode: 'group', workers: [0, 1], steal: true });
      const p = producers++;
      const normalLanes = () => own.stats().lanes.filter((l) => l.from === 0 && l.to > 0 && l.priority === 'normal');
      const holdBefore = own.stats().topics.holding!.unrouted;
      // Holds the member it reaches for a second: long enough for the other to steal the crash message even on a loaded machine.
      expect(own.publish('skewed', work(p, NORMAL, 0, 1, 1_000_000))).toBe(true);
      own.flush();
      await waitFor(10_000, 'a member holding', () => own.stats().topics.holding!.unrouted > holdBefore);
      const held = normalLanes().find((l) => l.published === 1)!.to;
      // Round-robin: the next goes to the other member, the one after (the crash) behind the hold.
      own.publish('skewed', work(p, NORMAL, 1, 1, 10));
      own.publish('skewed', work(p, NORMAL, 2, 1, CRASH_MICROS));
      own.flush();
      expect(normalLanes().find((l) => l.to === held)!.published).toBe(2);
      const light = Math.round(50 * STRESS);
      for (let i = 3; i < 3 + light; i++) own.publish('skewed', work(p, NORMAL, i, 1, 10));
      own.flush();
      await within(30_000, 'drain', own.drain());
      const stats = own.stats();
      const t = stats.topics.skewed!;
      // The crash message was only ever in the held member's lane: the other member ran it as a thief and died.
      const thief = held === 1 ? 1 : 0; // worker number of the member that is not held (thread held → worker held - 1)
      expect(stats.workers.map((w) => w.restarts)).toEqual(thief === 0 ? [1, 0] : [0, 1]);
      expect({ delivered: t.delivered, crashed: t.crashed, redelivered: t.redelivered, lost: t.lost, deadLettered: t.deadLettered })
        .toEqual({ delivered: 3 + light, crashed: 1, redelivered: 1, lost: 0, deadLettered: 0 });
      expect(t.stolen).toBeGreaterThan(0);
      expect(identityProblems(stats)).toEqual([]);
    } finally {
      await own.close({ timeout: 5000 });
    }
  });

  test('steal is for group subscriptions only (keyed keeps a key on one worker): a ConfigError naming steal', async () => {
    await expectConfig(() => engine.subscribe('work', { handler: 'work', mode: 'keyed', steal: true }), 'steal');
    await expectConfig(() => engine.subscribe('skewed', { handler: 'skewed', mode: 'broadcast', steal: true }), 'steal');
    await expectConfig(() => engine.subscribe('skewed', { handler: 'skewed', mode: 'group', steal: 'yes' as unknown as boolean }), 'steal');
  });

  test(`admission by rate: a main-thread loop gets at most burst + rate × elapsed (${PACED_BURST} + ${PACED_RATE}/s), the rest counted rateLimited; whenWritable(topic) waits for a token`, async () => {
    const sub = await engine.subscribe('paced', { handler: 'paced', mode: 'group', workers: [0] });
    try {
      await reports(engine);
      const before = counts(engine.stats(), 'paced');
      const p = producers++;
      // The bucket starts full; a tight loop over ~150 ms (the clock advances while it runs).
      const t0 = Date.now();
      let attempted = 0;
      let accepted = 0;
      let sum = 0;
      while (Date.now() - t0 < 150) {
        const m = work(p, NORMAL, accepted, 1);
        attempted++;
        if (engine.publish('paced', m)) {
          accepted++;
          sum += m.value;
        }
      }
      const elapsed = Date.now() - t0;
      // Tokens earned: the burst, plus rate × whole ms elapsed (LAST keeps whole ms; +1 ms for the partial ones at both ends).
      expect(accepted).toBeLessThanOrEqual(PACED_BURST + Math.ceil((PACED_RATE * (elapsed + 1)) / 1000));
      expect(accepted).toBeGreaterThan(PACED_BURST); // it refilled while the loop ran
      // The loop left the bucket empty: tryPublish fails, unless a new ms has earned a token since.
      const tried = work(p, NORMAL, accepted, 1);
      attempted++;
      if (engine.tryPublish('paced', tried) === 'ok') {
        accepted++;
        sum += tried.value;
      }
      const whenWritable = engine.whenWritable('paced');
      await within(5_000, 'whenWritable(paced)', whenWritable);
      const m = work(p, NORMAL, accepted, 1);
      expect(engine.publish('paced', m)).toBe(true);
      accepted++;
      sum += m.value;
      attempted++;
      await within(30_000, 'drain', engine.drain());
      const after = delta(before, counts(engine.stats(), 'paced'));
      expect({ routed: after.routed, delivered: after.delivered, rateLimited: after.rateLimited, published: after.published }).toEqual({
        routed: accepted, delivered: accepted, rateLimited: attempted - accepted, published: accepted,
      });
      const [w0] = await reports(engine);
      expect({ gated: w0!.gated, gatedSum: w0!.gatedSum, orderErrors: w0!.orderErrors }).toEqual({ gated: accepted, gatedSum: sum, orderErrors: 0 });
    } finally {
      await sub.unsubscribe();
    }
  });

  test('admission by rate across threads: two workers spraying at once get at most one bucket between them', async () => {
    const sub = await engine.subscribe('paced', { handler: 'paced', mode: 'group', workers: [0] });
    const spraySub = await engine.subscribe('spray', { handler: 'spray', mode: 'broadcast', workers: [1, 2] });
    try {
      await reports(engine);
      // Let the bucket fill to its burst again.
      await sleep(Math.ceil((PACED_BURST * 1000) / PACED_RATE) + 5);
      const before = counts(engine.stats(), 'paced');
      const p = producers++;
      const count = Math.round(200_000 * STRESS);
      engine.publish('spray', { worker: ANY_WORKER, target: TARGET_PACED, producer: p, count, cls: NORMAL, keys: 1, micros: 0, api: API_ALTERNATE, flush: false });
      engine.flush();
      // Each spray is one handler call: drain() returns once both ran and what they published was handled.
      await within(60_000, 'drain', engine.drain());
      const [w0, w1, w2] = await reports(engine);
      expect([w1!.attempted, w2!.attempted]).toEqual([count, count]);
      const start = Math.min(w1!.sprayFrom, w2!.sprayFrom);
      const end = Math.max(w1!.sprayTo, w2!.sprayTo);
      const accepted = w1!.accepted + w2!.accepted;
      // One bucket for both: what they got together is bounded by one burst and one rate over the window.
      expect(accepted).toBeLessThanOrEqual(PACED_BURST + Math.ceil((PACED_RATE * (end - start + 2)) / 1000));
      expect(accepted).toBeGreaterThan(0);
      const after = delta(before, counts(engine.stats(), 'paced'));
      expect({ rateLimited: after.rateLimited, routed: after.routed, delivered: after.delivered }).toEqual({ rateLimited: 2 * count - accepted, routed: accepted, delivered: accepted });
      expect({ gated: w0!.gated, gatedSum: w0!.gatedSum }).toEqual({ gated: accepted, gatedSum: w1!.acceptedSum + w2!.acceptedSum });
    } finally {
      await spraySub.unsubscribe();
      await sub.unsubscribe();
    }
  });

  test('admission by rate: a bucket left half full and idle earns no extra burst (at most burst + rate × elapsed after the idle spell)', async () => {
    const sub = await engine.subscribe('paced', { handler: 'paced', mode: 'group', workers: [0] });
    try {
      await reports(engine);
      const fill = Math.ceil((PACED_BURST * 1000) / PACED_RATE);
      await sleep(fill + 5);
      const before = counts(engine.stats(), 'paced');
      const p = producers++;
      let accepted = 0;
      let attempted = 0;
      // Half the burst, then an idle spell three times as long as a refill from empty.
      for (let i = 0; i < PACED_BURST / 2; i++) {
        attempted++;
        if (engine.publish('paced', work(p, NORMAL, accepted, 1))) accepted++;
      }
      await sleep(3 * fill + 5);
      const t0 = Date.now();
      let after0 = 0;
      while (Date.now() - t0 < 40) {
        attempted++;
        if (engine.publish('paced', work(p, NORMAL, accepted, 1))) {
          accepted++;
          after0++;
        }
      }
      const elapsed = Date.now() - t0;
      // The bucket holds at most burst at t0 however long it idled; a lazy refill that credits the idle
      // span after the half-burst left in it was taken would give half a burst more.
      expect(after0).toBeLessThanOrEqual(PACED_BURST + Math.ceil((PACED_RATE * (elapsed + 1)) / 1000));
      expect(after0).toBeGreaterThanOrEqual(PACED_BURST);
      await within(30_000, 'drain', engine.drain());
      const after = delta(before, counts(engine.stats(), 'paced'));
      expect({ routed: after.routed, delivered: after.delivered, rateLimited: after.rateLimited }).toEqual({
        routed: accepted, delivered: accepted, rateLimited: attempted - accepted,
      });
    } finally {
      await sub.unsubscribe();
    }
  });

  test(`admission: with the consumer held, exactly maxInFlight (${GATED_MAX}) of a burst are admitted; whenWritable(topic) waits for room; inFlight never exceeds it`, async () => {
    const sub = await engine.subscribe('gated', { handler: 'gated', mode: 'group', workers: [0] });
    try {
      await reports(engine);
      const before = counts(engine.stats(), 'gated');
      const p = nextProducer();
      const burst = 60;
      await hold(engine, 500);
      const results: boolean[] = [];
      let maxInFlight = 0;
      for (let i = 0; i < burst; i++) {
        results.push(engine.publish('gated', work(p, NORMAL, i, 1)));
        maxInFlight = Math.max(maxInFlight, engine.stats().topics.gated!.inFlight);
      }
      expect(results).toEqual([...new Array<boolean>(GATED_MAX).fill(true), ...new Array<boolean>(burst - GATED_MAX).fill(false)]);
      expect(maxInFlight).toBe(GATED_MAX);
      const held = delta(before, counts(engine.stats(), 'gated'));
      expect({ inFlight: held.inFlight, routed: held.routed, published: held.published, admissionRefused: held.admissionRefused, delivered: held.delivered })
        .toEqual({ inFlight: GATED_MAX, routed: burst, published: GATED_MAX, admissionRefused: burst - GATED_MAX, delivered: 0 });
      expect(engine.tryPublish('gated', work(p, NORMAL, burst, 1))).toBe('full');
      expect(counts(engine.stats(), 'gated').admissionRefused - before.admissionRefused).toBe(burst - GATED_MAX + 1);
      let writable = false;
      const whenWritable = engine.whenWritable('gated').then(() => { writable = true; });
      await sleep(30);
      expect(writable).toBe(false); // the worker is still held: no place is free
      const sampler = setInterval(() => { maxInFlight = Math.max(maxInFlight, engine.stats().topics.gated!.inFlight); }, 1);
      try {
        await within(10_000, 'whenWritable(gated)', whenWritable);
        expect(engine.stats().topics.gated!.inFlight).toBeLessThan(GATED_MAX);
        expect(engine.publish('gated', work(p, NORMAL, burst + 1, 1))).toBe(true);
        await within(10_000, 'drain', engine.drain());
      } finally {
        clearInterval(sampler);
      }
      expect(maxInFlight).toBeLessThanOrEqual(GATED_MAX);
      const after = delta(before, counts(engine.stats(), 'gated'));
      expect({ inFlight: after.inFlight, delivered: after.delivered, admissionRefused: after.admissionRefused })
        .toEqual({ inFlight: 0, delivered: GATED_MAX + 1, admissionRefused: burst - GATED_MAX + 1 });
      const [w0] = await reports(engine);
      const expectedSum = [...Array.from({ length: GATED_MAX }, (_, i) => i), burst + 1].reduce((s, i) => s + work(p, NORMAL, i, 1).value, 0);
      expect({ gated: w0!.gated, gatedSum: w0!.gatedSum, orderErrors: w0!.orderErrors }).toEqual({ gated: GATED_MAX + 1, gatedSum: expectedSum, orderErrors: 0 });
      expect(await identityAfterDrain(engine)).toEqual([]);
    } finally {
      await sub.unsubscribe();
    }
  });

  test(`admission counts one place per receiving member: broadcast to 2 held workers, maxInFlight ${GATED_WIDE_MAX}`, async () => {
    const sub = await engine.subscribe('gatedWide', { handler: 'gatedWide', mode: 'broadcast', workers: [0, 1] });
    const hold1 = await engine.subscribe('hold', { handler: 'hold', mode: 'group', workers: [1] });
    try {
      await reports(engine);
      const before = counts(engine.stats(), 'gatedWide');
      const p = nextProducer();
      await hold(engine, 400, 2); // worker 0 and worker 1
      const results = Array.from({ length: 6 }, (_, i) => engine.publish('gatedWide', work(p, NORMAL, i, 1)));
      // 2 + 2 places, then the fifth place for one member (the other refuses: publish says false), then none.
      expect(results).toEqual([true, true, false, false, false, false]);
      const held = delta(before, counts(engine.stats(), 'gatedWide'));
      expect({ inFlight: held.inFlight, routed: held.routed, published: held.published, admissionRefused: held.admissionRefused })
        .toEqual({ inFlight: GATED_WIDE_MAX, routed: 12, published: 3, admissionRefused: 7 });
      await within(10_000, 'drain', engine.drain());
      const [w0, w1] = await reports(engine);
      expect([w0!.gated, w1!.gated].sort()).toEqual([2, 3]);
      const after = delta(before, counts(engine.stats(), 'gatedWide'));
      expect({ inFlight: after.inFlight, delivered: after.delivered }).toEqual({ inFlight: 0, delivered: GATED_WIDE_MAX });
      expect(await identityAfterDrain(engine)).toEqual([]);
    } finally {
      await sub.unsubscribe();
      await hold1.unsubscribe();
    }
  });

  test('admission over two publishing workers: exactly maxInFlight admitted while the consumer is held; under load, accepted = handled and refused = attempted − accepted', async () => {
    const sub = await engine.subscribe('gated', { handler: 'gated', mode: 'group', workers: [0] });
    const spraySub = await engine.subscribe('spray', { handler: 'spray', mode: 'broadcast', workers: [1, 2] });
    try {
      // Held: both workers spray while worker 0 handles nothing, so no place is given back.
      await reports(engine);
      let before = counts(engine.stats(), 'gated');
      const attempts = 2000;
      await hold(engine, 800);
      engine.publish('spray', { worker: ANY_WORKER, target: TARGET_GATED, producer: nextProducer(), count: attempts, cls: NORMAL, keys: 1, micros: 0, api: API_ALTERNATE, flush: true });
      await within(20_000, 'drain', engine.drain());
      let [w0, w1, w2] = await reports(engine);
      // The premise: both sprays ran inside the hold.
      const inside = (w: Report) => w.sprayStart >= w0!.holdStart - 1 && w.sprayEnd <= w0!.holdEnd;
      expect({ w1: inside(w1!), w2: inside(w2!) }).toEqual({ w1: true, w2: true });
      expect({ accepted: w1!.accepted + w2!.accepted, handled: w0!.gated, sum: w0!.gatedSum, attempted: w1!.attempted + w2!.attempted })
        .toEqual({ accepted: GATED_MAX, handled: GATED_MAX, sum: w1!.acceptedSum + w2!.acceptedSum, attempted: 2 * attempts });
      let after = delta(before, counts(engine.stats(), 'gated'));
      expect({ routed: after.routed, delivered: after.delivered, admissionRefused: after.admissionRefused, inFlight: after.inFlight })
        .toEqual({ routed: 2 * attempts, delivered: GATED_MAX, admissionRefused: 2 * attempts - GATED_MAX, inFlight: 0 });

      // Running: places are freed and retaken concurrently by two publishers (the stats gauge under
      // this contention is the next test's).
      before = counts(engine.stats(), 'gated');
      const many = Math.round(20_000 * STRESS);
      engine.publish('spray', { worker: ANY_WORKER, target: TARGET_GATED, producer: nextProducer(), count: many, cls: NORMAL, keys: 4, micros: 2, api: API_ALTERNATE, flush: true });
      await within(60_000, 'drain', engine.drain());
      [w0, w1, w2] = await reports(engine);
      const accepted = w1!.accepted + w2!.accepted;
      after = delta(before, counts(engine.stats(), 'gated'));
      expect({ handled: w0!.gated, sum: w0!.gatedSum, orderErrors: w0!.orderErrors, attempted: w1!.attempted + w2!.attempted })
        .toEqual({ handled: accepted, sum: w1!.acceptedSum + w2!.acceptedSum, orderErrors: 0, attempted: 2 * many });
      expect({ routed: after.routed, delivered: after.delivered, admissionRefused: after.admissionRefused, inFlight: after.inFlight })
        .toEqual({ routed: 2 * many, delivered: accepted, admissionRefused: 2 * many - accepted, inFlight: 0 });
      expect(accepted).toBeGreaterThan(GATED_MAX); // places were given back and taken again
      expect(after.admissionRefused).toBeGreaterThan(0);
      expect(await identityAfterDrain(engine)).toEqual([]);
      expect(engine.errors).toEqual([]);
    } finally {
      await sub.unsubscribe();
      await spraySub.unsubscribe();
    }
  });

  // stats().topics[t].inFlight is documented as deliveries admitted and not yet handled, which
  // never exceed maxInFlight. Held consumer, two workers publishing as fast as they can: every
  // attempt past the limit is refused, and the engine thread reads the gauge in a tight loop.
  test(`stats().topics[t].inFlight never reads above maxInFlight (${GATED_MAX}) while two workers are being refused`, async () => {
    const sub = await engine.subscribe('gated', { handler: 'gated', mode: 'group', workers: [0] });
    const spraySub = await engine.subscribe('spray', { handler: 'spray', mode: 'broadcast', workers: [1, 2] });
    try {
      let samples = 0;
      let over = 0;
      let max = 0;
      for (let round = 0; round < 10 && over === 0; round++) {
        await hold(engine, 200);
        engine.publish('spray', { worker: ANY_WORKER, target: TARGET_GATED, producer: nextProducer(), count: 100_000, cls: NORMAL, keys: 1, micros: 0, api: API_ALTERNATE, flush: false });
        engine.flush();
        const started = performance.now();
        while (performance.now() - started < 100) {
          const inFlight = engine.stats().topics.gated!.inFlight;
          samples++;
          if (inFlight > GATED_MAX) over++;
          max = Math.max(max, inFlight);
        }
        await within(30_000, 'drain', engine.drain());
      }
      await reports(engine);
      expect({ max, over: `${over} of ${samples} samples above ${GATED_MAX}` }).toEqual({ max: GATED_MAX, over: `0 of ${samples} samples above ${GATED_MAX}` });
      expect(await identityAfterDrain(engine)).toEqual([]);
    } finally {
      await sub.unsubscribe();
      await spraySub.unsubscribe();
    }
  });
});

// ── shedding: 32-record lanes, every publish flushed, batches of 4 ───────────────────────────────

const SHED_CAPACITY = 32;
const OVERLOAD_MESSAGES = Math.round(3000 * STRESS);
const OVERLOAD_MICROS = 20;

describe.each(BACKENDS)('engine scheduling: shedding (%s)', (backend) => {
  let engine: SchedEngine;
  beforeAll(async () => {
    engine = await startSched(backend, { workers: 2, ringCapacity: SHED_CAPACITY, flushEvery: 1, batch: 4 });
    await engine.subscribe('hold', { handler: 'hold', mode: 'group', workers: [0] });
    await engine.subscribe('kick', { handler: 'kick', mode: 'group', workers: [1] });
  });
  afterAll(async () => { await engine?.close({ timeout: 5000 }); });

  test('the spin default follows the thread count', () => {
    expect(engine.stats().spin).toBe(defaultSpinFor(2));
  });

  /** Holds worker 0 with a hold that worker 1 publishes (so it is not in the engine thread's lanes, which shedding measures). */
  async function holdFromWorker1(ms: number): Promise<void> {
    const since = holdsStarted(engine);
    engine.publish('kick', { ms });
    await holdsStart(engine, since); // worker 0 is in it now
  }

  /**
   * Publishes to `topic` in class `cls`; returns publish's answer, and tallies what will be
   * delivered: taken, or refused but kept in a backlog (a full lane under block). A refusal is a
   * shed one iff this thread's shed counters moved (only this thread publishes these topics).
   */
  function sender(topic: 'shedding' | 'shedCustom', producer: number) {
    const shedTotal = (): number => { const s = engine.stats().topics[topic]!.shed; return s.high + s.normal + s.low; };
    let lastShed = shedTotal();
    const seqs = [0, 0, 0];
    const delivered = [0, 0, 0];
    let sum = 0;
    let kept = 0;
    const send = (cls: number, micros = 0): boolean => {
      const seq = seqs[cls]!++;
      const m = { producer, key: 0, cls, seq, value: valueOf(producer, 0, cls, seq), micros };
      const ok = engine.publish(topic, m, CLASSES[cls]);
      let shed = false;
      if (!ok) {
        const now = shedTotal();
        shed = now > lastShed;
        lastShed = now;
        if (!shed) kept++;
      }
      if (!shed) {
        delivered[cls]! += 1;
        sum += m.value;
      }
      return ok;
    };
    const tryLow = (): 'ok' | 'full' => {
      const status = engine.tryPublish(topic, { producer, key: 0, cls: LOW, seq: seqs[LOW]!++, value: 0, micros: 0 }, 'low');
      lastShed = shedTotal();
      return status;
    };
    return { send, tryLow, delivered, sum: () => sum, kept: () => kept };
  }

  const times = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
  const trues = (n: number) => new Array<boolean>(n).fill(true);
  const falses = (n: number) => new Array<boolean>(n).fill(false);

  test('thresholds and hysteresis (defaults low 0.5, normal 0.8 of a lane): exact per record, high never shed', async () => {
    const sub = await engine.subscribe('shedding', { handler: 'shedding', mode: 'group', workers: [0] });
    try {
      await reports(engine);
      const before = counts(engine.stats(), 'shedding');
      const { send, tryLow, delivered, sum, kept } = sender('shedding', nextProducer());
      await holdFromWorker1(600);
      expect(depthTo(engine, 0)).toBe(0);
      // Lows are taken while fill < 0.5: 16 of 32; the seventh will hold the worker later.
      expect(times(20, (i) => send(LOW, i === 6 ? 500_000 : 0))).toEqual([...trues(16), ...falses(4)]);
      // Normals while fill < 0.8: depth 16 → 26.
      expect(times(12, () => send(NORMAL))).toEqual([...trues(10), ...falses(2)]);
      expect(send(LOW)).toBe(false);
      // High is never shed (its own lane has room: 8 of 32).
      expect(times(8, () => send(HIGH))).toEqual(trues(8));
      expect(tryLow()).toBe('full');
      const holdsBefore = holdsStarted(engine);
      expect(depthTo(engine, 0)).toBe(16 + 10 + 8);
      let d = delta(before, counts(engine.stats(), 'shedding'));
      expect({ routed: d.routed, shedHigh: d.shedHigh, shedNormal: d.shedNormal, shedLow: d.shedLow, admissionRefused: d.admissionRefused, rejected: d.rejected })
        .toEqual({ routed: 20 + 12 + 1 + 8 + 1, shedHigh: 0, shedNormal: 2, shedLow: 6, admissionRefused: 0, rejected: 0 });

      // Hysteresis: once the hold ends the worker drains down to the holding low, where it stops
      // with fill in [0.25, 0.5). Lows stay shed until fill < 0.25; normals until fill < 0.4.
      await holdsStart(engine, holdsBefore); // held in the seventh low (its batch is not committed)
      const depth = depthTo(engine, 0);
      expect(depth >= SHED_CAPACITY * 0.25 && depth < SHED_CAPACITY * 0.5 ? 'in the hysteresis band' : `depth ${depth}`).toBe('in the hysteresis band');
      expect(send(NORMAL)).toBe(depth / SHED_CAPACITY < 0.4);
      expect(send(LOW)).toBe(false); // fill < 0.5, still shed
      await within(10_000, 'drain', engine.drain());
      // Drained: fill 0 < 0.25, nothing is shed any more.
      expect(times(9, () => send(LOW))).toEqual(trues(9));
      expect(send(NORMAL)).toBe(true);
      await within(10_000, 'drain', engine.drain());
      d = delta(before, counts(engine.stats(), 'shedding'));
      expect({ shedHigh: d.shedHigh, shedLow: d.shedLow, inFlight: d.inFlight }).toEqual({ shedHigh: 0, shedLow: 7, inFlight: 0 });
      const [w0] = await reports(engine);
      expect(kept()).toBe(0);
      expect({ high: w0!.high, normal: w0!.normal, low: w0!.low, sum: w0!.sum, orderErrors: w0!.orderErrors })
        .toEqual({ high: delivered[HIGH], normal: delivered[NORMAL], low: delivered[LOW], sum: sum(), orderErrors: 0 });
      expect(d.delivered).toBe(delivered[HIGH]! + delivered[NORMAL]! + delivered[LOW]!);
      expect(await identityAfterDrain(engine)).toEqual([]);
    } finally {
      await sub.unsubscribe();
    }
  });

  test("a topic's own thresholds (low 0.25, normal 0.5) are the ones applied", async () => {
    const sub = await engine.subscribe('shedCustom', { handler: 'shedCustom', mode: 'group', workers: [0] });
    try {
      await reports(engine);
      const before = counts(engine.stats(), 'shedCustom');
      const { send, delivered } = sender('shedCustom', nextProducer());
      await holdFromWorker1(300);
      expect(times(12, () => send(LOW))).toEqual([...trues(8), ...falses(4)]);
      expect(times(12, () => send(NORMAL))).toEqual([...trues(8), ...falses(4)]);
      expect(times(4, () => send(HIGH))).toEqual(trues(4));
      await within(10_000, 'drain', engine.drain());
      const d = delta(before, counts(engine.stats(), 'shedCustom'));
      expect({ shedHigh: d.shedHigh, shedNormal: d.shedNormal, shedLow: d.shedLow, delivered: d.delivered }).toEqual({ shedHigh: 0, shedNormal: 4, shedLow: 4, delivered: 20 });
      const [w0] = await reports(engine);
      expect({ high: w0!.high, normal: w0!.normal, low: w0!.low }).toEqual({ high: delivered[HIGH], normal: delivered[NORMAL], low: delivered[LOW] });
      expect(await identityAfterDrain(engine)).toEqual([]);
    } finally {
      await sub.unsubscribe();
    }
  });

  test('2× overload with mixed classes: exact accounting, every high delivered, low shed at least as much as normal, and shedding stops once the load goes', async () => {
    const sub = await engine.subscribe('shedding', { handler: 'shedding', mode: 'group', workers: [0] });
    try {
      await reports(engine);
      let before = counts(engine.stats(), 'shedding');
      const { send, delivered, sum } = sender('shedding', nextProducer());
      const pattern = [HIGH, NORMAL, LOW, NORMAL, LOW];
      const sent = [0, 0, 0];
      let refusals = 0;
      for (let i = 0; i < OVERLOAD_MESSAGES; i++) {
        const cls = pattern[i % pattern.length]!;
        sent[cls]! += 1;
        if (!send(cls, OVERLOAD_MICROS)) {
          refusals++;
          await within(10_000, 'whenWritable', engine.whenWritable()); // at once, unless a lane was full (block: kept in a backlog)
        }
        busyWait(OVERLOAD_MICROS / 2);
        if ((i & 63) === 0) await null;
      }
      await within(30_000, 'drain', engine.drain());
      let d = delta(before, counts(engine.stats(), 'shedding'));
      let [w0] = await reports(engine);
      expect(d.routed).toBe(OVERLOAD_MESSAGES);
      expect(d.delivered + d.droppedOldest + d.droppedNewest + d.rejected + d.lost + d.deadLettered + d.admissionRefused + d.shedHigh + d.shedNormal + d.shedLow).toBe(d.routed);
      expect({ shedHigh: d.shedHigh, rejected: d.rejected, dropped: d.droppedNewest + d.droppedOldest, inFlight: d.inFlight }).toEqual({ shedHigh: 0, rejected: 0, dropped: 0, inFlight: 0 });
      expect({ high: w0!.high, normal: w0!.normal, low: w0!.low, sum: w0!.sum, orderErrors: w0!.orderErrors }).toEqual({
        high: sent[HIGH], normal: sent[NORMAL]! - d.shedNormal, low: sent[LOW]! - d.shedLow, sum: sum(), orderErrors: 0,
      });
      expect({ high: delivered[HIGH], normal: delivered[NORMAL], low: delivered[LOW] }).toEqual({ high: w0!.high, normal: w0!.normal, low: w0!.low });
      expect(d.shedLow).toBeGreaterThan(0);
      expect(d.shedLow).toBeGreaterThanOrEqual(d.shedNormal);
      expect(refusals).toBeGreaterThanOrEqual(d.shedLow + d.shedNormal);
      expect(engine.stats().backlog).toBe(0);

      // The load is gone: lows published while the worker keeps its lanes near empty (at most 2
      // records waiting: fill < 0.1, whatever the machine's scheduling) are all taken.
      before = counts(engine.stats(), 'shedding');
      const calm = Math.round(200 * STRESS);
      let calmRefused = 0;
      let maxFill = 0;
      for (let i = 0; i < calm; i++) {
        await waitFor(10_000, 'the worker keeps up', () => depthTo(engine, 0) <= 2);
        maxFill = Math.max(maxFill, (depthTo(engine, 0) + 1) / SHED_CAPACITY);
        if (!send(LOW, OVERLOAD_MICROS)) calmRefused++;
      }
      expect(maxFill).toBeLessThan(0.25);
      await within(30_000, 'drain', engine.drain());
      d = delta(before, counts(engine.stats(), 'shedding'));
      [w0] = await reports(engine);
      expect({ refused: calmRefused, shedLow: d.shedLow, shedNormal: d.shedNormal, delivered: d.delivered, handled: w0!.low })
        .toEqual({ refused: 0, shedLow: 0, shedNormal: 0, delivered: calm, handled: calm });
      expect(await identityAfterDrain(engine)).toEqual([]);
      expect(engine.errors).toEqual([]);
    } finally {
      await sub.unsubscribe();
    }
  });
});
