/**
 * Topics of the cluster suites: `order`, keyed by `key`, carries its publisher's number, that
 * publisher's sequence and the wall-clock time it was published; `tick` has no key (its
 * messages take partitions in turn); `limited` is `order` under admission control.
 */
import { defineSchema } from '../../src/schema.ts';
import { defineTopics } from '../../src/engine/types.ts';

export const clusterTopics = defineTopics({
  order: { schema: defineSchema({ producer: 'u32', seq: 'u32', key: 'u32', sent: 'f64' }), key: 'key' },
  tick: { schema: defineSchema({ n: 'u32' }) },
  /** As `order`, under admission control: at most 4 deliveries in flight, the rest refused. */
  limited: { schema: defineSchema({ producer: 'u32', seq: 'u32', key: 'u32', sent: 'f64' }), key: 'key', admission: { maxInFlight: 4 } },
});
export type ClusterTopics = typeof clusterTopics;
