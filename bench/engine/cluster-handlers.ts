/**
 * Handler module of the cluster bench: `order` counts each message and records its end-to-end
 * latency (wall clock now − sent, in µs, into a Histogram); `report` returns and optionally resets
 * that, and arms the failover probe (per key, the wall-clock time of the first message sent at or
 * after `since` that this worker handled). Doubles live in typed arrays (see o2o-handlers.ts).
 */
import { defineHandlers } from '../../src/engine/types.ts';
import { Histogram } from '../../src/histogram.ts';
import { clusterBenchTopics } from './cluster-topics.ts';

/** Keys the failover probe follows (0 .. MAX_KEYS - 1); others are counted and timed only. */
const MAX_KEYS = 65536;

let count = 0;
let latency = new Histogram();
const since = new Float64Array(1);
const firstAfter = new Float64Array(MAX_KEYS);
let recoveredKeys = 0;
const recoveredAt = new Float64Array(1);

const wallClock = (): number => performance.timeOrigin + performance.now();

export default defineHandlers(clusterBenchTopics, {
  order: {
    topic: 'order',
    handle(m) {
      const now = wallClock();
      count++;
      latency.record((now - m.sent) * 1000);
      if (since[0]! > 0 && m.sent >= since[0]! && m.key < MAX_KEYS && firstAfter[m.key] === 0) {
        firstAfter[m.key] = now;
        recoveredKeys++;
        if (now > recoveredAt[0]!) recoveredAt[0] = now;
      }
    },
  },
  report: {
    topic: 'report',
    handle(q) {
      const reply = {
        count,
        p50: latency.count === 0 ? NaN : latency.percentile(50) / 1000,
        p99: latency.count === 0 ? NaN : latency.percentile(99) / 1000,
        max: latency.count === 0 ? NaN : latency.max / 1000,
        recoveredKeys,
        recoveredAt: recoveredAt[0]!,
      };
      if (q.reset) {
        count = 0;
        latency = new Histogram();
      }
      if (q.since > 0) {
        since[0] = q.since;
        firstAfter.fill(0);
        recoveredKeys = 0;
        recoveredAt[0] = 0;
      }
      return reply;
    },
  },
});
