/**
 * Topics of the scheduling benchmark (bench/scheduling.ts): `job` messages that cost their handler
 * `micros` µs of busy work and carry their publish time, in three priority classes; `report`
 * returns what the worker measured (queue wait per class: publish → handler start) and resets it.
 */
import { defineSchema } from '../../src/schema.ts';
import { defineTopics } from '../../src/engine/types.ts';

export const schedTopics = defineTopics({
  /** stamp: ms since the epoch at publish; cls: 0 high, 1 normal, 2 low (the class it was published in). */
  job: { schema: defineSchema({ stamp: 'f64', micros: 'u32', cls: 'u32' }), shed: true },
  /** The same work without shedding: the skewed group workload (makespan of stealing vs balancing). */
  task: { schema: defineSchema({ stamp: 'f64', micros: 'u32', cls: 'u32' }) },
  report: {
    schema: defineSchema({ reset: 'bool' }),
    reply: defineSchema({
      high: 'u32', normal: 'u32', low: 'u32',
      highP50: 'f64', highP99: 'f64', normalP50: 'f64', normalP99: 'f64', lowP50: 'f64', lowP99: 'f64',
    }),
  },
});
export type SchedTopics = typeof schedTopics;
