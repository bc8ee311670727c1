/**
 * The Lua scripts the bridge runs in Redis, and how it runs them. Each is atomic in Redis, which is
 * what makes a lease check and the action it guards one step: a node that lost its lease (paused
 * past it, partitioned away) cannot read or acknowledge entries of that partition afterwards,
 * whatever it believes (fencing). Keys: placement.ts.
 *
 * Scripts run by EVALSHA; a server that does not know one (restarted, SCRIPT FLUSH) answers
 * NOSCRIPT and the script is sent once with EVAL, which caches it again.
 */
import { createHash } from 'node:crypto';
import type { RedisCommands, SendOptions } from './redis.ts';

export interface Script {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

function script(name: string, source: string): Script {
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * APPEND  KEYS: stream, seq  ARGV: batch seq, seq ttl ms, message…
 * Adds each message as an entry `m`, unless this producer's batch `seq` was applied already (a
 * retry after a lost reply): appends are exactly-once per producer. Returns entries added, or 0.
 */
export const APPEND = script('append', `
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local seq = tonumber(ARGV[1])
if seq <= last then return 0 end
for i = 3, #ARGV do redis.call('XADD', KEYS[1], '*', 'm', ARGV[i]) end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return #ARGV - 2
`);

/**
 * READ  KEYS: lease, stream  ARGV: lease value, group, consumer, count
 * New entries for this consumer, if the lease is still ours: {{{id, {'m', bytes}}, …}, ''}; when
 * there are none, {{}, the stream's last generated id} — every entry after it is new, which is
 * where the reader's XREAD BLOCK waits from (reader.ts). false if the lease is not ours.
 */
export const READ = script('read', `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
local r = redis.call('XREADGROUP', 'GROUP', ARGV[2], ARGV[3], 'COUNT', ARGV[4], 'STREAMS', KEYS[2], '>')
if r then return {r[1][2], ''} end
local info = redis.call('XINFO', 'STREAM', KEYS[2])
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then return {{}, info[i + 1]} end
end
return {{}, ''}
`);

/**
 * CLAIM  KEYS: lease, stream  ARGV: lease value, group, consumer, start, count
 * Takes over entries pending for any consumer of the group (a previous owner's, read and not
 * acknowledged), if the lease is ours: {next start, {{id, {'m', bytes}}, …}, {deliveries…}} with
 * each claimed entry's delivery count (this claim included); false if the lease is not ours.
 */
export const CLAIM = script('claim', `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
local r = redis.call('XAUTOCLAIM', KEYS[2], ARGV[2], ARGV[3], 0, ARGV[4], 'COUNT', ARGV[5])
local entries = r[2]
local counts = {}
if #entries > 0 then
  local byId = {}
  for _, p in ipairs(redis.call('XPENDING', KEYS[2], ARGV[2], entries[1][1], entries[#entries][1], #entries, ARGV[3])) do
    byId[p[1]] = p[4]
  end
  for i, e in ipairs(entries) do counts[i] = byId[e[1]] or 2 end
end
return {r[1], entries, counts}
`);

/**
 * ACK  KEYS: lease, stream  ARGV: lease value, group, id…
 * Acknowledges and deletes the entries (a partition holds only what is not yet handled), if the
 * lease is ours: entries acknowledged; -1 if the lease is not ours.
 */
export const ACK = script('ack', `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local n = redis.call('XACK', KEYS[2], ARGV[2], unpack(ARGV, 3))
redis.call('XDEL', KEYS[2], unpack(ARGV, 3))
return n
`);

/**
 * ACQUIRE  KEYS: lease, fence  ARGV: node, lease ms
 * Takes a free lease with a new fencing token: the token; if someone holds it, minus the ms it
 * has left (at least 1), so the caller can try again as it runs out.
 */
export const ACQUIRE = script('acquire', `
if redis.call('EXISTS', KEYS[1]) == 1 then
  local left = redis.call('PTTL', KEYS[1])
  if left < 1 then left = 1 end
  return -left
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '/' .. token, 'PX', ARGV[2])
return token
`);

/** RENEW  KEYS: lease  ARGV: lease value, lease ms — 1 if still ours (extended), 0 if lost. */
export const RENEW = script('renew', `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`);

/** RELEASE  KEYS: lease  ARGV: lease value — deletes it if ours: 1, else 0. */
export const RELEASE = script('release', `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`);

/**
 * HEARTBEAT  KEYS: members  ARGV: node, ttl ms (0: leave)
 * Marks the node alive until Redis time + ttl, forgets expired members, returns {live members,
 * ms until the soonest other member expires (-1: none)}: a node that stops beating is gone then,
 * and its partitions free up with its leases at about the same time. Redis's clock, not the
 * nodes': members with skewed clocks still agree on who is alive.
 */
export const HEARTBEAT = script('heartbeat', `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[2] ~= '0' then redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1]) else redis.call('ZREM', KEYS[1], ARGV[1]) end
local list = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local members = {}
local soonest = -1
for i = 1, #list, 2 do
  members[#members + 1] = list[i]
  if list[i] ~= ARGV[1] then
    local left = tonumber(list[i + 1]) - now
    if soonest < 0 or left < soonest then soonest = left end
  end
end
return {members, soonest}
`);

/** Runs `s` with EVALSHA, falling back to EVAL once when the server does not know it (NOSCRIPT). */
export async function runScript(redis: RedisCommands, s: Script, keys: readonly string[], args: readonly (string | number | Uint8Array)[], options?: SendOptions): Promise<unknown> {
  const rest = [String(keys.length), ...keys, ...args.map((a) => (typeof a === 'number' ? String(a) : a))];
  try {
    return await redis.sendCommand(['EVALSHA', s.sha, ...rest], options);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return redis.sendCommand(['EVAL', s.source, ...rest], options);
  }
}
