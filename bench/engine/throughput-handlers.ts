/**
 * Handler module of the throughput benchmark: a sink that counts items, checks that seq rises by
 * exactly 1 (one producer, one lane: FIFO), and folds each value into an FNV-1a checksum; the
 * `report` request returns and resets that state. Per-thread state, no allocation per message.
 */
import { defineHandlers } from '../../src/engine/types.ts';
import { CHECKSUM_SEED, checksumStep } from './checksum.ts';
import { throughputTopics } from './throughput-topics.ts';

let worker = -2;
let count = 0;
let checksum = CHECKSUM_SEED;
let orderErrors = 0;
let nextSeq = 0;

export default defineHandlers(throughputTopics, {
  sink: {
    topic: 'item',
    handle(m) {
      const seq = m.seq;
      if (seq !== nextSeq) orderErrors++;
      nextSeq = seq + 1;
      checksum = checksumStep(checksum, m.value);
      count++;
    },
  },
  report: {
    topic: 'report',
    handle(q) {
      const reply = { count, checksum, orderErrors, worker };
      if (q.reset) {
        count = 0;
        checksum = CHECKSUM_SEED;
        orderErrors = 0;
        nextSeq = 0;
      }
      return reply;
    },
  },
}, {
  setup(ctx) { worker = ctx.worker; },
});
