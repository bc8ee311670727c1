/**
 * Producer: one thread's routing — route a staged record (key hash, routerRoute, the least-loaded
 * pick), admit each delivery (admission, shedding), and hand it to the receiving lane. The lanes
 * themselves (push, flush, doorbell) are OutboundLanes' (outbound.ts); a full lane goes to
 * Backpressure (backpressure.ts).
 *
 *   stage   the message is written into this thread's staging record of its topic
 *   route   routerRoute(topic, keyHash) → route entries, one per receiving subscription member;
 *           the thread enters the router's current version once per task and leaves it at flushAll
 *           (a microtask), which also flushes every lane
 *   push    OutboundLanes.tryPush copies the record into each entry's lane (outbound.ts); a
 *           pooled topic's message with two or more entries is copied once into a fan-out pool
 *           slot, and each lane gets a pooled record pointing at it (fan-out-pool.ts)
 */
import type { CoreOps } from '../../bindings/core-ops.ts';
import { KEY_NONE, ROUTE_SKIPPED } from '../../assembly/layout/dispatch.ts';
import type { Arena } from '../arena.ts';
import type { Admission } from './admission.ts';
import type { Backpressure } from './backpressure.ts';
import type { ControlBlock } from './control-block.ts';
import type { FanOutPool } from './fan-out-pool.ts';
import {
  RECORD_CORRELATION_OFFSET, RECORD_FLAGS_OFFSET, RECORD_HEADER_BYTES, RECORD_PRIORITY_SHIFT, RECORD_REPLY_TO_OFFSET,
  RECORD_SUBSCRIPTION_OFFSET, TOPIC_STAT_PUBLISHED, TOPIC_STAT_ROUTED, TOPIC_STAT_UNROUTED, routeEntryConsumer, routeEntrySlot,
  PRIORITY_HIGH, RECORD_FLAG_ADMITTED, RECORD_TOPIC_OFFSET, TOPIC_STAT_ADMISSION_REFUSED, TOPIC_STAT_RATE_LIMITED, TOPIC_STAT_SHED,
  POOLED_RECORD_BYTES, TOPIC_STAT_POOLED, TOPIC_STAT_POOL_EXHAUSTED,
} from './layout.ts';
import type { Shedder } from './shedder.ts';
import type { EngineShape } from './options.ts';
import { LANE_FULL, REFUSED, TAKEN, type OutboundLanes, type PushOutcome } from './outbound.ts';
import type { SubscriptionTable } from './subscription-table.ts';
import type { TopicRuntime } from './topic-runtime.ts';

/** Producer.scheduled bits: the topic's deliveries are admitted one by one (maxInFlight, shed); its publishes take a rate token. */
export const SCHEDULED_DELIVERY = 1;
export const SCHEDULED_RATE = 2;

/** What routing one record did: filled by Producer.route, reused (one per caller that reads it). */
export class RouteResult {
  /** Route entries the router produced (receiving subscription members, before least-loaded picks). */
  routed = 0;
  /** Receivers that took the record (enqueued, kept in a backlog, or ran it inline). */
  accepted = 0;
  /** Receivers that refused it (rejected, dropped as newest, or their consumer is gone). */
  refused = 0;
  /** Consumer threads of the first `accepted` receivers. */
  readonly consumers: Int32Array;

  constructor(capacity: number) {
    this.consumers = new Int32Array(capacity);
  }
}

export class Producer {
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  private readonly f64: Float64Array;
  private readonly router: number;
  /** routerRoute's output: route entries (u32 each). */
  readonly routeOut: number;
  private entered = false;
  private flushScheduled = false;
  private readonly flushTask = (): void => {
    this.flushScheduled = false;
    this.flushAll();
  };
  /** The result of publishes whose caller reads only the returned boolean. */
  private readonly scratchResult: RouteResult;
  /** Route entries kept across a caller-runs handler (saveRoutes / restoreRoutes). */
  private readonly savedRoutes: Uint32Array;
  /** Wired by ThreadRuntime: where a full lane (or a lane with a backlog) goes. */
  backpressure!: Backpressure;
  /** Wired by ThreadRuntime: in-flight limits and load shedding, for the topics marked in `scheduled`. */
  admission!: Admission;
  shedder!: Shedder;
  /** Wired by ThreadRuntime: the fan-out pool, and where this thread stages a pooled record (its scratch block). */
  pool!: FanOutPool;
  pooledStaging = 0;
  /** Per topic id: SCHEDULED_DELIVERY if it has an admission limit or sheds (each delivery asks `admit`), | SCHEDULED_RATE if it has a rate (each publish takes a token). */
  scheduled!: Uint8Array;

  constructor(
    readonly thread: number,
    private readonly core: CoreOps,
    arena: Arena,
    private readonly shape: EngineShape,
    /** This thread's control block: topic counters, BUSY. */
    private readonly control: ControlBlock,
    private readonly table: SubscriptionTable,
    /** routerRoute's output (this thread's scratch block). */
    routeOut: number,
    /** This thread's outbound lanes: every push and flush goes through them. */
    private readonly lanes: OutboundLanes,
    /** Called once per task that publishes (thread 0: KeepAlive holds the process). */
    private readonly onTask: (() => void) | undefined,
  ) {
    const buffer = arena.memory.buffer;
    this.u16 = new Uint16Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.router = arena.router(0).address;
    this.routeOut = routeOut;
    this.scratchResult = new RouteResult(shape.routerSubscriptions);
    this.savedRoutes = new Uint32Array(shape.routerSubscriptions);
  }

  /** Keeps the route entries before a caller-runs handler, which may route (and overwrite them). */
  saveRoutes(): void {
    const at = this.routeOut >> 2;
    const saved = this.savedRoutes;
    for (let i = 0; i < saved.length; i++) saved[i] = this.u32[at + i]!;
  }

  /** Puts the kept route entries back (one level: caller-runs does not nest). */
  restoreRoutes(): void {
    const at = this.routeOut >> 2;
    const saved = this.savedRoutes;
    for (let i = 0; i < saved.length; i++) this.u32[at + i] = saved[i]!;
  }

  /**
   * Routes the record at `src` (default: `topic`'s staging record) with request id `correlation`
   * and priority class `priority` (default: the topic's) to every receiver, each full lane under
   * its subscription's policy, or under `override` when it is not 0 (tryPublish: POLICY_REJECT).
   * Fills `result`. True if every receiver took it without waiting; false if some lane refused it,
   * or this thread must wait (a backlog).
   */
  route(topic: TopicRuntime, correlation: number, src: number = topic.staging, override = 0, result: RouteResult = this.scratchResult, priority: number = topic.priority): boolean {
    this.u32[(src + RECORD_CORRELATION_OFFSET) >> 2] = correlation;
    this.u16[(src + RECORD_REPLY_TO_OFFSET) >> 1] = this.thread;
    this.u16[(src + RECORD_FLAGS_OFFSET) >> 1] = (priority << RECORD_PRIORITY_SHIFT) | (this.admission.limited(topic.id) ? RECORD_FLAG_ADMITTED : 0);
    if ((this.scheduled[topic.id]! & SCHEDULED_RATE) !== 0 && !this.admission.takeToken(topic.id)) {
      this.f64[this.control.topicStats(topic.id) + TOPIC_STAT_RATE_LIMITED]! += 1;
      result.routed = 0;
      result.accepted = 0;
      result.refused = 1;
      return false;
    }
    this.enter();
    const hash = topic.keyKind === KEY_NONE ? 0 : this.core.keyHash(src + RECORD_HEADER_BYTES, topic.keyKind, topic.keyOffset, topic.keyLength);
    const n = this.core.routerRoute(this.router, this.thread, topic.id, hash, this.routeOut);
    const stats = this.control.topicStats(topic.id);
    result.routed = n > 0 ? n : 0;
    result.accepted = 0;
    result.refused = 0;
    if (n <= 0) {
      this.f64[stats + TOPIC_STAT_UNROUTED]! += 1;
      return true;
    }
    if (n > 1 && topic.pooled && this.fansOut(n)) return this.routePooled(topic, src, n, stats, override, result);
    return this.pushRoutes(src, 0, n, stats, override, result);
  }

  /**
   * Whether the `n` route entries at routeOut reach two or more receivers: a least-loaded slot has
   * an entry per member but delivers to one (its entries are consecutive, in group order; were
   * they not, this would count one receiver twice and only pool a message it need not).
   */
  private fansOut(n: number): boolean {
    const out = this.routeOut >> 2;
    let receivers = 0;
    let lastPick = -1;
    for (let i = 0; i < n && receivers < 2; i++) {
      const subscription = routeEntrySlot(this.u32[out + i]!);
      if (!this.table.isLeastLoaded(subscription)) receivers++;
      else if (subscription !== lastPick) {
        receivers++;
        lastPick = subscription;
      }
    }
    return receivers >= 2;
  }

  /**
   * pushRoutes for a pooled topic's message with `n` > 1 route entries: its message is copied
   * once into a fan-out pool slot this call holds while it pushes (fan-out-pool.ts); inline when
   * the pool is exhausted.
   */
  private routePooled(topic: TopicRuntime, src: number, n: number, stats: number, override: number, result: RouteResult): boolean {
    const slot = this.pool.hold(src, topic.messageBytes);
    if (slot === 0) {
      this.f64[stats + TOPIC_STAT_POOL_EXHAUSTED]! += 1;
      return this.pushRoutes(src, 0, n, stats, override, result);
    }
    this.f64[stats + TOPIC_STAT_POOLED]! += 1;
    try {
      return this.pushRoutes(src, 0, n, stats, override, result, slot);
    } finally {
      // Even if a caller-runs handler's error escaped the route: the slot is not lost.
      this.pool.drop(slot);
    }
  }

  /**
   * Pushes the record at `src` into the lanes of route entries from..n-1 at routeOut (a
   * least-loaded slot's entries make one pick: the core's pickLeastLoaded, as dispatchBatch does),
   * each under its subscription's policy (or `override`), as pooled records pointing at `slot` if
   * it is not 0 (pushPooled); counts the record PUBLISHED if some
   * receiver, before `from` or here, took it. Adds to `result`'s counts, kept in locals until the
   * end: a caller-runs handler may publish, and route again, from inside this loop (Backpressure
   * puts this thread's route entries and the record back after it). True if every lane took it
   * without waiting.
   *
   * The one push loop: route() and publishBatch's resume both call it. A call costs an allocation
   * on the JS backend if it pushes TurboFan past its inlining budget (boxed numbers: a scavenge
   * every ~300 000 publishes, seen when this loop also held the key hash and the least-loaded pick);
   * test/engine-alloc.test.ts measures 0 GC events per million publishes on both backends, so keep
   * the loop's callees small and run that test after changing it.
   */
  pushRoutes(src: number, from: number, n: number, stats: number, override: number, result: RouteResult, slot = 0): boolean {
    const u32 = this.u32;
    const out = this.routeOut >> 2;
    const consumers = result.consumers;
    let accepted = result.accepted;
    let refused = result.refused;
    let all = true;
    const topic = this.u16[(src + RECORD_TOPIC_OFFSET) >> 1]!;
    const scheduled = (this.scheduled[topic]! & SCHEDULED_DELIVERY) !== 0;
    const priority = this.u16[(src + RECORD_FLAGS_OFFSET) >> 1]! >> RECORD_PRIORITY_SHIFT;
    const keyBase = priority * this.shape.threads;
    // The least-loaded pick compares the depths of the lanes of the record's class.
    const rings = this.lanes.ringTable + keyBase * 4;
    for (let i = from; i < n; i++) {
      const entry = u32[out + i]!;
      if (entry === ROUTE_SKIPPED) continue;
      const subscription = routeEntrySlot(entry);
      // Not the chosen member: its entry is ROUTE_SKIPPED now, the chosen one is pushed at its index.
      if (this.table.isLeastLoaded(subscription) && this.core.pickLeastLoaded(this.routeOut, i, n, subscription, rings) !== i) continue;
      const consumer = routeEntryConsumer(entry);
      this.u16[(src + RECORD_SUBSCRIPTION_OFFSET) >> 1] = subscription;
      this.f64[stats + TOPIC_STAT_ROUTED]! += 1;
      if (scheduled && !this.admit(topic, priority, consumer, stats)) {
        refused++;
        all = false;
        continue;
      }
      const policy = this.table.policy(subscription);
      const outcome = slot === 0 ? this.pushKey(keyBase + consumer, src, policy, stats, override) : this.pushPooled(keyBase + consumer, src, slot, policy, stats, override);
      if (outcome !== REFUSED) consumers[accepted++] = consumer;
      else {
        refused++;
        if (scheduled && this.admission.limited(topic)) this.admission.release(topic);
      }
      if (outcome !== TAKEN) all = false;
    }
    result.accepted = accepted;
    result.refused = refused;
    if (accepted > 0) this.f64[stats + TOPIC_STAT_PUBLISHED]! += 1;
    return all;
  }

  /**
   * Admission and shedding of one delivery of `topic` in class `priority` to `consumer`:
   * false if it is shed (shedder.ts) or its topic has maxInFlight in flight (admission.ts), each
   * counted; true if it may be pushed (holding an in-flight place, if the topic has a limit).
   */
  private admit(topic: number, priority: number, consumer: number, stats: number): boolean {
    if (priority !== PRIORITY_HIGH && this.shedder.sheds(topic) && this.shedder.shed(topic, priority, consumer)) {
      this.f64[stats + TOPIC_STAT_SHED + priority]! += 1;
      return false;
    }
    if (this.admission.limited(topic) && !this.admission.reserve(topic)) {
      this.f64[stats + TOPIC_STAT_ADMISSION_REFUSED]! += 1;
      return false;
    }
    return true;
  }

  /**
   * Pushes the record at `src` into the lane to `consumer` of the record's priority class (FLAGS'
   * high byte), applying `policy` (or `override`) if it is full.
   */
  pushLane(consumer: number, src: number, policy: number, stats: number, override: number): PushOutcome {
    return this.pushKey((this.u16[(src + RECORD_FLAGS_OFFSET) >> 1]! >> RECORD_PRIORITY_SHIFT) * this.shape.threads + consumer, src, policy, stats, override);
  }

  /** pushLane into the lane of outbound key `key` (the class is known: pushRoutes). */
  private pushKey(key: number, src: number, policy: number, stats: number, override: number): PushOutcome {
    const backpressure = this.backpressure;
    // A lane with a backlog stays FIFO: its records go behind the backlog (the cold path).
    if (backpressure.backlogSize > 0 && backpressure.holds(key)) return backpressure.pushBehindBacklog(key, src, policy, stats, override);
    const outcome = this.lanes.tryPush(key, src, stats);
    return outcome === LANE_FULL ? backpressure.onFull(key, src, policy, stats, override) : outcome;
  }

  /**
   * pushKey for a message held in pool slot `slot`: a pooled record into the lane, one more
   * reference to the slot. Where the lane's policy takes over (a backlog, caller-runs, a wait), the
   * record at `src` goes inline instead: a pooled record never leaves a lane (fan-out-pool.ts).
   */
  private pushPooled(key: number, src: number, slot: number, policy: number, stats: number, override: number): PushOutcome {
    const backpressure = this.backpressure;
    if (backpressure.backlogSize > 0 && backpressure.holds(key)) return backpressure.pushBehindBacklog(key, src, policy, stats, override);
    const pool = this.pool;
    const pooled = this.pooledStaging;
    pool.stage(src, slot, pooled);
    pool.take(slot);
    const outcome = this.lanes.pushBytes(key, pooled, POOLED_RECORD_BYTES, stats);
    if (outcome === TAKEN) return TAKEN;
    pool.drop(slot); // not pushed (never the last reference: this route holds one)
    return outcome === LANE_FULL ? backpressure.onFull(key, src, policy, stats, override) : outcome;
  }

  /** Flushes every lane with pending records (OutboundLanes) and leaves the router's version. */
  flushAll(): void {
    this.lanes.flushAllLanes();
    if (this.entered) {
      this.core.routerLeave(this.router, this.thread);
      this.entered = false;
      if (this.thread === 0) Atomics.store(this.control.i32, this.control.busy, 0);
    }
  }

  /** Enters the router's current version once per task (left at flushAll, scheduled as a microtask). */
  enter(): void {
    if (this.entered) return;
    this.core.routerEnter(this.router, this.thread);
    this.entered = true;
    // Thread 0's BUSY: a task that publishes runs (idle workers do not spin against it: worker.ts).
    if (this.thread === 0) Atomics.store(this.control.i32, this.control.busy, 1);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(this.flushTask);
    if (this.onTask !== undefined) this.onTask();
  }
}
