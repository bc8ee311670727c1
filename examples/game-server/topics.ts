/**
 * Game-server example: the topics. Imported both by main.ts (the engine's thread) and by
 * handlers.ts (every worker), so both sides share one typed declaration.
 *
 *   move      a player's move, published by the main thread; keyed by `player`, so one worker
 *             owns each player and sees all its moves in publish order (`seq` checks that)
 *   storm     a world event, broadcast: every worker applies it to the players it owns
 *   knockout  published by a worker (ctx.publish) when a storm knocks a player out; handled by
 *             one worker of a group subscription (the scoreboard)
 *   where     request/response, keyed by `player` like `move`: the owning worker answers
 *   report    request/response, broadcast: each worker's counters and a checksum of its state (requestAll)
 */
import { defineSchema, defineTopics } from 'wasm-dispatch';

/** Every player starts with (and respawns at) this much health. */
export const FULL_HEALTH = 100;

export const topics = defineTopics({
  move: { schema: defineSchema({ player: 'u32', seq: 'u32', x: 'f32', y: 'f32' }), key: 'player' },
  storm: { schema: defineSchema({ id: 'u32', x: 'f32', y: 'f32', radius: 'f32', damage: 'f32' }) },
  knockout: { schema: defineSchema({ player: 'u32', storm: 'u32', worker: 'i32' }) },
  where: {
    schema: defineSchema({ player: 'u32' }),
    key: 'player',
    reply: defineSchema({ found: 'bool', x: 'f32', y: 'f32', seq: 'u32', health: 'f64', worker: 'i32' }),
  },
  report: {
    schema: defineSchema({ reset: 'bool' }),
    reply: defineSchema({
      worker: 'i32', players: 'u32', moves: 'f64', orderErrors: 'u32', storms: 'u32', hits: 'f64',
      knockoutsSent: 'u32', knockoutsCounted: 'u32', checksum: 'u32',
    }),
  },
});
export type Topics = typeof topics;
