/**
 * Handler module of the live demo page: every engine worker imports it (by URL) and keeps its own
 * tick count and value sum; `report` returns them so the page can check, after draining, that the
 * workers together handled exactly what it sent.
 */
import { defineHandlers } from '../../src/engine/types.ts';
import { topics } from './topics.ts';

/** This thread's worker number (set once by setup; -1 on the page's own thread). */
let worker = -2;
let count = 0;
let sum = 0;

export default defineHandlers(topics, {
  /** The throughput sink: as little work as a real handler could do, so the dispatch path dominates. */
  tick: {
    topic: 'tick',
    handle(t) {
      count++;
      sum += t.value;
    },
  },
  ping: { topic: 'ping', handle(p) { return { stamp: p.stamp, worker }; } },
  report: {
    topic: 'report',
    handle(q) {
      const reply = { worker, count, sum };
      if (q.reset) {
        count = 0;
        sum = 0;
      }
      return reply;
    },
  },
}, {
  setup(ctx) { worker = ctx.worker; },
});
