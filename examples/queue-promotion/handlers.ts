/**
 * Queue-promotion example: the handler module. Every worker thread of every node imports it; the
 * cluster hands a node's workers the `promote` and `leave` messages of the events whose partitions
 * the node holds (keyed subscriptions: one worker per event on that node).
 *
 * Each handler is one Lua script run in Redis (EVALSHA, EVAL the first time): a script runs
 * atomically — no other command runs in between — so "is there room? pop that many from waiting,
 * push them into entry" cannot interleave with another promote or leave of the same event, from
 * this node or any other, nor with a node that takes over the event after a failover.
 *
 * Delivery is at least once: a node may run the script and die before the cluster acknowledges the
 * message; the node that takes the partition over then hands the message to its workers again
 * (ctx.deliveries > 1). Running the script twice would promote twice. So every message carries a
 * unique `tick`, and the script's first step is SADD of that tick to the event's `ticks` set, in
 * the same atomic script as the promotion: if the tick was there already, the message was applied
 * (all of it: a script's writes are applied, persisted and replicated as one unit) and the script
 * stops. Either the promotion and its tick are both in Redis, or neither is. The set expires an
 * hour after its last write: a message can only come back while it is pending in its stream,
 * seconds after a failover, so an hour is plenty (an unbounded set would only grow).
 */
import { createHash } from 'node:crypto';
import { createClient } from '@redis/client';
import { defineHandlers } from 'wasm-dispatch';
import { queueKey, topics } from './topics.ts';

/** Seconds the applied-ticks set lives after its last write. */
const TICKS_TTL = 3600;

/**
 * KEYS: waiting, entry, capacity, ticks, stats. ARGV: batch, tick, deliveries, ticks TTL.
 * Returns the users moved, or -1 for a tick applied before (a redelivered duplicate).
 */
const PROMOTE = `
if ARGV[3] ~= '1' then redis.call('HINCRBY', KEYS[5], 'redelivered', 1) end
if redis.call('SADD', KEYS[4], ARGV[2]) == 0 then
  redis.call('HINCRBY', KEYS[5], 'duplicates', 1)
  return -1
end
redis.call('EXPIRE', KEYS[4], ARGV[4])
local capacity = tonumber(redis.call('GET', KEYS[3]) or '0')
local n = math.min(tonumber(ARGV[1]), capacity - redis.call('ZCARD', KEYS[2]))
if n <= 0 then
  redis.call('HINCRBY', KEYS[5], 'full', 1)
  return 0
end
local popped = redis.call('ZPOPMIN', KEYS[1], n)
for i = 1, #popped, 2 do redis.call('ZADD', KEYS[2], popped[i + 1], popped[i]) end
local moved = #popped / 2
redis.call('HINCRBY', KEYS[5], 'promoted', moved)
local size = redis.call('ZCARD', KEYS[2])
if size > tonumber(redis.call('HGET', KEYS[5], 'maxEntry') or '0') then redis.call('HSET', KEYS[5], 'maxEntry', size) end
return moved
`;

/**
 * KEYS: entry, done, ticks, stats. ARGV: count, tick, deliveries, ticks TTL.
 * Moves the `count` earliest-admitted users from entry to done; returns how many, or -1 (duplicate).
 */
const LEAVE = `
if ARGV[3] ~= '1' then redis.call('HINCRBY', KEYS[4], 'redelivered', 1) end
if redis.call('SADD', KEYS[3], ARGV[2]) == 0 then
  redis.call('HINCRBY', KEYS[4], 'duplicates', 1)
  return -1
end
redis.call('EXPIRE', KEYS[3], ARGV[4])
local popped = redis.call('ZPOPMIN', KEYS[1], tonumber(ARGV[1]))
for i = 1, #popped, 2 do redis.call('ZADD', KEYS[2], popped[i + 1], popped[i]) end
local moved = #popped / 2
redis.call('HINCRBY', KEYS[4], 'left', moved)
return moved
`;

const sha1 = (script: string): string => createHash('sha1').update(script).digest('hex');
const PROMOTE_SHA = sha1(PROMOTE);
const LEAVE_SHA = sha1(LEAVE);

const newClient = (url: string) => createClient({ url });
type Client = ReturnType<typeof newClient>;

/** Set by node.ts in its environment (worker threads inherit it): where Redis is, and the run's key prefix. */
const url = process.env.QP_REDIS_URL;
const run = process.env.QP_RUN ?? 'default';
let connection: Promise<Client> | undefined;

/** This thread's client: opened in setup() on workers, on first use elsewhere (a caller-runs delivery). */
function redis(): Promise<Client> {
  connection ??= (async () => {
    if (url === undefined) throw new Error('QP_REDIS_URL is not set: handlers run in a queue-promotion node (node.ts)');
    const client = newClient(url);
    client.on('error', (error: Error) => console.error(`queue-promotion worker: redis: ${error.message}`));
    await client.connect();
    return client;
  })();
  return connection!;
}

/** EVALSHA, and EVAL when Redis does not have the script yet (it keeps it for the next EVALSHA). */
async function evalScript(script: string, sha: string, keys: string[], args: string[]): Promise<number> {
  const client = await redis();
  try {
    return Number(await client.evalSha(sha, { keys, arguments: args }));
  } catch (error) {
    if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
    return Number(await client.eval(script, { keys, arguments: args }));
  }
}

export default defineHandlers(topics, {
  promote: {
    topic: 'promote',
    async handle(m, ctx) {
      // The message is a view valid during the call, the context is shared: read both before awaiting.
      const event = m.event;
      const args = [String(m.batch), String(m.tick), String(ctx.deliveries), String(TICKS_TTL)];
      const keys = (['waiting', 'entry', 'capacity', 'ticks', 'stats'] as const).map((part) => queueKey(run, event, part));
      await evalScript(PROMOTE, PROMOTE_SHA, keys, args);
    },
  },
  leave: {
    topic: 'leave',
    async handle(m, ctx) {
      const event = m.event;
      const args = [String(m.count), String(m.tick), String(ctx.deliveries), String(TICKS_TTL)];
      const keys = (['entry', 'done', 'ticks', 'stats'] as const).map((part) => queueKey(run, event, part));
      await evalScript(LEAVE, LEAVE_SHA, keys, args);
    },
  },
}, {
  // Each worker thread opens its own connection up front (setup is synchronous: start it here, the
  // handlers await it). A node's own thread (worker -1) connects only if it ever runs a handler.
  setup(ctx) {
    if (ctx.worker >= 0 && url !== undefined) redis().catch((error: Error) => console.error(`queue-promotion worker ${ctx.worker}: ${error.message}`));
  },
});
