/**
 * Handler module of the scaling benchmark: `work` runs spinHash(seq, rounds) (CPU-bound,
 * deterministic) and adds the result to this worker's sum; `report` returns and resets it.
 */
import { defineHandlers } from '../../src/engine/types.ts';
import { spinHash } from './checksum.ts';
import { scalingTopics } from './scaling-topics.ts';

let worker = -2;
let count = 0;
let sum = 0;

export default defineHandlers(scalingTopics, {
  work: {
    topic: 'work',
    handle(m) {
      sum += spinHash(m.seq, m.rounds);
      count++;
    },
  },
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
