/**
 * Topics of the one-to-one throughput benchmark (bench/engine-throughput.ts). Records are
 * RECORD_HEADER_BYTES (16) + 16 bytes: the largest message or reply is 16 bytes.
 */
import { defineSchema } from '../../src/schema.ts';
import { defineTopics } from '../../src/engine/types.ts';

export const throughputTopics = defineTopics({
  /** 16 bytes: seq 0, 1, 2 … per run (checked in order), value = valueOf(seq), stamp (unused by the handler). */
  item: { schema: defineSchema({ seq: 'u32', value: 'u32', stamp: 'f64' }) },
  /** What the sink has seen since the last reset; sent after a run's items on the same lane, so it answers after all of them. */
  report: {
    schema: defineSchema({ reset: 'bool' }),
    reply: defineSchema({ count: 'u32', checksum: 'u32', orderErrors: 'u32', worker: 'i32' }),
  },
});
export type ThroughputTopics = typeof throughputTopics;
