/**
 * OutboundLanes: this thread's outbound lanes — one ring to each consumer thread per priority
 * class, and what this thread keeps about each of them: records pushed and not yet visible, records
 * not yet counted ACCEPTED, whether its class was announced to the consumer, and the latency
 * sampling count. It pushes one record into a lane (tryPush), takes in pushes made by other means
 * (dispatchBatch, the backlog pump), flushes lanes (write-combining) and rings the doorbell of a
 * consumer that sleeps. Routing lives in Producer (producer.ts); a full lane goes to Backpressure
 * (backpressure.ts).
 *
 *   push    ringTryPushBytes copies the record (its topic's bytes) into the lane; nothing is visible yet
 *   flush   one HEAD store per lane, when `flushEvery` records are pending, at the end of the task
 *           (a microtask: Producer.flushAll) and after every batch a worker handles; then the
 *           consumer's doorbell is rung only if it said it sleeps
 *
 * Outbound key: class · threads + consumer (class 0 = high). The lane of key k is
 * outboundLane(thread, k, threads) in the arena (layout.ts).
 */
import type { CoreOps } from '../../bindings/core-ops.ts';
import { STATUS_CLOSED, STATUS_OK } from '../../assembly/layout/status.ts';
import type { Arena } from '../arena.ts';
import type { ControlBlock } from './control-block.ts';
import {
  LANE_STAT_HIGH_WATER, LANE_STAT_PUBLISHED, PRIORITY_CLASSES, RECORD_TOPIC_OFFSET, THREAD_RESTARTING, TOPIC_STAT_REJECTED, outboundLane,
} from './layout.ts';
import type { LatencyProbe } from './latency.ts';
import type { EngineShape } from './options.ts';

/** Outcomes of pushing a record into one lane. */
export const TAKEN = 0; // enqueued (or handled inline): it will be delivered
export const TAKEN_WAIT = 1; // kept in a backlog in order: it will be delivered, but the publisher should wait
export const REFUSED = 2; // rejected, dropped (drop-newest) or the consumer is gone
export type PushOutcome = typeof TAKEN | typeof TAKEN_WAIT | typeof REFUSED;
export const LANE_FULL = 3; // tryPush only: the ring is full, the policy decides

export class OutboundLanes {
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  private readonly f64: Float64Array;
  /** Per topic id: the bytes its records use (EngineShape.topicRecordBytes). */
  private readonly topicBytes: Uint32Array;
  /** This thread's control block. */
  private readonly control: ControlBlock;
  /**
   * u32 per outbound key: this thread's lane to each consumer, class by class (the core's `rings`
   * table of class k starts at ringTable + k·threads·4).
   */
  readonly ringTable: number;
  /** ringTo[key]: the lane this thread produces into for outbound key `key` (class · threads + consumer). */
  readonly ringTo: readonly number[];
  /** Records pushed per outbound key and not yet flushed; `fresh` ones were not counted ACCEPTED yet. */
  private readonly pending: Int32Array;
  private readonly fresh: Int32Array;
  /** Per outbound key: 1 once this thread set its class in the consumer's CLASSES word. */
  private readonly announced: Uint8Array;
  /** Pushes left before the next latency stamp (LatencyProbe.stamp restarts the count). */
  private sampleCountdown: number;

  constructor(
    thread: number,
    private readonly core: CoreOps,
    arena: Arena,
    private readonly shape: EngineShape,
    /** Every thread's control block (index = thread): ours for counters, theirs for doorbells. */
    private readonly controls: readonly ControlBlock[],
    /** Where the `rings` table is placed (this thread's scratch block). */
    ringTable: number,
    /** Latency sampling: every sampleEvery-th push is stamped (latency.ts). */
    private readonly latency: LatencyProbe,
  ) {
    const buffer = arena.memory.buffer;
    this.u16 = new Uint16Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.topicBytes = Uint32Array.from(shape.topicRecordBytes);
    this.f64 = new Float64Array(buffer);
    this.control = controls[thread]!;
    this.ringTable = ringTable;
    const T = shape.threads;
    const keys = T * PRIORITY_CLASSES;
    const ringTo: number[] = [];
    for (let key = 0; key < keys; key++) {
      ringTo.push(arena.ring(outboundLane(thread, key, T)).address);
      this.u32[(ringTable >> 2) + key] = ringTo[key]!;
    }
    this.ringTo = ringTo;
    this.sampleCountdown = latency.firstCountdown;
    this.pending = new Int32Array(keys);
    this.fresh = new Int32Array(keys);
    this.announced = new Uint8Array(keys);
  }

  /**
   * Pushes the record at `src` into the lane of outbound key `key`, copying the bytes its topic's
   * records use (not the lane's whole record): TAKEN, REFUSED (its consumer is gone: counted
   * rejected) or LANE_FULL.
   */
  tryPush(key: number, src: number, stats: number): PushOutcome | typeof LANE_FULL {
    return this.pushBytes(key, src, this.topicBytes[this.u16[(src + RECORD_TOPIC_OFFSET) >> 1]!]!, stats);
  }

  /** tryPush of the first `bytes` bytes of the record at `src` (a pooled record: fan-out-pool.ts). */
  pushBytes(key: number, src: number, bytes: number, stats: number): PushOutcome | typeof LANE_FULL {
    const status = this.core.ringTryPushBytes(this.ringTo[key]!, src, bytes);
    if (status === STATUS_OK) {
      if (--this.sampleCountdown === 0) this.sampleCountdown = this.latency.stamp(key, this.ringTo[key]!, this.shape.recordSize);
      this.fresh[key]! += 1;
      if (++this.pending[key]! >= this.shape.flushEvery) this.flushLane(key);
      return TAKEN;
    }
    if (status === STATUS_CLOSED) {
      this.f64[stats + TOPIC_STAT_REJECTED]! += 1;
      return REFUSED;
    }
    return LANE_FULL;
  }

  /** `count` records were put into the lane of outbound key `key` by other means (the backlog pump): counted at its next flush. */
  claimed(key: number, count: number): void {
    this.pending[key]! += count;
  }

  /**
   * Adds the core's per-consumer push counts at `pushedCounts` (dispatchBatch, into the lanes of
   * class `priority`) to pending, and zeroes them.
   */
  collectPushed(pushedCounts: number, priority: number): void {
    const at = pushedCounts >> 2;
    const T = this.shape.threads;
    for (let c = 0; c < T; c++) {
      const n = this.u32[at + c]!;
      if (n === 0) continue;
      this.u32[at + c] = 0;
      const key = priority * T + c;
      this.pending[key]! += n;
      this.fresh[key]! += n;
      // Sampling: the lane whose pushes cross the count gets its last record stamped.
      this.sampleCountdown -= n;
      if (this.sampleCountdown <= 0) this.sampleCountdown = this.latency.stamp(key, this.ringTo[key]!, this.shape.recordSize);
    }
  }

  /** Makes the records pushed into the lane of outbound key `key` visible, and wakes its consumer if it sleeps. */
  flushLane(key: number): void {
    const control = this.control;
    const fresh = this.fresh[key]!;
    if (fresh > 0) {
      // Before the HEAD store: a record is counted accepted before anyone can complete it.
      control.addAccepted(fresh);
      this.fresh[key] = 0;
    }
    const ring = this.ringTo[key]!;
    const T = this.shape.threads;
    const peer = this.controls[key % T]!;
    if (this.announced[key] === 0) {
      // Before the first HEAD store of this lane: its consumer starts polling the class (layout.ts, CLASSES).
      this.announced[key] = 1;
      Atomics.or(peer.i32, peer.classes, 1 << ((key / T) | 0));
    }
    this.core.ringFlush(ring);
    const lane = control.laneStat(key);
    this.f64[lane + LANE_STAT_PUBLISHED]! += this.pending[key]!;
    this.pending[key] = 0;
    const depth = this.core.ringSize(ring);
    if (depth > this.f64[lane + LANE_STAT_HIGH_WATER]!) this.f64[lane + LANE_STAT_HIGH_WATER] = depth;
    // Doorbell: pairs with the consumer's store of SLEEPING followed by its loads of every lane's
    // HEAD (the worker loop's park). Our HEAD store (ringFlush) precedes this load of SLEEPING, so
    // either we see SLEEPING = 1 and ring, or the consumer sees our HEAD and does not sleep.
    // After the HEAD store: a consumer that sees URGENT finds the high-priority record.
    if (key < T) peer.markUrgent();
    if (peer.isSleeping()) peer.ring();
  }

  /** Whether the consumer thread of outbound key `key` is being restarted (its STATE is RESTARTING: recovery.ts). */
  consumerRestarting(key: number): boolean {
    const peer = this.controls[key % this.shape.threads]!;
    return Atomics.load(peer.i32, peer.state) === THREAD_RESTARTING;
  }

  /** Flushes every lane with pending records (without leaving the router version). */
  flushAllLanes(): void {
    const pending = this.pending;
    for (let key = 0; key < pending.length; key++) if (pending[key]! > 0) this.flushLane(key);
  }

  /** Flushes the lanes that reached `flushEvery` pending records. */
  flushFullLanes(): void {
    const pending = this.pending;
    for (let key = 0; key < pending.length; key++) if (pending[key]! >= this.shape.flushEvery) this.flushLane(key);
  }
}
