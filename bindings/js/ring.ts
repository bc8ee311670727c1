/**
 * SPSC ring, TypeScript twin of assembly/ring.ts: the same algorithm on the same bytes, so either
 * side of a ring may be Wasm or JS. Lamport's queue with free-running u32 indices, cached remote
 * indices and write-combining publish (Agrona's OneToOneRingBuffer, Vyukov's SPSC notes).
 *
 * Layout: assembly/layout/ring.ts. Contract: bindings/core-ops.ts. Every function returns exactly
 * what the Wasm export returns (i32 values, signed), and none allocates or throws.
 * Private words (CLAIM, CACHED_*, READ) are plain typed-array accesses; shared words use Atomics.
 */
import {
  RING_CACHED_HEAD_OFFSET, RING_CACHED_TAIL_OFFSET, RING_CAPACITY_OFFSET, RING_CLAIM_OFFSET,
  RING_CONSUMER_CLOSED_OFFSET, RING_CONSUMER_PARKED_OFFSET, RING_DATA_OFFSET, RING_HEAD_OFFSET,
  RING_HEADER_BYTES, RING_MASK_OFFSET, RING_PRODUCER_CLOSED_OFFSET, RING_PRODUCER_PARKED_OFFSET,
  RING_READ_OFFSET, RING_RECORD_ALIGN, RING_RECORD_SIZE_OFFSET, RING_TAIL_OFFSET,
} from '../../assembly/layout/ring.ts';
import { ADDRESS_MIN, ARENA_MAX_BYTES } from '../../assembly/layout/arena.ts';
import { STATUS_CLOSED, STATUS_EMPTY, STATUS_FULL, STATUS_INVALID, STATUS_OK } from '../../assembly/layout/status.ts';
import type { CoreOps } from '../core-ops.ts';
import { alignStructure } from './common.ts';
import type { MemoryViews } from './views.ts';

export type RingOps = Pick<CoreOps, 'ringBytes' | 'ringInit' | 'ringTryClaim' | 'ringTryPush' | 'ringTryPushBytes' | 'ringTryPushBatch' | 'ringFlush' | 'ringPending' | 'ringCloseProducer' | 'ringTryPeek' | 'ringAvailable' | 'ringTryPop' | 'ringTryPopBatch' | 'ringCommit' | 'ringCloseConsumer' | 'ringSize'>;

/** Word index of a field: byte address / 4. */
const CAPACITY = RING_CAPACITY_OFFSET >> 2;
const MASK = RING_MASK_OFFSET >> 2;
const RECORD_SIZE = RING_RECORD_SIZE_OFFSET >> 2;
const HEAD = RING_HEAD_OFFSET >> 2;
const PRODUCER_CLOSED = RING_PRODUCER_CLOSED_OFFSET >> 2;
const CLAIM = RING_CLAIM_OFFSET >> 2;
const CACHED_TAIL = RING_CACHED_TAIL_OFFSET >> 2;
const TAIL = RING_TAIL_OFFSET >> 2;
const CONSUMER_CLOSED = RING_CONSUMER_CLOSED_OFFSET >> 2;
const READ = RING_READ_OFFSET >> 2;
const CACHED_HEAD = RING_CACHED_HEAD_OFFSET >> 2;
const CONSUMER_PARKED = RING_CONSUMER_PARKED_OFFSET >> 2;
const PRODUCER_PARKED = RING_PRODUCER_PARKED_OFFSET >> 2;
/** Copies up to this size go word by word through i32: measured on Node 20 (SharedArrayBuffer,
 *  8-aligned, 5 M copies) a word loop takes 5–8 ns for 8–16 B, ~16 ns for 64 B and ~25 ns for
 *  128 B against 24–37 ns for u8.copyWithin (whose fixed call cost dominates); copyWithin wins
 *  from about 256 B. */
const WORD_COPY_MAX_BYTES = 128;
const RING_BYTES_TOO_LARGE = 0x7fffffff;

export function createJsRing({ u8, i32 }: MemoryViews): RingOps {
  const recordAddress = (ring: number, w: number, index: number): number =>
    ring + RING_DATA_OFFSET + (index & i32[w + MASK]!) * i32[w + RECORD_SIZE]!;

  /** Copies `bytes` (a multiple of 8) from src to dst, both 8-aligned and not overlapping (a
   *  record never overlaps the caller's buffer). */
  const copy = (dst: number, src: number, bytes: number): void => {
    if (bytes <= WORD_COPY_MAX_BYTES) {
      const d = dst >> 2;
      const s = src >> 2;
      const words = bytes >> 2;
      for (let i = 0; i < words; i++) i32[d + i] = i32[s + i]!;
    } else {
      u8.copyWithin(dst, src, src + bytes);
    }
  };

  /** Free records as the producer sees them; reloads TAIL only when the cached value says fewer
   *  than `wanted` are free (1 for a claim: only when the ring looks full). */
  const freeRecords = (w: number, claim: number, wanted: number): number => {
    const capacity = i32[w + CAPACITY]!;
    let free = capacity - ((claim - i32[w + CACHED_TAIL]!) >>> 0);
    if (free < wanted) {
      // Pairs with the consumer's Atomics.store of TAIL in ringCommit.
      const tail = Atomics.load(i32, w + TAIL);
      i32[w + CACHED_TAIL] = tail;
      free = capacity - ((claim - tail) >>> 0);
    }
    return free;
  };

  /** Published unread records as the consumer sees them; reloads HEAD only when the cached value
   *  says fewer than `wanted` are readable (1 for a peek: only when the ring looks empty). */
  const readableRecords = (w: number, read: number, wanted: number): number => {
    let readable = (i32[w + CACHED_HEAD]! - read) >>> 0;
    if (readable < wanted) {
      // Pairs with the producer's Atomics.store of HEAD in ringFlush.
      const head = Atomics.load(i32, w + HEAD);
      i32[w + CACHED_HEAD] = head;
      readable = (head - read) >>> 0;
    }
    return readable;
  };

  const producerMayPush = (w: number): boolean =>
    Atomics.load(i32, w + CONSUMER_CLOSED) === 0 && i32[w + PRODUCER_CLOSED] === 0;

  const emptyStatus = (w: number, read: number): number => {
    // Closed only once every published record was read; the producer stores HEAD before CLOSED.
    if (Atomics.load(i32, w + PRODUCER_CLOSED) === 0) return STATUS_EMPTY;
    return Atomics.load(i32, w + HEAD) === read ? STATUS_CLOSED : STATUS_EMPTY;
  };

  const ringTryClaim = (ring: number): number => {
    const w = ring >> 2;
    const claim = i32[w + CLAIM]!;
    if (freeRecords(w, claim, 1) === 0) return producerMayPush(w) ? STATUS_FULL : STATUS_CLOSED;
    if (!producerMayPush(w)) return STATUS_CLOSED;
    i32[w + CLAIM] = claim + 1;
    return recordAddress(ring, w, claim);
  };

  const ringFlush = (ring: number): number => {
    const w = ring >> 2;
    // Publishes the records written since the last flush: pairs with the consumer's Atomics.load
    // of HEAD and with parkConsumer's re-load of HEAD after it set CONSUMER_PARKED.
    Atomics.store(i32, w + HEAD, i32[w + CLAIM]!);
    // Dekker: either we see PARKED = 1 and notify, or the consumer's re-check sees the new HEAD.
    if (Atomics.load(i32, w + CONSUMER_PARKED) !== 0) {
      Atomics.notify(i32, w + HEAD, 1);
      return 1;
    }
    return 0;
  };

  const ringTryPeek = (ring: number): number => {
    const w = ring >> 2;
    const read = i32[w + READ]!;
    if (readableRecords(w, read, 1) === 0) return emptyStatus(w, read);
    i32[w + READ] = read + 1;
    return recordAddress(ring, w, read);
  };

  const ringCommit = (ring: number): number => {
    const w = ring >> 2;
    // Frees the records handled so far: pairs with the producer's Atomics.load of TAIL and with
    // parkProducer's re-load of TAIL after it set PRODUCER_PARKED.
    Atomics.store(i32, w + TAIL, i32[w + READ]!);
    if (Atomics.load(i32, w + PRODUCER_PARKED) !== 0) {
      Atomics.notify(i32, w + TAIL, 1);
      return 1;
    }
    return 0;
  };

  return {
    ringBytes(capacity, recordSize) {
      // u32 arguments, as the Wasm export sees them; doubles are exact wherever the result fits.
      const end = RING_HEADER_BYTES + (capacity >>> 0) * (recordSize >>> 0);
      return end > ARENA_MAX_BYTES ? RING_BYTES_TOO_LARGE : alignStructure(end);
    },

    ringInit(ring, capacity, recordSize) {
      u8.fill(0, ring, ring + RING_HEADER_BYTES);
      const w = ring >> 2;
      i32[w + CAPACITY] = capacity;
      i32[w + MASK] = capacity - 1;
      i32[w + RECORD_SIZE] = recordSize;
    },

    ringTryClaim,

    ringTryPush(ring, src) {
      const record = ringTryClaim(ring);
      if (record < ADDRESS_MIN) return record;
      copy(record, src, i32[(ring >> 2) + RECORD_SIZE]!);
      return STATUS_OK;
    },

    ringTryPushBytes(ring, src, bytes) {
      if (bytes >>> 0 > i32[(ring >> 2) + RECORD_SIZE]! >>> 0 || (bytes & (RING_RECORD_ALIGN - 1)) !== 0) return STATUS_INVALID;
      const record = ringTryClaim(ring);
      if (record < ADDRESS_MIN) return record;
      copy(record, src, bytes);
      return STATUS_OK;
    },

    ringTryPushBatch(ring, src, count) {
      const w = ring >> 2;
      if (!producerMayPush(w)) return -STATUS_CLOSED;
      const claim = i32[w + CLAIM]!;
      // `>>> 0`: Wasm reads `count` as a u32, so a negative count means "as many as fit" there too.
      const wanted = count >>> 0;
      const free = freeRecords(w, claim, wanted);
      const n = Math.min(wanted, free);
      if (n === 0) {
        // Still publishes earlier claims; no HEAD store when nothing is pending (see ring.ts).
        if (claim !== i32[w + HEAD]) ringFlush(ring);
        return 0;
      }
      const capacity = i32[w + CAPACITY]!;
      const recordSize = i32[w + RECORD_SIZE]!;
      const first = claim & (capacity - 1);
      const firstSpan = n < capacity - first ? n : capacity - first;
      copy(ring + RING_DATA_OFFSET + first * recordSize, src, firstSpan * recordSize);
      if (n > firstSpan) copy(ring + RING_DATA_OFFSET, src + firstSpan * recordSize, (n - firstSpan) * recordSize);
      i32[w + CLAIM] = claim + n;
      ringFlush(ring);
      return n;
    },

    ringFlush,

    ringPending(ring) {
      const w = ring >> 2;
      return (i32[w + CLAIM]! - Atomics.load(i32, w + HEAD)) | 0;
    },

    ringCloseProducer(ring) {
      const w = ring >> 2;
      Atomics.store(i32, w + HEAD, i32[w + CLAIM]!);
      // After HEAD: a consumer that sees PRODUCER_CLOSED also sees every record before it.
      Atomics.store(i32, w + PRODUCER_CLOSED, 1);
      Atomics.notify(i32, w + HEAD, 1);
    },

    ringTryPeek,

    ringAvailable(ring) {
      const w = ring >> 2;
      const head = Atomics.load(i32, w + HEAD);
      i32[w + CACHED_HEAD] = head;
      return (head - i32[w + READ]!) | 0;
    },

    ringTryPop(ring, dst) {
      const record = ringTryPeek(ring);
      if (record < ADDRESS_MIN) return record;
      copy(dst, record, i32[(ring >> 2) + RECORD_SIZE]!);
      return STATUS_OK;
    },

    ringTryPopBatch(ring, dst, max) {
      const w = ring >> 2;
      const read = i32[w + READ]!;
      const wanted = max >>> 0; // as Wasm reads it: u32
      const readable = readableRecords(w, read, wanted);
      const n = Math.min(wanted, readable);
      if (n === 0) {
        // Still commits what earlier peeks read; no TAIL store when nothing is in flight.
        if (read !== i32[w + TAIL]) ringCommit(ring);
        return emptyStatus(w, read) === STATUS_CLOSED ? -STATUS_CLOSED : 0;
      }
      const capacity = i32[w + CAPACITY]!;
      const recordSize = i32[w + RECORD_SIZE]!;
      const first = read & (capacity - 1);
      const firstSpan = n < capacity - first ? n : capacity - first;
      copy(dst, ring + RING_DATA_OFFSET + first * recordSize, firstSpan * recordSize);
      if (n > firstSpan) copy(dst + firstSpan * recordSize, ring + RING_DATA_OFFSET, (n - firstSpan) * recordSize);
      i32[w + READ] = read + n;
      ringCommit(ring);
      return n;
    },

    ringCommit,

    ringCloseConsumer(ring) {
      const w = ring >> 2;
      Atomics.store(i32, w + CONSUMER_CLOSED, 1);
      Atomics.notify(i32, w + TAIL, 1);
    },

    ringSize(ring) {
      const w = ring >> 2;
      const tail = Atomics.load(i32, w + TAIL);
      return (Atomics.load(i32, w + HEAD) - tail) | 0;
    },
  };
}
