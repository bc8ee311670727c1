/**
 * Shared by test/ring-threads.test.ts and its workers: the record format of the cross-thread ring
 * run, and the shapes of the messages the workers post back.
 *
 * A record is RECORD_WORDS u32 words: [seq, payload × PAYLOAD_WORDS, check]. Every payload word is
 * a hash of (seq, word index) and `check` hashes them all, so a record that is torn (half written
 * when published), stale (an old lap's bytes) or misplaced fails `recordError`; `seq` gives order,
 * loss and duplication; the sum of the checks over a run is its checksum.
 * 24 bytes: a multiple of 8 that is not a power of two, so the index → address multiply is real.
 */
import type { Backend } from '../../bindings/core-ops.ts';

export const PAYLOAD_WORDS = 4;
export const RECORD_WORDS = PAYLOAD_WORDS + 2;
export const RECORD_BYTES = RECORD_WORDS * 4;
/** Small on purpose: the producer laps the consumer constantly and FULL/EMPTY happen often. */
export const RING_CAPACITY = 64;
/** Largest batch a producer pushes at once (its staging area holds this many records). */
export const MAX_BATCH = 50;

/** How each side moves records; both sides of one run use the same variant.
 *  push:  ringTryPush from a staging record, flush every FLUSH_EVERY / ringTryPop, commit every COMMIT_EVERY
 *  batch: ringTryPushBatch of 1..MAX_BATCH records / ringTryPopBatch of 1..MAX_BATCH + 20
 *  claim: ringTryClaim + write in place / ringTryPeek + verify in place (zero copy)
 *  park:  as push, but an idle side sleeps in bindings/park.ts instead of spinning */
export type Variant = 'push' | 'batch' | 'claim' | 'park';
export const VARIANTS: readonly Variant[] = ['push', 'batch', 'claim', 'park'];
/** Odd and prime, so flushes and commits fall at every position around the ring. */
export const FLUSH_EVERY = 7;
export const COMMIT_EVERY = 5;

export interface RingRunData {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  backend: Backend;
  role: 'producer' | 'consumer';
  variant: Variant;
  ring: number;
  /** This worker's scratch block (staging for push, destination for pop). */
  scratch: number;
  records: number;
  /** Date.now() after which every wait gives up and the worker reports failure. */
  deadline: number;
}

export interface RingRunReport {
  role: 'producer' | 'consumer';
  /** Records pushed (producer) or received (consumer). */
  count: number;
  /** Sum of the check words, u32. */
  checksum: number;
  lost: number;
  duplicated: number;
  torn: number;
  /** First few problems, human readable; empty on success. */
  errors: string[];
}

/** Payload word `k` of record `seq`: a cheap integer hash (murmur3 fmix32 of seq and k). */
export function payloadWord(seq: number, k: number): number {
  let h = (seq ^ Math.imul(k + 1, 0x9e3779b9)) | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/** The check word of record `seq`. */
export function checkWord(seq: number): number {
  let c = seq;
  for (let k = 0; k < PAYLOAD_WORDS; k++) c = (Math.imul(c, 31) + payloadWord(seq, k)) | 0;
  return c;
}

/** Writes record `seq` at byte address `at`. */
export function writeRecord(i32: Int32Array, at: number, seq: number): void {
  const w = at >> 2;
  i32[w] = seq;
  for (let k = 0; k < PAYLOAD_WORDS; k++) i32[w + 1 + k] = payloadWord(seq, k);
  i32[w + 1 + PAYLOAD_WORDS] = checkWord(seq);
}

/** '' if the record at `at` is intact, else what is wrong with it. */
export function recordError(i32: Int32Array, at: number): string {
  const w = at >> 2;
  const seq = i32[w]!;
  for (let k = 0; k < PAYLOAD_WORDS; k++) {
    if (i32[w + 1 + k] !== payloadWord(seq, k)) return `seq ${seq}: payload word ${k} is ${i32[w + 1 + k]}`;
  }
  return i32[w + 1 + PAYLOAD_WORDS] === checkWord(seq) ? '' : `seq ${seq}: check word is ${i32[w + 1 + PAYLOAD_WORDS]}`;
}

/** Checksum of records 0..records-1, as both sides must report it. */
export function expectedChecksum(records: number): number {
  let sum = 0;
  for (let seq = 0; seq < records; seq++) sum = (sum + checkWord(seq)) | 0;
  return sum >>> 0;
}
