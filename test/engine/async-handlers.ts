/**
 * Handler module of the async-handler suite (see async-topics.ts). Every io handler reads its
 * message, awaits a timer, and reads it again: a difference means its record was reused while the
 * promise was pending (the lane's commit passed an unsettled record).
 */
import { defineHandlers } from '../../src/engine/types.ts';
import { IO_CRASH, IO_FAIL, IO_ORDERED, IO_TRACK, LINGER_MS, MAX_BATCH, asyncTopics } from './async-topics.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let worker = -1;
let starts = 0;
let completed = 0;
let sum = 0;
let sumSquares = 0;
let redeliveredStarts = 0;
let corrupt = 0;
let inFlight = 0;
let maxInFlight = 0;
let orderErrors = 0;
let overlaps = 0;
let maxKeys = 0;
const lastSeq = new Map<number, number>();
const busyKeys = new Set<number>();
let done = 0;
let doneDistinct = 0;
let doneDuplicates = 0;
let doneRedelivered = 0;
let doneSum = 0;
let seen = new Uint8Array(1 << 16);
let batchCalls = 0;
let batchRecords = 0;
let batchSum = 0;
let batchSumSquares = 0;
let maxBatchSeen = 0;
let batchCorrupt = 0;

function countBatchMessage(seq: number): void {
  batchRecords++;
  batchSum += seq;
  batchSumSquares += seq * seq;
}

function reset(): void {
  starts = completed = sum = sumSquares = redeliveredStarts = corrupt = inFlight = maxInFlight = 0;
  orderErrors = overlaps = maxKeys = 0;
  lastSeq.clear();
  busyKeys.clear();
  done = doneDistinct = doneDuplicates = doneRedelivered = doneSum = 0;
  seen = new Uint8Array(1 << 16);
  batchCalls = batchRecords = batchSum = batchSumSquares = maxBatchSeen = batchCorrupt = 0;
}

export default defineHandlers(asyncTopics, {
  io: {
    topic: 'io',
    async handle(m, ctx) {
      worker = ctx.worker;
      const { producer, seq, key, value, delayMs, mode } = { producer: m.producer, seq: m.seq, key: m.key, value: m.value, delayMs: m.delayMs, mode: m.mode };
      const deliveries = ctx.deliveries;
      starts++;
      if (deliveries > 1) redeliveredStarts++;
      if ((mode & IO_CRASH) !== 0 && deliveries === 1) process.exit(74);
      const k = producer * 65_536 + key;
      if ((mode & IO_ORDERED) !== 0) {
        if (busyKeys.has(k)) overlaps++;
        busyKeys.add(k);
        maxKeys = Math.max(maxKeys, busyKeys.size);
        if (seq !== (lastSeq.get(k) ?? -1) + 1) orderErrors++;
        lastSeq.set(k, seq);
      }
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await sleep(delayMs);
      inFlight--;
      busyKeys.delete(k);
      if (m.producer !== producer || m.seq !== seq || m.key !== key || m.value !== value || m.delayMs !== delayMs) corrupt++;
      if ((mode & IO_FAIL) !== 0) throw new Error(`io ${seq} fails (as told)`);
      completed++;
      sum += seq;
      sumSquares += seq * seq;
      if ((mode & IO_TRACK) !== 0) ctx.publish('ioDone', { seq, deliveries });
    },
  },
  ioDone: {
    topic: 'ioDone',
    handle(d) {
      done++;
      doneSum += d.seq;
      if (d.deliveries > 1) doneRedelivered++;
      if (seen[d.seq] !== 0) doneDuplicates++;
      else {
        seen[d.seq] = 1;
        doneDistinct++;
      }
    },
  },
  ask: {
    topic: 'ask',
    async handle(q) {
      const x = q.x;
      await sleep(q.delayMs);
      if (q.fail) throw new Error(`ask ${x} fails (as told)`);
      return { y: x * 2 };
    },
  },
  emit: {
    topic: 'emit',
    handle(e, ctx) {
      const { producer, count, from } = { producer: e.producer, count: e.count, from: e.from };
      for (let i = 0; i < count; i++) ctx.publish('out', { producer, seq: from + i, value: (from + i) * 3 });
    },
  },
  batchSync: {
    topic: 'batched',
    maxBatch: MAX_BATCH,
    handleBatch(batch) {
      batchCalls++;
      maxBatchSeen = Math.max(maxBatchSeen, batch.length);
      for (const m of batch) countBatchMessage(m.seq);
    },
  },
  batchAsync: {
    topic: 'batched',
    maxBatch: MAX_BATCH,
    async handleBatch(batch) {
      batchCalls++;
      maxBatchSeen = Math.max(maxBatchSeen, batch.length);
      const seqs: number[] = [];
      for (let i = 0; i < batch.length; i++) seqs.push(batch.at(i).seq);
      await sleep(batch.at(0).value % 3);
      // The whole batch is still valid after the await.
      for (let i = 0; i < batch.length; i++) if (batch.at(i).seq !== seqs[i]) batchCorrupt++;
      for (const seq of seqs) countBatchMessage(seq);
    },
  },
  lingering: {
    topic: 'batched',
    maxBatch: MAX_BATCH,
    linger: LINGER_MS,
    handleBatch(batch) {
      batchCalls++;
      maxBatchSeen = Math.max(maxBatchSeen, batch.length);
      for (const m of batch) countBatchMessage(m.seq);
    },
  },
  twice: {
    topic: 'twice',
    handleBatch(batch) {
      batchCalls++;
      const replies: { y: number }[] = [];
      for (const q of batch) replies.push({ y: q.x * 2 });
      return replies;
    },
  },
  report: {
    topic: 'report',
    handle(q, ctx) {
      const reply = {
        worker: ctx.worker, starts, completed, sum, sumSquares, redeliveredStarts, corrupt, maxInFlight, orderErrors, overlaps, maxKeys,
        done, doneDistinct, doneDuplicates, doneRedelivered, doneSum,
        batchCalls, batchRecords, batchSum, batchSumSquares, maxBatchSeen, batchCorrupt,
      };
      if (q.reset) reset();
      return reply;
    },
  },
});
