/** Topics of the engine test suites (imported by the tests and by the handler module). */
import { defineSchema } from '../../src/schema.ts';
import { defineTopics } from '../../src/engine/types.ts';

/** The report of one worker's handler state (see handlers.ts). */
export const Report = defineSchema({
  worker: 'i32', count: 'f64', sum: 'f64', sumSquares: 'f64', orderErrors: 'u32', keysLow: 'u32', keysHigh: 'u32',
});

export const topics = defineTopics({
  /** Test traffic: producer id, per-(producer, key) sequence, a value for checksums, a key (< 64). */
  tick: { schema: defineSchema({ producer: 'u32', seq: 'u32', value: 'u32', key: 'u32' }), key: 'key' },
  /** A worker receiving a relay publishes `count` ticks itself (publishing from a worker). */
  relay: { schema: defineSchema({ count: 'u32', key: 'u32' }) },
  /** Slow messages for overload tests: the handler busy-waits `micros` µs. */
  load: { schema: defineSchema({ seq: 'u32', micros: 'u32' }) },
  /** Which handler's counters to report (and reset). */
  report: { schema: defineSchema({ handler: { type: 'string', maxBytes: 32 }, reset: 'bool' }), reply: Report },
  /** Request/response: sum of a and b, after `delayMs` (busy) if given; throws if a < 0. */
  add: { schema: defineSchema({ a: 'i32', b: 'f64', delayMs: 'u32' }), reply: defineSchema({ sum: 'f64', worker: 'i32' }) },
  /** Ends the worker: process.exit(code) under Node, an uncaught error in a browser (see handlers.ts). */
  crash: { schema: defineSchema({ code: 'u32' }) },
  /** Strings and bytes: oversize input tests. */
  named: { schema: defineSchema({ name: { type: 'string', maxBytes: 8 }, tag: { type: 'bytes', length: 4 }, big: 'i64' }) },
});
export type Topics = typeof topics;
