/**
 * Topics of the pipeline suite (test/pipeline.test.ts): a three-stage chain ingest → route →
 * execute carrying one message's id, key and per-key sequence number; a gate that holds the
 * execute stage (its handler waits, asynchronously, while the gate is closed); and the report.
 * Imported by the test and by the handler module (pipeline-handlers.ts).
 */
import { defineSchema } from '../../src/schema.ts';
import { defineTopics } from '../../src/engine/types.ts';

/**
 * One message as it travels the stages; `fail`: the route stage throws on it (after its order
 * check); `work`: µs the execute stage busy-waits on it (a slow stage).
 */
const Item = defineSchema({ id: 'u32', key: 'u32', seq: 'u32', work: 'u32', fail: 'bool' });

/** Keys the route stage tracks per-key order for (key < KEYS_MAX). */
export const KEYS_MAX = 4096;

export const PipelineReport = defineSchema({
  worker: 'i32',
  /** Handler calls per stage on this worker. */
  ingested: 'f64', routed: 'f64', executed: 'f64',
  /** execute: the sum and sum of squares of the ids it ran. */
  sum: 'f64', sumSquares: 'f64',
  /** route: messages whose seq was not the key's previous seq + 1. */
  orderErrors: 'u32',
  /** route: distinct keys seen. */
  keys: 'u32',
});

export const pipelineTopics = defineTopics({
  /** Stage 1 (no key: a group stage). */
  ingest: { schema: Item },
  /** Stage 2, keyed: a key's messages reach one worker, which checks their order. */
  route: { schema: Item, key: 'key' },
  /** Stage 3. */
  execute: { schema: Item },
  /** Opens or closes the execute stage's gate on every worker it reaches; replies how many deliveries wait on it. */
  gate: { schema: defineSchema({ open: 'bool' }), reply: defineSchema({ worker: 'i32', held: 'u32' }) },
  report: { schema: defineSchema({ reset: 'bool' }), reply: PipelineReport },
});

export type PipelineTopics = typeof pipelineTopics;
