/**
 * Request/response across real workers, on both backends: typed replies with correlation ids under
 * many concurrent requests, scatter-gather, timeouts, AbortSignal, handler failures, late replies
 * counted, and the typed errors for a topic without subscribers or without a reply schema.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { BACKENDS, STRESS } from './harness.ts';
import { startEngine, within, type TestEngine } from './engine/harness.ts';
import { ConfigError, EngineError } from '../src/errors.ts';

const CONCURRENT = Math.round(2000 * STRESS);

async function rejection(promise: Promise<unknown>): Promise<EngineError> {
  const error = await within(10_000, 'rejection', promise.then(() => { throw new Error('resolved, expected a rejection'); }, (e: unknown) => e));
  expect(error).toBeInstanceOf(EngineError);
  return error as EngineError;
}

describe.each(BACKENDS)('engine request/response (%s)', (backend) => {
  let engine: TestEngine & { errors: Error[] };
  beforeAll(async () => { engine = await startEngine(backend, { workers: 2 }); });
  afterAll(async () => { await engine?.close({ timeout: 5000 }); });

  test('no subscriber: ERR_NO_SUBSCRIBER; a topic without reply schema: ConfigError', async () => {
    const error = await rejection(engine.request('add', { a: 1, b: 2, delayMs: 0 }));
    expect(error.code).toBe('ERR_NO_SUBSCRIBER');
    expect(() => engine.request('tick' as 'add', { producer: 0, seq: 0, value: 0, key: 0 } as never)).toThrow(ConfigError);
  });

  test(`${CONCURRENT} concurrent requests each get their own reply, from both workers`, async () => {
    const sub = await engine.subscribe('add', { handler: 'add', mode: 'group' });
    const pending = Array.from({ length: CONCURRENT }, (_, i) => engine.request('add', { a: i, b: 0.5, delayMs: 0 }, { timeout: 20_000 }));
    const replies = await within(30_000, 'replies', Promise.all(pending));
    replies.forEach((reply, i) => expect(reply.sum).toBe(i + 0.5));
    expect(new Set(replies.map((r) => r.worker))).toEqual(new Set([0, 1]));
    await sub.unsubscribe();
  });

  test('requestAll gathers one reply per worker of a broadcast subscription', async () => {
    const sub = await engine.subscribe('add', { handler: 'add', mode: 'broadcast' });
    const replies = await within(10_000, 'requestAll', engine.requestAll('add', { a: 40, b: 2, delayMs: 0 }));
    expect(replies.map((r) => r.sum)).toEqual([42, 42]);
    expect(replies.map((r) => r.worker).sort()).toEqual([0, 1]);
    await sub.unsubscribe();
  });

  test('timeout rejects with ERR_REQUEST_TIMEOUT; the reply that comes later is counted, not leaked', async () => {
    const sub = await engine.subscribe('add', { handler: 'add', mode: 'group', workers: [0] });
    const late = engine.stats().lateReplies;
    const error = await rejection(engine.request('add', { a: 1, b: 1, delayMs: 150 }, { timeout: 20 }));
    expect(error.code).toBe('ERR_REQUEST_TIMEOUT');
    await within(10_000, 'drain', engine.drain());
    expect(engine.stats().lateReplies).toBe(late + 1);
    await sub.unsubscribe();
  });

  test('AbortSignal: aborting rejects with ERR_REQUEST_ABORTED; an aborted signal rejects at once', async () => {
    const sub = await engine.subscribe('add', { handler: 'add', mode: 'group', workers: [1] });
    const controller = new AbortController();
    const pending = engine.request('add', { a: 1, b: 1, delayMs: 150 }, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('user gave up')), 10);
    const error = await rejection(pending);
    expect(error.code).toBe('ERR_REQUEST_ABORTED');
    const again = await rejection(engine.request('add', { a: 1, b: 1, delayMs: 0 }, { signal: controller.signal }));
    expect(again.code).toBe('ERR_REQUEST_ABORTED');
    await within(10_000, 'drain', engine.drain());
    await sub.unsubscribe();
  });

  test('a handler that throws: ERR_REQUEST_FAILED, reported once per topic, the worker keeps working', async () => {
    const sub = await engine.subscribe('add', { handler: 'add', mode: 'group' });
    const error = await rejection(engine.request('add', { a: -5, b: 0, delayMs: 0 }));
    expect(error.code).toBe('ERR_REQUEST_FAILED');
    expect(engine.stats().topics.add.handlerErrors).toBeGreaterThanOrEqual(1);
    await within(5000, 'error report', (async () => { while (engine.errors.length === 0) await new Promise((r) => setTimeout(r, 5)); })());
    expect(engine.errors[0]).toBeInstanceOf(EngineError);
    expect((engine.errors[0] as EngineError).code).toBe('ERR_HANDLER');
    expect(engine.errors[0]!.message).toContain('a=-5 is negative');
    expect(engine.stats().topics.add.firstError?.message).toContain('a=-5 is negative');
    const replies = await within(10_000, 'after error', Promise.all([1, 2, 3, 4].map((a) => engine.request('add', { a, b: 0, delayMs: 0 }))));
    expect(replies.map((r) => r.sum)).toEqual([1, 2, 3, 4]);
    await sub.unsubscribe();
  });

  test('bad request input is a ConfigError naming the field; nothing is sent', async () => {
    const sub = await engine.subscribe('add', { handler: 'add', mode: 'group' });
    const routed = engine.stats().topics.add.routed;
    expect(() => engine.request('add', { a: 1.5, b: 0, delayMs: 0 })).toThrow(expect.objectContaining({ field: 'a' }));
    expect(() => engine.request('add', { a: 1, b: 0, delayMs: 0 }, { timeout: -1 })).toThrow(expect.objectContaining({ field: 'timeout' }));
    expect(engine.stats().topics.add.routed).toBe(routed);
    await sub.unsubscribe();
  });
});
