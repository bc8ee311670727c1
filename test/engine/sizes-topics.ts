/**
 * Topics of the record-size suite (engine-record-bytes.test.ts): messages of very different sizes
 * through the same lanes, whose records are sized for the largest (`big`); each record is copied
 * by its own topic's bytes, so these check that every field of every size arrives whole.
 */
import { defineSchema } from '../../src/schema.ts';
import { defineTopics } from '../../src/engine/types.ts';

/** Payload bytes of `big` (16 KiB) and of `echo`'s reply (2 KiB). */
export const BIG_BYTES = 16 * 1024;
export const ECHO_BYTES = 2 * 1024;

/** Byte i of the payload of message `seq`: a function of both, so a stale or torn tail shows. */
export function payloadByte(seq: number, i: number): number {
  return (seq * 131 + i * 7 + (i >> 8)) & 255;
}

/** Fills `payload` as message `seq`'s (payloadByte). */
export function fillPayload(payload: Uint8Array, seq: number): void {
  for (let i = 0; i < payload.length; i++) payload[i] = payloadByte(seq, i);
}

/** How many bytes of `payload` differ from message `seq`'s. */
export function badBytes(payload: Uint8Array, seq: number): number {
  let bad = 0;
  for (let i = 0; i < payload.length; i++) if (payload[i] !== payloadByte(seq, i)) bad++;
  return bad;
}

export const sizesTopics = defineTopics({
  /** 8 bytes: seq 0, 1, 2 … from the main thread; value summed. */
  small: { schema: defineSchema({ seq: 'u32', value: 'u32' }) },
  /** 16 KiB + 4: payload filled by payloadByte(seq, i). */
  big: { schema: defineSchema({ seq: 'u32', payload: { type: 'bytes', length: BIG_BYTES } }) },
  /** A request smaller than its reply: the reply's payload is payloadByte(seq, i) over 2 KiB. */
  echo: { schema: defineSchema({ seq: 'u32' }), reply: defineSchema({ seq: 'u32', payload: { type: 'bytes', length: ECHO_BYTES } }) },
  /** The worker's counts (and a reset). */
  report: {
    schema: defineSchema({ reset: 'bool' }),
    reply: defineSchema({ worker: 'i32', small: 'u32', smallOrder: 'u32', smallSum: 'f64', big: 'u32', bigOrder: 'u32', bigBadBytes: 'u32' }),
  },
});
export type SizesTopics = typeof sizesTopics;
