/**
 * Topics of the live demo page (web/demo/): imported by the page (demo.ts) and by the handler
 * module every engine worker loads (handlers.ts), so both sides share one typed declaration.
 */
import { defineSchema } from '../../src/schema.ts';
import { defineTopics } from '../../src/engine/types.ts';

/** One worker's totals: what the page checks against what it sent. */
export const Report = defineSchema({ worker: 'i32', count: 'f64', sum: 'f64' });

export const topics = defineTopics({
  /**
   * The throughput traffic: a sequence number, a value for the checksum (< 2^16, so a sum of up
   * to 2^37 of them stays exact in an f64) and a key (unused by the demo's group subscription,
   * declared so the topic could be subscribed keyed too).
   */
  tick: { schema: defineSchema({ seq: 'u32', value: 'u32', key: 'u32' }), key: 'key' },
  /** Latency: the reply echoes `stamp` (the page's performance.now() in ms) and names the worker. */
  ping: { schema: defineSchema({ stamp: 'f64' }), reply: defineSchema({ stamp: 'f64', worker: 'i32' }) },
  /** Each worker's tick count and value sum since it started (or since the last reset). */
  report: { schema: defineSchema({ reset: 'bool' }), reply: Report },
});
export type DemoTopics = typeof topics;
