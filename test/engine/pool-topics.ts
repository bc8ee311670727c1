/**
 * Topics of the fan-out pool suite (test/engine-fan-out-pool.test.ts): `big` (2 KiB, above the
 * pool's default minBytes) reaches several receivers through one pool slot; its payload is
 * payloadByte(seq, i) (sizes-topics.ts), so a receiver handed a slot that was released and reused
 * sees another message's bytes. `fault` tells one worker to die in the handler.
 */
import { defineSchema } from '../../src/schema.ts';
import { defineTopics } from '../../src/engine/types.ts';

export const POOL_PAYLOAD = 2048;

/** `fault` values: EXIT_ONCE + w: worker w exits on the first delivery; EXIT_ALWAYS + w: on every delivery (a poison message). */
export const EXIT_ONCE = 10;
export const EXIT_ALWAYS = 20;

export const poolTopics = defineTopics({
  big: { schema: defineSchema({ seq: 'u32', fault: 'u8', payload: { type: 'bytes', length: POOL_PAYLOAD } }) },
  /** What batchRelay publishes per message of `big` (caller-runs when its lane is full: a batch handler run inside a batch handler). */
  relay: { schema: defineSchema({ seq: 'u32' }) },
  report: {
    schema: defineSchema({ reset: 'bool' }),
    reply: defineSchema({ worker: 'i32', count: 'u32', first: 'i32', orderErrors: 'u32', bad: 'u32', redelivered: 'u32' }),
  },
});
export type PoolTopics = typeof poolTopics;
