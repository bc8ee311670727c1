/**
 * Topics of the cluster suites: `order`, keyed by `key`, carries its publisher's number, that
 * publisher's sequence and the wall-clock time it was published; `tick` has no key (its
 * messages take partitions in turn).
 */
import { defineSchema } from '../../src/schema.ts';
import { defineTopics } from '../../src/engine/types.ts';

export const clusterTopics = defineTopics({
  order: { schema: defineSchema({ producer: 'u32', seq: 'u32', key: 'u32', sent: 'f64' }), key: 'key' },
  tick: { schema: defineSchema({ n: 'u32' }) },
});
export type ClusterTopics = typeof clusterTopics;
