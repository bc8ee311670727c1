/**
 * Checksums of the engine benchmarks, computed the same way by the sender (main thread) and the
 * handlers (workers): an order-sensitive FNV-1a fold over u32 words for one-to-one streams, and a
 * deterministic integer hash for values and CPU-bound work.
 */

export const CHECKSUM_SEED = 0x811c9dc5;

/** FNV-1a step over one u32 word: order-sensitive, so a reordered stream changes the result. */
export function checksumStep(hash: number, word: number): number {
  return Math.imul(hash ^ word, 0x01000193) >>> 0;
}

/** The value carried by message `seq` (a Fibonacci-hashed u32, so values are not just 0, 1, 2 …). */
export function valueOf(seq: number): number {
  return Math.imul(seq, 0x9e3779b1) >>> 0;
}

/** FNV-1a fold of valueOf(0..count-1): what a consumer of a complete, in-order stream computes. */
export function streamChecksum(count: number): number {
  let hash = CHECKSUM_SEED;
  for (let seq = 0; seq < count; seq++) hash = checksumStep(hash, valueOf(seq));
  return hash;
}

/**
 * CPU-bound work: `rounds` rounds of a 32-bit mixing function (murmur3's finaliser steps) from
 * `seed`; deterministic, allocation-free, not foldable by the JIT. ~1 ns per round on this VM.
 */
export function spinHash(seed: number, rounds: number): number {
  let h = seed | 0;
  for (let i = 0; i < rounds; i++) {
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = (Math.imul(h, 0xc2b2ae35) + i) | 0;
  }
  return h >>> 0;
}

/**
 * spinHash rounds that take ~`workNs` here: times a handler's loop shape (a sum of spinHash over
 * seq) and keeps the best of several trials, so load from other processes inflates it less.
 */
export function calibrateRounds(workNs: number): number {
  const probe = 1_000;
  const messages = 200;
  let best = Infinity;
  let sum = 0;
  for (let trial = 0; trial < 40; trial++) {
    const started = performance.now();
    for (let seq = 0; seq < messages; seq++) sum += spinHash(seq, probe);
    best = Math.min(best, ((performance.now() - started) * 1e6) / (messages * probe));
  }
  if (sum === 0.5) console.log(sum); // keep the work observable
  return Math.max(1, Math.round(workNs / best));
}
