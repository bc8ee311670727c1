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

/**
 * Bytes of `bulk`'s payload: 56 KiB. (60 KiB, the large-messages suite's largest, fits an engine
 * with one more topic but not two: every topic's staging record shares the thread's scratch block
 * with publishBatch's 256.)
 */
export const BULK_BYTES = 56 * 1024;

/**
 * The same topics and `bulk`, a 56 KiB message nobody publishes (the one-to-one suite's "beside a
 * 56 KiB topic" case): an engine's lanes then hold 56 KiB records, and a 24-byte `msg` record is
 * still copied by its own 40 bytes (header and message).
 */
export const o2oBulkTopics = defineTopics({
  ...o2oTopics,
  bulk: { schema: defineSchema({ payload: { type: 'bytes', length: BULK_BYTES } }) },
});
export type O2oBulkTopics = typeof o2oBulkTopics;
