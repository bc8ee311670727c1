/**
 * Parking: how a ring's consumer or producer sleeps when there is nothing to do, for both backends.
 *
 * Waiting never happens inside Wasm: on Node 20, V8's baseline compiler (Liftoff) corrupts locals
 * after `memory.atomic.wait32` (docs/architecture.md#6-no-waiting-inside-wasm). The ring words
 * are the same bytes on both backends, so one TypeScript implementation parks for both.
 *
 * The protocol is Dekker-style over seq-cst atomics, so no wake-up is lost:
 *   sleeper:  store PARKED = 1;  re-load the word it waits for;  if it moved → don't sleep;
 *             else Atomics.wait(word, observed);  store PARKED = 0
 *   waker:    store the word (HEAD at flush, TAIL at commit);  load PARKED;  if 1 → notify(word)
 * Either the waker's load sees PARKED = 1 and notifies, or the sleeper's re-load sees the new word
 * and does not sleep; Atomics.wait also returns at once if the word no longer holds `observed`.
 * Producers notify only when a consumer said it sleeps, so the hot path pays one load, not a
 * syscall. Waking a parked thread costs ~35 µs on this VM: callers spin (poll) a bounded number
 * of times before parking.
 *
 * Atomics.wait blocks, so these are for worker threads; the main thread (which may never block
 * in a browser) uses the async variants.
 */
import {
  RING_CAPACITY_OFFSET, RING_CLAIM_OFFSET, RING_CONSUMER_CLOSED_OFFSET, RING_CONSUMER_PARKED_OFFSET,
  RING_HEAD_OFFSET, RING_PRODUCER_CLOSED_OFFSET, RING_PRODUCER_PARKED_OFFSET, RING_READ_OFFSET,
  RING_TAIL_OFFSET,
} from '../assembly/layout/ring.ts';
import type { CoreOps } from './core-ops.ts';

/** 'ready': there was work (or the other side closed) so it did not sleep; 'woken': slept and was
 *  notified or the word changed; 'timed-out': slept the whole timeout. */
export type ParkResult = 'ready' | 'woken' | 'timed-out';

/**
 * Consumer of `ring`: sleeps until the producer publishes (flush) or closes, or `timeoutMs` passes.
 * Returns at once ('ready') if records are already published or the producer closed.
 */
export function parkConsumer(i32: Int32Array, ring: number, timeoutMs: number): ParkResult {
  const parked = (ring + RING_CONSUMER_PARKED_OFFSET) >> 2;
  const head = (ring + RING_HEAD_OFFSET) >> 2;
  Atomics.store(i32, parked, 1);
  // Re-check after announcing: pairs with ringFlush's HEAD store followed by its PARKED load.
  const observed = Atomics.load(i32, head);
  if (observed !== i32[(ring + RING_READ_OFFSET) >> 2] || Atomics.load(i32, (ring + RING_PRODUCER_CLOSED_OFFSET) >> 2) !== 0) {
    Atomics.store(i32, parked, 0);
    return 'ready';
  }
  const result = Atomics.wait(i32, head, observed, timeoutMs);
  Atomics.store(i32, parked, 0);
  return result === 'timed-out' ? 'timed-out' : 'woken';
}

/**
 * Producer of `ring`: flushes what it claimed (else the consumer could never free space), then
 * sleeps until the consumer commits or closes, or `timeoutMs` passes. Returns at once ('ready') if
 * there is space or the consumer closed.
 */
export function parkProducer(core: CoreOps, i32: Int32Array, ring: number, timeoutMs: number): ParkResult {
  const observed = announceProducerPark(core, i32, ring);
  if (observed === READY) return 'ready';
  const result = Atomics.wait(i32, (ring + RING_TAIL_OFFSET) >> 2, observed, timeoutMs);
  Atomics.store(i32, (ring + RING_PRODUCER_PARKED_OFFSET) >> 2, 0);
  return result === 'timed-out' ? 'timed-out' : 'woken';
}

/**
 * parkProducer for a thread that may not block (a browser's main thread, the engine's thread):
 * the same protocol, waiting with `waitAsync(i32, index, value, timeoutMs)` (Atomics.waitAsync or
 * an event-loop fallback) instead of Atomics.wait.
 */
export async function parkProducerAsync(
  core: CoreOps, i32: Int32Array, ring: number, timeoutMs: number,
  waitAsync: (i32: Int32Array, index: number, value: number, timeoutMs: number) => Promise<string>,
): Promise<ParkResult> {
  const observed = announceProducerPark(core, i32, ring);
  if (observed === READY) return 'ready';
  const result = await waitAsync(i32, (ring + RING_TAIL_OFFSET) >> 2, observed, timeoutMs);
  Atomics.store(i32, (ring + RING_PRODUCER_PARKED_OFFSET) >> 2, 0);
  return result === 'timed-out' ? 'timed-out' : 'woken';
}

const READY = -0.5; // not an i32: "do not sleep"

/** Flushes, sets PRODUCER_PARKED, re-checks: the TAIL value to wait on, or READY (flag cleared). */
function announceProducerPark(core: CoreOps, i32: Int32Array, ring: number): number {
  core.ringFlush(ring);
  const parked = (ring + RING_PRODUCER_PARKED_OFFSET) >> 2;
  Atomics.store(i32, parked, 1);
  // Re-check after announcing: pairs with ringCommit's TAIL store followed by its PARKED load.
  const observed = Atomics.load(i32, (ring + RING_TAIL_OFFSET) >> 2);
  const used = (i32[(ring + RING_CLAIM_OFFSET) >> 2]! - observed) >>> 0;
  if (used < i32[(ring + RING_CAPACITY_OFFSET) >> 2]! || Atomics.load(i32, (ring + RING_CONSUMER_CLOSED_OFFSET) >> 2) !== 0) {
    Atomics.store(i32, parked, 0);
    return READY;
  }
  return observed;
}
