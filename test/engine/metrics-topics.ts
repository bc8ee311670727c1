/** Topics of the metrics suites: a plain dotted name, and one whose name needs escaping in label values. */
import { defineSchema } from '../../src/schema.ts';
import { defineTopics } from '../../src/engine/types.ts';

const Order = defineSchema({ n: 'u32', fail: 'bool', busyMs: 'u32' });

/** A topic name with every character the Prometheus format escapes in a label value: `"`, `\` and a newline. */
export const ODD_TOPIC = 'odd "quoted" \\back\\slash\nand a newline';

export const metricsTopics = defineTopics({
  'orders.created': { schema: Order },
  [ODD_TOPIC]: { schema: Order },
  /** Nobody subscribes: publishes count as unrouted. */
  'audit.log': { schema: Order },
});
export type MetricsTopics = typeof metricsTopics;
