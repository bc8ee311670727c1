/**
 * A batcher in a plain worker_thread (test/batcher.test.ts): `loads` loads of distinct keys in one
 * turn against an asynchronous fn, then the figures, posted to the parent. Shows createBatcher
 * needs nothing of the main thread (its timers, setImmediate and performance.now() are the
 * worker's own).
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createBatcher } from '../../src/batcher.ts';

export interface BatcherWorkerData {
  loads: number;
  maxBatch: number;
}

export interface BatcherWorkerReport {
  /** Every load got its own key's value, and this ran off the main thread. */
  ok: boolean;
  calls: number;
  keys: number;
  batchSizeSum: number;
}

const { loads, maxBatch } = workerData as BatcherWorkerData;
const batcher = createBatcher<number, number>(async (keys) => {
  await new Promise((resolve) => setTimeout(resolve, 1));
  return keys.map((k) => k * 3);
}, { maxBatch });
const values = await Promise.all(Array.from({ length: loads }, (_, k) => batcher.load(k)));
await batcher.close();
const stats = batcher.stats();
const report: BatcherWorkerReport = {
  ok: !isMainThread && values.every((v, k) => v === k * 3),
  calls: stats.calls,
  keys: stats.keys,
  batchSizeSum: stats.batchSize.sum,
};
parentPort!.postMessage(report);
