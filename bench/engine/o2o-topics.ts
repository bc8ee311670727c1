/**
 * Topics of the one-to-one suite's engine sides (bench/one-to-one.ts): the same 24-byte message as
 * the peers (bench/workers/o2o-common.ts), and a report request sent after a run's messages on the
 * same lane, so its reply comes after the sink handled all of them.
 */
import { defineSchema } from '../../src/schema.ts';
import { defineTopics } from '../../src/engine/types.ts';

export const o2oTopics = defineTopics({
  /** 24 bytes: seq 0, 1, 2 … per run, value = valueOf(seq), x, y (not read), stamp = seq + 0.5 (summed). */
  msg: { schema: defineSchema({ seq: 'u32', value: 'u32', x: 'u32', y: 'u32', stamp: 'f64' }) },
  report: {
    schema: defineSchema({ reset: 'bool' }),
    reply: defineSchema({ count: 'u32', checksum: 'u32', orderErrors: 'u32', stampSum: 'f64' }),
  },
});
export type O2oTopics = typeof o2oTopics;
