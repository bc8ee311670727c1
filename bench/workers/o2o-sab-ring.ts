/**
 * 'sab-ring' peer of the one-to-one suite: the SPSC ring a user would write by hand over a
 * SharedArrayBuffer (layout in o2o-common.ts). The producer writes up to BATCH messages straight
 * into free slots, then publishes them with one Atomics.store of head; the consumer reads every
 * available message (up to BATCH) in place, then frees them with one Atomics.store of tail. Each
 * side caches the other's counter and reloads it only when the ring looks full or empty; a side
 * that keeps finding it so spins, then sleeps briefly (keepWaiting). Nothing allocates per message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import {
  BATCH, CHECKSUM_SEED, MESSAGE_F64S, MESSAGE_WORDS, RING_MESSAGES, SAB_DATA_OFFSET, SAB_HEAD_WORD, SAB_MASK, SAB_TAIL_WORD,
  SEQ_WORD, STAMP_F64, VALUE_WORD, X_WORD, Y_MASK, Y_WORD, checksumStep, keepWaiting, serveRuns, stampOf, valueOf,
  type PeerReport, type PeerWorkerData,
} from './o2o-common.ts';

const data = workerData as PeerWorkerData;
const control = new Int32Array(data.control);
const index = new Int32Array(data.ring, 0, SAB_DATA_OFFSET >> 2);
const u32 = new Uint32Array(data.ring, SAB_DATA_OFFSET, RING_MESSAGES * MESSAGE_WORDS);
const f64 = new Float64Array(data.ring, SAB_DATA_OFFSET, RING_MESSAGES * MESSAGE_F64S);

function report(count: number, checksum: number, orderErrors: number, sum: number, error: string | null): PeerReport {
  return { role: data.role, count, checksum, orderErrors, stampSum: sum, error };
}

function produce(n: number, deadline: number): PeerReport {
  let head = Atomics.load(index, SAB_HEAD_WORD);
  let tail = Atomics.load(index, SAB_TAIL_WORD);
  let seq = 0;
  let polls = 0;
  while (seq < n) {
    const want = Math.min(BATCH, n - seq);
    let free = RING_MESSAGES - ((head - tail) | 0);
    if (free < want) {
      tail = Atomics.load(index, SAB_TAIL_WORD); // pairs with the consumer's store of tail
      free = RING_MESSAGES - ((head - tail) | 0);
      if (free < want) {
        if (!keepWaiting(control, ++polls, deadline)) return report(seq, 0, 0, 0, `sab-ring producer: ring still full after ${seq} messages`);
        continue;
      }
    }
    polls = 0;
    for (let i = 0; i < want; i++, seq++) {
      const slot = (head + i) & SAB_MASK;
      const w = slot * MESSAGE_WORDS;
      const value = valueOf(seq);
      u32[w + SEQ_WORD] = seq;
      u32[w + VALUE_WORD] = value;
      u32[w + X_WORD] = seq & 0xffff;
      u32[w + Y_WORD] = value ^ Y_MASK;
      f64[slot * MESSAGE_F64S + STAMP_F64] = stampOf(seq);
    }
    head = (head + want) | 0;
    Atomics.store(index, SAB_HEAD_WORD, head); // payload first; pairs with the consumer's load of head
  }
  return report(seq, 0, 0, 0, null);
}

function consume(n: number, deadline: number): PeerReport {
  let tail = Atomics.load(index, SAB_TAIL_WORD);
  let head = Atomics.load(index, SAB_HEAD_WORD);
  let count = 0;
  let checksum = CHECKSUM_SEED;
  let orderErrors = 0;
  let sum = 0;
  let polls = 0;
  while (count < n) {
    let available = (head - tail) | 0;
    if (available === 0) {
      head = Atomics.load(index, SAB_HEAD_WORD); // pairs with the producer's store of head
      available = (head - tail) | 0;
      if (available === 0) {
        if (!keepWaiting(control, ++polls, deadline)) return report(count, checksum, orderErrors, sum, `sab-ring consumer: ring still empty after ${count} of ${n} messages`);
        continue;
      }
    }
    polls = 0;
    const take = Math.min(available, BATCH);
    for (let i = 0; i < take; i++, count++) {
      const slot = (tail + i) & SAB_MASK;
      const w = slot * MESSAGE_WORDS;
      if (u32[w + SEQ_WORD] !== count) orderErrors++;
      checksum = checksumStep(checksum, u32[w + VALUE_WORD]!);
      sum += f64[slot * MESSAGE_F64S + STAMP_F64]!;
    }
    tail = (tail + take) | 0;
    Atomics.store(index, SAB_TAIL_WORD, tail); // slots read first; pairs with the producer's load of tail
  }
  return report(count, checksum, orderErrors, sum, null);
}

serveRuns(control, (message) => parentPort!.postMessage(message), data.role, data.role === 'producer' ? produce : consume);
