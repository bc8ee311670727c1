/**
 * Delivery modes across real worker threads, on both backends: broadcast (every member gets every
 * message, in order), group (exactly once over the members: counts and two checksums), keyed (each
 * key on exactly one member, per-key order exact), publishing from workers, publishBatch (also
 * into a least-loaded group) and the allocation-free writer + send path. Sizes scale with WD_STRESS.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { BACKENDS, STRESS } from './harness.ts';
import { publishTicks, reports, startEngine, within, type TestEngine } from './engine/harness.ts';

const N = Math.round(20_000 * STRESS);
const KEYS = 48;

describe.each(BACKENDS)('engine delivery (%s)', (backend) => {
  let engine: TestEngine & { errors: Error[] };
  beforeAll(async () => { engine = await startEngine(backend, { workers: 3, ringCapacity: 256 }); });
  afterAll(async () => { await engine?.close({ timeout: 5000 }); });

  test(`broadcast: each of 3 workers gets all ${N} messages, every (producer, key) stream in order`, async () => {
    const sub = await engine.subscribe('tick', { handler: 'tickStrict', mode: 'broadcast' });
    const expected = await publishTicks(engine, N, KEYS);
    await within(30_000, 'drain', engine.drain());
    const got = await reports(engine, 'tickStrict');
    expect(got.map((r) => r.worker)).toEqual([0, 1, 2]);
    for (const r of got) {
      expect({ count: r.count, sum: r.sum, sumSquares: r.sumSquares, orderErrors: r.orderErrors })
        .toEqual({ count: N, sum: expected.sum, sumSquares: expected.sumSquares, orderErrors: 0 });
    }
    await sub.unsubscribe();
    expect(engine.errors).toEqual([]);
  });

  test.each(['round-robin', 'least-loaded'] as const)(`group (%s): every message to exactly one of 3 workers`, async (balance) => {
    const sub = await engine.subscribe('tick', { handler: 'tickGroup', mode: 'group', balance });
    const expected = await publishTicks(engine, N, KEYS);
    await within(30_000, 'drain', engine.drain());
    const got = await reports(engine, 'tickGroup');
    const total = got.reduce((t, r) => ({ count: t.count + r.count, sum: t.sum + r.sum, sumSquares: t.sumSquares + r.sumSquares }), { count: 0, sum: 0, sumSquares: 0 });
    expect(total).toEqual({ count: N, sum: expected.sum, sumSquares: expected.sumSquares });
    for (const r of got) expect(r.orderErrors).toBe(0); // per member, each stream's sequence rises
    if (balance === 'round-robin') for (const r of got) expect(r.count).toBeGreaterThan(N / 3 - 2);
    await sub.unsubscribe();
  });

  test('publishBatch into a least-loaded group beside a broadcast: the group gets each message exactly once, the workers without the broadcast a share', async () => {
    const before = engine.stats().topics.tick;
    const group = await engine.subscribe('tick', { handler: 'tickGroup', mode: 'group', balance: 'least-loaded' });
    const broadcast = await engine.subscribe('tick', { handler: 'tickStrict2', mode: 'broadcast', workers: [1] });
    const seq = new Array<number>(KEYS).fill(0);
    let sum = 0;
    let sumSquares = 0;
    // Chunks of 1000 (four dispatchBatch calls each) into 256-record lanes: lanes fill mid-chunk,
    // so the stop at a full chosen lane, its resume and the backlog path all take part.
    for (let start = 0; start < N; start += 1000) {
      const chunk = Array.from({ length: Math.min(1000, N - start) }, (_, k) => {
        const i = start + k;
        const key = i % KEYS;
        const value = (i * 2654435761) >>> 16;
        sum += value;
        sumSquares += value * value;
        return { producer: 0, seq: seq[key]!++, value, key };
      });
      expect(engine.publishBatch('tick', chunk)).toBe(chunk.length); // 'block': nothing refused
      await within(10_000, 'whenWritable', engine.whenWritable());
    }
    await within(30_000, 'drain', engine.drain());
    const got = await reports(engine, 'tickGroup');
    const total = got.reduce((t, r) => ({ count: t.count + r.count, sum: t.sum + r.sum, sumSquares: t.sumSquares + r.sumSquares }), { count: 0, sum: 0, sumSquares: 0 });
    expect(total).toEqual({ count: N, sum, sumSquares });
    for (const r of got) {
      expect(r.orderErrors).toBe(0); // per member, each stream's sequence rises
      // Worker 1's lane also carries the broadcast copy of every message: it is never the least
      // loaded while it sleeps between flushes (idle workers park at once when threads outnumber
      // cores), so it may rightly get none. The others share the group.
      if (r.worker !== 1) expect(r.count).toBeGreaterThan(0);
    }
    const side = await reports(engine, 'tickStrict2');
    expect(side.filter((r) => r.count > 0).map((r) => [r.worker, r.count, r.sum, r.orderErrors])).toEqual([[1, N, sum, 0]]);
    const after = engine.stats().topics.tick;
    expect({ published: after.published - before.published, routed: after.routed - before.routed, delivered: after.delivered - before.delivered })
      .toEqual({ published: N, routed: 2 * N, delivered: 2 * N });
    await group.unsubscribe();
    await broadcast.unsubscribe();
  });

  test('keyed: each key on exactly one worker, per-key order exact, with a broadcast beside it', async () => {
    const keyed = await engine.subscribe('tick', { handler: 'tickStrict', mode: 'keyed' });
    const broadcast = await engine.subscribe('tick', { handler: 'tickStrict2', mode: 'broadcast', workers: [0, 2] });
    const expected = await publishTicks(engine, N, KEYS);
    await within(30_000, 'drain', engine.drain());
    const got = await reports(engine, 'tickStrict');
    expect(got.reduce((t, r) => t + r.count, 0)).toBe(N);
    expect(got.reduce((t, r) => t + r.sum, 0)).toBe(expected.sum);
    for (const r of got) expect(r.orderErrors).toBe(0);
    let low = 0;
    let high = 0;
    for (const r of got) {
      expect(r.keysLow & low).toBe(0); // no key on two workers
      expect(r.keysHigh & high).toBe(0);
      low |= r.keysLow;
      high |= r.keysHigh;
    }
    expect([low >>> 0, high >>> 0]).toEqual([0xffffffff, 0xffff]); // all 48 keys seen
    const side = await reports(engine, 'tickStrict2');
    expect(side.filter((r) => r.count > 0).map((r) => [r.worker, r.count, r.orderErrors])).toEqual([[0, N, 0], [2, N, 0]]);
    await keyed.unsubscribe();
    await broadcast.unsubscribe();
  });

  test('workers publish: relays on 3 workers each publish ticks into a keyed subscription, in order per (worker, key)', async () => {
    const relay = await engine.subscribe('relay', { handler: 'relay', mode: 'broadcast' });
    const keyed = await engine.subscribe('tick', { handler: 'tickStrict', mode: 'keyed' });
    const per = Math.max(10, Math.round(N / 100));
    for (let i = 0; i < 100; i++) engine.publish('relay', { count: per, key: i % 7 });
    await within(30_000, 'drain', engine.drain());
    const got = await reports(engine, 'tickStrict');
    expect(got.reduce((t, r) => t + r.count, 0)).toBe(3 * 100 * per);
    for (const r of got) expect(r.orderErrors).toBe(0);
    const stats = engine.stats().topics.tick;
    expect(stats.delivered).toBe(stats.routed);
    await relay.unsubscribe();
    await keyed.unsubscribe();
  });

  test('publishBatch and writer + send deliver the same messages as publish', async () => {
    const sub = await engine.subscribe('tick', { handler: 'tickStrict', mode: 'keyed' });
    const batch = Array.from({ length: 1000 }, (_, i) => ({ producer: 7, seq: i >> 2, value: i, key: i & 3 }));
    expect(engine.publishBatch('tick', batch)).toBe(1000);
    const w = engine.writer('tick');
    for (let i = 1000; i < 2000; i++) {
      w.producer = 7; w.seq = i >> 2; w.value = i; w.key = i & 3;
      if (!engine.send('tick')) await engine.whenWritable();
    }
    await within(30_000, 'drain', engine.drain());
    const got = await reports(engine, 'tickStrict');
    expect(got.reduce((t, r) => t + r.count, 0)).toBe(2000);
    expect(got.reduce((t, r) => t + r.sum, 0)).toBe((1999 * 2000) / 2);
    for (const r of got) expect(r.orderErrors).toBe(0);
    await sub.unsubscribe();
  });

  test('stats: per-topic, per-lane and per-worker counters add up', async () => {
    // A worker commits a request only after flushing its reply: drain, so no lane is mid-batch.
    await within(10_000, 'drain', engine.drain());
    const stats = engine.stats();
    const tick = stats.topics.tick;
    expect(tick.routed).toBe(tick.delivered);
    expect(tick.droppedNewest + tick.droppedOldest + tick.rejected).toBe(0);
    const fromMain = stats.lanes.filter((l) => l.from === 0 && l.to > 0);
    expect(fromMain).toHaveLength(3);
    for (const lane of stats.lanes) {
      expect(lane.depth).toBe(0);
      expect(lane.highWater).toBeLessThanOrEqual(256);
    }
    expect(fromMain.reduce((t, l) => t + l.published, 0)).toBeGreaterThan(0);
    expect(stats.workers.map((w) => w.state)).toEqual(['running', 'running', 'running']);
    for (const w of stats.workers) expect(w.busyMs + w.idleMs).toBeGreaterThan(0);
  });
});
