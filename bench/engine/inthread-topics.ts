/** Topics of the in-thread dispatch benchmark (bench/in-thread.ts). */
import { defineSchema } from '../../src/schema.ts';
import { defineTopics } from '../../src/engine/types.ts';

/** The tally a run leaves: messages seen, FNV-1a of their values, seq order errors, time in ms. */
const Tally = defineSchema({ count: 'u32', checksum: 'u32', orderErrors: 'u32', spills: 'u32', ms: 'f64' });

export const inThreadTopics = defineTopics({
  /**
   * Start a run of `n` messages on this worker. mode MODE_ENGINE: publish them to `item` on this
   * worker's own lane (the reply only acknowledges; await drain, then `report`). Other modes: run
   * that emitter's loop synchronously and reply with its tally.
   */
  kick: { schema: defineSchema({ mode: 'u32', n: 'u32' }), reply: Tally },
  /** 8 bytes: seq 0, 1, 2 … per run, value = valueOf(seq). */
  item: { schema: defineSchema({ seq: 'u32', value: 'u32' }) },
  /** Worker → itself, after each chunk of items: publish the next chunk. */
  next: { schema: defineSchema({ published: 'u32' }) },
  /** The engine run's tally (sent after drain); resets it when `reset`. */
  report: { schema: defineSchema({ reset: 'bool' }), reply: Tally },
});
export type InThreadTopics = typeof inThreadTopics;

/** kick modes. */
export const MODE_ENGINE = 0;
export const MODE_EVENTS = 1;
export const MODE_EVENTEMITTER3 = 2;
export const MODE_MITT = 3;
