/** Topics of the pipeline benchmark (bench/pipeline.ts). */
import { defineSchema } from '../../src/schema.ts';
import { defineTopics } from '../../src/engine/types.ts';

/** A message between stages: its number, the hash so far, and the rounds of each step. */
const Step = defineSchema({ seq: 'u32', h: 'u32', rounds: 'u32' });

export const pipelineBenchTopics = defineTopics({
  /** Stage 1: h = spinHash(seq, rounds), on to s2. */
  s1: { schema: Step },
  /** Stage 2: h = spinHash(h, rounds), on to s3. */
  s2: { schema: Step },
  /** Stage 3: h = spinHash(h, rounds), added to the worker's sum. */
  s3: { schema: Step },
  /** All three steps in one handler: the same h, added to the worker's sum. */
  all: { schema: Step },
  /** Each worker's count and sum of final hashes since the last reset (a broadcast: requestAll). */
  report: {
    schema: defineSchema({ reset: 'bool' }),
    reply: defineSchema({ worker: 'i32', count: 'u32', sum: 'f64' }),
  },
});
export type PipelineBenchTopics = typeof pipelineBenchTopics;
