/**
 * Producer: one thread's publishing half — route a staged record (key hash, routerRoute, the
 * least-loaded pick), push it into each receiving lane, flush lanes (write-combining) and ring the
 * doorbell of a consumer that sleeps. A full lane goes to Backpressure (backpressure.ts).
 *
 *   stage   the message is written into this thread's staging record of its topic
 *   route   routerRoute(topic, keyHash) → route entries, one per receiving subscription member;
 *           the thread enters the router's current version once per task and leaves it at flushAll
 *   push    ringTryPush copies the record into each entry's lane; nothing is visible yet
 *   flush   one HEAD store per lane, when `flushEvery` records are pending, at the end of the task
 *           (a microtask) and after every batch a worker handles; then the consumer's doorbell is
 *           rung only if it said it sleeps
 */
import type { CoreOps } from '../../bindings/core-ops.ts';
import { STATUS_CLOSED, STATUS_OK } from '../../assembly/layout/status.ts';
import { KEY_NONE, ROUTE_SKIPPED } from '../../assembly/layout/dispatch.ts';
import type { Arena } from '../arena.ts';
import type { Admission } from './admission.ts';
import type { Backpressure } from './backpressure.ts';
import type { ControlBlock } from './control-block.ts';
import {
  LANE_STAT_HIGH_WATER, LANE_STAT_PUBLISHED, PRIORITY_CLASSES, RECORD_CORRELATION_OFFSET, RECORD_FLAGS_OFFSET,
  RECORD_HEADER_BYTES, RECORD_PRIORITY_SHIFT, RECORD_REPLY_TO_OFFSET, RECORD_SUBSCRIPTION_OFFSET, TOPIC_STAT_PUBLISHED,
  TOPIC_STAT_REJECTED, THREAD_RESTARTING, TOPIC_STAT_ROUTED, TOPIC_STAT_UNROUTED, outboundLane, routeEntryConsumer, routeEntrySlot,
  PRIORITY_HIGH, RECORD_FLAG_ADMITTED, RECORD_TOPIC_OFFSET, TOPIC_STAT_ADMISSION_REFUSED, TOPIC_STAT_RATE_LIMITED, TOPIC_STAT_SHED,
} from './layout.ts';
import type { Shedder } from './shedder.ts';
import type { LatencyProbe } from './latency.ts';
import type { EngineShape } from './options.ts';
import type { SubscriptionTable } from './subscription-table.ts';
import type { TopicRuntime } from './topic-runtime.ts';

/** Outcomes of pushing a record into one lane. */
export const TAKEN = 0; // enqueued (or handled inline): it will be delivered
export const TAKEN_WAIT = 1; // kept in a backlog in order: it will be delivered, but the publisher should wait
export const REFUSED = 2; // rejected, dropped (drop-newest) or the consumer is gone
export type PushOutcome = typeof TAKEN | typeof TAKEN_WAIT | typeof REFUSED;
export const LANE_FULL = 3; // tryPush only: the ring is full, the policy decides

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
  /** This thread's control block. */
  private readonly control: ControlBlock;
  /** routerRoute's output: route entries (u32 each). */
  readonly routeOut: number;
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
  private entered = false;
  /** Pushes left before the next latency stamp (LatencyProbe.stamp restarts the count). */
  private sampleCountdown: number;
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
  /** Per topic id: SCHEDULED_DELIVERY if it has an admission limit or sheds (each delivery asks `admit`), | SCHEDULED_RATE if it has a rate (each publish takes a token). */
  scheduled!: Uint8Array;

  constructor(
    readonly thread: number,
    private readonly core: CoreOps,
    arena: Arena,
    private readonly shape: EngineShape,
    /** Every thread's control block (index = thread): ours for counters, theirs for doorbells. */
    private readonly controls: readonly ControlBlock[],
    private readonly table: SubscriptionTable,
    scratch: { readonly routeOut: number; readonly ringTable: number },
    /** Latency sampling: every sampleEvery-th push is stamped (latency.ts). */
    private readonly latency: LatencyProbe,
    /** Called once per task that publishes (thread 0: KeepAlive holds the process). */
    private readonly onTask: (() => void) | undefined,
  ) {
    const buffer = arena.memory.buffer;
    this.u16 = new Uint16Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.router = arena.router(0).address;
    this.control = controls[thread]!;
    this.routeOut = scratch.routeOut;
    this.ringTable = scratch.ringTable;
    const T = shape.threads;
    const keys = T * PRIORITY_CLASSES;
    const ringTo: number[] = [];
    for (let key = 0; key < keys; key++) {
      ringTo.push(arena.ring(outboundLane(thread, key, T)).address);
      this.u32[(this.ringTable >> 2) + key] = ringTo[key]!;
    }
    this.ringTo = ringTo;
    this.sampleCountdown = latency.firstCountdown;
    this.pending = new Int32Array(keys);
    this.fresh = new Int32Array(keys);
    this.announced = new Uint8Array(keys);
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
    return this.pushRoutes(src, 0, n, stats, override, result);
  }

  /**
   * Pushes the record at `src` into the lanes of route entries from..n-1 at routeOut (a
   * least-loaded slot's entries make one pick: the core's pickLeastLoaded, as dispatchBatch does),
   * each under its subscription's policy (or `override`); counts the record PUBLISHED if some
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
  pushRoutes(src: number, from: number, n: number, stats: number, override: number, result: RouteResult): boolean {
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
    const rings = this.ringTable + keyBase * 4;
    for (let i = from; i < n; i++) {
      const entry = u32[out + i]!;
      if (entry === ROUTE_SKIPPED) continue;
      const slot = routeEntrySlot(entry);
      // Not the chosen member: its entry is ROUTE_SKIPPED now, the chosen one is pushed at its index.
      if (this.table.isLeastLoaded(slot) && this.core.pickLeastLoaded(this.routeOut, i, n, slot, rings) !== i) continue;
      const consumer = routeEntryConsumer(entry);
      this.u16[(src + RECORD_SUBSCRIPTION_OFFSET) >> 1] = slot;
      this.f64[stats + TOPIC_STAT_ROUTED]! += 1;
      if (scheduled && !this.admit(topic, priority, consumer, stats)) {
        refused++;
        all = false;
        continue;
      }
      const outcome = this.pushKey(keyBase + consumer, src, this.table.policy(slot), stats, override);
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
    const outcome = this.tryPush(key, src, stats);
    return outcome === LANE_FULL ? backpressure.onFull(key, src, policy, stats, override) : outcome;
  }

  /** One ringTryPush into the lane of outbound key `key`: TAKEN, REFUSED (its consumer is gone: counted rejected) or LANE_FULL. */
  tryPush(key: number, src: number, stats: number): PushOutcome | typeof LANE_FULL {
    const status = this.core.ringTryPush(this.ringTo[key]!, src);
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

  /** Flushes every lane with pending records and leaves the router's version. */
  flushAll(): void {
    this.flushAllLanes();
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
