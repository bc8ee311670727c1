/**
 * postMessage receiver of the large-messages suite (bench/large-messages.ts): takes
 * `{ seq, payload }` one postMessage each (the payload's buffer transferred, or cloned), checks
 * seq order, folds seq and the payload's stamped words into the checksum the engine's handler
 * computes (bench/workers/large-common.ts), and acknowledges every `ackEvery` messages so the
 * sender can bound what it has in flight; `{ report: true }` is answered with the tally, which
 * then resets. The payload is the receiver's own (transferred or cloned for it): it reads it in
 * place, where the engine's handler must copy out of its lane first.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CHECKSUM_SEED } from '../engine/checksum.ts';
import { foldPayload, type LargeFromWorker, type LargeToWorker, type LargeWorkerData } from './large-common.ts';

const { worker, ackEvery } = workerData as LargeWorkerData;
const port = parentPort!;
const post = (message: LargeFromWorker): void => port.postMessage(message);
let count = 0;
let checksum = CHECKSUM_SEED;
let orderErrors = 0;

port.on('message', (message: LargeToWorker) => {
  if ('report' in message) {
    post({ report: { count, checksum, orderErrors, worker } });
    count = 0;
    checksum = CHECKSUM_SEED;
    orderErrors = 0;
    return;
  }
  if (message.seq !== count) orderErrors++;
  checksum = foldPayload(checksum, message.seq, message.payload);
  count++;
  if (count % ackEvery === 0) post({ acked: count });
});
post({ ready: true });
