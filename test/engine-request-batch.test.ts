/**
 * requestBatch across real workers, on both backends: every reply in its request's place across
 * chunk boundaries and beside request() traffic, broadcast topics (first reply kept, the rest
 * counted late), a worker that dies with part of a batch queued (its successor answers), and every
 * way a batch is rejected as a whole: a failed handler, timeout, AbortSignal, no subscriber,
 * close(); the typed errors for bad input.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { BACKENDS, STRESS } from './harness.ts';
import { startEngine, within, type TestEngine } from './engine/harness.ts';
import { ConfigError, EngineError } from '../src/errors.ts';
import { MAX_REQUEST_BATCH } from '../src/engine/request-batches.ts';

/** Past one chunk id (4096 requests): the correlation's chunk part changes inside the batch. */
const BIG = Math.round(10_000 * STRESS);
const BATCHES = 8;

async function rejection(promise: Promise<unknown>): Promise<EngineError> {
  const error = await within(10_000, 'rejection', promise.then(() => { throw new Error('resolved, expected a rejection'); }, (e: unknown) => e));
  expect(error).toBeInstanceOf(EngineError);
  return error as EngineError;
}

function adds(n: number, from = 0): { a: number; b: number; delayMs: number }[] {
  return Array.from({ length: n }, (_, i) => ({ a: from + i, b: 0.5, delayMs: 0 }));
}

describe.each(BACKENDS)('engine requestBatch (%s)', (backend) => {
  let engine: TestEngine & { errors: Error[] };
  beforeAll(async () => { engine = await startEngine(backend, { workers: 2 }); });
  afterAll(async () => { await engine?.close({ timeout: 5000 }); });

  test('no subscriber: ERR_NO_SUBSCRIBER; an empty batch resolves []; bad input is a ConfigError naming the field', async () => {
    expect((await rejection(engine.requestBatch('add', adds(3)))).code).toBe('ERR_NO_SUBSCRIBER');
    await expect(engine.requestBatch('add', [])).resolves.toEqual([]);
    expect(() => engine.requestBatch('tick' as 'add', [] as never)).toThrow(ConfigError);
    expect(() => engine.requestBatch('add', 'x' as never)).toThrow(expect.objectContaining({ field: 'messages' }));
    expect(() => engine.requestBatch('add', new Array(MAX_REQUEST_BATCH + 1).fill(adds(1)[0]))).toThrow(expect.objectContaining({ field: 'messages.length' }));
    expect(() => engine.requestBatch('add', adds(2), { timeout: -1 })).toThrow(expect.objectContaining({ field: 'timeout' }));
    expect(() => engine.requestBatch('add', adds(2), { priority: 'urgent' as never })).toThrow(expect.objectContaining({ field: 'priority' }));
  });

  test(`${BATCHES} batches of ${BIG} at once, beside request(): every reply in its request's place, both workers answering`, async () => {
    const sub = await engine.subscribe('add', { handler: 'add', mode: 'group' });
    const late = engine.stats().lateReplies;
    const batches = Array.from({ length: BATCHES }, (_, k) => engine.requestBatch('add', adds(BIG, k * BIG), { timeout: 30_000 }));
    const singles = Array.from({ length: 100 }, (_, i) => engine.request('add', { a: i, b: 0.25, delayMs: 0 }));
    const [replies, singleReplies] = await within(60_000, 'batches', Promise.all([Promise.all(batches), Promise.all(singles)]));
    for (let k = 0; k < BATCHES; k++) {
      const batch = replies[k]!;
      expect(batch).toHaveLength(BIG);
      let wrong = 0;
      for (let i = 0; i < BIG; i++) if (batch[i]!.sum !== k * BIG + i + 0.5) wrong++;
      expect(wrong).toBe(0);
    }
    expect(singleReplies.map((r) => r.sum)).toEqual(Array.from({ length: 100 }, (_, i) => i + 0.25));
    expect(new Set(replies.flat().map((r) => r.worker))).toEqual(new Set([0, 1]));
    await within(10_000, 'drain', engine.drain());
    expect(engine.stats().lateReplies).toBe(late);
    await sub.unsubscribe();
  });

  test('a broadcast topic: the first reply per request is kept, the other worker\'s is counted late', async () => {
    const sub = await engine.subscribe('add', { handler: 'add', mode: 'broadcast' });
    const late = engine.stats().lateReplies;
    const replies = await within(20_000, 'broadcast batch', engine.requestBatch('add', adds(500)));
    expect(replies.map((r) => r.sum)).toEqual(Array.from({ length: 500 }, (_, i) => i + 0.5));
    await within(10_000, 'drain', engine.drain());
    expect(engine.stats().lateReplies).toBe(late + 500);
    await sub.unsubscribe();
  });

  test('one failing request rejects the batch with ERR_REQUEST_FAILED naming its index; the others\' replies are late, not leaked', async () => {
    const sub = await engine.subscribe('add', { handler: 'add', mode: 'group', workers: [0] });
    const late = engine.stats().lateReplies;
    const messages = adds(300);
    messages[200]!.a = -7;
    const error = await rejection(engine.requestBatch('add', messages));
    expect(error.code).toBe('ERR_REQUEST_FAILED');
    expect(error.message).toContain('request 200 of 300');
    await within(10_000, 'drain', engine.drain());
    // One worker answers in order: 0..199 settled into the batch, 201..299 came after it failed.
    expect(engine.stats().lateReplies).toBe(late + 99);
    const again = await within(10_000, 'after failure', engine.requestBatch('add', adds(10)));
    expect(again.map((r) => r.sum)).toEqual(Array.from({ length: 10 }, (_, i) => i + 0.5));
    await sub.unsubscribe();
  });

  test('timeout and AbortSignal reject the whole batch; the replies that come later are counted', async () => {
    const sub = await engine.subscribe('add', { handler: 'add', mode: 'group', workers: [1] });
    const late = engine.stats().lateReplies;
    const slow = [{ a: 1, b: 0, delayMs: 100 }, { a: 2, b: 0, delayMs: 100 }];
    const timedOut = await rejection(engine.requestBatch('add', slow, { timeout: 20 }));
    expect(timedOut.code).toBe('ERR_REQUEST_TIMEOUT');
    expect(timedOut.message).toContain('2 of 2 replies missing');
    const controller = new AbortController();
    const aborted = engine.requestBatch('add', slow, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('user gave up')), 10);
    expect((await rejection(aborted)).code).toBe('ERR_REQUEST_ABORTED');
    expect((await rejection(engine.requestBatch('add', slow, { signal: controller.signal }))).code).toBe('ERR_REQUEST_ABORTED');
    await within(10_000, 'drain', engine.drain());
    expect(engine.stats().lateReplies).toBe(late + 4);
    await sub.unsubscribe();
  });

  test('a message that fails validation throws a ConfigError; the requests before it were sent, their replies counted late', async () => {
    const sub = await engine.subscribe('add', { handler: 'add', mode: 'group' });
    const late = engine.stats().lateReplies;
    const messages: { a: number; b: number; delayMs: number }[] = adds(50);
    messages[30] = { a: 1.5, b: 0, delayMs: 0 };
    expect(() => engine.requestBatch('add', messages)).toThrow(expect.objectContaining({ field: 'a' }));
    await within(10_000, 'drain', engine.drain());
    expect(engine.stats().lateReplies).toBe(late + 30);
    await sub.unsubscribe();
  });

  test('a worker that dies with part of a batch queued: its successor answers, every reply in place', async () => {
    const sub = await engine.subscribe('add', { handler: 'add', mode: 'group' });
    const crash = await engine.subscribe('crash', { handler: 'crash', mode: 'group', workers: [0] });
    const n = Math.round(4000 * STRESS);
    engine.publish('crash', { code: 70 }); // worker 0 exits on it, ahead of its share of the batch
    const replies = await within(30_000, 'batch across a crash', engine.requestBatch('add', adds(n)));
    let wrong = 0;
    for (let i = 0; i < n; i++) if (replies[i]!.sum !== i + 0.5) wrong++;
    expect(wrong).toBe(0);
    expect(engine.stats().workers[0]!.restarts).toBeGreaterThanOrEqual(1);
    await crash.unsubscribe();
    await sub.unsubscribe();
  });

  test('close() rejects a pending batch with ERR_ENGINE_CLOSED', async () => {
    const own = await startEngine(backend, { workers: 1 });
    await own.subscribe('add', { handler: 'add', mode: 'group' });
    const pending = own.requestBatch('add', [{ a: 1, b: 0, delayMs: 300 }, { a: 2, b: 0, delayMs: 0 }]);
    const closing = own.close({ timeout: 50 });
    expect((await rejection(pending)).code).toBe('ERR_ENGINE_CLOSED');
    await within(10_000, 'close', closing);
  });
});
