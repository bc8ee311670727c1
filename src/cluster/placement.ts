/**
 * Where things live in Redis, and which node should own which partition.
 *
 * Keys of a cluster named `name` (every key starts with `name:`):
 *
 * | key                          | type   | what                                                          |
 * |------------------------------|--------|---------------------------------------------------------------|
 * | name:s:{topic}:{p}           | stream | partition p of a cluster topic; entries `m` = message bytes; consumer group `wd` |
 * | name:lease:{topic}:{p}       | string | `{node}/{token}` of the partition's owner, PX leaseMs          |
 * | name:fence:{topic}:{p}       | int    | fencing token: INCR at every acquisition                      |
 * | name:seq:{producer}:{topic}:{p} | int | last append batch applied from that producer (idempotent retries) |
 * | name:members:{topic}         | zset   | live nodes that consume the topic, score = expiry (Redis time, ms) |
 * | name:topics                  | hash   | each cluster topic's declaration (partitions, schema, key): every node must agree |
 *
 * Ownership is rendezvous (highest-random-weight) hashing over the topic's live members (nodes
with a local subscription of it): partition p of
 * a topic belongs to the member with the highest weight(member, topic, p). Every node computes it
 * from the same member list, so they agree without talking; a member that joins or leaves moves
 * only the partitions it wins or held (about 1/n of them). The lease, not this computation, is
 * what grants a partition: a node reads and acknowledges only under a lease it holds.
 */

export const GROUP = 'wd';

export function streamKey(name: string, topic: string, partition: number): string {
  return `${name}:s:${topic}:${partition}`;
}

export function leaseKey(name: string, topic: string, partition: number): string {
  return `${name}:lease:${topic}:${partition}`;
}

export function fenceKey(name: string, topic: string, partition: number): string {
  return `${name}:fence:${topic}:${partition}`;
}

export function seqKey(name: string, producer: string, topic: string, partition: number): string {
  return `${name}:seq:${producer}:${topic}:${partition}`;
}

export function membersKey(name: string, topic: string): string {
  return `${name}:members:${topic}`;
}

/** The partition of a message whose key hashes to `hash` (keyed routing's MurmurHash3; 0 for unkeyed topics, which spread by sequence instead). */
export function partitionOf(hash: number, partitions: number): number {
  return (hash >>> 0) % partitions;
}

/** FNV-1a over a string's UTF-16 code units, finished with MurmurHash3's fmix32 (spreads similar names). */
export function weight(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The member that should own partition `partition` of `topic` (rendezvous hashing); undefined if there are no members. */
export function ownerOf(members: readonly string[], topic: string, partition: number): string | undefined {
  let best: string | undefined;
  let bestWeight = -1;
  for (const member of members) {
    const w = weight(`${member}\u0000${topic}\u0000${partition}`);
    // Ties (vanishingly rare) go to the smaller name, so every node picks the same one.
    if (w > bestWeight || (w === bestWeight && best !== undefined && member < best)) {
      best = member;
      bestWeight = w;
    }
  }
  return best;
}
