/**
 * SPSC ring: one producer thread, one consumer thread, fixed-size records.
 *
 * Algorithm: Lamport's single-producer/single-consumer queue with free-running u32 indices,
 * cached remote indices (each side reloads the other's index only when the ring looks full or
 * empty) and write-combining publish (claims advance a private CLAIM; one atomic store of HEAD at
 * ringFlush publishes the batch), after Agrona's OneToOneRingBuffer and Vyukov's SPSC notes.
 * The consumer frees space only at ringCommit (TAIL = READ), after its handler ran, so
 * [TAIL, HEAD) is always exactly what a crash-recovery pass would have to redeliver.
 *
 * Layout and field ownership: assembly/layout/ring.ts. TypeScript twin: bindings/js/ring.ts.
 * Contract: bindings/core-ops.ts.
 */
import {
  RING_CACHED_HEAD_OFFSET, RING_CACHED_TAIL_OFFSET, RING_CAPACITY_OFFSET, RING_CLAIM_OFFSET,
  RING_CONSUMER_CLOSED_OFFSET, RING_CONSUMER_PARKED_OFFSET, RING_DATA_OFFSET, RING_HEAD_OFFSET,
  RING_HEADER_BYTES, RING_MASK_OFFSET, RING_PRODUCER_CLOSED_OFFSET, RING_PRODUCER_PARKED_OFFSET,
  RING_READ_OFFSET, RING_RECORD_ALIGN, RING_RECORD_SIZE_OFFSET, RING_TAIL_OFFSET,
} from "./layout/ring";
import { ADDRESS_MIN, ARENA_MAX_BYTES } from "./layout/arena";
import { STATUS_CLOSED, STATUS_EMPTY, STATUS_FULL, STATUS_INVALID, STATUS_OK } from "./layout/status";
import { alignStructure } from "./common";

/** ringBytes' answer for a ring that could not fit any arena (the planner then rejects it). */
const RING_BYTES_TOO_LARGE: u32 = 0x7FFFFFFF;

/** Bytes a ring occupies: header + capacity·recordSize, rounded up to STRUCTURE_ALIGN. */
export function ringBytes(capacity: u32, recordSize: u32): u32 {
  const end = <u64>RING_HEADER_BYTES + <u64>capacity * <u64>recordSize;
  if (end > <u64>ARENA_MAX_BYTES) return RING_BYTES_TOO_LARGE;
  return alignStructure(<u32>end);
}

/** Zeroes the header, writes the config. Creating thread only, before the memory is shared. */
export function ringInit(ring: usize, capacity: u32, recordSize: u32): void {
  memory.fill(ring, 0, RING_HEADER_BYTES);
  store<u32>(ring + RING_CAPACITY_OFFSET, capacity);
  store<u32>(ring + RING_MASK_OFFSET, capacity - 1);
  store<u32>(ring + RING_RECORD_SIZE_OFFSET, recordSize);
}

// @ts-ignore: decorator
@inline function recordAddress(ring: usize, index: u32): usize {
  return ring + RING_DATA_OFFSET + <usize>(index & load<u32>(ring + RING_MASK_OFFSET)) * load<u32>(ring + RING_RECORD_SIZE_OFFSET);
}

/** Free records as the producer sees them; reloads TAIL only when the cached value says fewer
 *  than `wanted` are free (1 for a claim: only when the ring looks full). */
// @ts-ignore: decorator
@inline function freeRecords(ring: usize, claim: u32, wanted: u32): u32 {
  const capacity = load<u32>(ring + RING_CAPACITY_OFFSET);
  let free = capacity - (claim - load<u32>(ring + RING_CACHED_TAIL_OFFSET));
  if (free < wanted) {
    // Pairs with the consumer's atomic store of TAIL in ringCommit: records before TAIL are done.
    const tail = atomic.load<u32>(ring + RING_TAIL_OFFSET);
    store<u32>(ring + RING_CACHED_TAIL_OFFSET, tail);
    free = capacity - (claim - tail);
  }
  return free;
}

/** Published unread records as the consumer sees them; reloads HEAD only when the cached value
 *  says fewer than `wanted` are readable (1 for a peek: only when the ring looks empty). */
// @ts-ignore: decorator
@inline function readableRecords(ring: usize, read: u32, wanted: u32): u32 {
  let readable = load<u32>(ring + RING_CACHED_HEAD_OFFSET) - read;
  if (readable < wanted) {
    // Pairs with the producer's atomic store of HEAD in ringFlush: records before HEAD are written.
    const head = atomic.load<u32>(ring + RING_HEAD_OFFSET);
    store<u32>(ring + RING_CACHED_HEAD_OFFSET, head);
    readable = head - read;
  }
  return readable;
}

// @ts-ignore: decorator
@inline function producerMayPush(ring: usize): bool {
  return atomic.load<u32>(ring + RING_CONSUMER_CLOSED_OFFSET) == 0 && load<u32>(ring + RING_PRODUCER_CLOSED_OFFSET) == 0;
}

/** Producer. Address of the next record to write (published at ringFlush), or FULL / CLOSED. */
export function ringTryClaim(ring: usize): usize {
  const claim = load<u32>(ring + RING_CLAIM_OFFSET);
  if (freeRecords(ring, claim, 1) == 0) return producerMayPush(ring) ? STATUS_FULL : STATUS_CLOSED;
  if (!producerMayPush(ring)) return STATUS_CLOSED;
  store<u32>(ring + RING_CLAIM_OFFSET, claim + 1);
  return recordAddress(ring, claim);
}

/** Producer. Copies one record from `src`; OK / FULL / CLOSED. Published at ringFlush. */
export function ringTryPush(ring: usize, src: usize): i32 {
  const record = ringTryClaim(ring);
  if (record < <usize>ADDRESS_MIN) return <i32>record;
  memory.copy(record, src, load<u32>(ring + RING_RECORD_SIZE_OFFSET));
  return STATUS_OK;
}

/** Producer. Copies the first `bytes` bytes of a record from `src` (the rest of the ring's record
 *  keeps what it held): a record whose message is smaller than the ring's records costs only its
 *  own bytes. OK / FULL / CLOSED, or INVALID (nothing claimed) unless `bytes` is a multiple of
 *  RING_RECORD_ALIGN no larger than RECORD_SIZE. */
export function ringTryPushBytes(ring: usize, src: usize, bytes: u32): i32 {
  if (bytes > load<u32>(ring + RING_RECORD_SIZE_OFFSET) || (bytes & (RING_RECORD_ALIGN - 1)) != 0) return STATUS_INVALID;
  const record = ringTryClaim(ring);
  if (record < <usize>ADDRESS_MIN) return <i32>record;
  memory.copy(record, src, bytes);
  return STATUS_OK;
}

/** Producer. Copies up to `count` records from `src` (at most two spans around the wrap), then
 *  flushes. Returns the count pushed, or -STATUS_CLOSED. */
export function ringTryPushBatch(ring: usize, src: usize, count: u32): i32 {
  if (!producerMayPush(ring)) return -STATUS_CLOSED;
  const claim = load<u32>(ring + RING_CLAIM_OFFSET);
  const free = freeRecords(ring, claim, count);
  const n = count < free ? count : free;
  if (n == 0) {
    // Still publishes records claimed before this call, as the contract says; skips the HEAD
    // store when nothing is pending, so a producer polling a full ring does not keep dirtying
    // the line the consumer polls. (HEAD is read plainly: this thread is its only writer.)
    if (claim != load<u32>(ring + RING_HEAD_OFFSET)) ringFlush(ring);
    return 0;
  }
  const capacity = load<u32>(ring + RING_CAPACITY_OFFSET);
  const recordSize = load<u32>(ring + RING_RECORD_SIZE_OFFSET);
  const first = claim & (capacity - 1);
  const firstSpan = n < capacity - first ? n : capacity - first;
  memory.copy(ring + RING_DATA_OFFSET + <usize>first * recordSize, src, <usize>firstSpan * recordSize);
  if (n > firstSpan) {
    memory.copy(ring + RING_DATA_OFFSET, src + <usize>firstSpan * recordSize, <usize>(n - firstSpan) * recordSize);
  }
  store<u32>(ring + RING_CLAIM_OFFSET, claim + n);
  ringFlush(ring);
  return <i32>n;
}

/** Producer. Publishes every claimed record; notifies a parked consumer. 1 if it notified. */
export function ringFlush(ring: usize): i32 {
  const claim = load<u32>(ring + RING_CLAIM_OFFSET);
  // Publishes the records written since the last flush: pairs with the consumer's atomic load of
  // HEAD (readableRecords) and with parkConsumer's re-load of HEAD after it set CONSUMER_PARKED.
  atomic.store<u32>(ring + RING_HEAD_OFFSET, claim);
  // Seq-cst store then load (Dekker): either we see the consumer's PARKED = 1 and notify, or
  // its re-check sees the new HEAD and it does not sleep. Notify only a consumer that sleeps.
  if (atomic.load<u32>(ring + RING_CONSUMER_PARKED_OFFSET) != 0) {
    atomic.notify(ring + RING_HEAD_OFFSET, 1);
    return 1;
  }
  return 0;
}

/** Producer. Claimed, not yet published records. */
export function ringPending(ring: usize): u32 {
  return load<u32>(ring + RING_CLAIM_OFFSET) - atomic.load<u32>(ring + RING_HEAD_OFFSET);
}

/** Producer. Flushes, marks the ring closed and wakes the consumer. Idempotent. */
export function ringCloseProducer(ring: usize): void {
  atomic.store<u32>(ring + RING_HEAD_OFFSET, load<u32>(ring + RING_CLAIM_OFFSET));
  // After HEAD: a consumer that sees PRODUCER_CLOSED also sees every record before it.
  atomic.store<u32>(ring + RING_PRODUCER_CLOSED_OFFSET, 1);
  atomic.notify(ring + RING_HEAD_OFFSET, 1);
}

// @ts-ignore: decorator
@inline function emptyStatus(ring: usize, read: u32): usize {
  // Closed only once every published record was read: load CLOSED, then HEAD once more, because
  // the producer stores HEAD before CLOSED.
  if (atomic.load<u32>(ring + RING_PRODUCER_CLOSED_OFFSET) == 0) return STATUS_EMPTY;
  return atomic.load<u32>(ring + RING_HEAD_OFFSET) == read ? STATUS_CLOSED : STATUS_EMPTY;
}

/** Consumer. Address of the next unread record (valid until ringCommit), or EMPTY / CLOSED. */
export function ringTryPeek(ring: usize): usize {
  const read = load<u32>(ring + RING_READ_OFFSET);
  if (readableRecords(ring, read, 1) == 0) return emptyStatus(ring, read);
  store<u32>(ring + RING_READ_OFFSET, read + 1);
  return recordAddress(ring, read);
}

/** Consumer. Published records not yet read; always loads HEAD, so exact when called. */
export function ringAvailable(ring: usize): u32 {
  const read = load<u32>(ring + RING_READ_OFFSET);
  const head = atomic.load<u32>(ring + RING_HEAD_OFFSET);
  store<u32>(ring + RING_CACHED_HEAD_OFFSET, head);
  return head - read;
}

/** Consumer. Copies the next record to `dst`; OK / EMPTY / CLOSED. Freed at ringCommit. */
export function ringTryPop(ring: usize, dst: usize): i32 {
  const record = ringTryPeek(ring);
  if (record < <usize>ADDRESS_MIN) return <i32>record;
  memory.copy(dst, record, load<u32>(ring + RING_RECORD_SIZE_OFFSET));
  return STATUS_OK;
}

/** Consumer. Copies up to `max` records to `dst`, then commits. Count, or -STATUS_CLOSED. */
export function ringTryPopBatch(ring: usize, dst: usize, max: u32): i32 {
  const read = load<u32>(ring + RING_READ_OFFSET);
  const readable = readableRecords(ring, read, max);
  const n = max < readable ? max : readable;
  if (n == 0) {
    // Still commits what earlier peeks read, as the contract says; skips the TAIL store when
    // nothing is in flight (TAIL is read plainly: this thread is its only writer).
    if (read != load<u32>(ring + RING_TAIL_OFFSET)) ringCommit(ring);
    return emptyStatus(ring, read) == STATUS_CLOSED ? -STATUS_CLOSED : 0;
  }
  const capacity = load<u32>(ring + RING_CAPACITY_OFFSET);
  const recordSize = load<u32>(ring + RING_RECORD_SIZE_OFFSET);
  const first = read & (capacity - 1);
  const firstSpan = n < capacity - first ? n : capacity - first;
  memory.copy(dst, ring + RING_DATA_OFFSET + <usize>first * recordSize, <usize>firstSpan * recordSize);
  if (n > firstSpan) {
    memory.copy(dst + <usize>firstSpan * recordSize, ring + RING_DATA_OFFSET, <usize>(n - firstSpan) * recordSize);
  }
  store<u32>(ring + RING_READ_OFFSET, read + n);
  ringCommit(ring);
  return <i32>n;
}

/** Consumer. Frees every record read so far; notifies a parked producer. 1 if it notified. */
export function ringCommit(ring: usize): i32 {
  const read = load<u32>(ring + RING_READ_OFFSET);
  // Frees the records handled so far: pairs with the producer's atomic load of TAIL
  // (freeRecords) and with parkProducer's re-load of TAIL after it set PRODUCER_PARKED.
  atomic.store<u32>(ring + RING_TAIL_OFFSET, read);
  // Dekker pair with parkProducer, as in ringFlush.
  if (atomic.load<u32>(ring + RING_PRODUCER_PARKED_OFFSET) != 0) {
    atomic.notify(ring + RING_TAIL_OFFSET, 1);
    return 1;
  }
  return 0;
}

/** Consumer. Refuses later pushes (CLOSED) and wakes a parked producer. Idempotent. */
export function ringCloseConsumer(ring: usize): void {
  atomic.store<u32>(ring + RING_CONSUMER_CLOSED_OFFSET, 1);
  atomic.notify(ring + RING_TAIL_OFFSET, 1);
}

/** Any thread. Published, uncommitted records (HEAD - TAIL); may be late. */
export function ringSize(ring: usize): u32 {
  const tail = atomic.load<u32>(ring + RING_TAIL_OFFSET);
  return atomic.load<u32>(ring + RING_HEAD_OFFSET) - tail;
}
