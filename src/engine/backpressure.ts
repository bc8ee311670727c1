/**
 * Backpressure: what one thread does when a lane is full — the policies (block, reject,
 * drop-newest, drop-oldest, caller-runs), the backlogs that keep a lane FIFO while it is full,
 * the bounded blocking push of workers, and the pump that moves backlogs into their lanes.
 *
 * Thread 0 never waits synchronously (browsers forbid it): under 'block' its record joins the
 * lane's backlog and publish returns false until whenWritable(). A worker waits at most
 * `blockTimeout` ms, then spills in order into the backlog (see blockingPush).
 */
import type { CoreOps } from '../../bindings/core-ops.ts';
import { parkProducer } from '../../bindings/park.ts';
import { ADDRESS_MIN } from '../../assembly/layout/arena.ts';
import { STATUS_CLOSED } from '../../assembly/layout/status.ts';
import type { Admission } from './admission.ts';
import { FROM_INLINE } from './async-deliveries.ts';
import { Backlog, SPILL_COUNT, type SpillRegion } from './backlog.ts';
import type { ControlBlock } from './control-block.ts';
import type { Consumer } from './consumer.ts';
import {
  POLICY_BLOCK, POLICY_CALLER_RUNS, PRIORITY_CLASSES, RECORD_FLAGS_OFFSET, RECORD_FLAG_ADMITTED, POLICY_DROP_NEWEST, POLICY_DROP_OLDEST, POLICY_REJECT,
  RECORD_TOPIC_OFFSET, TOPIC_STAT_BACKLOGGED, TOPIC_STAT_CALLER_RUNS, TOPIC_STAT_DROPPED_NEWEST,
  TOPIC_STAT_DROPPED_OLDEST, TOPIC_STAT_LOST, TOPIC_STAT_REJECTED,
} from './layout.ts';
import type { EngineShape } from './options.ts';
import { LANE_FULL, REFUSED, TAKEN, TAKEN_WAIT, type OutboundLanes, type PushOutcome } from './outbound.ts';
import type { Producer } from './producer.ts';
import type { HandlerContext, TopicMap } from './types.ts';

export class Backpressure {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly u16: Uint16Array;
  private readonly backlogs: (Backlog | undefined)[];
  private backlogTotal = 0;
  /** > 0 while a caller-runs handler runs (its record is in callerStaging: no nesting). */
  private inlineDepth = 0;
  /** Wired by ThreadRuntime: runs caller-runs records on this thread (with `context`, the thread's handler context). */
  consumer: Consumer | undefined;
  context!: HandlerContext<TopicMap>;
  /** Wired by ThreadRuntime: a dropped or lost record gives its in-flight place back. */
  admission!: Admission;
  private readonly buffer: ArrayBufferLike;

  constructor(
    private readonly thread: number,
    private readonly core: CoreOps,
    memory: WebAssembly.Memory,
    private readonly shape: EngineShape,
    private readonly control: ControlBlock,
    /** Route entries are kept across a caller-runs handler (saveRoutes / restoreRoutes). */
    private readonly producer: Producer,
    /** This thread's outbound lanes: pushes, flushes, the pump's claimed records. */
    private readonly lanes: OutboundLanes,
    /** Whether this thread may wait synchronously (workers: yes; the engine's thread: never). */
    private readonly canBlock: boolean,
    /** Where a caller-runs record is copied before its handler runs (the lane's record may be reused). */
    private readonly callerStaging: number,
    /** Called when a backlog gets its first record (thread 0 starts its asynchronous pump). */
    private readonly onBacklog: (() => void) | undefined,
    /** Address of the spill region of the lane of outbound key `key` (workers), else undefined: backlogs on the heap. */
    private readonly spillAt: ((key: number) => number) | undefined,
  ) {
    this.buffer = memory.buffer;
    this.i32 = new Int32Array(memory.buffer);
    this.f64 = new Float64Array(memory.buffer);
    this.u16 = new Uint16Array(memory.buffer);
    this.backlogs = new Array<Backlog | undefined>(shape.threads * PRIORITY_CLASSES).fill(undefined);
    // A successor adopts the backlogs its predecessor left in the spill regions.
    if (spillAt !== undefined) {
      for (let key = 0; key < this.backlogs.length; key++) {
        if (this.i32[(spillAt(key) >> 2) + SPILL_COUNT] === 0) continue;
        const backlog = this.backlogFor(key);
        this.backlogTotal += backlog.size;
      }
      control.setBacklog(this.backlogTotal);
    }
  }

  private spillRegion(key: number): SpillRegion | undefined {
    return this.spillAt === undefined ? undefined : { buffer: this.buffer, address: this.spillAt(key), capacity: this.shape.spillCapacity };
  }

  /** Records waiting in this thread's backlogs. */
  get backlogSize(): number {
    return this.backlogTotal;
  }

  /** Whether the lane of outbound key `key` (class · threads + consumer) has records waiting in its backlog. */
  holds(key: number): boolean {
    return this.backlogLength(key) > 0;
  }

  /** Records waiting in the backlog of the lane of outbound key `key` (dropped ones not counted). */
  backlogLength(key: number): number {
    return this.backlogs[key]?.size ?? 0;
  }

  /** The record at `src` for a lane whose backlog holds records: behind them, in order. */
  pushBehindBacklog(key: number, src: number, policy: number, stats: number, override: number): PushOutcome {
    this.pumpBacklog(key);
    if (this.holds(key)) return this.onFull(key, src, policy, stats, override);
    const outcome = this.lanes.tryPush(key, src, stats);
    return outcome === LANE_FULL ? this.onFull(key, src, policy, stats, override) : outcome;
  }

  /** The lane of outbound key `key` is full (or keeps a backlog): `policy` (or `override`, if not 0) decides. */
  onFull(key: number, src: number, policy: number, stats: number, override: number): PushOutcome {
    switch (override !== 0 ? override : policy) {
      case POLICY_REJECT:
        this.f64[stats + TOPIC_STAT_REJECTED]! += 1;
        return REFUSED;
      case POLICY_DROP_NEWEST:
        this.f64[stats + TOPIC_STAT_DROPPED_NEWEST]! += 1;
        return REFUSED;
      case POLICY_CALLER_RUNS:
        if (this.consumer !== undefined && this.inlineDepth === 0) {
          this.runInline(this.consumer, src, stats);
          return TAKEN;
        }
        break; // no handler module on this thread: treat as block
      case POLICY_DROP_OLDEST: {
        const backlog = this.backlogFor(key);
        if (backlog.size >= this.shape.ringCapacity) {
          const dropped = backlog.dropOldest(POLICY_DROP_OLDEST);
          if (dropped >= 0) {
            this.releaseAdmitted(backlog, dropped);
            const topic = this.control.topicStats(backlog.u16(dropped, RECORD_TOPIC_OFFSET));
            this.f64[topic + TOPIC_STAT_DROPPED_OLDEST]! += 1;
            this.f64[topic + TOPIC_STAT_BACKLOGGED]! -= 1;
            this.backlogTotal--;
            this.control.addCompleted(1);
          }
        }
        this.enqueueBacklog(backlog, src, POLICY_DROP_OLDEST);
        return TAKEN;
      }
      default:
        break;
    }
    // POLICY_BLOCK (and caller-runs without handlers).
    if (this.canBlock) return this.blockingPush(key, src, stats);
    this.enqueueBacklog(this.backlogFor(key), src, POLICY_BLOCK);
    return TAKEN_WAIT;
  }

  private backlogFor(key: number): Backlog {
    let backlog = this.backlogs[key];
    if (backlog === undefined) {
      backlog = new Backlog(this.shape.recordSize >> 2, this.shape.ringCapacity, this.spillRegion(key));
      this.backlogs[key] = backlog;
    }
    return backlog;
  }

  private enqueueBacklog(backlog: Backlog, src: number, policy: number): void {
    const topic = this.u16[(src + RECORD_TOPIC_OFFSET) >> 1]!;
    backlog.push(this.i32, src >> 2, policy, this.shape.topicRecordBytes[topic]! >> 2);
    this.backlogTotal++;
    // Per topic, what a crash of this thread would lose (its backlogs live in its heap).
    this.f64[this.control.topicStats(topic) + TOPIC_STAT_BACKLOGGED]! += 1;
    // Counted accepted before anyone can complete it (drain reads COMPLETED, then ACCEPTED).
    this.control.addAccepted(1);
    this.control.setBacklog(this.backlogTotal);
    if (this.backlogTotal === 1) this.onBacklog?.();
  }

  /**
   * Workers under 'block': flush, spin, then park until the consumer frees space (or closes), for
   * at most blockTimeout ms. Then the record spills into this lane's backlog, in order, and later
   * records join it without waiting until the worker loop has moved it all into the ring: two
   * workers publishing into each other's full lanes from inside handlers would otherwise wait for
   * each other forever (a cycle of bounded queues). The backlog is unbounded (stats().backlog).
   * A consumer that is being restarted is waited for without a deadline (see below).
   */
  private blockingPush(key: number, src: number, stats: number): PushOutcome {
    if (key % this.shape.threads === this.thread) {
      // Waiting for our own lane would wait forever (we are its consumer): keep the record in
      // order behind the ring; the worker loop moves it in once it has drained the lane.
      this.enqueueBacklog(this.backlogFor(key), src, POLICY_BLOCK);
      return TAKEN;
    }
    const backlog = this.backlogs[key];
    if (backlog !== undefined && backlog.size > 0) {
      this.enqueueBacklog(backlog, src, POLICY_BLOCK); // spilling: keep order, do not wait again
      return TAKEN;
    }
    const ring = this.lanes.ringTo[key]!;
    this.lanes.flushLane(key);
    let polls = 0;
    let deadline = 0;
    let since = 0;
    for (;;) {
      if (backlog !== undefined && backlog.size > 0) this.pumpBacklog(key);
      if (backlog === undefined || backlog.size === 0) {
        const outcome = this.lanes.tryPush(key, src, stats);
        if (outcome !== LANE_FULL) return outcome;
      }
      // Why spin, then park: waking a parked thread costs tens of µs (docs/architecture.md),
      // while a consumer that is merely busy frees space within microseconds. parkProducer sets
      // PRODUCER_PARKED and re-checks TAIL before Atomics.wait, so the consumer's commit (which
      // notifies only when that flag is set) cannot be missed.
      if (++polls < this.shape.spin) continue;
      const now = performance.now();
      if (deadline === 0) {
        since = now;
        deadline = now + this.shape.blockTimeout;
      } else if (now >= deadline && now - since < this.shape.restartWait && this.lanes.consumerRestarting(key)) {
        // A consumer being restarted waits for nobody (no cycle to break) and its successor will
        // drain the lane: keep waiting (up to restartWait ms in all), rather than spill into this
        // thread's backlog, which lives in this thread's heap and would die with it.
        deadline = Math.min(now + this.shape.blockTimeout, since + this.shape.restartWait);
      } else if (now >= deadline) {
        this.enqueueBacklog(this.backlogFor(key), src, POLICY_BLOCK);
        return TAKEN;
      }
      parkProducer(this.core, this.i32, ring, Math.max(1, Math.min(50, deadline - now)));
    }
  }

  /**
   * Caller-runs: runs the handler of the record at `src` on this thread, from inside the push loop
   * that is routing that record. The handler may publish, which reuses this thread's route entries
   * and may restage `src` (its topic's staging record): both are put back afterwards, so the loop
   * goes on with its own entries and record; and ctx.topic is left as the calling handler (if
   * any) had it.
   */
  private runInline(consumer: Consumer, src: number, stats: number): void {
    const words = this.shape.topicRecordBytes[this.u16[(src + RECORD_TOPIC_OFFSET) >> 1]!]! >> 2;
    const from = src >> 2;
    const to = this.callerStaging >> 2;
    const i32 = this.i32;
    for (let i = 0; i < words; i++) i32[to + i] = i32[from + i]!;
    this.f64[stats + TOPIC_STAT_CALLER_RUNS]! += 1;
    this.producer.saveRoutes();
    this.inlineDepth++;
    const context = this.context as { topic: string; deliveries: number };
    const outer = context.topic;
    const outerDeliveries = context.deliveries;
    const record = this.callerStaging;
    const flags = this.u16[(record + RECORD_FLAGS_OFFSET) >> 1]!;
    try {
      // An async handler run here completes when its promise settles; its message is this
      // staging record, valid only until the handler's first await.
      if (!consumer.handleRecord(record)) consumer.follow(record, FROM_INLINE, flags);
      else if ((flags & RECORD_FLAG_ADMITTED) !== 0) this.admission.release(this.u16[(record + RECORD_TOPIC_OFFSET) >> 1]!);
    } finally {
      context.topic = outer;
      context.deliveries = outerDeliveries;
      this.inlineDepth--;
      this.producer.restoreRoutes();
      for (let i = 0; i < words; i++) i32[from + i] = i32[to + i]!;
    }
  }

  /** Moves backlog records of the lane of outbound key `key` into its ring while there is space. */
  pumpBacklog(key: number): void {
    const backlog = this.backlogs[key];
    if (backlog === undefined) return;
    const ring = this.lanes.ringTo[key]!;
    let moved = 0;
    for (;;) {
      const head = backlog.headIndex();
      if (head < 0) break;
      const address = this.core.ringTryClaim(ring);
      if (address < ADDRESS_MIN) {
        if (address === STATUS_CLOSED) {
          // The consumer is gone for good: what waits for it can never be delivered.
          let lost = 0;
          for (let at = backlog.headIndex(); at >= 0; at = backlog.headIndex()) {
            this.releaseAdmitted(backlog, at);
            const topic = this.control.topicStats(backlog.u16(at, RECORD_TOPIC_OFFSET));
            this.f64[topic + TOPIC_STAT_BACKLOGGED]! -= 1;
            this.f64[topic + TOPIC_STAT_LOST]! += 1;
            backlog.shift();
            lost++;
          }
          this.backlogTotal -= lost;
          this.control.addCompleted(lost);
          this.control.setBacklog(this.backlogTotal);
        }
        break;
      }
      const storage = backlog.storage;
      const to = address >> 2;
      const topic = backlog.u16(head, RECORD_TOPIC_OFFSET);
      const words = this.shape.topicRecordBytes[topic]! >> 2;
      for (let i = 0; i < words; i++) this.i32[to + i] = storage[head + i]!;
      this.f64[this.control.topicStats(topic) + TOPIC_STAT_BACKLOGGED]! -= 1;
      backlog.shift();
      this.backlogTotal--;
      moved++;
    }
    if (moved > 0) {
      this.lanes.claimed(key, moved);
      this.control.setBacklog(this.backlogTotal);
      this.lanes.flushLane(key);
    }
  }

  /** The backlog record at `index` leaves without being handled: its in-flight place, if it holds one, is free. */
  private releaseAdmitted(backlog: Backlog, index: number): void {
    if ((backlog.u16(index, RECORD_FLAGS_OFFSET) & RECORD_FLAG_ADMITTED) !== 0) this.admission.release(backlog.u16(index, RECORD_TOPIC_OFFSET));
  }

  /** Pumps every backlog; returns how many records are still waiting. */
  pumpBacklogs(): number {
    if (this.backlogTotal === 0) return 0;
    for (let key = 0; key < this.backlogs.length; key++) this.pumpBacklog(key);
    return this.backlogTotal;
  }

  /** The first outbound key whose backlog is not empty, or -1. */
  firstBackloggedLane(): number {
    for (let key = 0; key < this.backlogs.length; key++) if (this.holds(key)) return key;
    return -1;
  }
}
