/**
 * Engine lifecycle and bad input, on both backends: subscribe/unsubscribe while traffic flows loses
 * no accepted message; a crashed worker (restart: false: it stays down; restarts are
 * engine-supervision.test.ts's) is detected and reported while the others keep working;
 * publishing after close is a typed error; an idle engine parks (≈0% CPU); every invalid option,
 * unknown topic and mismatching field is a typed error naming it, and the engine keeps working.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { BACKENDS, STRESS } from './harness.ts';
import { HANDLERS, publishTicks, reports, startEngine, within, type TestEngine } from './engine/harness.ts';
import { topics } from './engine/topics.ts';
import { createEngine } from '../src/index.ts';
import { checkHandlerModule } from '../src/engine/worker.ts';
import { ConfigError, EngineError, ModuleError } from '../src/errors.ts';

const N = Math.round(20_000 * STRESS);

describe.each(BACKENDS)('engine lifecycle (%s)', (backend) => {
  test('subscribe and unsubscribe while traffic flows: every accepted message is delivered once', async () => {
    const engine = await startEngine(backend, { workers: 2, ringCapacity: 64 });
    try {
      const steady = await engine.subscribe('tick', { handler: 'tickStrict', mode: 'keyed' });
      const seq = new Array<number>(16).fill(0);
      let churns = 0;
      let churning: Promise<unknown> = Promise.resolve();
      let current: { unsubscribe(): Promise<void> } | undefined;
      for (let i = 0; i < N; i++) {
        const key = i % 16;
        if (!engine.publish('tick', { producer: 0, seq: seq[key]!++, value: i, key })) await engine.whenWritable();
        if (i % 500 === 0) {
          // Alternate subscribing and unsubscribing a group handler without waiting for it.
          await churning;
          churning = current === undefined
            ? engine.subscribe('tick', { handler: 'tickGroup', mode: 'group' }).then((s) => { current = s; })
            : current.unsubscribe().then(() => { current = undefined; });
          churns++;
          await null;
        }
      }
      await churning;
      await within(30_000, 'drain', engine.drain());
      const stats = engine.stats().topics.tick;
      expect(stats.delivered).toBe(stats.routed); // nothing accepted was lost
      const strict = await reports(engine, 'tickStrict');
      expect(strict.reduce((t, r) => t + r.count, 0)).toBe(N);
      for (const r of strict) expect(r.orderErrors).toBe(0);
      const group = await reports(engine, 'tickGroup');
      expect(group.reduce((t, r) => t + r.count, 0)).toBe(stats.routed - N); // the churned copies, each once
      expect(churns).toBeGreaterThan(10);
      await steady.unsubscribe();
    } finally {
      await engine.close({ timeout: 5000 });
    }
  });

  test('a crashed worker (restart: false) is detected and reported; the other keeps serving', async () => {
    const engine = await startEngine(backend, { workers: 2, restart: false });
    try {
      await engine.subscribe('crash', { handler: 'crash', mode: 'group', workers: [1] });
      await engine.subscribe('add', { handler: 'add', mode: 'group', workers: [0] });
      const addOnOne = await engine.subscribe('add', { handler: 'add', mode: 'group', workers: [1] });
      engine.publish('crash', { code: 7 });
      engine.flush();
      await within(10_000, 'crash report', (async () => {
        while (!engine.errors.some((e) => (e as EngineError).code === 'ERR_WORKER_CRASHED')) await new Promise((r) => setTimeout(r, 5));
      })());
      const crash = engine.errors.find((e) => (e as EngineError).code === 'ERR_WORKER_CRASHED') as EngineError;
      expect(crash.field).toBe('worker');
      expect(crash.value).toBe(1);
      expect(engine.stats().workers.map((w) => w.state)).toEqual(['running', 'crashed']);
      expect(engine.stats().workers.map((w) => w.restarts)).toEqual([0, 0]);
      await addOnOne.unsubscribe();
      const reply = await within(10_000, 'reply from worker 0', engine.request('add', { a: 2, b: 2, delayMs: 0 }));
      expect(reply).toEqual({ sum: 4, worker: 0 });
      // Messages for the dead worker are refused from now on; drain still completes.
      await engine.subscribe('load', { handler: 'load', mode: 'group', workers: [1] });
      expect(engine.publish('load', { seq: 1, micros: 0 })).toBe(false);
      await within(10_000, 'drain after crash', engine.drain());
      const stats = engine.stats();
      expect(stats.topics.load.rejected).toBe(1);
      expect(stats.topics.crash).toMatchObject({ routed: 1, delivered: 0, lost: 1 }); // the message it died on
      expect(stats.lostToCrashes).toBe(1);
      expect(engine.errors.filter((e) => (e as EngineError).code === 'ERR_WORKER_CRASHED')).toHaveLength(1);
    } finally {
      await engine.close({ timeout: 5000 });
    }
  });

  test('a least-loaded group routes around a crashed member (restart: false): nothing is rejected, the live worker takes it all', async () => {
    const engine = await startEngine(backend, { workers: 2, restart: false });
    try {
      await engine.subscribe('crash', { handler: 'crash', mode: 'group', workers: [1] });
      const group = await engine.subscribe('tick', { handler: 'tickGroup', mode: 'group', balance: 'least-loaded' });
      engine.publish('crash', { code: 5 });
      engine.flush();
      await within(10_000, 'crash report', (async () => {
        while (engine.stats().workers[1]!.state !== 'crashed') await new Promise((r) => setTimeout(r, 5));
      })());
      // Worker 1's lane froze empty (the shallowest): a pick by depth alone would choose it.
      const sent = await publishTicks(engine, 2000, 8);
      const batch = Array.from({ length: 256 }, (_, i) => ({ producer: 1, seq: i, value: i, key: 0 }));
      expect(engine.publishBatch('tick', batch)).toBe(256);
      await within(10_000, 'drain', engine.drain());
      const tick = engine.stats().topics.tick;
      expect(tick.rejected).toBe(0);
      const [live] = await reports(engine, 'tickGroup');
      expect(live).toMatchObject({ worker: 0, count: 2256, sum: sent.sum + (255 * 256) / 2 });
      await group.unsubscribe();
    } finally {
      await engine.close({ timeout: 5000 });
    }
  });

  test('a worker that crashes with messages queued (restart: false): they are counted lost, drain completes, the rest is delivered', async () => {
    const engine = await startEngine(backend, { workers: 2, restart: false });
    try {
      await engine.subscribe('crash', { handler: 'crash', mode: 'group', workers: [0] });
      await engine.subscribe('load', { handler: 'load', mode: 'group', workers: [0] });
      await engine.subscribe('tick', { handler: 'tickGroup', mode: 'group', workers: [1] });
      engine.publish('crash', { code: 3 });
      for (let seq = 0; seq < 50; seq++) engine.publish('load', { seq, micros: 0 });
      engine.flush();
      await within(10_000, 'crash report', (async () => {
        while (engine.stats().workers[0]!.state !== 'crashed') await new Promise((r) => setTimeout(r, 5));
      })());
      for (let i = 0; i < 100; i++) engine.publish('tick', { producer: 0, seq: i, value: i, key: 0 });
      await within(10_000, 'drain after crash', engine.drain());
      const stats = engine.stats();
      expect(stats.lostToCrashes).toBe(51); // the 50 loads, and the crash message it died handling
      expect(stats.topics.load.lost).toBe(50);
      expect(stats.topics.crash.lost).toBe(1);
      expect(Object.values(stats.topics).reduce((sum, t) => sum + t.lost, 0)).toBe(51);
      for (const [name, t] of Object.entries(stats.topics)) {
        // The accounting identity, crash or no crash.
        expect({ name, routed: t.routed }).toEqual({ name, routed: t.delivered + t.deadLettered + t.droppedOldest + t.droppedNewest + t.rejected + t.lost });
      }
      expect(stats.topics.tick.delivered).toBe(100);
      await within(10_000, 'second drain', engine.drain());
    } finally {
      await engine.close({ timeout: 5000 });
    }
  });

  test('close: drains, stops the workers, then every call is ERR_ENGINE_CLOSED', async () => {
    const engine = await startEngine(backend, { workers: 2 });
    await engine.subscribe('tick', { handler: 'tickGroup', mode: 'group' });
    for (let i = 0; i < 1000; i++) engine.publish('tick', { producer: 0, seq: i, value: i, key: 0 });
    await within(10_000, 'close', engine.close());
    expect(engine.stats().topics.tick.delivered).toBe(1000);
    expect(engine.stats().workers.map((w) => w.state)).toEqual(['stopped', 'stopped']);
    const closed = (f: () => unknown): void => {
      try {
        f();
        throw new Error('no error');
      } catch (error) {
        expect(error).toBeInstanceOf(EngineError);
        expect((error as EngineError).code).toBe('ERR_ENGINE_CLOSED');
      }
    };
    closed(() => engine.publish('tick', { producer: 0, seq: 0, value: 0, key: 0 }));
    closed(() => engine.request('add', { a: 1, b: 1, delayMs: 0 }));
    await expect(engine.subscribe('tick', { handler: 'tickGroup' })).rejects.toMatchObject({ code: 'ERR_ENGINE_CLOSED' });
    await engine.close(); // idempotent
  });

  test('an idle engine parks its workers: CPU use ≈ 0 once the spin budget is spent', async () => {
    const engine = await startEngine(backend, { workers: 2 });
    try {
      await engine.subscribe('tick', { handler: 'tickGroup', mode: 'group' });
      for (let i = 0; i < 1000; i++) engine.publish('tick', { producer: 0, seq: i, value: i, key: 0 });
      await engine.drain();
      await new Promise((r) => setTimeout(r, 200));
      const cpu = process.cpuUsage();
      const wall = performance.now();
      await new Promise((r) => setTimeout(r, 1000));
      const used = process.cpuUsage(cpu);
      const fraction = (used.user + used.system) / 1000 / (performance.now() - wall);
      // Two spinning workers would use ~2.0 (200% of a core); parked ones only wake once a second.
      expect(fraction).toBeLessThan(0.25);
    } finally {
      await engine.close({ timeout: 5000 });
    }
  });
});

describe('engine bad input (wasm)', () => {
  let engine: TestEngine & { errors: Error[] };
  beforeAll(async () => {
    engine = await startEngine('wasm', { workers: 1 });
    await engine.subscribe('named', { handler: 'named', mode: 'group' });
  });
  afterAll(async () => { await engine?.close({ timeout: 5000 }); });

  const good = { name: 'ok', tag: new Uint8Array([1, 2, 3, 4]), big: 5n };
  const badFields: [string, Record<string, unknown>, string][] = [
    ['missing field', { tag: good.tag, big: 1n }, 'name'],
    ['string too long', { ...good, name: 'nine byte' }, 'name'],
    ['multi-byte string too long', { ...good, name: 'ééééé' }, 'name'],
    ['bytes of the wrong length', { ...good, tag: new Uint8Array(5) }, 'tag'],
    ['bytes not a Uint8Array', { ...good, tag: [1, 2, 3, 4] }, 'tag'],
    ['i64 not a bigint', { ...good, big: 5 }, 'big'],
    ['i64 out of range', { ...good, big: 2n ** 64n }, 'big'],
    ['string not a string', { ...good, name: 42 }, 'name'],
  ];
  test.each(badFields)('%s: ConfigError naming the field, engine keeps working', async (_, fields, field) => {
    const before = engine.stats().topics.named;
    expect(() => engine.publish('named', fields as never)).toThrow(ConfigError);
    expect(() => engine.publish('named', fields as never)).toThrow(expect.objectContaining({ field }));
    expect(engine.publish('named', good)).toBe(true);
    await within(10_000, 'drain', engine.drain());
    const after = engine.stats().topics.named;
    expect(after.routed - before.routed).toBe(1);
    expect(after.delivered - before.delivered).toBe(1);
  });

  test('unknown topic, non-object fields and bad subscribe options are ConfigErrors naming the field', async () => {
    expect(() => engine.publish('nope' as 'tick', {} as never)).toThrow(expect.objectContaining({ field: 'topic', value: 'nope' }));
    expect(() => engine.publish('named', null as never)).toThrow(expect.objectContaining({ field: 'fields' }));
    expect(() => engine.publishBatch('named', 'x' as never)).toThrow(expect.objectContaining({ field: 'messages' }));
    const bad = async (options: Record<string, unknown>, field: string, topic = 'tick'): Promise<void> => {
      await expect(engine.subscribe(topic as 'tick', options as never)).rejects.toMatchObject({ field, constructor: ConfigError });
    };
    await bad({ handler: 'nope' }, 'handler');
    await bad({ handler: 'add' }, 'handler'); // a handler of another topic
    await bad({ handler: 'named', mode: 'keyed' }, 'mode', 'named'); // no key field
    await bad({ handler: 'tickGroup', mode: 'fanout' }, 'mode');
    await bad({ handler: 'tickGroup', workers: [1] }, 'workers');
    await bad({ handler: 'tickGroup', workers: [] }, 'workers');
    await bad({ handler: 'tickGroup', workers: [0, 0] }, 'workers');
    await bad({ handler: 'tickGroup', backpressure: 'pray' }, 'backpressure');
    await bad({ handler: 'tickGroup', mode: 'broadcast', balance: 'least-loaded' }, 'balance');
    expect(engine.publish('named', good)).toBe(true);
    await within(10_000, 'drain', engine.drain());
  });

  const badOptions: [string, Record<string, unknown>, string][] = [
    ['workers 0', { workers: 0 }, 'workers'],
    ['workers 64', { workers: 64 }, 'workers'],
    ['workers 1.5', { workers: 1.5 }, 'workers'],
    ['backend', { backend: 'gpu' }, 'backend'],
    ['ringCapacity not a power of two', { ringCapacity: 100 }, 'ringCapacity'],
    ['flushEvery 0', { flushEvery: 0 }, 'flushEvery'],
    ['spin negative', { spin: -1 }, 'spin'],
    ['handlers missing', { handlers: undefined }, 'handlers'],
    ['no topics', { topics: {} }, 'topics'],
    ['schema not a schema', { topics: { t: { schema: {} } } }, 'topics.t.schema'],
    ['key not a field', { topics: { ...topics, tick: { ...topics.tick, key: 'nope' } } }, 'topics.tick.key'],
    ['bad policy', { topics: { ...topics, tick: { ...topics.tick, backpressure: 'yolo' } } }, 'topics.tick.backpressure'],
  ];
  test.each(badOptions)('createEngine: %s is a ConfigError naming it', async (_, options, field) => {
    await expect(createEngine({ topics, handlers: HANDLERS, workers: 1, ...options } as never)).rejects.toMatchObject({ field, constructor: ConfigError });
  });

  test('createEngine: a missing or mismatching handler module is refused with a typed error', async () => {
    await expect(createEngine({ topics, handlers: new URL('./engine/nope.js', import.meta.url), workers: 1 })).rejects.toBeInstanceOf(ModuleError);
    await expect(createEngine({ topics, handlers: new URL('./engine/handlers-mismatch.js', import.meta.url), workers: 1 }))
      .rejects.toMatchObject({ field: 'handlers', constructor: ConfigError });
  });

  test('checkHandlerModule: a bad maxBatch or linger (negative, too long, on a message handler) is a ModuleError naming it', () => {
    const batch = { topic: 'tick', handleBatch: () => undefined };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...batch, maxBatch: 0 }, 'handlers.h.maxBatch'],
      [{ ...batch, linger: -1 }, 'handlers.h.linger'],
      [{ ...batch, linger: 60_001 }, 'handlers.h.linger'],
      [{ ...batch, linger: '5' }, 'handlers.h.linger'],
      [{ topic: 'tick', handle: () => undefined, linger: 5 }, 'handlers.h.linger'],
    ];
    for (const [def, field] of cases) {
      expect(() => checkHandlerModule({ topics, handlers: { h: def } }, 'test')).toThrow(ModuleError);
      expect(() => checkHandlerModule({ topics, handlers: { h: def } }, 'test')).toThrow(expect.objectContaining({ field }));
    }
    expect(checkHandlerModule({ topics, handlers: { h: { ...batch, linger: 5, maxBatch: 8 } } }, 'test').handlers.h).toBeDefined();
  });
});
