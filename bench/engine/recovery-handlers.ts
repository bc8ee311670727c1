/**
 * Handler module of the recovery benchmark (bench/recovery.ts): `tick` does nothing, except exit
 * its worker's thread (process.exit) on a tick marked `crash` at its first delivery
 * (ctx.deliveries 1; the redelivery to the successor is handled normally); `probe` replies with
 * the thread's timeline in ms since the epoch: its environment created and its bootstrap complete
 * (performance.nodeTiming: a worker's timeOrigin is the process's), this module's evaluation,
 * setup, and the probe's handling.
 */
import { performance } from 'node:perf_hooks';
import { defineHandlers } from '../../src/engine/types.ts';
import { recoveryTopics } from './recovery-topics.ts';

const now = (): number => performance.timeOrigin + performance.now();
const moduleAt = now();
let setupAt = 0;

export default defineHandlers(recoveryTopics, {
  tick: {
    topic: 'tick',
    handle(m, ctx) {
      if (m.crash !== 0 && ctx.deliveries === 1) process.exit(1);
    },
  },
  probe: {
    topic: 'probe',
    handle(_q, ctx) {
      const timing = performance.nodeTiming;
      return { origin: performance.timeOrigin + timing.environment, bootstrapAt: performance.timeOrigin + timing.bootstrapComplete, moduleAt, setupAt, handledAt: now(), deliveries: ctx.deliveries };
    },
  },
}, {
  setup() { setupAt = now(); },
});
