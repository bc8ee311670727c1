/**
 * A user's first hour, on both backends: an engine the program forgot to close lets the process
 * exit once its work is done (child processes, bounded); `await using` closes it; handler errors
 * are printed when there is no onError, an onError that throws does not take the process down,
 * and an async handler gets a clear error; bad timeouts, modes, policies, worker lists, capacities
 * and extra fields are typed errors; pattern subscriptions reach every matching topic.
 */
import { describe, expect, jest, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createEngine } from '../src/index.ts';
import { defineSchema } from '../src/schema.ts';
import { ConfigError, EngineError } from '../src/errors.ts';
import { BACKENDS, CORE_BUILD, STRESS } from './harness.ts';
import { subjectTopics } from './engine/subject-topics.ts';
import type subjectHandlers from './engine/subject-handlers.ts';

const HANDLERS = new URL('./engine/subject-handlers.js', import.meta.url);
const IDLE_EXIT = fileURLToPath(new URL('./workers/idle-exit.js', import.meta.url));
const N = Math.round(10_000 * STRESS);

function start(backend: 'wasm' | 'js', options: { onError?: (error: Error) => void; workers?: number; ringCapacity?: number; maxSubscriptions?: number } = {}) {
  return createEngine<typeof subjectTopics, typeof subjectHandlers>({
    topics: subjectTopics, handlers: HANDLERS, backend, coreBuild: CORE_BUILD, workers: 2, ...options,
  });
}

/** Runs the idle-exit program; resolves with its exit code, how long it took and what it printed. */
function runProgram(backend: string, mode: string, count: number): Promise<{ code: number | null; ms: number; report: { delivered: number; replied: number; requests: number } }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    // The timeout kills a process that would hang: the test then fails on the error.
    execFile(process.execPath, [IDLE_EXIT, backend, CORE_BUILD, mode, String(count)], { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`idle-exit ${mode} did not exit by itself: ${error.message}\n${stderr}`));
      else resolve({ code: 0, ms: Date.now() - started, report: JSON.parse(stdout.trim().split('\n').pop()!) });
    });
  });
}

describe.each(BACKENDS)('first hour (%s)', (backend) => {
  test('a program that never calls close() exits by itself once everything it published was handled', async () => {
    const idle = await runProgram(backend, 'idle', 0);
    expect(idle.report.delivered).toBe(0);
    const published = await runProgram(backend, 'publish', N);
    expect(published.report.delivered).toBe(N); // nothing accepted is dropped at exit
    const requested = await runProgram(backend, 'request', 0);
    expect(requested.report).toMatchObject({ replied: 1, requests: 1 }); // a pending request holds the process until its reply
  });

  test('await using closes the engine at the end of the scope (after draining)', async () => {
    let escaped: Awaited<ReturnType<typeof start>>;
    {
      await using engine = await start(backend);
      escaped = engine;
      await engine.subscribe('sensor.*.temp', { handler: 'temps', mode: 'keyed' });
      for (let i = 0; i < 1000; i++) engine.publish('sensor.door.temp', { celsius: 1, seq: i });
    }
    expect(escaped.stats().topics['sensor.door.temp']!.delivered).toBe(1000);
    expect(() => escaped.publish('alarm', { code: 1 })).toThrow(EngineError);
  });

  test('without onError a handler error is printed once per topic and thread, with topic, worker and stack', async () => {
    const printed = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const engine = await start(backend, { workers: 1 });
    try {
      await engine.subscribe('alarm', { handler: 'alarm', mode: 'group' });
      for (let i = 0; i < 5; i++) engine.publish('alarm', { code: 13 });
      // drain() resolves once the worker's report has arrived: no wait after it.
      await engine.drain({ timeout: 20_000 });
      const text = printed.mock.calls.map((call) => String(call[0])).join('\n');
      expect(printed).toHaveBeenCalledTimes(1);
      expect(text).toMatch(/topic="alarm"/);
      expect(text).toMatch(/worker 0/);
      expect(text).toMatch(/alarm 13 went off/);
      expect(text).toMatch(/subject-handlers\.js/); // the handler's own stack
      expect(engine.stats().topics.alarm!.handlerErrors).toBe(5);
    } finally {
      await engine.close();
      printed.mockRestore();
    }
  });

  test('an onError that throws is printed, and the engine goes on', async () => {
    const printed = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    let calls = 0;
    const engine = await start(backend, { workers: 1, onError: () => { calls++; throw new Error('onError itself failed'); } });
    try {
      await engine.subscribe('alarm', { handler: 'alarm', mode: 'group' });
      await engine.subscribe('sensor.*.temp', { handler: 'temps', mode: 'group' });
      engine.publish('alarm', { code: 13 });
      await engine.drain({ timeout: 20_000 });
      expect(calls).toBe(1);
      expect(printed.mock.calls.map((call) => String(call[0])).join('\n')).toMatch(/onError threw[\s\S]*onError itself failed[\s\S]*alarm 13 went off/);
      for (let i = 0; i < 100; i++) engine.publish('sensor.kitchen.temp', { celsius: 1, seq: i });
      await engine.drain({ timeout: 20_000 });
      expect(engine.stats().topics['sensor.kitchen.temp']!.delivered).toBe(100);
    } finally {
      await engine.close();
      printed.mockRestore();
    }
  });

  test('an async handler answers a request with what it resolves to; its rejection is ERR_REQUEST_FAILED with the error as cause, and onError hears of it', async () => {
    const errors: Error[] = [];
    const engine = await start(backend, { workers: 1, onError: (error) => errors.push(error) });
    try {
      await engine.subscribe('slow', { handler: 'slow', mode: 'group' });
      expect(await engine.request('slow', { n: 7 }, { timeout: 20_000 })).toEqual({ n: 70 });
      const failed = await engine.request('slow', { n: 0 }, { timeout: 20_000 }).catch((error: unknown) => error);
      expect(failed).toBeInstanceOf(EngineError);
      expect((failed as EngineError).code).toBe('ERR_REQUEST_FAILED');
      // onError hears of it too (the worker's message may come after the reply: bounded wait).
      const reported = (): boolean => errors.some((error) => /n = 0 rejects/.test(String((error as { cause?: Error }).cause?.message ?? error.message)));
      const deadline = Date.now() + 10_000;
      while (!reported() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(reported()).toBe(true);
      expect(engine.stats().topics.slow!.handlerErrors).toBe(1);
    } finally {
      await engine.close();
    }
  });

  test('validation: every gap is a ConfigError naming the field and value, and the engine keeps working', async () => {
    const engine = await start(backend, { workers: 2 });
    try {
      await engine.subscribe('count', { handler: 'count', mode: 'broadcast' });
      const expectConfig = async (call: () => unknown, field: string, value: unknown): Promise<void> => {
        let error: unknown;
        try { await call(); } catch (caught) { error = caught; }
        expect(error).toBeInstanceOf(ConfigError);
        expect([(error as ConfigError).field, (error as ConfigError).value]).toEqual([field, value]);
      };
      // Timeouts a timer cannot hold, and timeouts that are not numbers.
      await expectConfig(() => engine.request('count', { reset: false }, { timeout: 2 ** 31 }), 'timeout', 2 ** 31);
      await expectConfig(() => engine.drain({ timeout: '5' as unknown as number }), 'timeout', '5');
      await expectConfig(() => engine.drain({ timeout: -1 }), 'timeout', -1);
      await expectConfig(() => engine.drain(null as unknown as { timeout: number }), 'options', null);
      await expectConfig(() => engine.close({ timeout: Infinity }), 'timeout', Infinity);
      await expectConfig(() => engine.close({ timeout: {} as unknown as number }), 'timeout', {});
      // Names that exist on Object.prototype are not modes or policies.
      for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
        await expectConfig(() => engine.subscribe('alarm', { handler: 'alarm', mode: name as 'group' }), 'mode', name);
        await expectConfig(() => engine.subscribe('alarm', { handler: 'alarm', backpressure: name as 'block' }), 'backpressure', name);
      }
      // Worker lists that are not arrays of distinct integers in range.
      for (const workers of ['01', new Set([0]), [0.5], [0, 0], [2], 0, [[0]]]) {
        await expectConfig(() => engine.subscribe('alarm', { handler: 'alarm', mode: 'group', workers: workers as number[] }), 'workers', workers);
      }
      // A field the topic does not have (publish agrees with the schema's encode), a missing one.
      expect(() => engine.publish('alarm', { code: 1, cdoe: 2 } as never)).toThrow(ConfigError);
      await expectConfig(() => engine.publish('alarm', { code: 1, cdoe: 2 } as never), 'cdoe', 2);
      await expectConfig(() => engine.publish('alarm', {} as never), 'code', undefined);
      await expectConfig(() => engine.publishBatch('alarm', [{ code: 1 }, { code: 2, extra: true } as never]), 'extra', true);
      await expectConfig(() => engine.request('count', { reset: false, all: 1 } as never), 'all', 1);
      await expectConfig(() => subjectTopics.alarm.schema.encode(new ArrayBuffer(64), 0, { code: 1, cdoe: 2 } as never), 'cdoe', 2);
      // Patterns that match nothing, or are not patterns.
      await expectConfig(() => engine.subscribe('nothing.*' as never, { handler: 'temps' } as never), 'topic', 'nothing.*');
      await expectConfig(() => engine.subscribe('sensor.>.temp' as never, { handler: 'temps' } as never), 'topic', 'sensor.>.temp');
      // Still serving.
      const replies = await engine.requestAll('count', { reset: false }, { timeout: 20_000 });
      expect(replies).toHaveLength(2);
    } finally {
      await engine.close();
    }
    // Capacities beyond the documented limits, and a topic name that is a pattern.
    await expectCreate({ ringCapacity: 2 ** 25 }, 'ringCapacity');
    await expectCreate({ ringCapacity: 2 ** 24, workers: 2 }, 'ringCapacity'); // within the range, beyond the arena
    await expectCreate({ workers: 64 }, 'workers');
    await expectCreate({ maxSubscriptions: 1025 }, 'maxSubscriptions');
    await expectCreate({ topics: { 'a.*': subjectTopics.alarm } }, 'topics');
    // A message too large for publishBatch's staging in a thread's scratch block: named by topics, not by an arena internal.
    await expectCreate({ topics: { ...subjectTopics, big: { schema: defineSchema({ blob: { type: 'bytes', length: 65_000 } }) } }, ringCapacity: 16 }, 'topics');
  });

  test('a caller-runs handler that publishes from inside a publish leaves the outer route whole', async () => {
    // alarm: broadcast to both workers under caller-runs, 2-record lanes: thread 0 runs alarmRelay
    // inline when a lane is full, and alarmRelay publishes a broadcast sensor.door.temp, which
    // reroutes on thread 0 in the middle of the alarm's own push loop.
    const engine = await start(backend, { workers: 2, ringCapacity: 2 });
    const { threadCounts } = await import('./engine/subject-handlers.ts');
    const before = threadCounts();
    try {
      await engine.subscribe('alarm', { handler: 'alarmRelay', mode: 'broadcast', backpressure: 'caller-runs' });
      await engine.subscribe('sensor.*.temp', { handler: 'temps', mode: 'broadcast' });
      await engine.subscribe('count', { handler: 'count', mode: 'broadcast' });
      const alarms = Math.round(2000 * STRESS);
      for (let i = 0; i < alarms; i++) engine.publish('alarm', { code: 7 });
      await engine.whenWritable();
      await engine.drain({ timeout: 60_000 });
      const replies = await engine.requestAll('count', { reset: true }, { timeout: 20_000 });
      const here = threadCounts();
      const total = (key: 'alarms' | 'doorTemp' | 'wrongTopic') => replies.reduce((sum, reply) => sum + reply[key], 0) + here[key] - before[key];
      expect(engine.stats().topics.alarm!.callerRuns).toBeGreaterThan(0); // the inline path ran
      expect({ alarms: total('alarms'), doorTemp: total('doorTemp'), wrongTopic: total('wrongTopic') })
        .toEqual({ alarms: 2 * alarms, doorTemp: 2 * 2 * alarms, wrongTopic: 0 });
    } finally {
      await engine.close();
    }
  });

  test('unsubscribe() twice removes its own subscription once, never a later one that reuses its slot', async () => {
    const engine = await start(backend, { workers: 1, maxSubscriptions: 2 });
    try {
      await engine.subscribe('count', { handler: 'count', mode: 'broadcast' });
      const first = await engine.subscribe('alarm', { handler: 'alarm', mode: 'group' });
      await first.unsubscribe();
      const second = await engine.subscribe('sensor.door.open', { handler: 'doorOpen', mode: 'group' }); // reclaims the slot
      expect(second.id).toBe(first.id);
      await first.unsubscribe(); // must do nothing now
      for (let i = 0; i < 10; i++) engine.publish('sensor.door.open', { open: true, seq: i });
      await engine.drain({ timeout: 20_000 });
      const replies = await engine.requestAll('count', { reset: true }, { timeout: 20_000 });
      expect(replies.reduce((sum, reply) => sum + reply.doorOpen, 0)).toBe(10);
    } finally {
      await engine.close();
    }
  });

  test('pattern subscriptions: sensor.*.temp and sensor.> reach every matching topic, resolved at subscribe time', async () => {
    const engine = await start(backend, { workers: 2 });
    try {
      const temps = await engine.subscribe('sensor.*.temp', { handler: 'temps', mode: 'keyed' });
      expect([...temps.topics].sort()).toEqual(['sensor.door.temp', 'sensor.kitchen.temp']);
      const any = await engine.subscribe('sensor.>', { handler: 'anySensor', mode: 'group', balance: 'least-loaded' });
      expect(any.topics).toHaveLength(4);
      // A pattern's handler subscribed to one topic it matches.
      await engine.subscribe('sensor.door.open', { handler: 'doorOpen', mode: 'group' });
      await engine.subscribe('count', { handler: 'count', mode: 'broadcast' });
      let celsius = 0;
      for (let i = 0; i < N; i++) {
        const c = i % 7;
        celsius += c;
        if (!engine.publish(i % 3 === 0 ? 'sensor.kitchen.temp' : 'sensor.door.temp', { celsius: c, seq: i })) await engine.whenWritable();
        if (i % 10 === 0 && !engine.publish('sensor.door.open', { open: true, seq: i })) await engine.whenWritable();
        if (i % 20 === 0 && engine.publishBatch('sensor.kitchen.wall.temp', [{ celsius: 0, seq: i }]) !== 1) await engine.whenWritable();
      }
      await engine.drain({ timeout: 60_000 });
      const replies = await engine.requestAll('count', { reset: true }, { timeout: 20_000 });
      const total = (key: keyof (typeof replies)[number]) => replies.reduce((sum, reply) => sum + (reply[key] as number), 0);
      const kitchen = Math.ceil(N / 3);
      const doorOpen = Math.ceil(N / 10);
      const wall = Math.ceil(N / 20);
      expect({ kitchenTemp: total('kitchenTemp'), doorTemp: total('doorTemp'), doorOpen: total('doorOpen'), wallTemp: total('wallTemp') })
        .toEqual({ kitchenTemp: kitchen, doorTemp: N - kitchen, doorOpen, wallTemp: 0 }); // *.temp is one token: not wall.temp
      expect(total('celsiusSum')).toBe(celsius);
      expect(total('anySensor')).toBe(N + doorOpen + wall); // sensor.> : every sensor topic, once each (a group)
      // Unsubscribing a pattern removes it from every topic it matched.
      await temps.unsubscribe();
      await any.unsubscribe();
      engine.publish('sensor.kitchen.temp', { celsius: 1, seq: 0 });
      await engine.drain({ timeout: 20_000 });
      expect(engine.stats().topics['sensor.kitchen.temp']!.unrouted).toBe(1);
    } finally {
      await engine.close();
    }
  });
});

async function expectCreate(overrides: Record<string, unknown>, field: string): Promise<void> {
  const error = await createEngine({ topics: subjectTopics, handlers: HANDLERS, workers: 1, ...overrides } as never).then(
    async (engine) => { await (engine as { close(): Promise<void> }).close(); return undefined; },
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as ConfigError).field).toBe(field);
}
