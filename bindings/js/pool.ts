/**
 * Slot pool, TypeScript twin of assembly/pool.ts: Dmitry Vyukov's bounded MPMC queue of free slot
 * indices ("Bounded MPMC queue", 1024cores.net) plus a per-slot state word flipped by CAS. Same
 * bytes and same return values as the Wasm exports; see assembly/pool.ts for the algorithm's
 * reasoning and assembly/layout/pool.ts for the layout.
 *
 * Arithmetic mirrors Wasm's u32: positions wrap with `>>> 0`, lags are signed `| 0` differences,
 * arguments are coerced with `>>> 0` as the Wasm call boundary does (ToInt32, then read as u32).
 */
import type { CoreOps } from '../core-ops.ts';
import type { MemoryViews } from './views.ts';
import { alignStructure } from './common.ts';
import { ARENA_MAX_BYTES, STRUCTURE_ALIGN } from '../../assembly/layout/arena.ts';
import {
  POOL_CELL_BYTES, POOL_CELL_INDEX_OFFSET, POOL_CELL_SEQUENCE_OFFSET, POOL_CELLS_OFFSET,
  POOL_DEQUEUE_POS_OFFSET, POOL_ENQUEUE_POS_OFFSET, POOL_MASK_OFFSET, POOL_SLOT_ALLOCATED,
  POOL_SLOT_COUNT_OFFSET, POOL_SLOT_FREE, POOL_SLOT_SIZE_OFFSET, POOL_SLOT_STATE_BYTES,
  POOL_SLOTS_OFFSET_OFFSET, POOL_STATES_OFFSET_OFFSET,
} from '../../assembly/layout/pool.ts';
import { STATUS_EXHAUSTED, STATUS_INVALID, STATUS_OK } from '../../assembly/layout/status.ts';

export type PoolOps = Pick<CoreOps, 'poolBytes' | 'poolInit' | 'poolTryAlloc' | 'poolTryAllocCopy' | 'poolRelease' | 'poolOutstanding'>;

/** poolBytes' answer when the pool could not fit any arena (mirrors assembly/pool.ts). */
const POOL_BYTES_TOO_LARGE = 0x7fffffff;

/** Rounds up to STRUCTURE_ALIGN in double arithmetic (exact below 2^53), for sizes beyond 2^31. */
function alignStructureWide(value: number): number {
  return Math.ceil(value / STRUCTURE_ALIGN) * STRUCTURE_ALIGN;
}

/** The pool ops over `views` (the arena memory's typed views). */
export function createJsPool(views: MemoryViews): PoolOps {
  const { u8, i32 } = views;

  /** See assembly/pool.ts poolBytes. Doubles are exact for every result below 2^53; anything
   *  above ARENA_MAX_BYTES saturates, so rounding above 2^53 never shows. */
  function poolBytes(slotCount: number, slotSize: number): number {
    const count = slotCount >>> 0;
    const states = alignStructureWide(POOL_CELLS_OFFSET + count * POOL_CELL_BYTES);
    const slots = alignStructureWide(states + count * POOL_SLOT_STATE_BYTES);
    const end = slots + count * (slotSize >>> 0);
    if (end > ARENA_MAX_BYTES) return POOL_BYTES_TOO_LARGE;
    return alignStructure(end);
  }

  function poolInit(pool: number, slotCount: number, slotSize: number): void {
    pool >>>= 0;
    slotCount >>>= 0;
    slotSize >>>= 0;
    const statesOffset = alignStructure(POOL_CELLS_OFFSET + slotCount * POOL_CELL_BYTES);
    const slotsOffset = alignStructure(statesOffset + slotCount * POOL_SLOT_STATE_BYTES);
    u8.fill(0, pool, pool + POOL_CELLS_OFFSET);
    i32[(pool + POOL_SLOT_COUNT_OFFSET) >> 2] = slotCount;
    i32[(pool + POOL_MASK_OFFSET) >> 2] = slotCount - 1;
    i32[(pool + POOL_SLOT_SIZE_OFFSET) >> 2] = slotSize;
    i32[(pool + POOL_STATES_OFFSET_OFFSET) >> 2] = statesOffset;
    i32[(pool + POOL_SLOTS_OFFSET_OFFSET) >> 2] = slotsOffset;
    for (let i = 0; i < slotCount; i++) {
      const cell = pool + POOL_CELLS_OFFSET + i * POOL_CELL_BYTES;
      i32[(cell + POOL_CELL_SEQUENCE_OFFSET) >> 2] = i + 1;
      i32[(cell + POOL_CELL_INDEX_OFFSET) >> 2] = i;
      i32[(pool + statesOffset + i * POOL_SLOT_STATE_BYTES) >> 2] = POOL_SLOT_FREE;
    }
    const cellsEnd = POOL_CELLS_OFFSET + slotCount * POOL_CELL_BYTES;
    u8.fill(0, pool + cellsEnd, pool + statesOffset);
    const statesEnd = statesOffset + slotCount * POOL_SLOT_STATE_BYTES;
    u8.fill(0, pool + statesEnd, pool + slotsOffset);
    i32[(pool + POOL_ENQUEUE_POS_OFFSET) >> 2] = slotCount;
    i32[(pool + POOL_DEQUEUE_POS_OFFSET) >> 2] = 0;
  }

  function poolTryAlloc(pool: number): number {
    pool >>>= 0;
    const mask = i32[(pool + POOL_MASK_OFFSET) >> 2]!;
    const dequeueAt = (pool + POOL_DEQUEUE_POS_OFFSET) >> 2;
    let pos = Atomics.load(i32, dequeueAt);
    let cell: number;
    for (;;) {
      cell = (pool + POOL_CELLS_OFFSET + (pos & mask) * POOL_CELL_BYTES) >> 2;
      // Pairs with the enqueuer's atomic store of SEQUENCE = pos + 1 after it wrote INDEX.
      const lag = (Atomics.load(i32, cell + (POOL_CELL_SEQUENCE_OFFSET >> 2)) - (pos + 1)) | 0;
      if (lag === 0) {
        const seen = Atomics.compareExchange(i32, dequeueAt, pos, (pos + 1) | 0);
        if (seen === pos) break;
        pos = seen;
      } else if (lag < 0) {
        return STATUS_EXHAUSTED;
      } else {
        pos = Atomics.load(i32, dequeueAt);
      }
    }
    const index = i32[cell + (POOL_CELL_INDEX_OFFSET >> 2)]!;
    // Hands the cell to the next lap's enqueuer (pairs with its atomic load of SEQUENCE).
    Atomics.store(i32, cell + (POOL_CELL_SEQUENCE_OFFSET >> 2), (pos + mask + 1) | 0);
    // Cannot fail unless the pool's memory was damaged (see assembly/pool.ts).
    Atomics.compareExchange(i32, (pool + i32[(pool + POOL_STATES_OFFSET_OFFSET) >> 2]! + index * POOL_SLOT_STATE_BYTES) >> 2,
      POOL_SLOT_FREE, POOL_SLOT_ALLOCATED);
    return (pool + i32[(pool + POOL_SLOTS_OFFSET_OFFSET) >> 2]! + index * i32[(pool + POOL_SLOT_SIZE_OFFSET) >> 2]!) | 0;
  }

  function poolRelease(pool: number, slot: number): number {
    pool >>>= 0;
    const slotCount = i32[(pool + POOL_SLOT_COUNT_OFFSET) >> 2]! >>> 0;
    const slotSize = i32[(pool + POOL_SLOT_SIZE_OFFSET) >> 2]! >>> 0;
    // Unsigned, as in Wasm: an address below the slot data wraps to a huge offset.
    const offset = ((slot >>> 0) - pool - i32[(pool + POOL_SLOTS_OFFSET_OFFSET) >> 2]!) >>> 0;
    const index = Math.floor(offset / slotSize);
    if (index >= slotCount || index * slotSize !== offset) return STATUS_INVALID;
    const state = (pool + i32[(pool + POOL_STATES_OFFSET_OFFSET) >> 2]! + index * POOL_SLOT_STATE_BYTES) >> 2;
    if (Atomics.compareExchange(i32, state, POOL_SLOT_ALLOCATED, POOL_SLOT_FREE) !== POOL_SLOT_ALLOCATED) return STATUS_INVALID;

    const mask = slotCount - 1;
    const enqueueAt = (pool + POOL_ENQUEUE_POS_OFFSET) >> 2;
    let pos = Atomics.load(i32, enqueueAt);
    let cell: number;
    for (;;) {
      cell = (pool + POOL_CELLS_OFFSET + (pos & mask) * POOL_CELL_BYTES) >> 2;
      // Pairs with the dequeuer's atomic store of SEQUENCE = its pos + SLOT_COUNT.
      const lag = (Atomics.load(i32, cell + (POOL_CELL_SEQUENCE_OFFSET >> 2)) - pos) | 0;
      if (lag === 0) {
        const seen = Atomics.compareExchange(i32, enqueueAt, pos, (pos + 1) | 0);
        if (seen === pos) break;
        pos = seen;
      } else {
        // lag > 0: another releaser took this position. lag < 0: the previous lap's dequeuer won
        // its CAS and has yet to store SEQUENCE (see assembly/pool.ts). Either way, retry.
        pos = Atomics.load(i32, enqueueAt);
      }
    }
    i32[cell + (POOL_CELL_INDEX_OFFSET >> 2)] = index;
    // Publishes INDEX to the dequeuer at pos (pairs with its atomic load of SEQUENCE == pos + 1).
    Atomics.store(i32, cell + (POOL_CELL_SEQUENCE_OFFSET >> 2), (pos + 1) | 0);
    return STATUS_OK;
  }

  function poolOutstanding(pool: number): number {
    pool >>>= 0;
    const slotCount = i32[(pool + POOL_SLOT_COUNT_OFFSET) >> 2]!;
    // ENQUEUE_POS first, as in assembly/pool.ts: the difference never exceeds SLOT_COUNT.
    const enqueued = Atomics.load(i32, (pool + POOL_ENQUEUE_POS_OFFSET) >> 2);
    const queued = (enqueued - Atomics.load(i32, (pool + POOL_DEQUEUE_POS_OFFSET) >> 2)) | 0;
    return queued < 0 ? slotCount : (slotCount - queued) | 0;
  }

  function poolTryAllocCopy(pool: number, src: number, bytes: number, offset: number): number {
    pool >>>= 0;
    src >>>= 0;
    bytes >>>= 0;
    offset >>>= 0;
    if (offset + bytes > i32[(pool + POOL_SLOT_SIZE_OFFSET) >> 2]! >>> 0) return STATUS_INVALID;
    if (src + bytes > u8.length) return STATUS_INVALID;
    const slot = poolTryAlloc(pool);
    if (slot === STATUS_EXHAUSTED) return slot;
    u8.copyWithin(slot + offset, src, src + bytes);
    return slot;
  }

  return { poolBytes, poolInit, poolTryAlloc, poolTryAllocCopy, poolRelease, poolOutstanding };
}
