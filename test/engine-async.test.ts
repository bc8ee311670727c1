/**
 * Async handlers on both backends with real workers: deliveries completing out of order (a lane's
 * commit never passes an unsettled record: every handler checks its message is unchanged after
 * its await, with lanes smaller than the concurrency so they wrap), every message once (count,
 * sum, sum of squares), the concurrency limit reached and never exceeded, per-key order with
 * different keys overlapping, rejections counted as handler errors, async requests, drain waiting
 * for pending promises, and a worker killed with async deliveries pending: the completed ones are
 * not run again, the pending ones are redelivered (deliveries 2), nothing lost or duplicated.
 * Sizes scale with WD_STRESS.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createEngine, type Engine } from '../src/index.ts';
import { ConfigError, EngineError } from '../src/errors.ts';
import type { EngineOptions, TopicStats } from '../src/engine/types.ts';
import { BACKENDS, CORE_BUILD, STRESS } from './harness.ts';
import { within } from './engine/harness.ts';
import { identityProblems, prng, waitFor } from './engine/supervision.ts';
import { IO_CRASH, IO_FAIL, IO_ORDERED, IO_TRACK, LINGER_MS, MAX_BATCH, asyncTopics, type AsyncTopics } from './engine/async-topics.ts';
import type asyncHandlers from './engine/async-handlers.ts';

const ASYNC_HANDLERS = new URL('./engine/async-handlers.js', import.meta.url);
/** Lanes of 64 records: fewer than the deliveries one worker keeps pending, so lanes wrap while promises are pending. */
const RING = 64;

type AsyncEngine = Engine<AsyncTopics, typeof asyncHandlers> & { errors: Error[] };
type Report = Record<string, number>;

async function start(backend: 'wasm' | 'js', options: Partial<EngineOptions<AsyncTopics, typeof asyncHandlers>> = {}): Promise<AsyncEngine> {
  const errors: Error[] = [];
  const engine = await within(30_000, 'createEngine', createEngine<AsyncTopics, typeof asyncHandlers>({
    topics: asyncTopics, handlers: ASYNC_HANDLERS, backend, coreBuild: CORE_BUILD, workers: 2, ringCapacity: RING, onError: (e) => errors.push(e), ...options,
  }));
  await within(10_000, 'subscribe report', engine.subscribe('report', { handler: 'report', mode: 'broadcast' }));
  return Object.assign(engine, { errors });
}

async function reports(engine: AsyncEngine, reset = true): Promise<Report[]> {
  const replies = await within(30_000, 'report', engine.requestAll('report', { reset }, { timeout: 20_000 }));
  return (replies as unknown as Report[]).sort((a, b) => a.worker - b.worker);
}

function topicStats(engine: AsyncEngine, topic: keyof AsyncTopics): TopicStats {
  return engine.stats().topics[topic]!;
}

/** Publishes one io message; a full lane keeps it (publish false under 'block'): then waits for room. */
async function put(engine: AsyncEngine, m: Parameters<AsyncEngine['publish']>[1]): Promise<void> {
  if (!engine.publish('io', m as never)) await within(30_000, 'whenWritable', engine.whenWritable());
}

const sumOf = (reports: Report[], field: string): number => reports.reduce((s, r) => s + r[field]!, 0);
const expectedSums = (n: number, from = 0): { sum: number; sumSquares: number } => {
  let sum = 0;
  let sumSquares = 0;
  for (let i = from; i < from + n; i++) {
    sum += i;
    sumSquares += i * i;
  }
  return { sum, sumSquares };
};

let producers = 1;

describe.each(BACKENDS)('async handlers (%s)', (backend) => {
  let engine: AsyncEngine;
  beforeAll(async () => {
    engine = await start(backend);
  });
  afterAll(async () => {
    await engine?.close();
  });

  test(`group over 2 workers: ${Math.round(3000 * STRESS)} deliveries settling out of order (0–3 ms timers, 256 pending per worker in ${RING}-record lanes): each once, none reused while pending`, async () => {
    const sub = await engine.subscribe('io', { handler: 'io', mode: 'group', concurrency: 256 });
    try {
      await reports(engine);
      const before = topicStats(engine, 'io');
      const n = Math.round(3000 * STRESS);
      const random = prng(11);
      const p = producers++;
      for (let seq = 0; seq < n; seq++) {
        const m = { producer: p, seq, key: seq % 16, value: (seq * 2654435761) >>> 0, delayMs: Math.floor(random() * 4), mode: 0 };
        // Lanes fill while promises are pending: a full lane keeps the message; wait for room before the next.
        await put(engine, m);
      }
      await within(60_000, 'drain', engine.drain());
      const r = await reports(engine);
      const { sum, sumSquares } = expectedSums(n);
      expect({ completed: sumOf(r, 'completed'), sum: sumOf(r, 'sum'), sumSquares: sumOf(r, 'sumSquares'), starts: sumOf(r, 'starts'), corrupt: sumOf(r, 'corrupt') })
        .toEqual({ completed: n, sum, sumSquares, starts: n, corrupt: 0 });
      // Both workers had more pending than a lane holds: records were kept across the lane's wrap.
      for (const w of r) expect(w.maxInFlight).toBeGreaterThan(RING / 2);
      const after = topicStats(engine, 'io');
      expect({ delivered: after.delivered - before.delivered, handlerErrors: after.handlerErrors - before.handlerErrors, redelivered: after.redelivered - before.redelivered })
        .toEqual({ delivered: n, handlerErrors: 0, redelivered: 0 });
      expect(identityProblems(engine.stats())).toEqual([]);
    } finally {
      await sub.unsubscribe();
    }
  });

  test('the concurrency limit: a subscription with concurrency 8 keeps exactly 8 pending on its worker, never more', async () => {
    const sub = await engine.subscribe('io', { handler: 'io', mode: 'group', workers: [0], concurrency: 8 });
    try {
      await reports(engine);
      const p = producers++;
      const n = 60;
      for (let seq = 0; seq < n; seq++) await put(engine, { producer: p, seq, key: 0, value: seq, delayMs: 5, mode: 0 });
      await within(30_000, 'drain', engine.drain());
      const [w0] = await reports(engine);
      expect({ maxInFlight: w0!.maxInFlight, completed: w0!.completed, corrupt: w0!.corrupt }).toEqual({ maxInFlight: 8, completed: n, corrupt: 0 });
    } finally {
      await sub.unsubscribe();
    }
  });

  test('keyed: a key\'s next message starts only after the previous one settled (order per key, no overlap), while different keys overlap', async () => {
    const sub = await engine.subscribe('io', { handler: 'io', mode: 'keyed' });
    try {
      await reports(engine);
      const p = producers++;
      const keys = 12;
      const perKey = Math.round(40 * STRESS);
      const random = prng(12);
      const seqs = new Array<number>(keys).fill(0);
      for (let i = 0; i < keys * perKey; i++) {
        const key = i % keys;
        const m = { producer: p, seq: seqs[key]!++, key, value: i, delayMs: Math.floor(random() * 3), mode: IO_ORDERED };
        await put(engine, m);
      }
      await within(60_000, 'drain', engine.drain());
      const r = await reports(engine);
      expect({ completed: sumOf(r, 'completed'), orderErrors: sumOf(r, 'orderErrors'), overlaps: sumOf(r, 'overlaps'), corrupt: sumOf(r, 'corrupt') })
        .toEqual({ completed: keys * perKey, orderErrors: 0, overlaps: 0, corrupt: 0 });
      // Different keys were pending together on some worker.
      expect(Math.max(...r.map((w) => w.maxKeys))).toBeGreaterThan(1);
    } finally {
      await sub.unsubscribe();
    }
  });

  test('a rejection counts as a handler error (the rest complete); an async request answers with what it resolves to, a rejected one is ERR_REQUEST_FAILED', async () => {
    const sub = await engine.subscribe('io', { handler: 'io', mode: 'group' });
    const askSub = await engine.subscribe('ask', { handler: 'ask', mode: 'group' });
    try {
      await reports(engine);
      const before = topicStats(engine, 'io');
      const p = producers++;
      const n = 100;
      for (let seq = 0; seq < n; seq++) {
        await put(engine, { producer: p, seq, key: seq, value: seq, delayMs: seq % 3, mode: seq % 10 === 3 ? IO_FAIL : 0 });
      }
      await within(30_000, 'drain', engine.drain());
      const after = topicStats(engine, 'io');
      expect({ delivered: after.delivered - before.delivered, handlerErrors: after.handlerErrors - before.handlerErrors }).toEqual({ delivered: n, handlerErrors: n / 10 });
      expect(sumOf(await reports(engine), 'completed')).toBe(n - n / 10);
      const answers = await within(20_000, 'asks', Promise.all(Array.from({ length: 50 }, (_, x) => engine.request('ask', { x, delayMs: x % 4, fail: false }, { timeout: 15_000 }))));
      expect(answers).toEqual(Array.from({ length: 50 }, (_, x) => ({ y: 2 * x })));
      const failed = await engine.request('ask', { x: 1, delayMs: 1, fail: true }, { timeout: 15_000 }).catch((error: unknown) => error);
      expect(failed).toBeInstanceOf(EngineError);
      expect((failed as EngineError).code).toBe('ERR_REQUEST_FAILED');
    } finally {
      await askSub.unsubscribe();
      await sub.unsubscribe();
    }
  });

  test('drain() waits for pending promises: right after it, every delivery is counted', async () => {
    const sub = await engine.subscribe('io', { handler: 'io', mode: 'group' });
    try {
      const before = topicStats(engine, 'io');
      const p = producers++;
      for (let seq = 0; seq < 40; seq++) expect(engine.publish('io', { producer: p, seq, key: seq, value: seq, delayMs: 30, mode: 0 })).toBe(true);
      await within(30_000, 'drain', engine.drain());
      expect(topicStats(engine, 'io').delivered - before.delivered).toBe(40);
    } finally {
      await sub.unsubscribe();
    }
  });

  test('concurrency is validated: a ConfigError naming concurrency', async () => {
    for (const bad of [0, 65_536, 1.5, '8']) {
      const error = await engine.subscribe('io', { handler: 'io', mode: 'group', concurrency: bad as number }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).field).toBe('concurrency');
    }
  });
});

describe.each(BACKENDS)('async handlers and crashes (%s)', (backend) => {
  test('handlerTimeout: a promise pending longer fails its delivery (a handler error, its record freed, the lane moves on); the worker is not restarted', async () => {
    const engine = await start(backend, { handlerTimeout: 300 });
    try {
      await engine.subscribe('io', { handler: 'io', mode: 'group', workers: [0] });
      const p = producers++;
      const started = Date.now();
      expect(engine.publish('io', { producer: p, seq: 0, key: 0, value: 0, delayMs: 60_000, mode: 0 })).toBe(true);
      for (let seq = 1; seq < 10; seq++) expect(engine.publish('io', { producer: p, seq, key: seq, value: seq, delayMs: 0, mode: 0 })).toBe(true);
      engine.flush();
      // Drained once seq 0 timed out, long before its 60 s timer.
      await within(20_000, 'drain', engine.drain());
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      const io = topicStats(engine, 'io');
      expect({ delivered: io.delivered, handlerErrors: io.handlerErrors }).toEqual({ delivered: 10, handlerErrors: 1 });
      expect(String(io.firstError)).toMatch(/handlerTimeout/);
      expect(engine.stats().workers.map((w) => w.restarts)).toEqual([0, 0]);
    } finally {
      await engine.close({ timeout: 2000 });
    }
  });

  test('a worker killed with async deliveries pending: those completed out of order are not run again, the pending ones are redelivered (deliveries 2); nothing lost or duplicated', async () => {
    const engine = await start(backend);
    try {
      // io on worker 0 only; its completions are tracked on worker 1 (whose memory survives worker 0).
      await engine.subscribe('io', { handler: 'io', mode: 'group', workers: [0], concurrency: 1000 });
      await engine.subscribe('ioDone', { handler: 'ioDone', mode: 'broadcast', workers: [1] });
      await reports(engine);
      const p = producers++;
      // seq 0 stays pending (a long timer) and holds the lane's TAIL; 1..29 settle at once, behind it (DONE).
      expect(engine.publish('io', { producer: p, seq: 0, key: 0, value: 0, delayMs: 400, mode: IO_TRACK })).toBe(true);
      for (let seq = 1; seq < 30; seq++) expect(engine.publish('io', { producer: p, seq, key: seq, value: seq, delayMs: 0, mode: IO_TRACK })).toBe(true);
      engine.flush();
      await waitFor(10_000, 'seqs 1..29 done', () => topicStats(engine, 'ioDone').delivered >= 29);
      // Then a message that kills worker 0 in its handler's synchronous part, and more behind it.
      expect(engine.publish('io', { producer: p, seq: 30, key: 30, value: 30, delayMs: 0, mode: IO_CRASH })).toBe(true);
      for (let seq = 31; seq < 60; seq++) expect(engine.publish('io', { producer: p, seq, key: seq, value: seq, delayMs: 1, mode: IO_TRACK })).toBe(true);
      engine.flush();
      await within(60_000, 'drain', engine.drain());
      const [, tracker] = await reports(engine, false);
      const { sum } = expectedSums(60);
      // Every tracked seq (all but 30) completed exactly once; seq 0 by the successor, as a redelivery.
      expect({ done: tracker!.done, distinct: tracker!.doneDistinct, duplicates: tracker!.doneDuplicates, sum: tracker!.doneSum, redelivered: tracker!.doneRedelivered })
        .toEqual({ done: 59, distinct: 59, duplicates: 0, sum: sum - 30, redelivered: 1 });
      const io = topicStats(engine, 'io');
      // Delivered counts completions: 60, of which two redelivered (seq 0, pending at the crash, and seq 30, the one it died on).
      expect({ delivered: io.delivered, redelivered: io.redelivered, lost: io.lost }).toEqual({ delivered: 60, redelivered: 2, lost: 0 });
      expect(engine.errors.some((e) => (e as EngineError).code === 'ERR_WORKER_CRASHED')).toBe(true);
      expect(identityProblems(engine.stats())).toEqual([]);
    } finally {
      await engine.close();
    }
  });
});

describe.each(BACKENDS)('consuming on the engine\'s thread (%s)', (backend) => {
  let engine: AsyncEngine;
  beforeAll(async () => {
    engine = await start(backend);
    await engine.subscribe('emit', { handler: 'emit', mode: 'group' });
  });
  afterAll(async () => {
    await engine?.close();
  });

  test(`for await over await consume(): ${Math.round(4000 * STRESS)} messages published by both workers arrive once each, in order per publisher; break ends the subscription`, async () => {
    const n = Math.round(2000 * STRESS);
    const stream = await engine.consume('out');
    const p = producers++;
    // Two emits: the group sends one to each worker; each publishes n messages (seqs [0, n) and [n, 2n)).
    engine.publish('emit', { producer: p, count: n, from: 0 });
    engine.publish('emit', { producer: p, count: n, from: n });
    engine.flush();
    let received = 0;
    let sum = 0;
    const last = [-1, -1];
    let orderErrors = 0;
    await within(60_000, 'consume', (async () => {
      for await (const m of stream) {
        const half = m.seq < n ? 0 : 1;
        if (m.seq !== last[half]! + 1 && !(last[half] === -1 && m.seq === half * n)) orderErrors++;
        last[half] = m.seq;
        if (m.value !== m.seq * 3) orderErrors++;
        received++;
        sum += m.seq;
        if (received === 2 * n) break;
      }
    })());
    expect({ received, sum, orderErrors }).toEqual({ received: 2 * n, sum: ((2 * n - 1) * 2 * n) / 2, orderErrors: 0 });
    await within(20_000, 'drain', engine.drain());
    // After break, published messages go nowhere (no subscriber left).
    const before = engine.stats().topics.out!;
    engine.publish('out', { producer: p, seq: 0, value: 0 });
    engine.flush();
    await within(20_000, 'drain', engine.drain());
    const after = engine.stats().topics.out!;
    expect(after.delivered - before.delivered).toBe(0);
  });

  test('back-pressure: an iterator not pulled holds its lane (publish returns false once the lane and the high-water mark are full); pulling delivers all, in order', async () => {
    const stream = await engine.consume('out', { highWaterMark: 8 });
    const p = producers++;
    // Subscribed once consume() resolved: the first message goes through.
    engine.publish('out', { producer: p, seq: 0, value: 0 });
    engine.flush();
    expect((await within(10_000, 'first', stream.next())).value).toEqual({ producer: p, seq: 0, value: 0 });
    let accepted = 1;
    // Publish from this thread until the lane is full; the event loop runs between attempts.
    while (accepted < 10 * RING) {
      const ok = engine.publish('out', { producer: p, seq: accepted, value: accepted * 3 });
      accepted++;
      if (!ok) break;
      if (accepted % 16 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    // Refused before 10 lanes' worth: the lane (RING) plus the queue (8) and what is held hold it.
    expect(accepted).toBeLessThan(10 * RING);
    expect(accepted).toBeGreaterThanOrEqual(RING);
    let seq = 1;
    let orderErrors = 0;
    await within(30_000, 'pull', (async () => {
      for await (const m of stream) {
        if (m.seq !== seq || m.value !== seq * 3) orderErrors++;
        if (++seq === accepted) break;
      }
    })());
    expect({ pulled: seq, orderErrors }).toEqual({ pulled: accepted, orderErrors: 0 });
    await within(20_000, 'drain', engine.drain());
  });

  test('an AbortSignal ends the stream: the pending next() rejects with its reason, later ones are done; return() ends another', async () => {
    const controller = new AbortController();
    const stream = await engine.consume('out', { signal: controller.signal });
    const pending = stream.next();
    const reason = new Error('stop consuming');
    setTimeout(() => controller.abort(reason), 20);
    await expect(within(10_000, 'abort', pending)).rejects.toBe(reason);
    expect(await stream.next()).toEqual({ value: undefined, done: true });
    const other = await engine.consume('out');
    const waiting = other.next();
    expect(await other.return!()).toEqual({ value: undefined, done: true });
    expect(await within(10_000, 'return', waiting)).toEqual({ value: undefined, done: true });
    await expect(engine.consume('out', { highWaterMark: 0 })).rejects.toThrow(ConfigError);
  });
});

describe.each(BACKENDS)('batch handlers (%s)', (backend) => {
  let engine: AsyncEngine;
  beforeAll(async () => {
    engine = await start(backend);
  });
  afterAll(async () => {
    await engine?.close();
  });

  test.each(['batchSync', 'batchAsync'] as const)('%s: every message once (count, sum, sum of squares) in runs of at most maxBatch, none changed while an async batch is pending', async (handler) => {
    const sub = await engine.subscribe('batched', { handler, mode: 'group' });
    try {
      await reports(engine);
      const before = topicStats(engine, 'batched');
      const n = Math.round(5000 * STRESS);
      const p = producers++;
      for (let from = 0; from < n; from += 100) {
        const batch = Array.from({ length: Math.min(100, n - from) }, (_, i) => ({ producer: p, seq: from + i, value: from + i }));
        expect(engine.publishBatch('batched', batch)).toBe(batch.length);
        // What a full lane could not take waits in a backlog: let it move before the next batch.
        await within(30_000, 'whenWritable', engine.whenWritable());
      }
      await within(60_000, 'drain', engine.drain());
      const r = await reports(engine);
      const { sum, sumSquares } = expectedSums(n);
      expect({ records: sumOf(r, 'batchRecords'), sum: sumOf(r, 'batchSum'), sumSquares: sumOf(r, 'batchSumSquares'), corrupt: sumOf(r, 'batchCorrupt') })
        .toEqual({ records: n, sum, sumSquares, corrupt: 0 });
      const largest = Math.max(...r.map((w) => w.maxBatchSeen));
      expect(largest).toBeGreaterThan(1);
      expect(largest).toBeLessThanOrEqual(MAX_BATCH);
      expect(sumOf(r, 'batchCalls')).toBeLessThan(n);
      const after = topicStats(engine, 'batched');
      expect({ delivered: after.delivered - before.delivered, errors: after.handlerErrors - before.handlerErrors }).toEqual({ delivered: n, errors: 0 });
      expect(identityProblems(engine.stats())).toEqual([]);
    } finally {
      await sub.unsubscribe();
    }
  });

  test('linger: messages published one by one, 2 ms apart, reach a lingering batch handler as one call once its linger is over; a full run does not wait', async () => {
    const sub = await engine.subscribe('batched', { handler: 'lingering', mode: 'group', workers: [0] });
    try {
      await reports(engine);
      const p = producers++;
      const started = performance.now();
      for (let seq = 0; seq < 5; seq++) {
        expect(engine.publish('batched', { producer: p, seq, value: seq })).toBe(true);
        engine.flush();
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      await within(20_000, 'drain', engine.drain());
      const lingered = performance.now() - started;
      let r = await reports(engine);
      // One call of all five (the first waited LINGER_MS for the rest), not five calls of one.
      expect({ calls: sumOf(r, 'batchCalls'), records: sumOf(r, 'batchRecords'), largest: Math.max(...r.map((w) => w.maxBatchSeen)) }).toEqual({ calls: 1, records: 5, largest: 5 });
      // setTimeout may fire up to 1 ms early on libuv's cached clock.
      expect(lingered).toBeGreaterThanOrEqual(LINGER_MS - 2);
      // A run of maxBatch goes at once: drained long before a linger.
      const full = Array.from({ length: MAX_BATCH }, (_, i) => ({ producer: p, seq: 5 + i, value: 5 + i }));
      const t0 = performance.now();
      expect(engine.publishBatch('batched', full)).toBe(MAX_BATCH);
      await within(20_000, 'drain', engine.drain());
      expect(performance.now() - t0).toBeLessThan(LINGER_MS);
      r = await reports(engine);
      expect({ calls: sumOf(r, 'batchCalls'), records: sumOf(r, 'batchRecords') }).toEqual({ calls: 1, records: MAX_BATCH });
    } finally {
      await sub.unsubscribe();
    }
  });

  test('requests to a batch handler are answered with element i of what it returned', async () => {
    const sub = await engine.subscribe('twice', { handler: 'twice', mode: 'group' });
    try {
      const answers = await within(20_000, 'twice', Promise.all(Array.from({ length: 300 }, (_, x) => engine.request('twice', { x, delayMs: 0, fail: false }, { timeout: 15_000 }))));
      expect(answers).toEqual(Array.from({ length: 300 }, (_, x) => ({ y: 2 * x })));
    } finally {
      await sub.unsubscribe();
    }
  });
});
