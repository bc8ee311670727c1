/**
 * The fan-out pool: a large message routed to several receivers is copied once, into a slot of
 * the core's slot pool, and each receiver's lane gets a small record that points at it, instead of
 * a copy of the whole message per receiver. The slot goes back to the pool when the last receiver
 * is done with it.
 *
 * Which messages: when the engine has a pool (options.pool: off unless given), those of a topic
 * whose message is at least `pool.minBytes` (EngineShape.topicPooled), when the route reaches two
 * or more receivers. A message with one receiver is copied into its lane as
 * before (the pool would copy it once too, and add an allocation and a release). When the pool is
 * exhausted, or a lane is full and its policy takes over (a backlog, caller-runs, drop-oldest), the
 * message goes inline as before: a pool reference never leaves a lane, so what releases a slot is
 * exactly what passes a lane record for good.
 *
 * ── Pooled record (POOLED_RECORD_BYTES, in a lane) ─────────────────────────────────────────────
 *
 * | offset | size | field   | meaning                                                      |
 * |--------|------|---------|--------------------------------------------------------------|
 * | 0      | 16   | header  | as every record (layout.ts), FLAGS with RECORD_FLAG_POOLED   |
 * | 16     | 4    | SLOT    | absolute address of the pool slot holding the message        |
 * | 20     | 4    | (pad)   |                                                              |
 *
 * ── Slot (pool.slotBytes) ──────────────────────────────────────────────────────────────────────
 *
 * | offset | size | field   | writer            | access | meaning                               |
 * |--------|------|---------|-------------------|--------|---------------------------------------|
 * | 0      | 4    | REFS    | publisher, receivers | atomic | lane records pointing here, + 1 while the publisher routes it |
 * | 8      | n    | message | publisher (before any push) | plain | the topic's schema           |
 *
 * The publisher writes the message, sets REFS = 1 (its own hold), and adds 1 before each push into
 * a lane (a failed push takes it back); after the route it drops its hold. The message is written
 * before the records that point at it are published (the ring's HEAD store orders it), and never
 * written again until the slot is released.
 *
 * When a receiver lets go (release): after the delivery's handled cursor passed it (drainLane),
 * after it was marked DONE (async deliveries, a thief's stolen record), or when the record is
 * written off (a dead letter of a crash, a worker that stays down). Never earlier: recovery
 * redelivers a dead worker's records from its handled cursor, and a record redelivered after its
 * slot was reused would carry another message. A thread killed between that mark and its release,
 * or while routing, leaks the slot (REFS never reaches 0): the pool has one slot fewer, which
 * stats().poolInUse shows after a drain; it never hands a receiver the wrong bytes.
 */
import type { CoreOps } from '../../bindings/core-ops.ts';
import { ADDRESS_MIN } from '../../assembly/layout/arena.ts';
import type { Arena } from '../arena.ts';
import { RECORD_FLAGS_OFFSET, RECORD_FLAG_POOLED, RECORD_HEADER_BYTES, RECORD_POOL_SLOT_OFFSET, RECORD_TOPIC_OFFSET } from './layout.ts';
/** Offset of REFS in a slot. */
export const SLOT_REFS_OFFSET = 0;
/** Offset of the message in a slot. */
export const SLOT_MESSAGE_OFFSET = 8;

/** Slot bytes for messages of up to `messageBytes` bytes: REFS, then the message, rounded to 8. */
export function poolSlotBytes(messageBytes: number): number {
  return SLOT_MESSAGE_OFFSET + Math.ceil(messageBytes / 8) * 8;
}

export class FanOutPool {
  private readonly i32: Int32Array;
  private readonly u8: Uint8Array;
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  /** The pool's address in the arena, 0 when the engine has none. */
  readonly address: number;

  /** Per topic id: the bytes of its message in a slot (the schema's size rounded to 8). */
  private readonly slotMessageBytes: Uint32Array;

  constructor(private readonly core: CoreOps, arena: Arena, messageBytes: readonly number[]) {
    this.slotMessageBytes = Uint32Array.from(messageBytes, (bytes) => Math.ceil(bytes / 8) * 8);
    const buffer = arena.memory.buffer;
    this.i32 = new Int32Array(buffer);
    this.u8 = new Uint8Array(buffer);
    this.u16 = new Uint16Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.address = arena.pools.length > 0 ? arena.pool(0).address : 0;
  }

  /**
   * Copies the message of the record at `src` (`messageBytes` bytes) into a new slot held by the
   * caller (REFS = 1): returns the slot's address, or 0 when the pool is exhausted (the message
   * then goes inline).
   */
  hold(src: number, messageBytes: number): number {
    // The core copies (memory.copy on Wasm): a TypedArray copy on shared memory is several times slower.
    const slot = this.core.poolTryAllocCopy(this.address, src + RECORD_HEADER_BYTES, messageBytes, SLOT_MESSAGE_OFFSET);
    if (slot < ADDRESS_MIN) return 0;
    Atomics.store(this.i32, (slot + SLOT_REFS_OFFSET) >> 2, 1);
    return slot;
  }

  /**
   * Writes the pooled record at `pooled`: the header of the record at `src` (as stamped for this
   * push), FLAGS with RECORD_FLAG_POOLED, and `slot`. Rewritten before every push, since a
   * caller-runs handler run between two pushes may route a pooled message of its own.
   */
  stage(src: number, slot: number, pooled: number): void {
    const i32 = this.i32;
    for (let i = 0, from = src >> 2, to = pooled >> 2; i < RECORD_HEADER_BYTES >> 2; i++) i32[to + i] = i32[from + i]!;
    this.u16[(pooled + RECORD_FLAGS_OFFSET) >> 1]! |= RECORD_FLAG_POOLED;
    this.u32[(pooled + RECORD_POOL_SLOT_OFFSET) >> 2] = slot;
  }

  /** One more lane record will point at `slot` (before its push). */
  take(slot: number): void {
    Atomics.add(this.i32, (slot + SLOT_REFS_OFFSET) >> 2, 1);
  }

  /** Lets go of one reference to `slot` (a receiver done, a push that failed, the publisher's hold): the last one releases it. */
  drop(slot: number): void {
    if (Atomics.sub(this.i32, (slot + SLOT_REFS_OFFSET) >> 2, 1) === 1) this.core.poolRelease(this.address, slot);
  }

  /** The pooled record at `record` (RECORD_FLAG_POOLED set) is done with its slot. */
  release(record: number): void {
    this.drop(this.u32[(record + RECORD_POOL_SLOT_OFFSET) >> 2]!);
  }

  /** Address of the message of the record at `record`: in its slot if it is pooled, else after its header. */
  messageAt(record: number): number {
    return (this.u16[(record + RECORD_FLAGS_OFFSET) >> 1]! & RECORD_FLAG_POOLED) !== 0
      ? this.u32[(record + RECORD_POOL_SLOT_OFFSET) >> 2]! + SLOT_MESSAGE_OFFSET
      : record + RECORD_HEADER_BYTES;
  }

  /**
   * Copies the record at `record` (`bytes`: its topic's record bytes) to `to` as an inline record:
   * the header with RECORD_FLAG_POOLED cleared, and the message from its slot if it is pooled
   * (the message only: a slot holds no reply).
   */
  copyInline(record: number, to: number, bytes: number): void {
    const i32 = this.i32;
    const pooled = (this.u16[(record + RECORD_FLAGS_OFFSET) >> 1]! & RECORD_FLAG_POOLED) !== 0;
    const words = (pooled ? RECORD_HEADER_BYTES : bytes) >> 2;
    for (let i = 0, from = record >> 2, at = to >> 2; i < words; i++) i32[at + i] = i32[from + i]!;
    if (!pooled) return;
    const message = this.u32[(record + RECORD_POOL_SLOT_OFFSET) >> 2]! + SLOT_MESSAGE_OFFSET;
    const length = this.slotMessageBytes[this.u16[(record + RECORD_TOPIC_OFFSET) >> 1]!]!;
    this.u8.copyWithin(to + RECORD_HEADER_BYTES, message, message + length);
    this.u16[(to + RECORD_FLAGS_OFFSET) >> 1]! &= ~RECORD_FLAG_POOLED;
  }
}
