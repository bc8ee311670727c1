/**
 * Parks on one side of a ring (bindings/park.ts) and reports how the park ended, for the wake-up
 * litmus tests in test/ring-threads.test.ts: the main thread then flushes, commits or closes the
 * ring from the other side, whose notify must end the park before the (long) timeout.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { parkConsumer, parkProducer } from '../../bindings/park.ts';
import { attach, type WorkerBase } from './attach.ts';

const data = workerData as WorkerBase & { ring: number; side: 'producer' | 'consumer'; timeoutMs: number };
const { core, i32 } = attach(data);
const result = data.side === 'consumer'
  ? parkConsumer(i32, data.ring, data.timeoutMs)
  : parkProducer(core, i32, data.ring, data.timeoutMs);
parentPort!.postMessage(result);
