/**
 * The fan-out pool, on both backends, with real workers: a 2 KiB message (pooled here with
 * pool: { minBytes: 1024 }; the pool is off by default, its minBytes 16 KiB) routed to several receivers is copied once into a pool slot and each lane gets a record pointing at it. These
 * tests check what could go wrong with that:
 *
 * - a slot released too early, then reused: a receiver (a message handler, a batch handler, an
 *   async handler reading after an await, a successor re-reading a redelivered record, the dead
 *   letter of a poison message) would see another message's payload — every payload byte is a
 *   function of its seq, and every one is checked;
 * - a slot never released: `poolInUse` after a drain counts it (it must be 0 — crashes here land
 *   inside handlers, where no slot is between its mark and its release);
 * - the fallbacks: a pool of 8 slots and lanes of 16 records make the pool run out (the message
 *   goes inline per receiver: `poolExhausted`) and the main thread's backlog fill (a pooled record
 *   never enters a backlog: the message goes inline) — the accounting identity pooled +
 *   poolExhausted = published holds for a topic whose every publish has three receivers.
 *
 * Sizes scale with WD_STRESS.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { createEngine, type DeadLetter, type Engine } from '../src/index.ts';
import { BACKENDS, CORE_BUILD, STRESS } from './harness.ts';
import { within } from './engine/harness.ts';
import { EXIT_ALWAYS, EXIT_ONCE, POOL_PAYLOAD, poolTopics, type PoolTopics } from './engine/pool-topics.ts';
import { badBytes, fillPayload } from './engine/sizes-topics.ts';

const HANDLERS = new URL('./engine/pool-handlers.js', import.meta.url);
const N = Math.round(6_000 * STRESS);

interface Report { worker: number; count: number; first: number; orderErrors: number; bad: number; redelivered: number }

describe.each(BACKENDS)('the fan-out pool (%s)', (backend) => {
  let engine: Engine<PoolTopics> | undefined;
  afterEach(async () => {
    await engine?.close({ timeout: 5000 });
    engine = undefined;
  });

  /** Publishes seq from..to-1 of `big` (fault as `faults` says), waiting whenever publish says to. */
  async function publishRange(e: Engine<PoolTopics>, from: number, to: number, faults: ReadonlyMap<number, number> = new Map()): Promise<void> {
    const payload = new Uint8Array(POOL_PAYLOAD);
    for (let seq = from; seq < to; seq++) {
      fillPayload(payload, seq);
      if (!e.publish('big', { seq, fault: faults.get(seq) ?? 0, payload })) await e.whenWritable();
    }
  }

  async function reports(e: Engine<PoolTopics>): Promise<Report[]> {
    const all = await e.requestAll('report', { reset: false }, { timeout: 20_000 }) as Report[];
    return all.sort((a, b) => a.worker - b.worker);
  }

  test(`${N} messages to a message, a batch and an async handler: every byte right, pooled + exhausted = published, no slot left`, async () => {
    const errors: Error[] = [];
    const e = engine = await createEngine<PoolTopics>({
      topics: poolTopics, handlers: HANDLERS, backend, coreBuild: CORE_BUILD, workers: 3, ringCapacity: 16, pool: { slots: 8, minBytes: 1024 }, onError: (x) => errors.push(x),
    });
    await e.subscribe('big', { handler: 'sink', workers: [0] });
    await e.subscribe('big', { handler: 'batchSink', workers: [1] });
    await e.subscribe('big', { handler: 'asyncSink', workers: [2] });
    await e.subscribe('report', { handler: 'report', workers: [0, 1, 2] });
    const half = Math.floor(N / 2);
    await publishRange(e, 0, half);
    // publishBatch of a pooled topic: the per-record route, a slot per message.
    const payloads = Array.from({ length: N - half }, (_, k) => {
      const payload = new Uint8Array(POOL_PAYLOAD);
      fillPayload(payload, half + k);
      return { seq: half + k, fault: 0, payload };
    });
    for (let at = 0; at < payloads.length; at += 64) {
      e.publishBatch('big', payloads.slice(at, at + 64));
      await e.whenWritable();
    }
    await within(60_000, 'drain', e.drain());
    const rs = await reports(e);
    expect(rs).toEqual([0, 1, 2].map((worker) => ({ worker, count: N, first: 0, orderErrors: 0, bad: 0, redelivered: 0 })));
    const s = e.stats();
    const big = s.topics.big!;
    expect(big.published).toBe(N);
    expect(big.pooled + big.poolExhausted).toBe(N);
    expect(big.pooled).toBeGreaterThan(0);
    expect(s.poolSlots).toBe(8);
    expect(s.poolInUse).toBe(0);
    expect(errors).toEqual([]);
  }, 120_000);

  test('one receiver, or pool: false: copied into the lane, nothing pooled', async () => {
    const e = engine = await createEngine<PoolTopics>({ topics: poolTopics, handlers: HANDLERS, backend, coreBuild: CORE_BUILD, workers: 2, pool: false });
    await e.subscribe('big', { handler: 'sink', workers: [0, 1] });
    await e.subscribe('report', { handler: 'report', workers: [0, 1] });
    await publishRange(e, 0, 200);
    await within(30_000, 'drain', e.drain());
    expect((await reports(e)).map((r) => [r.count, r.bad, r.orderErrors])).toEqual([[200, 0, 0], [200, 0, 0]]);
    expect(e.stats().topics.big!.pooled).toBe(0);
    expect(e.stats().poolSlots).toBe(0);
    await e.close();
    // No pool unless asked for; asked for, only messages of minBytes (default 16 KiB) or more: not this 2 KiB topic.
    for (const pool of [undefined, {}]) {
      const d = engine = await createEngine<PoolTopics>({ topics: poolTopics, handlers: HANDLERS, backend, coreBuild: CORE_BUILD, workers: 2, pool });
      expect(d.stats().poolSlots).toBe(0);
      await d.close();
    }
    // A group subscription routes each message to one member: no fan-out, no pool.
    const g = engine = await createEngine<PoolTopics>({ topics: poolTopics, handlers: HANDLERS, backend, coreBuild: CORE_BUILD, workers: 2, pool: { minBytes: 1024 } });
    await g.subscribe('big', { handler: 'sink', workers: [0, 1], mode: 'group' });
    await publishRange(g, 0, 200);
    await within(30_000, 'drain', g.drain());
    expect(g.stats().topics.big!.delivered).toBe(200);
    expect(g.stats().topics.big!.pooled).toBe(0);
    await g.close();
    // So does a least-loaded group (an entry per member, one of them picked); beside a second
    // subscription the message has two receivers and goes through the pool.
    const l = engine = await createEngine<PoolTopics>({ topics: poolTopics, handlers: HANDLERS, backend, coreBuild: CORE_BUILD, workers: 2, pool: { minBytes: 1024 } });
    await l.subscribe('big', { handler: 'sink', workers: [0, 1], mode: 'group', balance: 'least-loaded' });
    await publishRange(l, 0, 200);
    await within(30_000, 'drain', l.drain());
    expect(l.stats().topics.big!.pooled).toBe(0);
    await l.subscribe('big', { handler: 'batchSink', workers: [0] });
    await publishRange(l, 200, 400);
    await within(30_000, 'drain', l.drain());
    expect(l.stats().topics.big!.delivered).toBe(600);
    expect(l.stats().topics.big!.pooled).toBe(200);
  }, 60_000);

  test('workers killed in a handler: the successor re-reads its redelivered message from the slot, a poison message is dead-lettered whole, no slot left', async () => {
    const letters: DeadLetter[] = [];
    const errors: Error[] = [];
    const e = engine = await createEngine<PoolTopics>({
      topics: poolTopics, handlers: HANDLERS, backend, coreBuild: CORE_BUILD, workers: 2, ringCapacity: 64, pool: { slots: 64, minBytes: 1024 }, maxDeliveries: 2,
      restart: { minBackoffMs: 0, maxBackoffMs: 0 }, onDeadLetter: (letter) => letters.push(letter), onError: (x) => errors.push(x),
    });
    await e.subscribe('big', { handler: 'sink', workers: [0, 1] });
    await e.subscribe('report', { handler: 'report', workers: [0, 1] });
    const n = Math.max(600, Math.round(N / 4));
    const once = Math.floor(n / 3);
    const poison = Math.floor((2 * n) / 3);
    await publishRange(e, 0, n, new Map([[once, EXIT_ONCE + 0], [poison, EXIT_ALWAYS + 1]]));
    await within(60_000, 'drain', e.drain());
    const [w0, w1] = await reports(e);
    // Worker 0 died on `once` (first delivery): its successor started there, read it again whole.
    expect(w0).toEqual({ worker: 0, count: n - once, first: once, orderErrors: 0, bad: 0, redelivered: 1 });
    // Worker 1 died on `poison` twice (maxDeliveries 2): dead-lettered; its last successor starts after it.
    expect(w1).toEqual({ worker: 1, count: n - poison - 1, first: poison + 1, orderErrors: 0, bad: 0, redelivered: 0 });
    expect(letters).toHaveLength(1);
    const fields = letters[0]!.fields as { seq: number; payload: Uint8Array };
    expect(fields.seq).toBe(poison);
    expect(badBytes(fields.payload, poison)).toBe(0);
    const s = e.stats();
    // While a worker restarts its lane fills and the slots its records hold stay taken: some go inline.
    expect(s.topics.big!.pooled + s.topics.big!.poolExhausted).toBe(n);
    expect(s.topics.big!.pooled).toBeGreaterThan(0);
    expect(s.topics.big!.crashed).toBe(3);
    expect(s.poolInUse).toBe(0);
    expect(errors.filter((x) => !/crashed/.test(x.message))).toEqual([]);
  }, 120_000);

  test('an async receiver that dies and stays down: what it completed is not written off again, the other receiver reads every message whole', async () => {
    const e = engine = await createEngine<PoolTopics>({
      topics: poolTopics, handlers: HANDLERS, backend, coreBuild: CORE_BUILD, workers: 2, ringCapacity: 512, pool: { slots: 32, minBytes: 1024 }, restart: false, onError: () => {},
    });
    // The other receiver lags: the messages worker 0 completed before it died are still its to read,
    // and 32 slots are reused soon: a slot released once too often shows as another message's bytes.
    await e.subscribe('big', { handler: 'asyncHoldSink', workers: [0] });
    await e.subscribe('big', { handler: 'slowSink', workers: [1] });
    await e.subscribe('report', { handler: 'report', workers: [1] });
    const n = 3000;
    // Worker 0 dies starting message 700, with deliveries before it settled (DONE) behind a pending one (640).
    await publishRange(e, 0, n, new Map([[700, EXIT_ONCE + 0]]));
    await within(60_000, 'drain', e.drain());
    const s = e.stats();
    expect(s.workers[0]!.state).toBe('crashed');
    const [w1] = await reports(e);
    expect(w1).toEqual({ worker: 1, count: n, first: 0, orderErrors: 0, bad: 0, redelivered: 0 });
    expect(s.poolInUse).toBe(0);
    expect(s.topics.big!.pooled).toBeGreaterThan(0);
  }, 60_000);

  test('a batch handler run inside a batch handler (caller-runs): each call completes its own records, drain ends, no slot left', async () => {
    const e = engine = await createEngine<PoolTopics>({
      topics: poolTopics, handlers: HANDLERS, backend, coreBuild: CORE_BUILD, workers: 2, ringCapacity: 8, pool: { minBytes: 1024 },
    });
    await e.subscribe('big', { handler: 'batchRelay', workers: [0] });
    await e.subscribe('big', { handler: 'sink', workers: [1] });
    await e.subscribe('relay', { handler: 'relayBatchSink', workers: [1], backpressure: 'caller-runs' });
    const n = 2000;
    await publishRange(e, 0, n);
    await within(30_000, 'drain', e.drain());
    const s = e.stats();
    expect(s.topics.relay!.callerRuns).toBeGreaterThan(0);
    expect(s.topics.relay!.delivered).toBe(n);
    expect(s.topics.big!.delivered).toBe(2 * n);
    expect(s.poolInUse).toBe(0);
  }, 60_000);

  test('bad pool options are ConfigErrors naming the field', async () => {
    const make = (pool: unknown): Promise<unknown> => createEngine({ topics: poolTopics, handlers: HANDLERS, backend, coreBuild: CORE_BUILD, workers: 1, pool: pool as never });
    await expect(make(5)).rejects.toMatchObject({ name: 'ConfigError', field: 'pool' });
    await expect(make({ slots: 3, minBytes: 1024 })).rejects.toMatchObject({ name: 'ConfigError', field: 'pool.slots', value: 3 });
    await expect(make({ minBytes: 10 })).rejects.toMatchObject({ name: 'ConfigError', field: 'pool.minBytes', value: 10 });
    await expect(make({ slots: 131072, minBytes: 1024 })).rejects.toMatchObject({ name: 'ConfigError', field: 'pool.slots', value: 131072 });
  });

  test('a worker that stays down: the records stranded in its lanes give their slots back', async () => {
    const e = engine = await createEngine<PoolTopics>({
      topics: poolTopics, handlers: HANDLERS, backend, coreBuild: CORE_BUILD, workers: 2, ringCapacity: 256, pool: { slots: 256, minBytes: 1024 }, restart: false, onError: () => {},
    });
    await e.subscribe('big', { handler: 'sink', workers: [0, 1] });
    await e.subscribe('report', { handler: 'report', workers: [0] });
    const n = 600;
    await publishRange(e, 0, n, new Map([[100, EXIT_ONCE + 1]]));
    await within(60_000, 'drain', e.drain());
    const s = e.stats();
    expect(s.workers[1]!.state).toBe('crashed');
    expect(s.topics.big!.lost).toBeGreaterThan(0);
    expect(s.poolInUse).toBe(0);
    const [w0] = await reports(e);
    expect(w0).toEqual({ worker: 0, count: n, first: 0, orderErrors: 0, bad: 0, redelivered: 0 });
  }, 60_000);
});
