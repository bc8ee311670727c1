/**
 * Slot pool layout: fixed-size slots allocated on any thread and released on any other.
 * Algorithm: the free slots' indices circulate through Dmitry Vyukov's bounded MPMC queue
 * (per-cell sequence numbers, CAS on 32-bit positions: no ABA, no locks, no 64-bit atomics, so the
 * JS twin needs no BigInt). Allocation dequeues an index, release enqueues it. Exactly SLOT_COUNT
 * indices circulate, so the queue can never overflow. A per-slot state word (0 free, 1 allocated,
 * flipped with CAS) turns a double release or a foreign address into STATUS_INVALID instead of a
 * corrupted free list.
 *
 *   pool
 *   ┌──────────┬──────────────┬──────────────┬───────────────────┬──────────────┬──────────────┐
 *   │ config   │ enqueue pos  │ dequeue pos  │ cells             │ slot states  │ slot data    │
 *   │ (r/o)    │ (releasers)  │ (allocators) │ SLOT_COUNT × 8    │ SLOT_COUNT×4 │ COUNT × SIZE │
 *   └──────────┴──────────────┴──────────────┴───────────────────┴──────────────┴──────────────┘
 *   0          128            256            384                 STATES_OFFSET  SLOTS_OFFSET
 *
 * | offset        | field          | writer              | readers     | access |
 * |---------------|----------------|---------------------|-------------|--------|
 * | 0             | SLOT_COUNT     | init                | all         | plain  | power of two
 * | 4             | MASK           | init                | all         | plain  |
 * | 8             | SLOT_SIZE      | init                | all         | plain  | bytes, multiple of 8
 * | 12            | STATES_OFFSET  | init                | all         | plain  | relative to pool
 * | 16            | SLOTS_OFFSET   | init                | all         | plain  | relative to pool
 * | 128           | ENQUEUE_POS    | any releaser (CAS)  | all         | atomic |
 * | 256           | DEQUEUE_POS    | any allocator (CAS) | all         | atomic |
 * | 384 + 8i      | cell i SEQUENCE| the CAS winner      | all         | atomic | Vyukov sequence
 * | 388 + 8i      | cell i INDEX   | the CAS winner      | all         | plain  | published by SEQUENCE
 * | STATES + 4i   | slot i STATE   | allocator/releaser  | all         | atomic | 0 free, 1 allocated
 * | SLOTS + i*SIZE| slot i data    | the slot's owner    | owner       | plain  |
 *
 * ENQUEUE_POS and DEQUEUE_POS have many writers by design (MPMC); each sits on its own line pair.
 * A slot's handle is its absolute byte address (>= ADDRESS_MIN), so it fits a u32 ring field.
 */
import { FALSE_SHARING_STRIDE } from "./arena.ts";

export const POOL_SLOT_COUNT_OFFSET = 0;
export const POOL_MASK_OFFSET = POOL_SLOT_COUNT_OFFSET + 4;
export const POOL_SLOT_SIZE_OFFSET = POOL_MASK_OFFSET + 4;
export const POOL_STATES_OFFSET_OFFSET = POOL_SLOT_SIZE_OFFSET + 4;
export const POOL_SLOTS_OFFSET_OFFSET = POOL_STATES_OFFSET_OFFSET + 4;

export const POOL_ENQUEUE_POS_OFFSET = FALSE_SHARING_STRIDE;
export const POOL_DEQUEUE_POS_OFFSET = POOL_ENQUEUE_POS_OFFSET + FALSE_SHARING_STRIDE;
export const POOL_CELLS_OFFSET = POOL_DEQUEUE_POS_OFFSET + FALSE_SHARING_STRIDE;
export const POOL_CELL_SEQUENCE_OFFSET = 0;
export const POOL_CELL_INDEX_OFFSET = 4;
export const POOL_CELL_BYTES = 8;
export const POOL_SLOT_STATE_BYTES = 4;
export const POOL_SLOT_FREE = 0;
export const POOL_SLOT_ALLOCATED = 1;

export const POOL_MIN_SLOT_COUNT = 1;
export const POOL_MAX_SLOT_COUNT = 1 << 22;
export const POOL_SLOT_ALIGN = 8;
export const POOL_MIN_SLOT_SIZE = 8;
export const POOL_MAX_SLOT_SIZE = 1 << 20;
