/**
 * The app's topics, declared once and imported by both sides: main.js (the page, which creates
 * the engine and publishes) and handlers.js (bundled into every engine worker).
 *
 *   sample  a reading (sequence number and value), published in batches by the page; a group
 *           subscription hands each one to exactly one worker
 *   report  request/response, broadcast: every worker answers with what it counted (requestAll)
 *   square  request/response: one worker squares x (request)
 */
import { defineSchema, defineTopics } from 'wasm-dispatch';

export const topics = defineTopics({
  sample: { schema: defineSchema({ seq: 'u32', value: 'u32' }) },
  report: {
    schema: defineSchema({ reset: 'bool' }),
    reply: defineSchema({ worker: 'i32', count: 'f64', sum: 'f64' }),
  },
  square: {
    schema: defineSchema({ x: 'f64' }),
    reply: defineSchema({ y: 'f64', worker: 'i32' }),
  },
});
