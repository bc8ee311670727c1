/** Topics of the request/response benchmark (bench/request-response.ts). */
import { defineSchema } from '../../src/schema.ts';
import { defineTopics } from '../../src/engine/types.ts';

export const rrTopics = defineTopics({
  /** The trivial task: sum = (a + b) mod 2^32, answered by whichever worker the group picks. */
  add: {
    schema: defineSchema({ a: 'u32', b: 'u32' }),
    reply: defineSchema({ sum: 'u32', worker: 'u32' }),
  },
});
export type RRTopics = typeof rrTopics;
