/**
 * Handlers of the journal suites. `order` (keyed) folds every order into this worker's checksum,
 * in arrival order (an order-sensitive hash: replaying the same inputs in the same order gives the
 * same checksum, any reordering or loss another), and publishes a `fill` carrying this worker's
 * own sequence; `fill` counts; `audit` replies with the state.
 */
import { defineHandlers } from '../../src/engine/types.ts';
import { journalTopics } from './journal-topics.ts';

let orders = 0;
let checksum = 0x811c9dc5;
let fillSeq = 0;
let fills = 0;

function mix(h: number, v: number): number {
  return Math.imul(h ^ v, 0x01000193) >>> 0;
}

export default defineHandlers(journalTopics, {
  order: {
    topic: 'order',
    handle(m, ctx) {
      orders++;
      checksum = mix(mix(mix(checksum, m.id), m.customer), Math.round(m.amount * 100));
      ctx.publish('fill', { order: m.id, worker: ctx.worker, seq: fillSeq }); // false: kept in order in a backlog
      fillSeq++;
    },
  },
  fill: { topic: 'fill', handle: () => { fills++; } },
  audit: { topic: 'audit', handle: (_m, ctx) => ({ worker: ctx.worker, orders, checksum, fills }) },
});
