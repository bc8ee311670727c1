/**
 * Handler module of the one-to-one suite's engine sides: a sink that checks seq order, folds value
 * into the FNV-1a checksum and sums stamp (the same work as the peers' consumers); `report` returns
 * and resets that state. Doubles live in a typed array (a module-level `let` double would be a
 * boxed HeapNumber, re-allocated by every store).
 */
import { defineHandlers } from '../../src/engine/types.ts';
import { CHECKSUM_SEED, checksumStep } from './checksum.ts';
import { o2oTopics } from './o2o-topics.ts';

let count = 0;
let checksum = CHECKSUM_SEED;
let orderErrors = 0;
const sum = new Float64Array(1);

export default defineHandlers(o2oTopics, {
  sink: {
    topic: 'msg',
    handle(m) {
      if (m.seq !== count) orderErrors++;
      checksum = checksumStep(checksum, m.value);
      sum[0]! += m.stamp;
      count++;
    },
  },
  report: {
    topic: 'report',
    handle(q) {
      const reply = { count, checksum, orderErrors, stampSum: sum[0]! };
      if (q.reset) {
        count = 0;
        checksum = CHECKSUM_SEED;
        orderErrors = 0;
        sum[0] = 0;
      }
      return reply;
    },
  },
});
