/**
 * Topics of the cluster bench (bench/cluster.ts, bench/cluster-node.ts): `order`, keyed by `key`,
 * 16 bytes, carrying the publisher's sequence and the wall-clock time it was published
 * (performance.timeOrigin + performance.now(), ms); `report`, a request to the handling worker for
 * its count and end-to-end latencies (and, for the failover case, when every key was handled again
 * after a given time).
 */
import { defineSchema } from '../../src/schema.ts';
import { defineTopics } from '../../src/engine/types.ts';

export const clusterBenchTopics = defineTopics({
  order: { schema: defineSchema({ seq: 'u32', key: 'u32', sent: 'f64' }), key: 'key' },
  report: {
    /** reset: zero the count and histogram after replying; since > 0: from now on note, per key, the first message sent at or after `since` (wall-clock ms). */
    schema: defineSchema({ reset: 'bool', since: 'f64' }),
    /** Latencies in ms; recoveredKeys: keys handled with a message sent at or after the last `since`; recoveredAt: wall-clock ms of the last of those firsts. */
    reply: defineSchema({ count: 'u32', p50: 'f64', p99: 'f64', max: 'f64', recoveredKeys: 'u32', recoveredAt: 'f64' }),
  },
});
export type ClusterBenchTopics = typeof clusterBenchTopics;
