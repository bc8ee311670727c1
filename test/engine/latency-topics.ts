/** Topics of the latency suite: CPU-bound work, a request that reports the wait its handler saw, and async work. */
import { defineSchema } from '../../src/schema.ts';
import { defineTopics } from '../../src/engine/types.ts';

const Work = defineSchema({ n: 'u32', busyUs: 'u32' });
/** sentAt: epoch ms on the sender's clock (performance.timeOrigin + performance.now()). */
const Ask = defineSchema({ n: 'u32', busyUs: 'u32', sentAt: 'f64' });
const Seen = defineSchema({ waitMs: 'f64' });
const Later = defineSchema({ n: 'u32', delayMs: 'u32' });

export const latencyTopics = defineTopics({
  work: { schema: Work },
  ask: { schema: Ask, reply: Seen },
  later: { schema: Later },
});
export type LatencyTopics = typeof latencyTopics;
