/**
 * Types that catch mistakes at compile time. Every `@ts-expect-error` line below must fail to
 * type-check: `npm test` compiles this file first, and tsc refuses an expect-error line that
 * compiles, so a type that stopped catching the mistake fails the test command. The same calls
 * then run, as plain JavaScript would make them: each is still a typed error at run time.
 */
import { describe, expect, test } from '@jest/globals';
import { createEngine, defineHandlers, type Engine, type TopicMap } from '../src/index.ts';
import { ConfigError } from '../src/errors.ts';
import { CORE_BUILD } from './harness.ts';
import { subjectTopics } from './engine/subject-topics.ts';
import type subjectHandlers from './engine/subject-handlers.ts';

const HANDLERS = new URL('./engine/subject-handlers.js', import.meta.url);

// A handler returns its topic's reply (or nothing), or a promise of it (an async handler).
defineHandlers(subjectTopics, {
  slow: { topic: 'slow', async handle(m) { return { n: m.n }; } },
});
defineHandlers(subjectTopics, {
  // @ts-expect-error a promise of something else is not the reply
  slow: { topic: 'slow', async handle() { return { wrong: 1 }; } },
});
// A handler's topic is a declared topic or a pattern.
// @ts-expect-error 'sensor.nothing' is neither
defineHandlers(subjectTopics, { nothing: { topic: 'sensor.nothing', handle() {} } });

describe('types catch mistakes; run time catches them in plain JavaScript', () => {
  test('subscribe takes only the module\'s handlers of that topic; request only topics with a reply', async () => {
    const engine = await createEngine<typeof subjectTopics, typeof subjectHandlers>({
      topics: subjectTopics, handlers: HANDLERS, workers: 1, coreBuild: CORE_BUILD,
    });
    try {
      // Compiles: a topic's own handler, a pattern and its handler, a pattern handler on a topic it matches.
      await engine.subscribe('alarm', { handler: 'alarm' });
      await engine.subscribe('sensor.*.temp', { handler: 'temps', mode: 'keyed' });
      await engine.subscribe('sensor.door.open', { handler: 'doorOpen' });
      await engine.subscribe('count', { handler: 'count' });
      const reply = await engine.request('count', { reset: false }, { timeout: 20_000 });
      const kitchen: number = reply.kitchenTemp; // the reply is typed
      expect(kitchen).toBeGreaterThanOrEqual(0);
      const batch = await engine.requestBatch('count', [{ reset: false }, { reset: false }], { timeout: 20_000 });
      const temps: number[] = batch.map((r) => r.kitchenTemp); // every reply of a batch is typed
      expect(temps).toHaveLength(2);

      const refused = async (call: () => Promise<unknown>, field: string): Promise<void> => {
        const error = await Promise.resolve().then(call).then(() => undefined, (caught: unknown) => caught);
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).field).toBe(field);
      };
      // @ts-expect-error a handler name the module does not have
      await refused(() => engine.subscribe('alarm', { handler: 'alrm' }), 'handler');
      // @ts-expect-error a handler of another topic
      await refused(() => engine.subscribe('alarm', { handler: 'count' }), 'handler');
      // @ts-expect-error a pattern's handler on a topic the pattern does not match
      await refused(() => engine.subscribe('sensor.door.open', { handler: 'temps' }), 'handler');
      // @ts-expect-error request() on a topic without a reply schema
      await refused(() => engine.request('alarm', { code: 1 }), 'topic');
      // @ts-expect-error requestAll() likewise
      await refused(() => engine.requestAll('sensor.door.open', { open: true, seq: 1 }), 'topic');
      // @ts-expect-error requestBatch() likewise
      await refused(() => engine.requestBatch('alarm', [{ code: 1 }]), 'topic');
      // @ts-expect-error a topic that is not declared
      expect(() => engine.publish('alarms', { code: 1 })).toThrow(ConfigError);
    } finally {
      await engine.close();
    }
  });

  test('without the module\'s type (plain JavaScript style), any handler name compiles and is checked at run time', async () => {
    const engine: Engine<TopicMap> = await createEngine<TopicMap>({ topics: subjectTopics, handlers: HANDLERS, workers: 1, coreBuild: CORE_BUILD });
    try {
      const error = await engine.subscribe('alarm', { handler: 'alrm' }).then(() => undefined, (caught: unknown) => caught);
      expect((error as ConfigError).field).toBe('handler');
      const noReply = await Promise.resolve().then(() => engine.request('alarm', { code: 1 })).then(() => undefined, (caught: unknown) => caught);
      expect((noReply as ConfigError).field).toBe('topic');
    } finally {
      await engine.close();
    }
  });
});
