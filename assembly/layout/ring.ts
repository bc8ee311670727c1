/**
 * SPSC ring layout: one producer thread, one consumer thread, fixed-size records.
 * Algorithm: Lamport's single-producer/single-consumer queue with free-running u32 indices,
 * cached remote indices and write-combining publish, after Agrona's OneToOneRingBuffer and
 * Vyukov's notes on SPSC queues. Capacity is a power of two; an index's slot is `index & MASK`;
 * indices wrap at 2^32, so `HEAD - TAIL` (u32 arithmetic) is the number of records in the ring.
 *
 *   ring (absolute byte address, STRUCTURE_ALIGN aligned)
 *   ┌──────────┬──────────┬──────────┬──────────┬──────────┬──────────┬─────────────────────────┐
 *   │ config   │ producer │ producer │ consumer │ consumer │ wake     │ records                 │
 *   │ (r/o)    │ shared   │ private  │ shared   │ private  │ flags    │ CAPACITY × RECORD_SIZE  │
 *   └──────────┴──────────┴──────────┴──────────┴──────────┴──────────┴─────────────────────────┘
 *   0          128        256        384        512        640        768
 *
 * | offset | field              | writer    | readers   | access | meaning                          |
 * |--------|--------------------|-----------|-----------|--------|----------------------------------|
 * | 0      | CAPACITY           | init      | both      | plain  | records, power of two            |
 * | 4      | MASK               | init      | both      | plain  | CAPACITY - 1                     |
 * | 8      | RECORD_SIZE        | init      | both      | plain  | bytes per record, multiple of 8  |
 * | 128    | HEAD               | producer  | consumer  | atomic | published write index; also the  |
 * |        |                    |           |           |        | word a parked consumer waits on  |
 * | 132    | PRODUCER_CLOSED    | producer  | consumer  | atomic | 1: no record will follow HEAD    |
 * | 256    | CLAIM              | producer  | producer  | plain  | private head: claimed records,   |
 * |        |                    |           |           |        | invisible until flush stores HEAD|
 * | 260    | CACHED_TAIL        | producer  | producer  | plain  | last TAIL the producer loaded    |
 * | 384    | TAIL               | consumer  | producer  | atomic | commit cursor: records fully     |
 * |        |                    |           |           |        | handled; their space is free. A  |
 * |        |                    |           |           |        | parked producer waits on it.     |
 * |        |                    |           |           |        | Crash recovery redelivers        |
 * |        |                    |           |           |        | [TAIL, HEAD) with no new field.  |
 * | 512    | READ               | consumer  | consumer  | plain  | read cursor: records handed out; |
 * |        |                    |           |           |        | [TAIL, READ) are in flight       |
 * | 516    | CACHED_HEAD        | consumer  | consumer  | plain  | last HEAD the consumer loaded    |
 * | 640    | CONSUMER_PARKED    | consumer  | producer  | atomic | 1 while the consumer may sleep   |
 * |        |                    |           |           |        | on HEAD: flush must notify       |
 * | 644    | PRODUCER_PARKED    | producer  | consumer  | atomic | 1 while the producer may sleep   |
 * |        |                    |           |           |        | on TAIL: commit must notify      |
 * | 648    | CONSUMER_CLOSED    | consumer* | producer  | atomic | 1: pushes are refused (CLOSED)   |
 * | 768    | records            | producer  | consumer  | plain  | published by the HEAD store      |
 *
 * (*) or the thread that stands in for a consumer that is gone: the engine's thread 0 closes a
 * crashed worker's lanes (ringCloseConsumer is idempotent and only ever sets the flag).
 *
 * The wake line has two writers on purpose: each flag is written only when its side parks or the
 * consumer closes (rare) and read on every claim/flush/commit by the other side, so the line stays
 * shared in both caches. (CONSUMER_CLOSED next to TAIL would cost the producer a cache miss per
 * claim, since the consumer rewrites TAIL's line at every commit.)
 */
import { FALSE_SHARING_STRIDE } from "./arena.ts";

export const RING_CAPACITY_OFFSET = 0;
export const RING_MASK_OFFSET = RING_CAPACITY_OFFSET + 4;
export const RING_RECORD_SIZE_OFFSET = RING_MASK_OFFSET + 4;

export const RING_PRODUCER_LINE = FALSE_SHARING_STRIDE;
export const RING_HEAD_OFFSET = RING_PRODUCER_LINE;
export const RING_PRODUCER_CLOSED_OFFSET = RING_HEAD_OFFSET + 4;

export const RING_PRODUCER_PRIVATE_LINE = RING_PRODUCER_LINE + FALSE_SHARING_STRIDE;
export const RING_CLAIM_OFFSET = RING_PRODUCER_PRIVATE_LINE;
export const RING_CACHED_TAIL_OFFSET = RING_CLAIM_OFFSET + 4;

export const RING_CONSUMER_LINE = RING_PRODUCER_PRIVATE_LINE + FALSE_SHARING_STRIDE;
export const RING_TAIL_OFFSET = RING_CONSUMER_LINE;

export const RING_CONSUMER_PRIVATE_LINE = RING_CONSUMER_LINE + FALSE_SHARING_STRIDE;
export const RING_READ_OFFSET = RING_CONSUMER_PRIVATE_LINE;
export const RING_CACHED_HEAD_OFFSET = RING_READ_OFFSET + 4;

export const RING_WAKE_LINE = RING_CONSUMER_PRIVATE_LINE + FALSE_SHARING_STRIDE;
export const RING_CONSUMER_PARKED_OFFSET = RING_WAKE_LINE;
export const RING_PRODUCER_PARKED_OFFSET = RING_CONSUMER_PARKED_OFFSET + 4;
export const RING_CONSUMER_CLOSED_OFFSET = RING_PRODUCER_PARKED_OFFSET + 4;

export const RING_DATA_OFFSET = RING_WAKE_LINE + FALSE_SHARING_STRIDE;
export const RING_HEADER_BYTES = RING_DATA_OFFSET;

export const RING_MIN_CAPACITY = 2;
export const RING_MAX_CAPACITY = 1 << 24;
export const RING_RECORD_ALIGN = 8;
export const RING_MIN_RECORD_SIZE = 8;
export const RING_MAX_RECORD_SIZE = 65536;
