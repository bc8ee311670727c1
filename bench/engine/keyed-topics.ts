/**
 * Topics of the keyed many-to-many benchmark (bench/keyed.ts). `move` is keyed by `player`: the
 * keyed subscription over both workers sends each player's moves to the one worker its MurmurHash3
 * picks, so per (producer, player) the moves arrive in the order they were sent.
 */
import { defineSchema } from '../../src/schema.ts';
import { defineTopics } from '../../src/engine/types.ts';

const Produce = defineSchema({ remaining: 'u32' });

export const keyedTopics = defineTopics({
  /** Broadcast to both workers: reset the producer, then publish `remaining` moves. */
  start: { schema: Produce },
  /** A producer's continuation to itself (worker 0 / worker 1): publish the next chunk of its moves. */
  more0: { schema: Produce },
  more1: { schema: Produce },
  /** 16 bytes: producer = worker that sent it, player 0..KEYS-1, seq per (producer, player) from 0, value. */
  move: { schema: defineSchema({ producer: 'u32', player: 'u32', seq: 'u32', value: 'u32' }), key: 'player' },
  /** Broadcast (requestAll): what this worker received since the last reset. */
  report: {
    schema: defineSchema({ reset: 'bool' }),
    reply: defineSchema({ worker: 'i32', count: 'u32', checksum: 'u32', orderErrors: 'u32', players: 'u32' }),
  },
});
export type KeyedTopics = typeof keyedTopics;
