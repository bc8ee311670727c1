/**
 * Consumer: one thread's consuming half — drain a lane (peek up to `batch` records), run each
 * record's handler on a flyweight reader of the record in place (handleRecord), send a request's
 * reply, then flush what the handlers published, count the records COMPLETED and commit.
 *
 * A record is committed (TAIL store: the producer may reuse its space) only after its handler
 * returned, so a record is never freed before it was handled. Between commits, the handled cursor
 * (control block HANDLED_LANE/HANDLED: one plain store per record, after its handler returned)
 * tells crash recovery (supervisor.ts) exactly which records of the batch were handled, which one
 * the thread died on, and which were never started.
 *
 * Circuit breakers (per subscription slot, this thread's own): a throw counts a failure; at
 * `failures` within the window the circuit opens and the slot's records are sent to thread 0 as
 * dead letters instead of run, until the cooldown passes and one trial runs (half-open). The clock
 * is read only on those paths. A handler's throw is caught and counted; nothing else here throws,
 * and nothing allocates unless a circuit is open or a handler fails.
 */
import type { CoreOps } from '../../bindings/core-ops.ts';
import { ADDRESS_MIN } from '../../assembly/layout/arena.ts';
import type { Arena } from '../arena.ts';
import type { Admission } from './admission.ts';
import type { ControlBlock } from './control-block.ts';
import { RING_PRODUCER_PARKED_OFFSET, RING_READ_OFFSET, RING_TAIL_OFFSET } from '../../assembly/layout/ring.ts';
import { AsyncDeliveries, FROM_INLINE, type AsyncDelivery } from './async-deliveries.ts';
import type { LatencyProbe } from './latency.ts';
import {
  CIRCUIT_CLOSED, CIRCUIT_HALF_OPEN, CIRCUIT_OPEN, DEAD_LETTER_CIRCUIT_OPEN, DEAD_LETTER_SUBSCRIPTION,
  HANDLED_COUNTED, LETTER_THREAD_SHIFT, POLICY_BLOCK, RECORD_CORRELATION_OFFSET, RECORD_CRASHES_OFFSET, RECORD_FLAGS_OFFSET,
  RECORD_FLAG_FAILED, RECORD_FLAG_STAMPED, HANDLED_ASYNC, RECORD_HEADER_BYTES, RECORD_LETTER_OFFSET,
  RECORD_REPLY_TO_OFFSET, RECORD_SUBSCRIPTION_OFFSET, RECORD_TOPIC_OFFSET, REPLY_SUBSCRIPTION,
  TOPIC_STAT_CIRCUIT_OPEN, TOPIC_STAT_DEAD_LETTERED, TOPIC_STAT_DELIVERED, TOPIC_STAT_HANDLER_ERRORS,
  CLAIM_DONE, CLAIM_FREE, CLAIM_OWNER, CLAIM_STOLEN, LOCAL_HANDLER, RECORD_CLAIM_OFFSET, PRIORITY_CLASSES, PRIORITY_NORMAL, RECORD_FLAG_ADMITTED, RECORD_PRIORITY_SHIFT, TOPIC_STAT_REDELIVERED, inboundLane,
} from './layout.ts';
import type { EngineShape } from './options.ts';
import type { Producer } from './producer.ts';
import type { SubscriptionTable } from './subscription-table.ts';
import type { TopicReaderFlyweight, TopicRuntime, TopicSet } from './topic-runtime.ts';
import type { HandlerContext, HandlerDef, TopicMap } from './types.ts';

/** What a consumer tells its thread's owner (the engine or the worker loop). */
export interface ConsumerHooks {
  /** A handler threw (or returned a reply its schema refused); `first` is true the first time for this topic on this thread. */
  onHandlerError(topic: string, error: unknown, first: boolean): void;
  /** A reply record addressed to this thread arrived (thread 0's pending requests). */
  onReply?(record: number, topic: TopicRuntime): void;
  /** A dead letter arrived (thread 0): the record keeps the message, LETTER (slot, thread) and the reason in FLAGS. */
  onDeadLetter?(record: number, topic: TopicRuntime): void;
}

/** What runs a record of a local slot whose handler is gone (its consumer ended): nothing. */
const DISCARD: HandlerDef<TopicMap, string> = { topic: '', handle() {} };

/** The normal class is always polled (CLASSES has bits for the others once used). */
const NORMAL_BIT = 1 << PRIORITY_NORMAL;

export class Consumer {
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  private readonly f64: Float64Array;
  /** ringFrom[key]: the lane this thread consumes for inbound key `key` (class · threads + producer). */
  private readonly ringFrom: readonly number[];
  /** The starvation guard, by class: records earned per record of a higher class (weight_k ÷ weight_high), and earned so far. */
  private readonly guardShare: Float64Array;
  private readonly credit: Float64Array;
  /** Whether the last drainLane stopped with records possibly left in its lane (limit or URGENT), not at an empty lane. */
  private left = false;
  /** ringFrom's READ words (i32 indices): the owner un-reads a record a thief is running. */
  private readonly readFrom: readonly number[];
  /** Thread 0's control block (its STEAL word). */
  private readonly controls0: ControlBlock;
  /** Whether some topic has an admission limit (the consumer then reads each record's ADMITTED flag). */
  private readonly admits: boolean;
  /** Whether drainLane reads each record's FLAGS: for admission (ADMITTED) or latency sampling (STAMPED). */
  private readonly readsFlags: boolean;
  private readonly erroredTopics: Uint8Array;
  private readonly i32: Int32Array;
  /** ringFrom's TAIL words (u32 indices): where a batch's handled cursor starts. */
  private readonly tailFrom: readonly number[];
  /** Per slot: this thread's circuit state (a mirror of its control block's, read per record). */
  private readonly circuitState: Uint8Array;
  /** Per slot: the slot GENERATION the circuit state belongs to. */
  private readonly circuitGeneration: Uint8Array;
  /** Per slot: when the circuit opened (performance.now() ms), and the times of its last failures (a ring). */
  private readonly circuitOpenedAt: Float64Array;
  private readonly circuitFailures: (Float64Array | undefined)[];
  private readonly circuitNext: Uint16Array;
  /** Deliveries whose handler returned a Promise, and the lanes they hold (async-deliveries.ts). */
  private readonly pending: AsyncDeliveries;
  /** Handlers of this thread's own subscriptions (LOCAL_HANDLER slots), by slot. */
  private readonly localDefs: (HandlerDef<TopicMap, string> | undefined)[] = [];
  /** drainAll's first producer lane while async deliveries are pending (turns). */
  private rotation = 0;
  /** The inbound key of the lane drainLane is handling a record of (a batch handler takes its run from it), -1 otherwise. */
  private laneKey = -1;
  /**
   * The lane of the batch being handled (class · threads + producer: its producer is
   * batchLane % threads), −1 for one run inline (caller-runs, stolen). The journal thread reads
   * it to record each message's publishing thread (src/journal/journal-thread.ts).
   */
  batchLane = -1;
  /** Per handler index: 1 for a batch handler (handleBatch). */
  private readonly batchHandlers: Uint8Array;
  /** Per slot: performance.now() when its lingering run was first found, 0 when none lingers. */
  private readonly lingerSince: Float64Array;
  /** Records the last handleRecord took (a batch handler's run; 1 otherwise). */
  private taken = 1;
  /** The batch view handed to batch handlers (a new one once an async batch keeps it). */
  private view: BatchView;
  /** The promise handleRecord got from an async handler, until follow() takes it. */
  private started: PromiseLike<unknown> | undefined;

  constructor(
    private readonly thread: number,
    private readonly core: CoreOps,
    private readonly arena: Arena,
    private readonly shape: EngineShape,
    private readonly control: ControlBlock,
    private readonly topics: TopicSet,
    private readonly table: SubscriptionTable,
    /** Handlers by slot entry's handler index (the handler module's sorted names). */
    private readonly handlerDefs: readonly HandlerDef<TopicMap, string>[],
    private readonly context: HandlerContext<TopicMap>,
    private readonly producer: Producer,
    private readonly admission: Admission,
    /** Where a reply is staged before it is pushed (or handled here). */
    private readonly replyStaging: number,
    private readonly hooks: ConsumerHooks,
    controls0: ControlBlock,
    /** Latency sampling: the stamped records this thread handles are timed (latency.ts). */
    private readonly latency: LatencyProbe,
  ) {
    const buffer = arena.memory.buffer;
    this.u16 = new Uint16Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.i32 = new Int32Array(buffer);
    const T = shape.threads;
    const ringFrom: number[] = [];
    for (let key = 0; key < T * PRIORITY_CLASSES; key++) ringFrom.push(arena.ring(inboundLane(thread, key, T)).address);
    this.ringFrom = ringFrom;
    this.guardShare = Float64Array.from(shape.priorityWeights, (w) => w / shape.priorityWeights[0]!);
    this.credit = new Float64Array(PRIORITY_CLASSES);
    this.admits = admission.limits.some((limit) => limit !== 0);
    this.readsFlags = this.admits || latency.on;
    this.tailFrom = ringFrom.map((ring) => (ring + RING_TAIL_OFFSET) >> 2);
    this.readFrom = ringFrom.map((ring) => (ring + RING_READ_OFFSET) >> 2);
    this.controls0 = controls0;
    this.erroredTopics = new Uint8Array(shape.topicNames.length);
    const slots = shape.maxSubscriptions;
    this.circuitState = new Uint8Array(slots);
    this.circuitGeneration = new Uint8Array(slots);
    this.circuitOpenedAt = new Float64Array(slots);
    this.circuitFailures = new Array<Float64Array | undefined>(slots).fill(undefined);
    this.circuitNext = new Uint16Array(slots);
    // A successor starts with every circuit closed (a breaker's memory dies with its thread).
    for (let slot = 0; slot < slots; slot++) this.i32[control.circuit(slot)] = CIRCUIT_CLOSED;
    this.i32[control.handledLane] = 0;
    this.view = new BatchView(shape.ringCapacity);
    this.batchHandlers = Uint8Array.from(handlerDefs, (def) => (typeof (def as AnyHandlerDef).handleBatch === 'function' ? 1 : 0));
    this.lingerSince = new Float64Array(slots);
    this.pending = new AsyncDeliveries(core, buffer, control, controls0, table, topics, producer, ringFrom, slots, shape.asyncTimeout);
  }

  /**
   * Handles up to `limit` records of the lane of inbound key `key`, flushes what their handlers
   * published, counts them COMPLETED, commits. Returns how many it handled. With `yieldAt` > 0
   * (a lower class), it stops early once it handled `yieldAt` records and a high-priority record
   * was flushed to this thread (URGENT).
   */
  drainLane(key: number, limit: number, yieldAt = 0): number {
    const core = this.core;
    const ring = this.ringFrom[key]!;
    const i32 = this.i32;
    const urgent = this.control.urgent;
    const { handled, handledLane } = this.control;
    const pending = this.pending;
    // Some subscription steals, or some handler went async: records carry a CLAIM (stealer.ts, async-deliveries.ts).
    const c0 = this.controls0;
    const claims = Atomics.load(c0.i32, c0.steal) !== 0;
    // Records that settled since the last turn: their lanes move on first (TAIL is read below).
    if (pending.dirtyLanes !== 0) pending.commitLanes();
    // Async mode: deliveries of this lane are pending, TAIL is held at the oldest (async-deliveries.ts).
    let held = pending.perLane[key] !== 0;
    let n = 0;
    let tail = 0;
    let left = true; // records may be left in the lane (unless a peek finds it empty)
    while (n < limit) {
      // A plain load: Atomics.load here cost ~4 % of the in-thread case, and a late look at
      // URGENT only delays the stop by a record (the word is re-read after every handler call).
      if (yieldAt !== 0 && n >= yieldAt && i32[urgent] !== 0) break;
      const record = core.ringTryPeek(ring);
      if (record < ADDRESS_MIN) {
        left = false;
        break;
      }
      if (n === 0 && !held) {
        // The handled cursor: this lane, from its TAIL (our own commit cursor).
        tail = i32[this.tailFrom[key]!]!;
        i32[handled] = tail;
        i32[handledLane] = key + 1;
      }
      if (claims) {
        const claim = this.claim(record);
        if (claim === CLAIM_DONE) {
          // A thief ran it, or it completed out of order before a crash: pass it without running it.
          n++;
          if (!held) i32[handled] = (tail + n) | 0;
          continue;
        }
        if (claim === CLAIM_STOLEN) {
          // A thief is running it: stop before it (un-read it), come back later.
          i32[this.readFrom[key]!] = (i32[this.readFrom[key]!]! - 1) | 0;
          break;
        }
      }
      if (pending.count !== 0 && pending.mustWait(record)) {
        // At its subscription's concurrency, or its key is busy: the lane waits (in order) for a settle.
        i32[this.readFrom[key]!] = (i32[this.readFrom[key]!]! - 1) | 0;
        break;
      }
      if (held) {
        // The watchdog's and recovery's look at the record being run (HANDLED_ASYNC: see layout.ts).
        i32[handled] = (i32[this.readFrom[key]!]! - 1) | 0;
        i32[handledLane] = key + 1 + HANDLED_ASYNC;
      }
      const flags = this.readsFlags ? this.u16[(record + RECORD_FLAGS_OFFSET) >> 1]! : 0;
      // Sampled for latency: its queue wait ends now (READ is one past it), its handler is timed.
      const sample = (flags & RECORD_FLAG_STAMPED) !== 0 ? this.latency.begin(key, (i32[this.readFrom[key]!]! - 1) | 0, record) : 0;
      // A batch handler may take the run of records behind this one from the lane (runBatch).
      this.laneKey = key;
      const complete = this.handleRecord(record);
      const taken = this.taken;
      if (taken === 0) {
        // A batch handler's run lingers (runBatch gave it back to the lane): the lane waits behind it.
        if (sample !== 0) this.latency.handlerPending(sample);
        left = true;
        break;
      }
      if (sample !== 0) this.timed(record, sample, complete);
      if (complete) {
        // The delivery's in-flight place is free once it was handled (or dead-lettered).
        if ((flags & RECORD_FLAG_ADMITTED) !== 0) this.admission.release(this.u16[(record + RECORD_TOPIC_OFFSET) >> 1]!);
        if (held) pending.markDone(record);
        if (taken > 1) this.completeRun(held);
        n += taken;
        // After the handler returned: these records are handled.
        i32[handled] = held ? i32[this.readFrom[key]!]! : (tail + n) | 0;
        continue;
      }
      // Its handler returned a Promise: the record (every record of its batch) stays in the lane until it settles.
      this.follow(record, key, this.u16[(record + RECORD_FLAGS_OFFSET) >> 1]!);
      if (!held) {
        // Into async mode: the records before it in this drain are complete: count and commit them
        // now (children first); TAIL stops at this one.
        held = true;
        this.producer.flushAll();
        if (n > 0) this.control.addCompleted(n);
        i32[handledLane] = key + 1 + HANDLED_ASYNC;
        Atomics.store(i32, this.tailFrom[key]!, (tail + n) | 0);
        if (Atomics.load(i32, (ring + RING_PRODUCER_PARKED_OFFSET) >> 2) !== 0) Atomics.notify(i32, this.tailFrom[key]!);
      }
      n += taken;
      i32[handled] = i32[this.readFrom[key]!]!; // no handler running
    }
    if (n > 0) {
      // Children first: what the handlers published is counted ACCEPTED (at its flush) before
      // its parents are counted COMPLETED, so drain never sees a moment with both at rest.
      this.producer.flushAll();
      if (!held) {
        this.control.addCompleted(n);
        i32[handledLane] = key + 1 + HANDLED_COUNTED;
        core.ringCommit(ring);
      } else pending.advance(key);
      i32[handledLane] = 0;
    }
    this.left = left && n > 0;
    return n;
  }

  /** The stamped record's handler (LatencyProbe.begin gave `token`) returned: its time now, or when its promise settles. */
  private timed(record: number, token: number, complete: boolean): void {
    const topic = this.u16[(record + RECORD_TOPIC_OFFSET) >> 1]!;
    if (complete) {
      this.latency.handlerDone(topic, token);
      return;
    }
    const start = this.latency.handlerPending(token);
    const done = (): void => this.latency.handlerSettled(topic, start);
    this.started!.then(done, done);
  }

  /**
   * A record whose CLAIM may be set: claims it for this thread if it is a stealing slot's
   * (CLAIM_FREE → CLAIM_OWNER; an OWNER claim left by a predecessor is ours too), and returns its
   * claim: CLAIM_STOLEN (a thief runs it) and CLAIM_DONE (complete: pass it) are not ours to run.
   */
  private claim(record: number): number {
    const at = (record + RECORD_CLAIM_OFFSET) >> 1;
    const claim = Atomics.load(this.u16, at);
    if (claim !== CLAIM_FREE) return claim;
    const slot = this.u16[(record + RECORD_SUBSCRIPTION_OFFSET) >> 1]!;
    if (slot >= DEAD_LETTER_SUBSCRIPTION || !this.table.steals(slot)) return CLAIM_FREE;
    const old = Atomics.compareExchange(this.u16, at, CLAIM_FREE, CLAIM_OWNER);
    return old === CLAIM_FREE ? CLAIM_OWNER : old;
  }

  /** Sets the handler of `slot`, a subscription of this thread made with LOCAL_HANDLER (engine.consume). */
  setLocalHandler(slot: number, def: HandlerDef<TopicMap, string> | undefined): void {
    this.localDefs[slot] = def;
  }

  /** This thread's deliveries whose promise is pending (async handlers). */
  get pendingDeliveries(): number {
    return this.pending.count;
  }

  /** Resolves when one of this thread's pending deliveries settles. */
  whenSettled(): Promise<void> {
    return this.pending.whenSettled();
  }

  /** The doorbell wait awaitSettleOrRecord keeps outstanding across calls (each waitAsync stays pending until it ends: one at a time). */
  private doorbellWait: Promise<void> | undefined;

  /**
   * With deliveries pending: waits until one settles or a producer rings the doorbell, never
   * blocking the event loop the promises settle in. Announces SLEEPING, re-checks the lanes
   * (pairs with a producer's HEAD store then SLEEPING load: either it sees SLEEPING and rings,
   * or the re-check finds its record), and only if they are empty calls `beforeWait` and waits
   * on `waitDoorbell(i32, index, value)`. SLEEPING is cleared on return.
   */
  async awaitSettleOrRecord(waitDoorbell: (i32: Int32Array, index: number, value: number) => Promise<unknown>, beforeWait?: () => void): Promise<void> {
    const { i32, sleeping, doorbell } = this.control;
    Atomics.store(i32, sleeping, 1);
    const rung = Atomics.load(i32, doorbell);
    if (this.drainAll() === 0) {
      this.doorbellWait ??= waitDoorbell(i32, doorbell, rung).then(() => {
        this.doorbellWait = undefined;
      });
      beforeWait?.();
      await Promise.race([this.pending.whenSettled(), this.doorbellWait]);
    }
    Atomics.store(i32, sleeping, 0);
  }

  /**
   * One pass over every inbound lane, class by class from high to low; returns records handled.
   *
   * Overtaking: the pass clears URGENT, drains the high lanes, then the lower classes, each lane
   * up to `batch` records; a producer that flushes a high record to this thread sets URGENT, and a
   * lower class's drain stops at its next record: the rest of the pass serves only what the guard
   * owes, and the next pass starts with high. A high record therefore waits for the handler that is running and the high records ahead of
   * it, plus what the starvation guard owes the lower classes.
   *
   * The starvation guard (deficit round robin): while a higher class is backlogged (a lane of it
   * still holds records after its drain), a lower class k earns weight_k ÷ weight_high of a record
   * per record the classes above it handled, and handles what it earned, one record at a time,
   * before anything else may stop it. Under saturation the classes share the thread about in
   * proportion to their weights; without contention nothing is owed and a class runs full batches.
   */
  drainAll(): number {
    const T = this.shape.threads;
    const batch = this.shape.batch;
    const i32 = this.i32;
    const urgent = this.control.urgent;
    const credit = this.credit;
    this.lingerDeadline = Infinity; // a lingering run found by this pass sets it again
    if (Atomics.load(i32, urgent) !== 0) Atomics.store(i32, urgent, 0);
    const classes = Atomics.load(i32, this.control.classes) | NORMAL_BIT;
    let n = 0;
    let backlogged = false;
    for (let k = 0, key = 0; k < PRIORITY_CLASSES; k++) {
      if ((classes & (1 << k)) === 0) {
        key += T; // nobody ever published in this class to this thread
        continue;
      }
      let owed = 0;
      if (k !== 0) {
        if (backlogged) {
          credit[k] = Math.min(batch, credit[k]! + n * this.guardShare[k]!);
          owed = Math.floor(credit[k]!);
        } else credit[k] = 0;
      }
      const before = n;
      let waiting = false;
      // While async deliveries are pending, each pass starts at the next producer's lane: a
      // subscription at its concurrency gives the place a settle frees to the first lane that
      // has a record, and a fixed order would starve the others.
      const first = this.pending.count !== 0 ? (this.rotation = (this.rotation + 1) % T) : 0;
      for (let i = 0; i < T; i++) {
        const p = first + i < T ? first + i : first + i - T;
        key = k * T + p;
        let m = 0;
        let left: boolean;
        if (k === 0) {
          m = this.drainLane(key, batch, 0);
          left = this.left;
        } else if (!backlogged) {
          m = this.drainLane(key, batch, 1);
          left = this.left;
        } else if (owed > 0) {
          m = this.drainLane(key, owed, 0);
          owed -= m;
          left = this.left;
        } else left = this.core.ringAvailable(this.ringFrom[key]!) > 0;
        n += m;
        // Records left (a full batch, stopped by URGENT, or not owed a turn): this class waits,
        // and the classes below it get only what they are owed.
        if (left) waiting = true;
      }
      key = (k + 1) * T;
      if (waiting) backlogged = true;
      // A class with nothing waiting is owed nothing (deficit round robin): credit earned while
      // its lanes were empty would let a later burst of it hold the thread for a whole batch.
      if (k !== 0) credit[k] = waiting ? Math.max(0, credit[k]! - (n - before)) : 0;
    }
    return n;
  }

  /** Whether any inbound lane has a published record (loads the HEAD of every lane of a class in use). */
  hasInbound(): boolean {
    const ringFrom = this.ringFrom;
    const T = this.shape.threads;
    const classes = Atomics.load(this.i32, this.control.classes) | NORMAL_BIT;
    for (let key = 0; key < ringFrom.length; key++) {
      if ((classes & (1 << ((key / T) | 0))) !== 0 && this.core.ringAvailable(ringFrom[key]!) > 0) return true;
    }
    return false;
  }

  /**
   * Runs the handler of the record at `record` (or hands a reply to the owner). Returns true once
   * the delivery is complete, false if its handler returned a Promise (kept in `started`: the
   * caller follows it, and the record must stay valid until it settles).
   */
  handleRecord(record: number): boolean {
    const u16 = this.u16;
    this.taken = 1;
    // Only a call from drainLane may take a run from its lane (not one nested in a handler: caller-runs).
    const laneKey = this.laneKey;
    this.laneKey = -1;
    const topicId = u16[(record + RECORD_TOPIC_OFFSET) >> 1]!;
    const slot = u16[(record + RECORD_SUBSCRIPTION_OFFSET) >> 1]!;
    const topic = this.topics.byId[topicId]!;
    if (slot >= DEAD_LETTER_SUBSCRIPTION) {
      this.handleEngineRecord(record, slot, topic);
      return true;
    }
    const stats = this.control.topicStats(topicId);
    if (this.circuitState[slot] !== CIRCUIT_CLOSED && !this.circuitAdmits(record, slot, stats)) return true;
    const index = this.table.handler(slot);
    // Batch handlers and the engine thread's own (consume) take the other path: this one stays small (V8 inlines it).
    if (index === LOCAL_HANDLER || this.batchHandlers[index] !== 0) return this.handleOther(record, slot, topic, stats, index, laneKey);
    const def = this.handlerDefs[index] as MessageHandler;
    const correlation = this.u32[(record + RECORD_CORRELATION_OFFSET) >> 2]!;
    const deliveries = u16[(record + RECORD_CRASHES_OFFSET) >> 1]! + 1;
    let result: unknown;
    let failed = false;
    const context = this.context as { topic: string; deliveries: number };
    context.topic = topic.name;
    context.deliveries = deliveries;
    try {
      result = def.handle(topic.reader.at(record + RECORD_HEADER_BYTES), this.context);
      if (result !== undefined && result !== null && typeof (result as { then?: unknown }).then === 'function') {
        // An async handler: it completes when the promise settles (settle()).
        this.started = result as PromiseLike<unknown>;
        return false;
      }
    } catch (error) {
      failed = true;
      result = error;
    }
    this.complete(topic, slot, stats, correlation, u16[(record + RECORD_REPLY_TO_OFFSET) >> 1]!, u16[(record + RECORD_FLAGS_OFFSET) >> 1]! >> RECORD_PRIORITY_SHIFT, deliveries, result, failed);
    return true;
  }

  /** handleRecord for a batch handler's record, or one of this thread's own subscriptions (LOCAL_HANDLER). */
  private handleOther(record: number, slot: number, topic: TopicRuntime, stats: number, index: number, laneKey: number): boolean {
    const u16 = this.u16;
    const def = (index !== LOCAL_HANDLER ? this.handlerDefs[index]! : this.localDefs[slot] ?? DISCARD) as AnyHandlerDef;
    const batch = def.handleBatch !== undefined;
    const deliveries = u16[(record + RECORD_CRASHES_OFFSET) >> 1]! + 1;
    let result: unknown;
    let failed = false;
    const context = this.context as { topic: string; deliveries: number };
    context.topic = topic.name;
    context.deliveries = deliveries;
    try {
      if (!batch) result = def.handle!(topic.reader.at(record + RECORD_HEADER_BYTES), this.context);
      else {
        const view = this.runBatch(record, slot, topic, def, laneKey);
        if (view.length === 0) return true; // lingering: taken 0, drainLane stops at it
        this.batchLane = laneKey;
        result = def.handleBatch!(view, this.context);
      }
      if (result !== undefined && result !== null && typeof (result as { then?: unknown }).then === 'function') {
        this.started = result as PromiseLike<unknown>;
        return false;
      }
    } catch (error) {
      failed = true;
      result = error;
    }
    if (batch) {
      this.completeBatch(topic, slot, stats, result, failed);
      this.taken = this.view.length; // (a reply handled on this thread ran handleRecord meanwhile)
      return true;
    }
    this.complete(
      topic, slot, stats, this.u32[(record + RECORD_CORRELATION_OFFSET) >> 2]!, u16[(record + RECORD_REPLY_TO_OFFSET) >> 1]!,
      u16[(record + RECORD_FLAGS_OFFSET) >> 1]! >> RECORD_PRIORITY_SHIFT, deliveries, result, failed,
    );
    return true;
  }

  /**
   * A delivery's handler returned (or threw, or its promise settled): circuit breaker, the reply
   * of a request, the counts. Counted last, right before drainLane's handled-cursor store: a
   * thread that dies before this returns (in the handler, or waiting to push the reply) has its
   * record redelivered and counted once, by the delivery that completes.
   */
  private complete(topic: TopicRuntime, slot: number, stats: number, correlation: number, replyTo: number, priority: number, deliveries: number, result: unknown, failed: boolean): void {
    if (failed) {
      this.handlerFailed(topic, stats, result);
      if (this.table.circuitFailures(slot) !== 0) this.circuitFailed(slot);
    } else if (this.circuitState[slot] === CIRCUIT_HALF_OPEN) this.setCircuit(slot, CIRCUIT_CLOSED);
    if (correlation !== 0) this.reply(topic, correlation, replyTo, result, failed, priority);
    this.f64[stats + TOPIC_STAT_DELIVERED]! += 1;
    if (deliveries > 1) this.f64[stats + TOPIC_STAT_REDELIVERED]! += 1;
  }

  /**
   * The handler of the record at `record` (in lane `from`, or FROM_STOLEN / FROM_INLINE, FLAGS
   * `flags`) returned the promise in `started`: follows it until it settles. `onDone`: a thief's
   * completion of a stolen record.
   */
  follow(record: number, from: number, flags: number, onDone?: () => void): void {
    const u16 = this.u16;
    const promise = this.started!;
    this.started = undefined;
    if (this.view.running) {
      this.followBatch(from, promise, onDone);
      return;
    }
    // The handler keeps its reader (pointing at its record) until it settles: the topic's next records get another.
    const topic = this.topics.byId[u16[(record + RECORD_TOPIC_OFFSET) >> 1]!]!;
    const reader = topic.reader;
    topic.reader = topic.spareReaders.pop() ?? (topic.schema.reader(this.arena.memory) as TopicReaderFlyweight);
    this.pending.start(
      record, from, promise, u16[(record + RECORD_CRASHES_OFFSET) >> 1]! + 1, this.u32[(record + RECORD_CORRELATION_OFFSET) >> 2]!,
      u16[(record + RECORD_REPLY_TO_OFFSET) >> 1]!, flags >> RECORD_PRIORITY_SHIFT, (flags & RECORD_FLAG_ADMITTED) !== 0, reader, this.settle, onDone,
    );
  }

  /** A pending delivery settled: complete it, give back its in-flight place, move its lane on. */
  private readonly settle = (delivery: AsyncDelivery, value: unknown, failed: boolean): void => {
    const topic = this.topics.byId[delivery.topic]!;
    this.complete(topic, delivery.slot, this.control.topicStats(delivery.topic), delivery.correlation, delivery.replyTo, delivery.priority, delivery.deliveries, value, failed);
    if (delivery.admitted) this.admission.release(delivery.topic);
    if (delivery.reader !== undefined && !delivery.timedOut) topic.spareReaders.push(delivery.reader);
    this.pending.finish(delivery);
  };

  // ── batch handlers ────────────────────────────────────────────────────────────────────────

  /**
   * The batch of a batch handler's call: the record at `first` and the run of records behind it
   * in the same lane that are for the same slot (taken from the lane now: READ moves past them),
   * up to the handler's maxBatch. A record for another slot, one a thief has or that completed,
   * or one that must wait (async limits) ends the run, unread.
   */
  private runBatch(first: number, slot: number, topic: TopicRuntime, def: AnyHandlerDef, key: number): BatchView {
    const view = this.view;
    view.reader = topic.reader;
    const records = view.records;
    records[0] = first;
    let count = 1;
    const max = Math.min(def.maxBatch ?? this.shape.batch, records.length);
    if (key >= 0) {
      const ring = this.ringFrom[key]!;
      const claims = Atomics.load(this.controls0.i32, this.controls0.steal) !== 0;
      const u16 = this.u16;
      while (count < max) {
        const record = this.core.ringTryPeek(ring);
        if (record < ADDRESS_MIN) break;
        if (u16[(record + RECORD_SUBSCRIPTION_OFFSET) >> 1] !== slot || (this.pending.count !== 0 && this.pending.mustWait(record))
          || (claims && this.claim(record) >= CLAIM_STOLEN)) {
          this.i32[this.readFrom[key]!] = (this.i32[this.readFrom[key]!]! - 1) | 0;
          break;
        }
        // The run is timed by its first record: a stamped one behind it is not.
        if ((u16[(record + RECORD_FLAGS_OFFSET) >> 1]! & RECORD_FLAG_STAMPED) !== 0) this.latency.skip();
        records[count++] = record;
      }
    }
    if (key >= 0 && (def.linger ?? 0) > 0 && this.lingers(slot, key, count, max, def.linger!)) {
      view.length = 0;
      this.taken = 0;
      return view;
    }
    view.length = count;
    view.running = true;
    this.taken = count;
    return view;
  }

  /**
   * Whether the run of `count` records of `slot` just taken from lane `key` waits for more (linger):
   * shorter than `max`, and found less than `linger` ms ago. If so, the run goes back to the lane
   * (READ moves back over it; its stamped records stay stamped, their waits recorded once).
   */
  private lingers(slot: number, key: number, count: number, max: number, linger: number): boolean {
    if (count >= max) {
      this.lingerSince[slot] = 0;
      return false;
    }
    const now = performance.now();
    const since = this.lingerSince[slot]!;
    if (since === 0) this.lingerSince[slot] = now;
    else if (now - since >= linger) {
      this.lingerSince[slot] = 0;
      return false;
    }
    const deadline = (since === 0 ? now : since) + linger;
    if (deadline < this.lingerDeadline) this.lingerDeadline = deadline;
    const records = this.view.records;
    for (let i = 0; i < count; i++) this.u16[(records[i]! + RECORD_FLAGS_OFFSET) >> 1] &= ~RECORD_FLAG_STAMPED;
    this.i32[this.readFrom[key]!] = (this.i32[this.readFrom[key]!]! - count) | 0;
    return true;
  }

  /**
   * The earliest performance.now() at which a lingering run is due (Infinity: none lingers). The
   * worker parks no longer than this; drainAll resets it and runBatch lowers it again.
   */
  lingerDeadline = Infinity;

  /** A batch handler returned (or threw): each of its records completes, a request with element i of the result. */
  private completeBatch(topic: TopicRuntime, slot: number, stats: number, result: unknown, failed: boolean): void {
    const view = this.view;
    view.running = false;
    const u16 = this.u16;
    const replies = !failed && Array.isArray(result) ? result : undefined;
    for (let i = 0; i < view.length; i++) {
      const record = view.records[i]!;
      this.complete(
        topic, slot, stats, this.u32[(record + RECORD_CORRELATION_OFFSET) >> 2]!, u16[(record + RECORD_REPLY_TO_OFFSET) >> 1]!,
        u16[(record + RECORD_FLAGS_OFFSET) >> 1]! >> RECORD_PRIORITY_SHIFT, u16[(record + RECORD_CRASHES_OFFSET) >> 1]! + 1,
        failed ? result : replies?.[i], failed,
      );
    }
  }

  /** drainLane, after a batch call completed: the records after its first (given back their in-flight places; DONE if `held`). */
  private completeRun(held: boolean): void {
    const records = this.view.records;
    for (let i = 1; i < this.taken; i++) {
      const record = records[i]!;
      if (this.admits && (this.u16[(record + RECORD_FLAGS_OFFSET) >> 1]! & RECORD_FLAG_ADMITTED) !== 0) this.admission.release(this.u16[(record + RECORD_TOPIC_OFFSET) >> 1]!);
      if (held) this.pending.markDone(record);
    }
  }

  /** A batch handler returned `promise`: every record of its batch is a pending delivery (the view is theirs: a new one for the next call). */
  private followBatch(from: number, promise: PromiseLike<unknown>, onDone: (() => void) | undefined): void {
    const view = this.view;
    view.running = false;
    this.view = new BatchView(view.records.length);
    // The view keeps its reader until the batch settles: the topic's next records get another.
    const topic = this.topics.byId[this.u16[(view.records[0]! + RECORD_TOPIC_OFFSET) >> 1]!]!;
    const reader = topic.reader;
    topic.reader = topic.spareReaders.pop() ?? (topic.schema.reader(this.arena.memory) as TopicReaderFlyweight);
    const u16 = this.u16;
    for (let i = 0; i < view.length; i++) {
      const record = view.records[i]!;
      const flags = u16[(record + RECORD_FLAGS_OFFSET) >> 1]!;
      // Each record settles with its own element of the result (a rejection rejects them all).
      const own = view.length === 1 ? promise : Promise.resolve(promise).then((replies) => (Array.isArray(replies) ? replies[i] : undefined));
      this.pending.start(
        record, from, own, u16[(record + RECORD_CRASHES_OFFSET) >> 1]! + 1, this.u32[(record + RECORD_CORRELATION_OFFSET) >> 2]!,
        u16[(record + RECORD_REPLY_TO_OFFSET) >> 1]!, flags >> RECORD_PRIORITY_SHIFT, (flags & RECORD_FLAG_ADMITTED) !== 0, i === 0 ? reader : undefined, this.settle,
        i === 0 ? onDone : undefined,
      );
    }
  }

  /** A record for the engine itself (thread 0): a reply, or a dead letter. */
  private handleEngineRecord(record: number, slot: number, topic: TopicRuntime): void {
    const hook = slot === REPLY_SUBSCRIPTION ? this.hooks.onReply : this.hooks.onDeadLetter;
    if (hook !== undefined) hook(record, topic);
    else this.f64[this.control.lateReplies]! += 1;
  }

  // ── circuit breakers ──────────────────────────────────────────────────────────────────────

  /**
   * The circuit of `slot` is not closed: whether the record at `record` may run. An open circuit
   * whose cooldown passed lets it run as the trial (half-open); otherwise it becomes a dead letter.
   */
  private circuitAdmits(record: number, slot: number, stats: number): boolean {
    if (this.circuitGeneration[slot] !== this.table.generation(slot)) {
      this.resetCircuit(slot); // the state of an earlier subscription in this slot
      return true;
    }
    if (this.circuitState[slot] === CIRCUIT_OPEN && performance.now() - this.circuitOpenedAt[slot]! >= this.table.circuitCooldownMs(slot)) {
      this.setCircuit(slot, CIRCUIT_HALF_OPEN);
      return true;
    }
    if (this.circuitState[slot] === CIRCUIT_HALF_OPEN) return true;
    this.f64[stats + TOPIC_STAT_DEAD_LETTERED]! += 1;
    this.f64[stats + TOPIC_STAT_CIRCUIT_OPEN]! += 1;
    this.sendDeadLetter(record, slot, DEAD_LETTER_CIRCUIT_OPEN);
    return false;
  }

  /** A handler of `slot` (which has a breaker) threw: a half-open trial reopens; else count it. */
  private circuitFailed(slot: number): void {
    if (this.circuitGeneration[slot] !== this.table.generation(slot)) this.resetCircuit(slot);
    const now = performance.now();
    if (this.circuitState[slot] === CIRCUIT_HALF_OPEN) {
      this.open(slot, now);
      return;
    }
    const limit = this.table.circuitFailures(slot);
    let times = this.circuitFailures[slot];
    if (times === undefined || times.length !== limit) {
      times = new Float64Array(limit).fill(-Infinity);
      this.circuitFailures[slot] = times;
      this.circuitNext[slot] = 0;
    }
    // times is a ring of the last `limit` failure times: the slot being overwritten is the oldest.
    const at = this.circuitNext[slot]!;
    times[at] = now;
    const oldest = times[(at + 1) % limit]!;
    this.circuitNext[slot] = (at + 1) % limit;
    if (now - (limit === 1 ? now : oldest) <= this.table.circuitWindowMs(slot)) this.open(slot, now);
  }

  private open(slot: number, now: number): void {
    this.circuitOpenedAt[slot] = now;
    this.circuitFailures[slot]?.fill(-Infinity);
    this.setCircuit(slot, CIRCUIT_OPEN);
    const opened = this.control.circuit(slot) + 1;
    this.i32[opened] = (this.i32[opened]! + 1) | 0;
  }

  private resetCircuit(slot: number): void {
    this.circuitGeneration[slot] = this.table.generation(slot);
    this.circuitFailures[slot] = undefined;
    this.i32[this.control.circuit(slot) + 1] = 0;
    this.setCircuit(slot, CIRCUIT_CLOSED);
  }

  private setCircuit(slot: number, state: number): void {
    this.circuitState[slot] = state;
    this.i32[this.control.circuit(slot)] = state;
  }

  /**
   * Sends the record at `record` (meant for `slot`) to thread 0 as a dead letter with `reason`,
   * staged in the reply staging record; never dropped (waits for space, like a reply).
   */
  private sendDeadLetter(record: number, slot: number, reason: number): void {
    const at = this.replyStaging;
    const words = this.shape.recordSize >> 2;
    const i32 = this.i32;
    for (let i = 0, from = record >> 2, to = at >> 2; i < words; i++) i32[to + i] = i32[from + i]!;
    this.u16[(at + RECORD_SUBSCRIPTION_OFFSET) >> 1] = DEAD_LETTER_SUBSCRIPTION;
    this.u16[(at + RECORD_LETTER_OFFSET) >> 1] = slot | (this.thread << LETTER_THREAD_SHIFT);
    this.u16[(at + RECORD_FLAGS_OFFSET) >> 1] = reason;
    if (this.thread === 0) {
      this.handleEngineRecord(at, DEAD_LETTER_SUBSCRIPTION, this.topics.byId[this.u16[(at + RECORD_TOPIC_OFFSET) >> 1]!]!);
      return;
    }
    this.producer.pushLane(0, at, POLICY_BLOCK, this.control.topicStats(this.u16[(at + RECORD_TOPIC_OFFSET) >> 1]!), 0);
  }

  /**
   * Caller-runs: handles the record at `record` on this thread from inside a publish, and leaves
   * ctx.topic as the calling handler (if any) had it.
   */
  handleInline(record: number): void {
    const context = this.context as { topic: string; deliveries: number };
    const outer = context.topic;
    const outerDeliveries = context.deliveries;
    const flags = this.u16[(record + RECORD_FLAGS_OFFSET) >> 1]!;
    try {
      // An async handler run here completes when its promise settles; its message is the
      // publisher's staging record, valid only until the handler's first await.
      if (!this.handleRecord(record)) this.follow(record, FROM_INLINE, flags);
      else if ((flags & RECORD_FLAG_ADMITTED) !== 0) this.admission.release(this.u16[(record + RECORD_TOPIC_OFFSET) >> 1]!);
    } finally {
      context.topic = outer;
      context.deliveries = outerDeliveries;
    }
  }

  private handlerFailed(topic: TopicRuntime, stats: number, error: unknown): void {
    this.f64[stats + TOPIC_STAT_HANDLER_ERRORS]! += 1;
    const first = this.erroredTopics[topic.id] === 0;
    this.erroredTopics[topic.id] = 1;
    this.hooks.onHandlerError(topic.name, error, first);
  }

  /** Sends the reply of request `correlation` to thread `to` in class `priority` (the request's): never dropped (waits for space). */
  private reply(topic: TopicRuntime, correlation: number, to: number, result: unknown, failed: boolean, priority: number): void {
    const at = this.replyStaging;
    this.u16[(at + RECORD_TOPIC_OFFSET) >> 1] = topic.id;
    this.u16[(at + RECORD_SUBSCRIPTION_OFFSET) >> 1] = REPLY_SUBSCRIPTION;
    this.u32[(at + RECORD_CORRELATION_OFFSET) >> 2] = correlation;
    this.u16[(at + RECORD_REPLY_TO_OFFSET) >> 1] = this.thread;
    const stats = this.control.topicStats(topic.id);
    let flags = failed ? RECORD_FLAG_FAILED : 0;
    if (!failed && topic.reply !== undefined) {
      try {
        topic.reply.encode(this.arena.memory, at + RECORD_HEADER_BYTES, result as never);
      } catch (error) {
        flags = RECORD_FLAG_FAILED;
        this.handlerFailed(topic, stats, error);
      }
    }
    this.u16[(at + RECORD_FLAGS_OFFSET) >> 1] = flags | (priority << RECORD_PRIORITY_SHIFT);
    if (to === this.thread) {
      this.handleRecord(at);
      return;
    }
    // Replies are never dropped: a worker waits for space; thread 0 keeps it in its backlog.
    this.producer.pushLane(to, at, POLICY_BLOCK, stats, 0);
  }
}

/** A message handler's def, as the consumer calls it. */
interface MessageHandler {
  handle(message: unknown, ctx: unknown): unknown;
}

/** What the consumer calls: a handler module's def (message or batch handler), untyped. */
interface AnyHandlerDef {
  readonly maxBatch?: number;
  readonly linger?: number;
  handle?(message: unknown, ctx: unknown): unknown;
  handleBatch?(batch: BatchView, ctx: unknown): unknown;
}

/**
 * A batch handler's batch (TopicBatch): the records of one call, and the topic's reader flyweight
 * re-pointed by at(i). An async batch keeps its view and that reader until it settles.
 */
class BatchView {
  length = 0;
  /** Whether a batch handler's call is using it (between runBatch and its completion or follow). */
  running = false;
  readonly records: Int32Array;
  reader: TopicReaderFlyweight | undefined;

  constructor(capacity: number) {
    this.records = new Int32Array(capacity);
  }

  at(index: number): unknown {
    if (!(index >= 0 && index < this.length)) return undefined;
    return this.reader!.at(this.records[index]! + RECORD_HEADER_BYTES);
  }

  *[Symbol.iterator](): Iterator<unknown> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }
}
