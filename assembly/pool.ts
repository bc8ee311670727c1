/**
 * Slot pool: fixed-size slots allocated on any thread and released on any other.
 *
 * Algorithm: Dmitry Vyukov's bounded MPMC queue ("Bounded MPMC queue", 1024cores.net,
 * https://www.1024cores.net/home/lock-free-algorithms/queues/bounded-mpmc-queue) holds the indices
 * of the free slots: allocation dequeues an index, release enqueues it. Every cell carries a
 * sequence number that says whose turn it is (an enqueuer at position p waits for SEQUENCE == p, a
 * dequeuer at p for SEQUENCE == p + 1), so positions are plain 32-bit counters compared with
 * wrapping signed differences: no ABA, no 64-bit atomics. A per-slot STATE word, flipped by CAS,
 * turns a double release into STATUS_INVALID before the free queue is touched.
 *
 * Layout and field ownership: assembly/layout/pool.ts. TypeScript twin: bindings/js/pool.ts.
 */
import {
  POOL_CELL_BYTES, POOL_CELL_INDEX_OFFSET, POOL_CELL_SEQUENCE_OFFSET, POOL_CELLS_OFFSET,
  POOL_DEQUEUE_POS_OFFSET, POOL_ENQUEUE_POS_OFFSET, POOL_MASK_OFFSET, POOL_SLOT_ALLOCATED,
  POOL_SLOT_COUNT_OFFSET, POOL_SLOT_FREE, POOL_SLOT_SIZE_OFFSET, POOL_SLOT_STATE_BYTES,
  POOL_SLOTS_OFFSET_OFFSET, POOL_STATES_OFFSET_OFFSET,
} from "./layout/pool";
import { ARENA_MAX_BYTES, STRUCTURE_ALIGN } from "./layout/arena";
import { STATUS_EXHAUSTED, STATUS_INVALID, STATUS_OK } from "./layout/status";
import { alignStructure } from "./common";

/** poolBytes' answer when the pool could not fit any arena: larger than ARENA_MAX_BYTES and still
 *  a positive i32, so the arena planner rejects it instead of wrapping round to a small size. */
const POOL_BYTES_TOO_LARGE: u32 = 0x7FFFFFFF;

/**
 * Bytes a pool of `slotCount` slots of `slotSize` bytes occupies: config and positions, the cell
 * array, the state words, the slot data, each part starting on a STRUCTURE_ALIGN boundary.
 * Computed in 64 bits; a result beyond ARENA_MAX_BYTES is reported as 0x7FFFFFFF.
 */
export function poolBytes(slotCount: u32, slotSize: u32): u32 {
  // A count this large alone puts the cell array past ARENA_MAX_BYTES; saturating here also keeps
  // count·size below 2^62, so the u64 sum below cannot wrap to a small size.
  if (slotCount > <u32>ARENA_MAX_BYTES) return POOL_BYTES_TOO_LARGE;
  const align = <u64>STRUCTURE_ALIGN - 1;
  const states = (<u64>POOL_CELLS_OFFSET + <u64>slotCount * POOL_CELL_BYTES + align) & ~align;
  const slots = (states + <u64>slotCount * POOL_SLOT_STATE_BYTES + align) & ~align;
  const end = slots + <u64>slotCount * <u64>slotSize;
  if (end > <u64>ARENA_MAX_BYTES) return POOL_BYTES_TOO_LARGE;
  return alignStructure(<u32>end);
}

/**
 * Writes the config and puts every slot in the free queue: cell i holds index i with SEQUENCE
 * i + 1 ("full at position i"), ENQUEUE_POS = SLOT_COUNT, DEQUEUE_POS = 0, every STATE free.
 * `slotCount` is a power of two (validated by the arena). Creating thread only, before sharing.
 */
export function poolInit(pool: usize, slotCount: u32, slotSize: u32): void {
  const statesOffset = alignStructure(POOL_CELLS_OFFSET + slotCount * POOL_CELL_BYTES);
  const slotsOffset = alignStructure(statesOffset + slotCount * POOL_SLOT_STATE_BYTES);
  // The header's lines (config, both positions) are zeroed so the pool's bytes do not depend on
  // what the memory held before.
  memory.fill(pool, 0, POOL_CELLS_OFFSET);
  store<u32>(pool + POOL_SLOT_COUNT_OFFSET, slotCount);
  store<u32>(pool + POOL_MASK_OFFSET, slotCount - 1);
  store<u32>(pool + POOL_SLOT_SIZE_OFFSET, slotSize);
  store<u32>(pool + POOL_STATES_OFFSET_OFFSET, statesOffset);
  store<u32>(pool + POOL_SLOTS_OFFSET_OFFSET, slotsOffset);
  for (let i: u32 = 0; i < slotCount; i++) {
    const cell = pool + POOL_CELLS_OFFSET + <usize>i * POOL_CELL_BYTES;
    store<u32>(cell + POOL_CELL_SEQUENCE_OFFSET, i + 1);
    store<u32>(cell + POOL_CELL_INDEX_OFFSET, i);
    store<u32>(pool + statesOffset + <usize>i * POOL_SLOT_STATE_BYTES, POOL_SLOT_FREE);
  }
  // Padding after the cells and after the states is zeroed too, for the same reason.
  const cellsEnd = POOL_CELLS_OFFSET + slotCount * POOL_CELL_BYTES;
  memory.fill(pool + cellsEnd, 0, statesOffset - cellsEnd);
  const statesEnd = statesOffset + slotCount * POOL_SLOT_STATE_BYTES;
  memory.fill(pool + statesEnd, 0, slotsOffset - statesEnd);
  store<u32>(pool + POOL_ENQUEUE_POS_OFFSET, slotCount);
  store<u32>(pool + POOL_DEQUEUE_POS_OFFSET, 0);
}

/**
 * Any thread. Dequeues a free slot index and returns the slot's address (SLOT_SIZE bytes the
 * caller owns until poolRelease), or STATUS_EXHAUSTED when the queue looks empty; that may be
 * spurious while a concurrent release is between its two steps.
 */
export function poolTryAlloc(pool: usize): usize {
  const mask = load<u32>(pool + POOL_MASK_OFFSET);
  let pos = atomic.load<u32>(pool + POOL_DEQUEUE_POS_OFFSET);
  let cell: usize;
  while (true) {
    cell = pool + POOL_CELLS_OFFSET + <usize>(pos & mask) * POOL_CELL_BYTES;
    // Pairs with the enqueuer's atomic store of SEQUENCE = pos + 1 after it wrote INDEX.
    const sequence = atomic.load<u32>(cell + POOL_CELL_SEQUENCE_OFFSET);
    const lag = <i32>(sequence - (pos + 1));
    if (lag == 0) {
      const seen = atomic.cmpxchg<u32>(pool + POOL_DEQUEUE_POS_OFFSET, pos, pos + 1);
      if (seen == pos) break;
      pos = seen;
    } else if (lag < 0) {
      // The cell still holds the previous lap's "empty" mark: no free index at this position.
      return STATUS_EXHAUSTED;
    } else {
      // Another allocator took this position already: catch up.
      pos = atomic.load<u32>(pool + POOL_DEQUEUE_POS_OFFSET);
    }
  }
  const index = load<u32>(cell + POOL_CELL_INDEX_OFFSET);
  // Hands the cell to the enqueuer of the next lap (pairs with its atomic load of SEQUENCE ==
  // pos + SLOT_COUNT); INDEX was read first, so that enqueuer may overwrite it.
  atomic.store<u32>(cell + POOL_CELL_SEQUENCE_OFFSET, pos + mask + 1);
  const state = pool + load<u32>(pool + POOL_STATES_OFFSET_OFFSET) + <usize>index * POOL_SLOT_STATE_BYTES;
  // An index is enqueued only after its STATE went ALLOCATED → FREE, so this cannot fail unless
  // the pool's memory was damaged.
  const previous = atomic.cmpxchg<u32>(state, POOL_SLOT_FREE, POOL_SLOT_ALLOCATED);
  if (DEBUG) assert(previous == POOL_SLOT_FREE, "pool: dequeued a slot that is not free");
  return pool + load<u32>(pool + POOL_SLOTS_OFFSET_OFFSET) + <usize>index * load<u32>(pool + POOL_SLOT_SIZE_OFFSET);
}

/**
 * Any thread. poolTryAlloc, then copies `bytes` bytes from `src` to byte `offset` of the slot, in
 * one call and with memory.copy (a TypedArray copy on shared memory is an element-wise relaxed
 * copy, measured 4× slower than on an unshared buffer): the slot's address, STATUS_EXHAUSTED
 * (nothing copied), or STATUS_INVALID when offset + bytes exceeds SLOT_SIZE or the source runs
 * past the memory (nothing allocated).
 */
export function poolTryAllocCopy(pool: usize, src: usize, bytes: u32, offset: u32): usize {
  if (<u64>offset + <u64>bytes > <u64>load<u32>(pool + POOL_SLOT_SIZE_OFFSET)) return STATUS_INVALID;
  if (<u64>src + <u64>bytes > (<u64>memory.size() << 16)) return STATUS_INVALID;
  const slot = poolTryAlloc(pool);
  if (slot == STATUS_EXHAUSTED) return slot;
  memory.copy(slot + offset, src, bytes);
  return slot;
}

/**
 * Any thread. Returns `slot` to the pool: STATUS_OK, or STATUS_INVALID when `slot` is not the
 * start of one of this pool's slots or is not allocated (a double release); then nothing changed.
 */
export function poolRelease(pool: usize, slot: usize): i32 {
  const slotCount = load<u32>(pool + POOL_SLOT_COUNT_OFFSET);
  const slotSize = load<u32>(pool + POOL_SLOT_SIZE_OFFSET);
  // Unsigned: an address below the slot data wraps to a huge offset and fails the range check.
  const offset = <u32>(slot - pool) - load<u32>(pool + POOL_SLOTS_OFFSET_OFFSET);
  const index = offset / slotSize;
  if (index >= slotCount || index * slotSize != offset) return STATUS_INVALID;
  const state = pool + load<u32>(pool + POOL_STATES_OFFSET_OFFSET) + <usize>index * POOL_SLOT_STATE_BYTES;
  // Exactly one of several concurrent releases of the same slot wins; the others change nothing.
  if (atomic.cmpxchg<u32>(state, POOL_SLOT_ALLOCATED, POOL_SLOT_FREE) != POOL_SLOT_ALLOCATED) return STATUS_INVALID;

  const mask = slotCount - 1;
  let pos = atomic.load<u32>(pool + POOL_ENQUEUE_POS_OFFSET);
  let cell: usize;
  while (true) {
    cell = pool + POOL_CELLS_OFFSET + <usize>(pos & mask) * POOL_CELL_BYTES;
    // Pairs with the dequeuer's atomic store of SEQUENCE = pos (its pos + SLOT_COUNT).
    const sequence = atomic.load<u32>(cell + POOL_CELL_SEQUENCE_OFFSET);
    const lag = <i32>(sequence - pos);
    if (lag == 0) {
      const seen = atomic.cmpxchg<u32>(pool + POOL_ENQUEUE_POS_OFFSET, pos, pos + 1);
      if (seen == pos) break;
      pos = seen;
    } else {
      // lag > 0: another releaser took this position; catch up. lag < 0 would mean "full" in
      // Vyukov's queue, but only SLOT_COUNT indices exist and this one is outside the queue, so
      // the cell's previous lap was dequeued: its dequeuer won its CAS and has yet to store the
      // SEQUENCE. Retry: that is two instructions away on the other thread (a spin only as long
      // as that thread is descheduled).
      pos = atomic.load<u32>(pool + POOL_ENQUEUE_POS_OFFSET);
    }
  }
  store<u32>(cell + POOL_CELL_INDEX_OFFSET, index);
  // Publishes INDEX to the dequeuer at pos (pairs with its atomic load of SEQUENCE == pos + 1).
  atomic.store<u32>(cell + POOL_CELL_SEQUENCE_OFFSET, pos + 1);
  return STATUS_OK;
}

/**
 * Any thread. Slots allocated and not yet released: SLOT_COUNT - (ENQUEUE_POS - DEQUEUE_POS).
 * Exact when no alloc or release is in flight; otherwise may be early or late, but always within
 * [0, SLOT_COUNT].
 */
export function poolOutstanding(pool: usize): u32 {
  const slotCount = load<u32>(pool + POOL_SLOT_COUNT_OFFSET);
  // ENQUEUE_POS first: DEQUEUE_POS only grows and never passes ENQUEUE_POS, so the difference
  // read this way never exceeds SLOT_COUNT.
  const enqueued = atomic.load<u32>(pool + POOL_ENQUEUE_POS_OFFSET);
  const dequeued = atomic.load<u32>(pool + POOL_DEQUEUE_POS_OFFSET);
  const queued = enqueued - dequeued;
  // Releases and allocs landing between the two loads can carry DEQUEUE_POS past the ENQUEUE_POS
  // read first: `queued` is then negative and every slot counts as out.
  return <i32>queued < 0 ? slotCount : slotCount - queued;
}
