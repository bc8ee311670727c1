/**
 * Topics of the async-handler overhead part of bench/async.ts: one 16-byte message, under three
 * topic names so each handler kind has a subscription of its own on one engine, and a report
 * request sent after drain() (everything handled, every promise settled).
 */
import { defineSchema } from '../../src/schema.ts';
import { defineTopics } from '../../src/engine/types.ts';

/** 16 bytes: seq 0, 1, 2 … per run (checked in order), x = xOf(seq) (summed), stamp (not read). */
const message = defineSchema({ seq: 'u32', x: 'u32', stamp: 'f64' });

export const asyncTopics = defineTopics({
  /** Handled by a synchronous handler. */
  'msg.sync': { schema: message },
  /** Handled by an async handler that resolves at once (no await). */
  'msg.async': { schema: message },
  /** Handled by an async handler that awaits once (`await null`) before it reads x. */
  'msg.await': { schema: message },
  report: {
    schema: defineSchema({ reset: 'bool' }),
    reply: defineSchema({ count: 'u32', orderErrors: 'u32', sum: 'f64' }),
  },
});
export type AsyncTopics = typeof asyncTopics;

/** The x field of message `seq`: 16 bits of a Fibonacci hash, so the sum checks every message. */
export function xOf(seq: number): number {
  return (Math.imul(seq, 0x9e3779b1) >>> 16) & 0xffff;
}
