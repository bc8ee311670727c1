/** Topics of the scaling benchmark (bench/engine-scaling.ts). */
import { defineSchema } from '../../src/schema.ts';
import { defineTopics } from '../../src/engine/types.ts';

export const scalingTopics = defineTopics({
  /** One unit of CPU-bound work: spinHash(seq, rounds). */
  work: { schema: defineSchema({ seq: 'u32', rounds: 'u32' }) },
  /** Each worker's count and sum of results since the last reset (a broadcast: requestAll). */
  report: {
    schema: defineSchema({ reset: 'bool' }),
    reply: defineSchema({ worker: 'i32', count: 'u32', sum: 'f64' }),
  },
});
export type ScalingTopics = typeof scalingTopics;
