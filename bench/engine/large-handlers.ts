/**
 * Handler module of the large-messages suite: a sink per payload size that copies the payload out
 * of its lane (copyPayloadTo into a buffer reused for every message: the record's memory is reused
 * once the handler returns, so a handler that keeps or works on the bytes copies them first), then
 * checks seq order and folds seq and three stamped words of the copy into the checksum
 * (bench/workers/large-common.ts); `report` returns and resets that state. Per-thread state, no
 * allocation per message.
 */
import { defineHandlers } from '../../src/engine/types.ts';
import { CHECKSUM_SEED } from './checksum.ts';
import { PAYLOAD_4K, PAYLOAD_60K, largeTopics } from './large-topics.ts';
import { foldPayload } from '../workers/large-common.ts';

const copy4k = new Uint8Array(PAYLOAD_4K);
const copy60k = new Uint8Array(PAYLOAD_60K);
let worker = -2;
let count = 0;
let checksum = CHECKSUM_SEED;
let orderErrors = 0;

function take(seq: number, payload: Uint8Array): void {
  if (seq !== count) orderErrors++;
  checksum = foldPayload(checksum, seq, payload);
  count++;
}

export default defineHandlers(largeTopics, {
  sink4k: {
    topic: 'bytes4k',
    handle(m) {
      m.copyPayloadTo(copy4k);
      take(m.seq, copy4k);
    },
  },
  sink60k: {
    topic: 'bytes60k',
    handle(m) {
      m.copyPayloadTo(copy60k);
      take(m.seq, copy60k);
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
      }
      return reply;
    },
  },
}, {
  setup(ctx) { worker = ctx.worker; },
});
