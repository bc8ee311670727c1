/**
 * Handlers of the metrics suites: one per topic; `fail` throws (a handler error), `busyMs` keeps
 * the worker busy that long (wall time, so utilisation has something to measure).
 */
import { defineHandlers } from '../../src/engine/types.ts';
import { metricsTopics, ODD_TOPIC } from './metrics-topics.ts';

function handle(m: { n: number; fail: boolean; busyMs: number }): void {
  if (m.busyMs > 0) {
    const end = performance.now() + m.busyMs;
    while (performance.now() < end) { /* a CPU-bound handler */ }
  }
  if (m.fail) throw new Error(`order ${m.n} failed`);
}

export default defineHandlers(metricsTopics, {
  orders: { topic: 'orders.created', handle },
  odd: { topic: ODD_TOPIC, handle },
});
