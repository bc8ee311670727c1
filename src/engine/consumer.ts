/**
 * Consumer: one thread's consuming half — drain a lane (peek up to `batch` records), run each
 * record's handler on a flyweight reader of the record in place (handleRecord), then flush what
 * the handlers published, count the records COMPLETED and commit. What follows a handler's call
 * is completion.ts's (circuit breakers, replies, counts, following a Promise); batch handlers'
 * runs are batch-runs.ts's; the pass over all inbound lanes is inbound.ts's.
 *
 * A record is committed (TAIL store: the producer may reuse its space) only after its handler
 * returned, so a record is never freed before it was handled. Between commits, the handled cursor
 * (control block HANDLED_LANE/HANDLED: one plain store per record, after its handler returned)
 * tells crash recovery (supervisor.ts) exactly which records of the batch were handled, which one
 * the thread died on, and which were never started.
 *
 * drainLane and handleRecord are the per-record path and stay together here: handleRecord stays
 * small so that V8 inlines it into drainLane's loop (the rarer handler kinds go to handleOther).
 * A handler's throw is caught and counted; nothing else here throws, and nothing allocates unless
 * a circuit is open or a handler fails.
 */
import type { CoreOps } from '../../bindings/core-ops.ts';
import { ADDRESS_MIN } from '../../assembly/layout/arena.ts';
import type { Arena } from '../arena.ts';
import type { Admission } from './admission.ts';
import type { ControlBlock } from './control-block.ts';
import { RING_READ_OFFSET, RING_TAIL_OFFSET } from '../../assembly/layout/ring.ts';
import { AsyncDeliveries } from './async-deliveries.ts';
import { BatchRuns, type AnyHandlerDef } from './batch-runs.ts';
import { Completion } from './completion.ts';
import type { FanOutPool } from './fan-out-pool.ts';
import type { LatencyProbe } from './latency.ts';
import {
  CIRCUIT_CLOSED, CLAIM_DONE, CLAIM_STOLEN, DEAD_LETTER_SUBSCRIPTION, HANDLED_ASYNC, HANDLED_COUNTED, LOCAL_HANDLER, PRIORITY_CLASSES,
  RECORD_CORRELATION_OFFSET, RECORD_CRASHES_OFFSET, RECORD_FLAGS_OFFSET, RECORD_FLAG_ADMITTED, RECORD_FLAG_POOLED, RECORD_FLAG_STAMPED, RECORD_HEADER_BYTES,
  RECORD_PRIORITY_SHIFT, RECORD_REPLY_TO_OFFSET, RECORD_SUBSCRIPTION_OFFSET, RECORD_TOPIC_OFFSET, REPLY_SUBSCRIPTION, inboundLane,
} from './layout.ts';
import type { EngineShape } from './options.ts';
import type { Producer } from './producer.ts';
import { ownerClaim } from './stealer.ts';
import type { SubscriptionTable } from './subscription-table.ts';
import type { TopicRuntime, TopicSet } from './topic-runtime.ts';
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

export class Consumer {
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  private readonly f64: Float64Array;
  private readonly i32: Int32Array;
  /** ringFrom[key]: the lane this thread consumes for inbound key `key` (class · threads + producer). */
  readonly ringFrom: readonly number[];
  /** ringFrom's READ words (i32 indices): the owner un-reads a record a thief is running. */
  readonly readFrom: readonly number[];
  /** ringFrom's TAIL words (u32 indices): where a batch's handled cursor starts. */
  private readonly tailFrom: readonly number[];
  /** Whether the last drainLane stopped with records possibly left in its lane (limit or URGENT), not at an empty lane. */
  left = false;
  /** Thread 0's control block (its STEAL word). */
  private readonly controls0: ControlBlock;
  /** Whether some topic has an admission limit (the consumer then reads each record's ADMITTED flag). */
  private readonly admits: boolean;
  /** Whether drainLane reads each record's FLAGS: for admission (ADMITTED) or latency sampling (STAMPED). */
  private readonly readsFlags: boolean;
  /** Completes or follows each delivery (completion.ts); its circuit breakers, and their state per slot (read per record). */
  private readonly completion: Completion;
  private readonly circuitState: Uint8Array;
  /** Deliveries whose handler returned a Promise, and the lanes they hold (async-deliveries.ts). */
  readonly pending: AsyncDeliveries;
  /** Batch handlers' runs (batch-runs.ts). */
  readonly runs: BatchRuns;
  /** Handlers of this thread's own subscriptions (LOCAL_HANDLER slots), by slot. */
  private readonly localDefs: (HandlerDef<TopicMap, string> | undefined)[] = [];
  /** The inbound key of the lane drainLane is handling a record of (a batch handler takes its run from it), -1 otherwise. */
  private laneKey = -1;
  /** Per handler index: 1 for a batch handler (handleBatch). */
  private readonly batchHandlers: Uint8Array;
  /** Records the last handleRecord took (a batch handler's run; 1 otherwise). */
  private taken = 1;
  /** The promise handleRecord got from an async handler, until follow() takes it. */
  private started: PromiseLike<unknown> | undefined;

  constructor(
    private readonly thread: number,
    private readonly core: CoreOps,
    private readonly arena: Arena,
    shape: EngineShape,
    private readonly control: ControlBlock,
    private readonly topics: TopicSet,
    private readonly table: SubscriptionTable,
    /** Handlers by slot entry's handler index (the handler module's sorted names). */
    private readonly handlerDefs: readonly HandlerDef<TopicMap, string>[],
    private readonly context: HandlerContext<TopicMap>,
    private readonly producer: Producer,
    private readonly admission: Admission,
    /** Where a reply is staged before it is pushed (or handled here). */
    replyStaging: number,
    private readonly hooks: ConsumerHooks,
    controls0: ControlBlock,
    /** Latency sampling: the stamped records this thread handles are timed (latency.ts). */
    private readonly latency: LatencyProbe,
    /** The fan-out pool: a pooled record's message is in its slot, released once handled (fan-out-pool.ts). */
    private readonly pool: FanOutPool,
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
    this.admits = admission.limits.some((limit) => limit !== 0);
    this.readsFlags = this.admits || latency.on || shape.pool !== undefined;
    this.tailFrom = ringFrom.map((ring) => (ring + RING_TAIL_OFFSET) >> 2);
    this.readFrom = ringFrom.map((ring) => (ring + RING_READ_OFFSET) >> 2);
    this.controls0 = controls0;
    const slots = shape.maxSubscriptions;
    this.pending = new AsyncDeliveries(core, buffer, control, controls0, table, topics, producer, ringFrom, slots, shape.asyncTimeout, pool);
    const completion = new Completion(
      thread, arena, shape, control, topics, table, producer, admission, replyStaging, hooks, this.pending, latency, (record) => this.handleRecord(record), pool,
    );
    this.completion = completion;
    this.circuitState = completion.breakers.state;
    this.i32[control.handledLane] = 0;
    this.batchHandlers = Uint8Array.from(handlerDefs, (def) => (typeof (def as AnyHandlerDef).handleBatch === 'function' ? 1 : 0));
    this.runs = new BatchRuns(
      core, arena.memory, shape.batch, shape.ringCapacity, slots, this, controls0, table, topics, this.pending, admission, this.admits, latency,
      context, completion.complete.bind(completion), completion.settle, pool,
    );
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
        const claim = ownerClaim(this.u16, this.table, record);
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
      // A batch handler may take the run of records behind this one from the lane (BatchRuns.take).
      this.laneKey = key;
      const complete = this.handleRecord(record);
      const taken = this.taken;
      if (taken === 0) {
        // A batch handler's run lingers (BatchRuns.take gave it back to the lane): the lane waits behind it.
        if (sample !== 0) this.latency.handlerPending(sample);
        left = true;
        break;
      }
      if (sample !== 0) this.completion.timed(record, sample, complete, this.started);
      if (complete) {
        // The delivery's in-flight place is free once it was handled (or dead-lettered).
        if ((flags & RECORD_FLAG_ADMITTED) !== 0) this.admission.release(this.u16[(record + RECORD_TOPIC_OFFSET) >> 1]!);
        if (held) pending.markDone(record);
        if (taken > 1) this.runs.completeRun(taken, held);
        n += taken;
        // After the handler returned: these records are handled.
        i32[handled] = held ? i32[this.readFrom[key]!]! : (tail + n) | 0;
        // Only now may its pool slot go: recovery never redelivers a record behind the handled
        // cursor (or DONE), and a redelivered record must still find its message.
        if ((flags & RECORD_FLAG_POOLED) !== 0) this.pool.release(record);
        if (taken > 1) this.runs.releaseRun(taken);
        continue;
      }
      // Its handler returned a Promise: the record (every record of its batch) stays in the lane until it settles.
      this.follow(record, key, this.u16[(record + RECORD_FLAGS_OFFSET) >> 1]!);
      if (!held) {
        // Into async mode: the records before it in this drain are complete: count and commit them
        // now (children first); TAIL stops at this one.
        held = true;
        pending.hold(key, (tail + n) | 0, n);
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
    if (this.circuitState[slot] !== CIRCUIT_CLOSED && !this.completion.breakers.admits(record, slot, stats)) return true;
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
      result = def.handle(topic.reader.at(topic.pooled ? this.pool.messageAt(record) : record + RECORD_HEADER_BYTES), this.context);
      if (result !== undefined && result !== null && typeof (result as { then?: unknown }).then === 'function') {
        // An async handler: it completes when the promise settles (settle()).
        this.started = result as PromiseLike<unknown>;
        return false;
      }
    } catch (error) {
      failed = true;
      result = error;
    }
    this.completion.complete(topic, slot, stats, correlation, u16[(record + RECORD_REPLY_TO_OFFSET) >> 1]!, u16[(record + RECORD_FLAGS_OFFSET) >> 1]! >> RECORD_PRIORITY_SHIFT, deliveries, result, failed);
    return true;
  }

  /**
   * handleRecord for a batch handler's record, or one of this thread's own subscriptions
   * (LOCAL_HANDLER): BatchRuns.handle runs it, and says how many records it took.
   */
  private handleOther(record: number, slot: number, topic: TopicRuntime, stats: number, index: number, laneKey: number): boolean {
    const def = (index !== LOCAL_HANDLER ? this.handlerDefs[index]! : this.localDefs[slot] ?? DISCARD) as AnyHandlerDef;
    this.taken = this.runs.handle(record, slot, topic, stats, def, laneKey);
    this.started = this.runs.takeStarted();
    return this.started === undefined;
  }

  /**
   * The handler of the record at `record` (in lane `from`, or FROM_STOLEN / FROM_INLINE, FLAGS
   * `flags`) returned the promise in `started`: follows it until it settles. `onDone`: a thief's
   * completion of a stolen record.
   */
  follow(record: number, from: number, flags: number, onDone?: () => void): void {
    const promise = this.started!;
    this.started = undefined;
    if (this.runs.view.running) this.runs.followBatch(from, promise, onDone);
    else this.completion.follow(record, from, flags, promise, onDone);
  }

  /** A record for the engine itself (thread 0): a reply, or a dead letter. */
  private handleEngineRecord(record: number, slot: number, topic: TopicRuntime): void {
    const hook = slot === REPLY_SUBSCRIPTION ? this.hooks.onReply : this.hooks.onDeadLetter;
    if (hook !== undefined) hook(record, topic);
    else this.f64[this.control.lateReplies]! += 1;
  }

  /** Sets the handler of `slot`, a subscription of this thread made with LOCAL_HANDLER (engine.consume). */
  setLocalHandler(slot: number, def: HandlerDef<TopicMap, string> | undefined): void {
    this.localDefs[slot] = def;
  }
}

/** A message handler's def, as the consumer calls it. */
interface MessageHandler {
  handle(message: unknown, ctx: unknown): unknown;
}
