/**
 * postMessage baseline of the engine throughput benchmark: receives `{ seq, value, stamp }`
 * objects one postMessage each, checks seq order and folds value into the same FNV-1a checksum as
 * the engine's sink handler; `{ report: true }` (posted after a run's messages) is answered with
 * `{ count, checksum, orderErrors }` and resets the state.
 */
import { parentPort } from 'node:worker_threads';
import { CHECKSUM_SEED, checksumStep } from '../engine/checksum.ts';

interface Item { seq: number; value: number; stamp: number; report?: undefined }
interface Report { report: true }

const port = parentPort!;
let count = 0;
let checksum = CHECKSUM_SEED;
let orderErrors = 0;
let nextSeq = 0;

port.on('message', (message: Item | Report) => {
  if (message.report === true) {
    port.postMessage({ count, checksum, orderErrors });
    count = 0;
    checksum = CHECKSUM_SEED;
    orderErrors = 0;
    nextSeq = 0;
    return;
  }
  if (message.seq !== nextSeq) orderErrors++;
  nextSeq = message.seq + 1;
  checksum = checksumStep(checksum, message.value);
  count++;
});
port.postMessage({ ready: true });
