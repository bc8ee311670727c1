/**
 * Handler module of the async-handler overhead part of bench/async.ts: three sinks that do the
 * same work (check seq order when the delivery starts, add x to a sum, count) as a synchronous
 * handler, an async one that resolves at once, and an async one that awaits once before it reads
 * the message (which stays valid until its promise settles). `report` returns and resets the tally.
 * The sum lives in a typed array (a module-level `let` double would be a boxed HeapNumber).
 */
import { defineHandlers } from '../../src/engine/types.ts';
import { asyncTopics } from './async-topics.ts';

let started = 0;
let count = 0;
let orderErrors = 0;
const sum = new Float64Array(1);

export default defineHandlers(asyncTopics, {
  sync: {
    topic: 'msg.sync',
    handle(m) {
      if (m.seq !== started) orderErrors++;
      started++;
      sum[0]! += m.x;
      count++;
    },
  },
  async: {
    topic: 'msg.async',
    async handle(m) {
      if (m.seq !== started) orderErrors++;
      started++;
      sum[0]! += m.x;
      count++;
    },
  },
  await: {
    topic: 'msg.await',
    async handle(m) {
      if (m.seq !== started) orderErrors++;
      started++;
      await null;
      sum[0]! += m.x;
      count++;
    },
  },
  report: {
    topic: 'report',
    handle(q) {
      const reply = { count, orderErrors, sum: sum[0]! };
      if (q.reset) {
        started = 0;
        count = 0;
        orderErrors = 0;
        sum[0] = 0;
      }
      return reply;
    },
  },
});
