/**
 * Queue-promotion example: the topics and the Redis key layout. Imported by main.ts (the
 * publisher), node.ts (each cluster node) and handlers.ts (every worker of every node).
 *
 *   promote  "move up to `batch` users of `event` from its waiting queue into its entry queue,
 *            within the entry queue's capacity". Keyed by `event`: a cluster topic, so all of one
 *            event's messages go to one stream partition, read by the one node that holds it.
 *   leave    "`count` users of `event` are through: take them out of the entry queue" (frees
 *            capacity for the next promote). Keyed by `event` as well.
 *
 * Both carry `tick`, a number unique per message (the publisher counts them): the Lua scripts
 * record every tick they applied, so a message delivered twice (after a failover) is applied once.
 */
import { defineSchema, defineTopics } from 'wasm-dispatch';

export const topics = defineTopics({
  promote: { schema: defineSchema({ event: 'u32', batch: 'u32', tick: 'u32' }), key: 'event' },
  leave: { schema: defineSchema({ event: 'u32', count: 'u32', tick: 'u32' }), key: 'event' },
});
export type Topics = typeof topics;

/** Stream partitions of each topic: at most this many nodes share the work. Every node says the same. */
export const PARTITIONS = 12;

/** What one event's queues are made of in Redis. */
export type QueuePart =
  | 'waiting'  // sorted set: user → arrival number (ZPOPMIN takes the longest-waiting first)
  | 'entry'    // sorted set: user → arrival number (admitted, inside the venue; capacity-bounded)
  | 'done'     // sorted set: user → arrival number (left the entry queue)
  | 'capacity' // string: the most users `entry` may hold
  | 'ticks'    // set: the ticks of the promote/leave messages already applied (deduplication)
  | 'stats';   // hash: promoted, left, duplicates, redelivered, full, maxEntry

/**
 * `q:<run>:{<event>}:<part>`. The braces are a Redis Cluster hash tag: all keys of one event hash
 * to one slot, so one script may touch them all (a script may only touch keys of one slot there).
 * `run` keeps separate runs (and a shared Redis) apart.
 */
export function queueKey(run: string, event: number, part: QueuePart): string {
  return `q:${run}:{${event}}:${part}`;
}
