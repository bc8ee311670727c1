/**
 * The payload of the large-messages suite (bench/large-messages.ts), shared by its sender, the
 * engine's handlers (bench/engine/large-handlers.ts) and the postMessage receivers
 * (bench/workers/large-postmessage.ts): the bytes every payload starts from, the three words that
 * carry a message's sequence number, and the checksum every receiver folds over them.
 *
 *   payload of N bytes (N a multiple of 4), little-endian u32 words at:
 *   ┌──────────┬───────────────────────┬───────────────────────┬──────────────────────┐
 *   │ seq      │ fill pattern …        │ valueOf(seq)          │ … fill │ valueOf ^ M │
 *   └──────────┴───────────────────────┴───────────────────────┴──────────────────────┘
 *   0          4                       midWord(N)                       N − 4
 *
 * The words are read and written a byte at a time (no typed-array view per message: allocation
 * free on any buffer, shared or not, at any offset).
 */
import { CHECKSUM_SEED, checksumStep, valueOf } from '../engine/checksum.ts';

/** XORed into the last word, so it differs from the middle one. */
const LAST_MASK = 0x5a5a5a5a;

/** Byte offset of the middle stamped word of an `length`-byte payload (4-aligned). */
export function midWord(length: number): number {
  return (length >>> 3) << 2;
}

/** Fills `payload` with the pattern every payload carries between its stamped words. */
export function fillPayload(payload: Uint8Array): void {
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 131 + 7) & 0xff;
}

function writeWord(bytes: Uint8Array, at: number, word: number): void {
  bytes[at] = word & 0xff;
  bytes[at + 1] = (word >>> 8) & 0xff;
  bytes[at + 2] = (word >>> 16) & 0xff;
  bytes[at + 3] = word >>> 24;
}

function readWord(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

/** Writes message `seq`'s three words into `payload` (its first `length` bytes from `offset`). */
export function stampPayload(payload: Uint8Array, seq: number, length = payload.length, offset = 0): void {
  const value = valueOf(seq);
  writeWord(payload, offset, seq);
  writeWord(payload, offset + midWord(length), value);
  writeWord(payload, offset + length - 4, (value ^ LAST_MASK) >>> 0);
}

/** Folds message `seq` and its payload's three words into `hash` (FNV-1a, order-sensitive). */
export function foldPayload(hash: number, seq: number, payload: Uint8Array, length = payload.length, offset = 0): number {
  hash = checksumStep(hash, seq);
  hash = checksumStep(hash, readWord(payload, offset));
  hash = checksumStep(hash, readWord(payload, offset + midWord(length)));
  return checksumStep(hash, readWord(payload, offset + length - 4));
}

/** What foldPayload gives over messages 0..count-1, each stamped by stampPayload: what a receiver of all of them, in order, reports. */
export function payloadChecksum(count: number): number {
  let hash = CHECKSUM_SEED;
  for (let seq = 0; seq < count; seq++) {
    const value = valueOf(seq);
    hash = checksumStep(checksumStep(checksumStep(checksumStep(hash, seq), seq), value), (value ^ LAST_MASK) >>> 0);
  }
  return hash;
}

/** A receiver's tally after a run (bench/engine-common.ts StreamTally), and which receiver it is. */
export interface LargeReport {
  count: number;
  checksum: number;
  orderErrors: number;
  worker: number;
}

/** main → postMessage receiver: one message (its payload transferred or cloned), or the request for a report. */
export type LargeToWorker = { seq: number; payload: Uint8Array } | { report: true };
/** postMessage receiver → main: ready, an acknowledgement of every `ackEvery` messages, a report. */
export type LargeFromWorker = { ready: true } | { acked: number } | { report: LargeReport };

/** workerData of a postMessage receiver. */
export interface LargeWorkerData {
  worker: number;
  /** The receiver acknowledges every this many messages (the sender's window is a multiple of it). */
  ackEvery: number;
}
