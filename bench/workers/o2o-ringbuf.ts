/**
 * 'ringbuf.js' peer of the one-to-one suite: ringbuf.js 0.4's RingBuffer (SPSC, wait-free) of u32
 * words, each message MESSAGE_WORDS words (o2o-common.ts). The producer fills a staging batch of up
 * to BATCH messages (u32 and f64 views over one buffer), waits until the ring has room for all of
 * it and pushes it in one call; the consumer pops whole messages (up to BATCH) into its own buffer
 * and reads them there. Pushes and pops are whole messages, so the ring's word counts stay
 * multiples of MESSAGE_WORDS. Waiting: spin, then sleep briefly (keepWaiting).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RingBuffer } from 'ringbuf.js';
import {
  BATCH, CHECKSUM_SEED, MESSAGE_F64S, MESSAGE_WORDS, SEQ_WORD, STAMP_F64, VALUE_WORD, X_WORD, Y_MASK, Y_WORD,
  checksumStep, keepWaiting, serveRuns, stampOf, valueOf, type PeerReport, type PeerWorkerData,
} from './o2o-common.ts';

const data = workerData as PeerWorkerData;
const control = new Int32Array(data.control);
const ring = new RingBuffer(data.ring, Uint32Array);
const bytes = new ArrayBuffer(BATCH * MESSAGE_WORDS * 4);
const u32 = new Uint32Array(bytes);
const f64 = new Float64Array(bytes);
const BATCH_WORDS = BATCH * MESSAGE_WORDS;

function report(count: number, checksum: number, orderErrors: number, sum: number, error: string | null): PeerReport {
  return { role: data.role, count, checksum, orderErrors, stampSum: sum, error };
}

function produce(n: number, deadline: number): PeerReport {
  let seq = 0;
  let polls = 0;
  while (seq < n) {
    const want = Math.min(BATCH, n - seq);
    for (let i = 0; i < want; i++) {
      const s = seq + i;
      const w = i * MESSAGE_WORDS;
      const value = valueOf(s);
      u32[w + SEQ_WORD] = s;
      u32[w + VALUE_WORD] = value;
      u32[w + X_WORD] = s & 0xffff;
      u32[w + Y_WORD] = value ^ Y_MASK;
      f64[i * MESSAGE_F64S + STAMP_F64] = stampOf(s);
    }
    const words = want * MESSAGE_WORDS;
    while (ring.available_write() < words) {
      if (!keepWaiting(control, ++polls, deadline)) return report(seq, 0, 0, 0, `ringbuf.js producer: ring still full after ${seq} messages`);
    }
    polls = 0;
    const pushed = ring.push(u32, words);
    if (pushed !== words) return report(seq, 0, 0, 0, `ringbuf.js producer: push took ${pushed} of ${words} words with room for them`);
    seq += want;
  }
  return report(seq, 0, 0, 0, null);
}

function consume(n: number, deadline: number): PeerReport {
  let count = 0;
  let checksum = CHECKSUM_SEED;
  let orderErrors = 0;
  let sum = 0;
  let polls = 0;
  while (count < n) {
    const available = ring.available_read();
    const words = Math.min(available, BATCH_WORDS);
    const take = (words / MESSAGE_WORDS) | 0;
    if (take === 0) {
      if (!keepWaiting(control, ++polls, deadline)) return report(count, checksum, orderErrors, sum, `ringbuf.js consumer: ring still empty after ${count} of ${n} messages`);
      continue;
    }
    polls = 0;
    const popped = ring.pop(u32, take * MESSAGE_WORDS);
    if (popped !== take * MESSAGE_WORDS) return report(count, checksum, orderErrors, sum, `ringbuf.js consumer: pop gave ${popped} of ${take * MESSAGE_WORDS} available words`);
    for (let i = 0; i < take; i++, count++) {
      const w = i * MESSAGE_WORDS;
      if (u32[w + SEQ_WORD] !== count) orderErrors++;
      checksum = checksumStep(checksum, u32[w + VALUE_WORD]!);
      sum += f64[i * MESSAGE_F64S + STAMP_F64]!;
    }
  }
  return report(count, checksum, orderErrors, sum, null);
}

serveRuns(control, (message) => parentPort!.postMessage(message), data.role, data.role === 'producer' ? produce : consume);
