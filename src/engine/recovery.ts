/**
 * Recovery: what the engine's thread does in shared memory for a worker thread that died, so its
 * successor can start where it stopped — and, for a worker that stays down, what is written off.
 *
 * The dead thread no longer runs (recover is called after its exit), so the engine's thread may
 * stand in for it on every word it owned: the producer side of its outbound lanes, the consumer
 * side of its inbound lanes, its router epoch and its control block's counters. In order:
 *
 *   1. router   its EPOCH is cleared (it may have died inside a routing version: a later
 *               routerTryPublish would wait for it forever)
 *   2. outbound records its handlers pushed but did not flush yet are published (HEAD = CLAIM) and
 *               counted ACCEPTED: they are complete records, and the ones from handlers that
 *               returned must not be lost (a request's reply among them); those of the handler it
 *               died in are published too (at-least-once: redelivery publishes them again)
 *   3. backlogs  its backlogs in its spill regions stay for the successor to adopt; one that had
 *               outgrown its region lived in its heap: those records are lost, counted per topic
 *               (the BACKLOGGED gauge minus what the regions hold) into TOPIC_STAT_LOST and
 *               COMPLETED so drain can finish
 *   4. handled  the lane of the batch it was handling: TAIL moves to the handled cursor (records
 *               whose handler returned are not redelivered) and they are counted COMPLETED unless
 *               the batch already was; the record at the cursor, if it had been read, is the one
 *               it died on: its CRASHES word is incremented in place
 *   5. stolen   a record it had stolen from another worker's lane and was running (its STEALING
 *               word, stealer.ts): CRASHES + 1 on it (and TOPIC_STAT_CRASHED) and its claim back to
 *               FREE, so the lane's owner (or another thief) runs it again; a poison record is
 *               caught when it kills its owner, as any record
 *   6. inbound  every inbound lane's READ (and cached HEAD) goes back to TAIL: the successor
 *               reads [TAIL, HEAD) again, in order, before anything newer
 *
 * Its STATE is RESTARTING until the successor runs: a worker blocked on one of its full
 * lanes keeps waiting for the successor instead of spilling into its own backlog (which lives in
 * its heap and would be lost if that worker died too).
 *
 * close() (a worker that stays down) writes off what waits in its lanes once per record: a record
 * that already let go of its in-flight place and pool slot (DONE) or that a thief runs (STOLEN) is
 * passed (writeOffOnce).
 *
 * Windows that remain (docs/architecture.md, "Supervision"): a thread killed between a handler's
 * return and the handled-cursor store after it (no interrupt point lies between them, so only a
 * hard kill of the thread could land there) redelivers that one record; records its backlog pump
 * had moved into a lane but not flushed when it died are counted ACCEPTED twice.
 */
import type { CoreOps } from '../../bindings/core-ops.ts';
import {
  RING_CACHED_HEAD_OFFSET, RING_CLAIM_OFFSET, RING_CONSUMER_PARKED_OFFSET,
  RING_HEAD_OFFSET, RING_PRODUCER_PARKED_OFFSET, RING_READ_OFFSET, RING_TAIL_OFFSET,
} from '../../assembly/layout/ring.ts';
import type { Arena } from '../arena.ts';
import { SPILL_COUNT, SPILL_HEAD, spillViews } from './backlog.ts';
import type { ControlBlock } from './control-block.ts';
import {
  CLAIM_DONE, CLAIM_FREE, CLAIM_OWNER, CLAIM_STOLEN, HANDLED_ASYNC, HANDLED_COUNTED, PRIORITY_CLASSES, RECORD_CLAIM_OFFSET, RECORD_CRASHES_OFFSET, RECORD_FLAGS_OFFSET, RECORD_FLAG_ADMITTED, RECORD_FLAG_POOLED, RECORD_TOPIC_OFFSET,
  STEALING_PENDING, THREAD_RESTARTING, THREAD_STOPPED, TOPIC_STAT_BACKLOGGED, TOPIC_STAT_CRASHED, TOPIC_STAT_LOST, inboundLane, outboundLane, ringRecordAt, scratchLayout,
} from './layout.ts';
import type { Admission } from './admission.ts';
import type { EngineShape } from './options.ts';
import type { FanOutPool } from './fan-out-pool.ts';

/** The record a dead thread was handling when it died. */
export interface DiedOn {
  /** Its address in the lane (valid until the lane's TAIL passes it). */
  readonly record: number;
  /** Deliveries of it that crashed or hung a worker, this one included. */
  readonly crashes: number;
  /** The lane's inbound key (class · threads + producer thread). */
  readonly key: number;
}

export class Recovery {
  private readonly i32: Int32Array;
  private readonly u16: Uint16Array;
  private readonly f64: Float64Array;
  private readonly spill: number;
  private readonly spillBytes: number;

  constructor(
    private readonly core: CoreOps,
    private readonly arena: Arena,
    private readonly shape: EngineShape,
    private readonly controls: readonly ControlBlock[],
    private readonly router: number,
    private readonly admission: Admission,
    /** The fan-out pool: a record written off gives back its slot reference (fan-out-pool.ts). */
    private readonly pool: FanOutPool,
  ) {
    this.i32 = new Int32Array(arena.memory.buffer);
    this.u16 = new Uint16Array(arena.memory.buffer);
    this.f64 = new Float64Array(arena.memory.buffer);
    const scratch = scratchLayout(shape.control, shape.topicNames.length, shape.recordSize, shape.routerSubscriptions, shape.threads, shape.spillCapacity);
    this.spill = scratch.spill;
    this.spillBytes = scratch.spillBytes;
  }

  /** Puts dead thread `thread`'s lanes and counters in order (steps 1–6 above); returns the record it died on, if any. */
  recover(thread: number): DiedOn | undefined {
    const T = this.shape.threads;
    const i32 = this.i32;
    const dead = this.controls[thread]!;
    // Producers waiting for space in its lanes keep waiting for its successor instead of spilling.
    Atomics.store(i32, dead.state, THREAD_RESTARTING);
    // 1. router
    this.core.routerLeave(this.router, thread);
    const keys = T * PRIORITY_CLASSES;
    // 2. outbound
    for (let key = 0; key < keys; key++) {
      const ring = this.outbound(thread, key);
      const unflushed = (i32[(ring + RING_CLAIM_OFFSET) >> 2]! - Atomics.load(i32, (ring + RING_HEAD_OFFSET) >> 2)) | 0;
      Atomics.store(i32, (ring + RING_PRODUCER_PARKED_OFFSET) >> 2, 0);
      if (unflushed === 0) continue;
      dead.addAccepted(unflushed);
      const peer = this.controls[key % T]!;
      // It may have died before its first flush of this class: its consumer must poll the lane.
      Atomics.or(peer.i32, peer.classes, 1 << ((key / T) | 0));
      this.core.ringFlush(ring);
      if (peer.isSleeping()) peer.ring();
    }
    // 3. backlogs
    const kept = this.spilled(thread);
    let lost = 0;
    let held = 0;
    for (let topic = 0; topic < this.shape.topicNames.length; topic++) {
      const stats = dead.topicStats(topic);
      const n = Math.max(0, this.f64[stats + TOPIC_STAT_BACKLOGGED]! - kept[topic]!);
      this.f64[stats + TOPIC_STAT_BACKLOGGED] = kept[topic]!;
      held += kept[topic]!;
      if (n === 0) continue;
      this.f64[stats + TOPIC_STAT_LOST]! += n;
      lost += n;
    }
    if (lost > 0) dead.addCompleted(lost);
    dead.setBacklog(held);
    // 4. handled
    let diedOn: DiedOn | undefined;
    const inBatch = i32[dead.handledLane]!;
    if ((inBatch & HANDLED_ASYNC) !== 0) {
      // A lane in async mode (async-deliveries.ts): nothing is counted or committed here (complete
      // records are marked DONE, TAIL is at the oldest pending); the record at HANDLED, if READ is
      // past it, is the one it died on.
      const key = (inBatch & (HANDLED_COUNTED - 1)) - 1;
      const ring = this.inbound(thread, key);
      const handled = i32[dead.handled]!;
      if (key >= 0 && key < keys && i32[(ring + RING_READ_OFFSET) >> 2] !== handled) diedOn = this.diedOn(ring, handled, key);
      i32[dead.handledLane] = 0;
    } else if (inBatch !== 0) {
      const key = (inBatch & (HANDLED_COUNTED - 1)) - 1;
      const counted = (inBatch & HANDLED_COUNTED) !== 0;
      const ring = this.inbound(thread, key);
      const tail = i32[(ring + RING_TAIL_OFFSET) >> 2]!;
      const handled = i32[dead.handled]!;
      const done = (handled - tail) >>> 0;
      const read = (i32[(ring + RING_READ_OFFSET) >> 2]! - tail) >>> 0;
      if (key >= 0 && key < keys && done <= read) {
        if (!counted) dead.addCompleted(done);
        this.commit(ring, handled);
        if (!counted && read > done) diedOn = this.diedOn(ring, handled, key);
      }
      i32[dead.handledLane] = 0;
    }
    // 5. stolen: a record it was running as a thief (stealer.ts) goes back to its lane's owner,
    // its crash counted on it like any delivery that killed its worker.
    const stolen = Atomics.load(i32, dead.stealing) & ~STEALING_PENDING;
    if (stolen !== 0) {
      const claim = (stolen + RECORD_CLAIM_OFFSET) >> 1;
      if (Atomics.load(this.u16, claim) === CLAIM_STOLEN) {
        this.addCrash(stolen);
        this.f64[dead.topicStats(this.u16[(stolen + RECORD_TOPIC_OFFSET) >> 1]!) + TOPIC_STAT_CRASHED]! += 1;
        Atomics.store(this.u16, claim, CLAIM_FREE);
      }
      Atomics.store(i32, dead.stealing, 0);
    }
    // 6. inbound
    for (let key = 0; key < keys; key++) {
      const ring = this.inbound(thread, key);
      const tail = Atomics.load(i32, (ring + RING_TAIL_OFFSET) >> 2);
      // Async deliveries it had started and not completed (read, not DONE): each is redelivered
      // with its CRASHES + 1, as a delivery its worker died in (the one it died on has it already).
      const read = i32[(ring + RING_READ_OFFSET) >> 2]!;
      for (let index = tail; index !== read; index = (index + 1) | 0) {
        const record = ringRecordAt(this.i32, ring, index);
        if (record === diedOn?.record || Atomics.load(this.u16, (record + RECORD_CLAIM_OFFSET) >> 1) === CLAIM_DONE) continue;
        this.addCrash(record);
      }
      i32[(ring + RING_READ_OFFSET) >> 2] = tail;
      i32[(ring + RING_CACHED_HEAD_OFFSET) >> 2] = tail;
      Atomics.store(i32, (ring + RING_CONSUMER_PARKED_OFFSET) >> 2, 0);
    }
    return diedOn;
  }

  /** The record at ring index `index` of lane `ring` (inbound key `key`) is the one the thread died on: its crash counted on it. */
  private diedOn(ring: number, index: number, key: number): DiedOn {
    const record = ringRecordAt(this.i32, ring, index);
    return { record, crashes: this.addCrash(record), key };
  }

  /** Counts a crash on the record at `record` (its CRASHES word, in place, saturating): the new count. */
  private addCrash(record: number): number {
    const at = (record + RECORD_CRASHES_OFFSET) >> 1;
    const crashes = Math.min(0xffff, this.u16[at]! + 1);
    this.u16[at] = crashes;
    return crashes;
  }

  /**
   * Passes over the record `diedOn` names (a dead letter now): its lane's TAIL moves past it and
   * it counts COMPLETED for the dead thread. Call after recover(), before the successor starts.
   */
  skip(thread: number, diedOn: DiedOn): void {
    const ring = this.inbound(thread, diedOn.key);
    const tail = Atomics.load(this.i32, (ring + RING_TAIL_OFFSET) >> 2);
    if (ringRecordAt(this.i32, ring, tail) !== diedOn.record) {
      // Behind an async delivery still in the lane: DONE, so the successor passes it (and counts it COMPLETED then).
      this.writeOff(diedOn.record);
      Atomics.store(this.u16, (diedOn.record + RECORD_CLAIM_OFFSET) >> 1, CLAIM_DONE);
      return;
    }
    this.writeOff(ringRecordAt(this.i32, ring, tail));
    this.commit(ring, (tail + 1) | 0);
    this.i32[(ring + RING_READ_OFFSET) >> 2] = (tail + 1) | 0;
    this.i32[(ring + RING_CACHED_HEAD_OFFSET) >> 2] = (tail + 1) | 0;
    this.controls[thread]!.addCompleted(1);
  }

  /** Live records per topic id in thread `thread`'s spill regions (its backlogs that survive it); `release`: they are written off. */
  private spilled(thread: number, release = false): Float64Array {
    const perTopic = new Float64Array(this.shape.topicNames.length);
    if (this.spillBytes === 0) return perTopic;
    const base = this.controls[thread]!.address + this.spill;
    const recordWords = this.shape.recordSize >> 2;
    const capacity = this.shape.spillCapacity;
    for (let key = 0; key < this.shape.threads * PRIORITY_CLASSES; key++) {
      const views = spillViews({ buffer: this.arena.memory.buffer, address: base + key * this.spillBytes, capacity }, recordWords);
      const head = views.header[SPILL_HEAD]!;
      const count = views.header[SPILL_COUNT]!;
      for (let i = 0; i < count; i++) {
        const slot = (head + i) % capacity;
        if (views.dropped[slot] !== 0) continue;
        const record = views.words.byteOffset + slot * this.shape.recordSize;
        perTopic[this.u16[(record + RECORD_TOPIC_OFFSET) >> 1]!]! += 1;
        if (release) this.writeOff(record);
      }
    }
    return perTopic;
  }

  /**
   * writeOff for a record of a lane nobody will drain again, unless it already let go of what it
   * held: one that completed out of order (DONE: an async delivery, or a record behind one, or the
   * poison record skip() passed) or that a thief is running (STOLEN: the thief completes it). The
   * claim goes to DONE first, so a thief can no longer take it once it is written off.
   */
  private writeOffOnce(record: number): void {
    const at = (record + RECORD_CLAIM_OFFSET) >> 1;
    const claim = Atomics.load(this.u16, at);
    if (claim !== CLAIM_FREE && claim !== CLAIM_OWNER) return;
    if (Atomics.compareExchange(this.u16, at, claim, CLAIM_DONE) !== claim) return;
    this.writeOff(record);
  }

  /** The record at `record` will never be handled: its in-flight place, if it holds one, is free, and its pool slot reference if it is pooled. */
  private writeOff(record: number): void {
    const flags = this.u16[(record + RECORD_FLAGS_OFFSET) >> 1]!;
    if ((flags & RECORD_FLAG_ADMITTED) !== 0) this.admission.release(this.u16[(record + RECORD_TOPIC_OFFSET) >> 1]!);
    if ((flags & RECORD_FLAG_POOLED) !== 0) this.pool.release(record);
  }

  /**
   * A worker that stays down (after recover()): its inbound lanes refuse new records from now on,
   * and the backlogs it left in its spill regions, which no successor will move, are lost
   * (counted per topic, COMPLETED, the regions emptied).
   */
  close(thread: number): void {
    for (let key = 0; key < this.shape.threads * PRIORITY_CLASSES; key++) this.core.ringCloseConsumer(this.inbound(thread, key));
    const dead = this.controls[thread]!;
    Atomics.store(dead.i32, dead.state, THREAD_STOPPED);
    // What waits in its closed lanes is never handled (stranded: counted lost by stats).
    this.stranded(thread, undefined, true);
    const kept = this.spilled(thread, true);
    let lost = 0;
    for (let topic = 0; topic < kept.length; topic++) {
      if (kept[topic] === 0) continue;
      const stats = dead.topicStats(topic);
      this.f64[stats + TOPIC_STAT_LOST]! += kept[topic]!;
      this.f64[stats + TOPIC_STAT_BACKLOGGED] = 0;
      lost += kept[topic]!;
    }
    if (lost > 0) dead.addCompleted(lost);
    dead.setBacklog(0);
    if (this.spillBytes === 0) return;
    for (let key = 0; key < this.shape.threads * PRIORITY_CLASSES; key++) {
      const views = spillViews({ buffer: this.arena.memory.buffer, address: dead.address + this.spill + key * this.spillBytes, capacity: this.shape.spillCapacity }, this.shape.recordSize >> 2);
      views.header.fill(0);
    }
  }

  /**
   * Records waiting in the inbound lanes of a thread that stays down ([TAIL, HEAD) of each), added
   * per topic id into `perTopic` (if given); returns their total. `release`: their in-flight
   * places are given back (once, when the worker is given up on).
   */
  stranded(thread: number, perTopic?: Float64Array, release = false): number {
    let total = 0;
    for (let key = 0; key < this.shape.threads * PRIORITY_CLASSES; key++) {
      const ring = this.inbound(thread, key);
      const tail = Atomics.load(this.i32, (ring + RING_TAIL_OFFSET) >> 2);
      const n = (Atomics.load(this.i32, (ring + RING_HEAD_OFFSET) >> 2) - tail) >>> 0;
      total += n;
      if (perTopic === undefined && !release) continue;
      for (let i = 0; i < n; i++) {
        const record = ringRecordAt(this.i32, ring, (tail + i) | 0);
        if (perTopic !== undefined) perTopic[this.u16[(record + RECORD_TOPIC_OFFSET) >> 1]!]! += 1;
        if (release) this.writeOffOnce(record);
      }
    }
    return total;
  }

  /** The consumer's commit on its behalf: TAIL = `index`, waking a producer parked on TAIL. */
  private commit(ring: number, index: number): void {
    Atomics.store(this.i32, (ring + RING_TAIL_OFFSET) >> 2, index);
    if (Atomics.load(this.i32, (ring + RING_PRODUCER_PARKED_OFFSET) >> 2) !== 0) Atomics.notify(this.i32, (ring + RING_TAIL_OFFSET) >> 2);
  }

  /** Thread `thread`'s lane of outbound key `key`. */
  private outbound(thread: number, key: number): number {
    return this.arena.ring(outboundLane(thread, key, this.shape.threads)).address;
  }

  /** Thread `thread`'s lane of inbound key `key`. */
  private inbound(thread: number, key: number): number {
    return this.arena.ring(inboundLane(thread, key, this.shape.threads)).address;
  }
}
