/**
 * Topics of the recovery benchmark (bench/recovery.ts): steady `tick` traffic, one of which is
 * marked to crash its worker, and the `probe` request sent right after it, whose reply says when
 * the successor thread started, imported the handler module, ran setup and handled the probe.
 */
import { defineSchema } from '../../src/schema.ts';
import { defineTopics } from '../../src/engine/types.ts';

export const recoveryTopics = defineTopics({
  /** crash = 1: the handler exits its worker's thread (first delivery only). */
  tick: { schema: defineSchema({ seq: 'u32', crash: 'u32' }) },
  /** Times are ms since the epoch (performance.timeOrigin + performance.now() on the worker). */
  probe: {
    schema: defineSchema({ n: 'u32' }),
    reply: defineSchema({ origin: 'f64', bootstrapAt: 'f64', moduleAt: 'f64', setupAt: 'f64', handledAt: 'f64', deliveries: 'u32' }),
  },
});
export type RecoveryTopics = typeof recoveryTopics;
