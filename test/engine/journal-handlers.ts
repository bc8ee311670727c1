/**
 * Handlers of the journal suites. `order` (keyed) folds every order into this worker's checksum,
 * in arrival order (an order-sensitive hash: replaying the same inputs in the same order gives the
 * same checksum, any reordering or loss another), and publishes a `fill` carrying this worker's
 * own sequence; `fill` counts; `audit` replies with the state. `logged` (for durable
 * subscriptions) appends each batch's order ids, one line per id, to a file of its own thread in
 * loggedDir(), synchronously: what a killed process handled survives it.
 */

/** Where `logged` writes: WD_JOURNAL_LOG (a child process's, set by its parent), else a directory of this process. */
export function loggedDir(): string {
  return process.env.WD_JOURNAL_LOG ?? join(tmpdir(), `wd-journal-log-${process.pid}`);
}
import { appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
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
  logged: {
    topic: 'order',
    handleBatch(batch, ctx) {
      let lines = '';
      for (const m of batch) lines += `${m.id} ${m.customer} ${ctx.deliveries}\n`;
      appendFileSync(join(loggedDir(), `${process.pid}-${threadId}.log`), lines);
    },
  },
});
