/**
 * Handler module of the pipeline benchmark: three steps of spinHash (CPU-bound, deterministic),
 * either one per stage (s1 → s2 → s3, each publishing the next with its staging writer) or all
 * three in one handler (all); the last step adds the hash to this worker's sum.
 */
import { defineHandlers } from '../../src/engine/types.ts';
import { spinHash } from './checksum.ts';
import { pipelineBenchTopics } from './pipeline-topics.ts';

let worker = -2;
let count = 0;
let sum = 0;

export default defineHandlers(pipelineBenchTopics, {
  s1: {
    topic: 's1',
    handle(m, ctx) {
      const out = ctx.writer('s2');
      out.seq = m.seq; out.rounds = m.rounds; out.h = spinHash(m.seq, m.rounds);
      ctx.send('s2');
    },
  },
  s2: {
    topic: 's2',
    handle(m, ctx) {
      const out = ctx.writer('s3');
      out.seq = m.seq; out.rounds = m.rounds; out.h = spinHash(m.h, m.rounds);
      ctx.send('s3');
    },
  },
  s3: {
    topic: 's3',
    handle(m) {
      sum += spinHash(m.h, m.rounds);
      count++;
    },
  },
  all: {
    topic: 'all',
    handle(m) {
      const r = m.rounds;
      sum += spinHash(spinHash(spinHash(m.seq, r), r), r);
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
