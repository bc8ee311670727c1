/**
 * Topics of the journal suites: `order` (published by the engine's thread, keyed by customer),
 * `fill` (published by a worker for each order it handles, with the worker's own sequence), and
 * `audit` (a request every worker answers with a checksum of its state).
 */
import { defineSchema } from '../../src/schema.ts';
import { defineTopics } from '../../src/engine/types.ts';

export const journalTopics = defineTopics({
  order: { schema: defineSchema({ id: 'u32', customer: 'u32', amount: 'f64' }), key: 'customer' },
  fill: { schema: defineSchema({ order: 'u32', worker: 'u32', seq: 'u32' }) },
  audit: { schema: defineSchema({ nonce: 'u32' }), reply: defineSchema({ worker: 'i32', orders: 'u32', checksum: 'u32', fills: 'u32' }) },
});
export type JournalTopics = typeof journalTopics;
