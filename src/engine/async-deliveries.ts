/**
 * AsyncDeliveries: one thread's deliveries whose handler returned a Promise (async handlers), and
 * the lanes they hold open.
 *
 * A lane is an SPSC ring: its consumer reads records in order (READ) and frees them by moving TAIL.
 * A delivery whose promise is pending keeps its record where it is, so the message stays valid in
 * place until it settles; the consumer goes on reading (and running) the records behind it. While
 * a lane has a pending delivery it is in async mode (Consumer.drainLane):
 *
 *   - TAIL stays at the oldest record not yet complete; every record completed behind it (a
 *     synchronous handler that returned, or a promise that settled) is marked CLAIM_DONE in place;
 *   - advance() moves TAIL over the complete prefix (records marked DONE) and counts them
 *     COMPLETED, after flushing what their handlers published (children first, as drainLane does);
 *     settles only mark their lane, and commitLanes() advances each marked lane once per turn;
 *   - thread 0's STEAL word has CLAIMS_ASYNC set (sticky) before the first DONE mark, so any later
 *     consumer of the lane — this thread's successor after a crash — passes DONE records without
 *     running them again (exactly what it does for records a thief ran).
 *
 * Limits, checked before a record runs (mustWait): a subscription's deliveries pending on this
 * thread stay below its `concurrency`, and a keyed subscription runs a key's next message only
 * after the previous one settled (keys are told apart by the core's key hash: two keys with the
 * same hash wait for each other, never the reverse). A record that must wait stops its lane's
 * drain (in order) until a delivery settles.
 *
 * With handlerTimeout, a delivery pending that long fails (ERR_HANDLER_TIMEOUT, a handler error)
 * and frees its record; its handler is abandoned, not stopped.
 *
 * Settling runs in the thread's event loop (a promise callback): the worker loop yields to it
 * while deliveries are pending (worker.ts). whenSettled() resolves at the next settle.
 */
import { RING_PRODUCER_PARKED_OFFSET, RING_READ_OFFSET, RING_TAIL_OFFSET } from '../../assembly/layout/ring.ts';
import { MODE_KEYED } from '../../assembly/layout/router.ts';
import type { CoreOps } from '../../bindings/core-ops.ts';
import { EngineError } from '../errors.ts';
import type { ControlBlock } from './control-block.ts';
import {
  CLAIMS_ASYNC, CLAIM_DONE, DEAD_LETTER_SUBSCRIPTION, HANDLED_ASYNC, RECORD_CLAIM_OFFSET, RECORD_FLAGS_OFFSET, RECORD_FLAG_POOLED, RECORD_SUBSCRIPTION_OFFSET, RECORD_TOPIC_OFFSET, ringRecordAt,
} from './layout.ts';
import type { FanOutPool } from './fan-out-pool.ts';
import type { Producer } from './producer.ts';
import type { SubscriptionTable } from './subscription-table.ts';
import type { TopicReaderFlyweight, TopicSet } from './topic-runtime.ts';

/** Where a pending delivery's record lives: an inbound lane (its key, ≥ 0), another worker's lane (stolen), or a publisher's staging record (caller-runs). */
export const FROM_STOLEN = -1;
export const FROM_INLINE = -2;

/** One pending delivery: what its completion needs, read from the record when it started. */
export interface AsyncDelivery {
  readonly record: number;
  /** Inbound key of its lane, or FROM_STOLEN / FROM_INLINE. */
  readonly from: number;
  readonly topic: number;
  readonly slot: number;
  readonly correlation: number;
  readonly replyTo: number;
  readonly priority: number;
  readonly deliveries: number;
  readonly admitted: boolean;
  /** Its message is in a fan-out pool slot (RECORD_FLAG_POOLED), released once it is DONE in its lane. */
  readonly pooled: boolean;
  /** Its key in the keyed table (slot · 2^32 + key hash), or -1. */
  readonly key: number;
  /** A stolen record: what the thief does once it settled. */
  readonly onDone: (() => void) | undefined;
  /** The reader flyweight its handler holds (its topic's spare once it settled), if it has one of its own. */
  readonly reader: TopicReaderFlyweight | undefined;
  /** Failed by the timeout, its handler still running: its reader is not given back. */
  timedOut: boolean;
}

export class AsyncDeliveries {
  /** Deliveries pending on this thread. */
  count = 0;
  /** Per inbound key: deliveries of that lane pending (nonzero: the lane is in async mode). */
  readonly perLane: Int32Array;
  /** Per slot: its deliveries pending on this thread (the concurrency limit). */
  private readonly perSlot: Uint32Array;
  /** Lanes with records marked DONE since their last advance (commitLanes), and how many. */
  private readonly dirty: Uint8Array;
  dirtyLanes = 0;
  private commitScheduled = false;
  /** Inside start(): a thenable that calls back synchronously is settled from a microtask, not re-entrantly. */
  private starting = false;
  /** Keyed subscriptions: pending deliveries per (slot, key hash). */
  private readonly keys = new Map<number, number>();
  private readonly u16: Uint16Array;
  private readonly i32: Int32Array;
  private wake: (() => void) | undefined;
  private announced = false;
  /** The key hash mustWait computed for the record it looked at last (start() reuses it). */
  private lastRecord = -1;
  private lastKey = -1;

  constructor(
    private readonly core: CoreOps,
    buffer: ArrayBufferLike,
    private readonly control: ControlBlock,
    private readonly control0: ControlBlock,
    private readonly table: SubscriptionTable,
    private readonly topics: TopicSet,
    private readonly producer: Producer,
    /** Inbound lanes' ring addresses by key. */
    private readonly lanes: readonly number[],
    slots: number,
    /** ms a delivery may stay pending (handlerTimeout), 0: no limit. */
    private readonly timeoutMs: number,
    /** The fan-out pool: a pooled record's message, and its slot's release (fan-out-pool.ts). */
    private readonly pool: FanOutPool,
  ) {
    this.u16 = new Uint16Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.perLane = new Int32Array(lanes.length);
    this.dirty = new Uint8Array(lanes.length);
    this.perSlot = new Uint32Array(slots);
  }

  /** Whether the record at `record` must wait: its subscription is at its concurrency, or (keyed) its key has a delivery pending. */
  mustWait(record: number): boolean {
    const slot = this.u16[(record + RECORD_SUBSCRIPTION_OFFSET) >> 1]!;
    if (slot >= DEAD_LETTER_SUBSCRIPTION) return false;
    if (this.perSlot[slot]! >= this.table.concurrency(slot)) return true;
    return this.keys.size > 0 && this.table.mode(slot) === MODE_KEYED && this.keys.has(this.keyOf(record, slot));
  }

  /** Registers the delivery of the record at `record`, whose handler returned `promise`; `settle` completes it. */
  start(record: number, from: number, promise: PromiseLike<unknown>, deliveries: number, correlation: number, replyTo: number, priority: number, admitted: boolean,
    reader: TopicReaderFlyweight | undefined, settle: (delivery: AsyncDelivery, value: unknown, failed: boolean) => void, onDone?: () => void): void {
    if (!this.announced) {
      // Before the first DONE mark: consumers from now on (a successor) look at CLAIM.
      this.announced = true;
      Atomics.or(this.control0.i32, this.control0.steal, CLAIMS_ASYNC);
    }
    const slot = this.u16[(record + RECORD_SUBSCRIPTION_OFFSET) >> 1]!;
    const key = this.table.mode(slot) === MODE_KEYED ? this.keyOf(record, slot) : -1;
    this.lastRecord = -1; // the next record at this address is another message
    const delivery: AsyncDelivery = {
      record, from, topic: this.u16[(record + RECORD_TOPIC_OFFSET) >> 1]!, slot, correlation, replyTo, priority, deliveries, admitted,
      pooled: (this.u16[(record + RECORD_FLAGS_OFFSET) >> 1]! & RECORD_FLAG_POOLED) !== 0, key, onDone, reader, timedOut: false,
    };
    this.count++;
    this.perSlot[slot]!++;
    if (from >= 0) this.perLane[from]!++;
    if (key !== -1) this.keys.set(key, (this.keys.get(key) ?? 0) + 1);
    // A thenable may call back synchronously or twice: settle once, and never from inside this call.
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = (value: unknown, failed: boolean): void => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      if (this.starting) queueMicrotask(() => settle(delivery, value, failed));
      else settle(delivery, value, failed);
    };
    if (this.timeoutMs > 0) {
      // Pending past handlerTimeout: the delivery fails and its record is freed; the handler, still
      // running, is abandoned (what it reads of its message afterwards is not its message).
      timer = setTimeout(() => {
        if (settled) return;
        delivery.timedOut = true;
        const name = this.topics.byId[delivery.topic]!.name;
        done(new EngineError('ERR_HANDLER_TIMEOUT', 'topic', name, `an async handler's promise was pending for ${this.timeoutMs} ms (handlerTimeout)`), true);
      }, this.timeoutMs);
    }
    this.starting = true;
    try {
      promise.then((value) => done(value, false), (error: unknown) => done(error, true));
    } catch (error) {
      done(error, true);
    } finally {
      this.starting = false;
    }
  }

  /** The delivery settled and its completion ran: frees its places, marks its record DONE, moves its lane on, wakes the loop. */
  finish(delivery: AsyncDelivery): void {
    this.count--;
    this.perSlot[delivery.slot]!--;
    if (delivery.key !== -1) {
      const n = this.keys.get(delivery.key)! - 1;
      if (n === 0) this.keys.delete(delivery.key);
      else this.keys.set(delivery.key, n);
    }
    if (delivery.from >= 0) {
      this.perLane[delivery.from]!--;
      Atomics.store(this.u16, (delivery.record + RECORD_CLAIM_OFFSET) >> 1, CLAIM_DONE);
      // DONE first: recovery passes a DONE record, so its slot is not needed again (fan-out-pool.ts).
      if (delivery.pooled) this.pool.release(delivery.record);
      // Its lane moves on once per turn, not per delivery (commitLanes): one TAIL store and one
      // wake-up of a parked producer for all that settled together.
      if (this.dirty[delivery.from] === 0) {
        this.dirty[delivery.from] = 1;
        this.dirtyLanes++;
      }
      if (!this.commitScheduled) {
        this.commitScheduled = true;
        queueMicrotask(this.commitTask);
      }
    } else {
      this.producer.flushAll();
      delivery.onDone?.();
    }
    const wake = this.wake;
    if (wake !== undefined) {
      this.wake = undefined;
      wake();
    }
  }

  /**
   * Moves every lane with newly DONE records on (advance), after flushing what their handlers
   * published (children first). Runs once per turn after settles, and at the start of a drain of
   * such a lane (drainLane reads TAIL, and whether the lane is held, only after this).
   */
  commitLanes(): void {
    this.commitScheduled = false;
    if (this.dirtyLanes === 0) return;
    this.producer.flushAll();
    for (let key = 0; key < this.dirty.length; key++) {
      if (this.dirty[key] === 0) continue;
      this.dirty[key] = 0;
      this.advance(key);
    }
    this.dirtyLanes = 0;
  }

  private readonly commitTask = (): void => this.commitLanes();

  /** Marks the record at `record` (complete, behind a pending one in its lane) DONE. */
  markDone(record: number): void {
    Atomics.store(this.u16, (record + RECORD_CLAIM_OFFSET) >> 1, CLAIM_DONE);
  }

  /**
   * Moves lane `key`'s TAIL over its complete prefix (records marked DONE, up to READ) and counts
   * them COMPLETED; the caller flushed what they published. Returns how many it passed.
   */
  advance(key: number): number {
    const ring = this.lanes[key]!;
    const i32 = this.i32;
    const tailWord = (ring + RING_TAIL_OFFSET) >> 2;
    const read = i32[(ring + RING_READ_OFFSET) >> 2]!;
    let tail = i32[tailWord]!;
    let n = 0;
    while (tail !== read && Atomics.load(this.u16, (ringRecordAt(i32, ring, tail) + RECORD_CLAIM_OFFSET) >> 1) === CLAIM_DONE) {
      tail = (tail + 1) | 0;
      n++;
    }
    if (n === 0) return 0;
    this.control.addCompleted(n);
    this.moveTail(ring, tail);
    return n;
  }

  /**
   * drainLane: lane `key` goes into async mode at ring index `tail`, the record whose handler
   * returned a Promise. The `completed` records before it in this drain are counted COMPLETED and
   * freed now (children first: what their handlers published is flushed before); TAIL stops at it.
   */
  hold(key: number, tail: number, completed: number): void {
    this.producer.flushAll();
    if (completed > 0) this.control.addCompleted(completed);
    this.i32[this.control.handledLane] = key + 1 + HANDLED_ASYNC;
    this.moveTail(this.lanes[key]!, tail);
  }

  /** Stores lane `ring`'s TAIL (the producer may reuse what is behind it) and wakes its producer if it parked on a full ring. */
  private moveTail(ring: number, tail: number): void {
    const i32 = this.i32;
    const tailWord = (ring + RING_TAIL_OFFSET) >> 2;
    Atomics.store(i32, tailWord, tail);
    if (Atomics.load(i32, (ring + RING_PRODUCER_PARKED_OFFSET) >> 2) !== 0) Atomics.notify(i32, tailWord);
  }

  /** Resolves at the next settle (the worker loop's wait while deliveries are pending). */
  whenSettled(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  /** The keyed table's key of the record at `record` (of keyed slot `slot`). */
  private keyOf(record: number, slot: number): number {
    if (record === this.lastRecord) return this.lastKey;
    const topic = this.topics.byId[this.u16[(record + RECORD_TOPIC_OFFSET) >> 1]!]!;
    const hash = this.core.keyHash(this.pool.messageAt(record), topic.keyKind, topic.keyOffset, topic.keyLength) >>> 0;
    this.lastRecord = record;
    this.lastKey = slot * 0x1_0000_0000 + hash;
    return this.lastKey;
  }
}
