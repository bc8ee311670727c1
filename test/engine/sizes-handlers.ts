/**
 * Handlers of the record-size suite: `small` and `big` check their sequence (each from one
 * publisher, in order) and `big` every payload byte; `echo` replies with a full 2 KiB payload;
 * `report` returns the counts.
 */
import { defineHandlers } from '../../src/engine/types.ts';
import { BIG_BYTES, ECHO_BYTES, badBytes, fillPayload, sizesTopics } from './sizes-topics.ts';

const payload = new Uint8Array(BIG_BYTES);
const reply = new Uint8Array(ECHO_BYTES);
let worker = -1;
let small = 0;
let smallOrder = 0;
let smallSum = 0;
let big = 0;
let bigOrder = 0;
let bigBadBytes = 0;

export default defineHandlers(sizesTopics, {
  small: {
    topic: 'small',
    handle(m) {
      if (m.seq !== small) smallOrder++;
      smallSum += m.value;
      small++;
    },
  },
  big: {
    topic: 'big',
    handle(m) {
      const seq = m.seq;
      if (seq !== big) bigOrder++;
      m.copyPayloadTo(payload);
      bigBadBytes += badBytes(payload, seq);
      big++;
    },
  },
  echo: {
    topic: 'echo',
    handle(q) {
      fillPayload(reply, q.seq);
      return { seq: q.seq, payload: reply };
    },
  },
  report: {
    topic: 'report',
    handle(q) {
      const r = { worker, small, smallOrder, smallSum, big, bigOrder, bigBadBytes };
      if (q.reset) small = smallOrder = smallSum = big = bigOrder = bigBadBytes = 0;
      return r;
    },
  },
}, {
  setup(ctx) { worker = ctx.worker; },
});
