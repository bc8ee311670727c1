/** Topics of the metrics benchmark (bench/metrics.ts): 64 generated names, `bench.t00` … `bench.t63`. */
import { defineSchema } from '../../src/schema.ts';
import { defineTopics, type TopicMap } from '../../src/engine/types.ts';

/** Topics in the benchmark's engine. */
export const METRICS_TOPICS = 64;

const Tick = defineSchema({ seq: 'u32' });
export const metricsBenchTopics: TopicMap = defineTopics(Object.fromEntries(
  Array.from({ length: METRICS_TOPICS }, (_, t) => [`bench.t${String(t).padStart(2, '0')}`, { schema: Tick }]),
));
