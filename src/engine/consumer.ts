/**
 * Consumer: one thread's consuming half — drain a lane (peek up to `batch` records), run each
 * record's handler on a flyweight reader of the record in place (handleRecord), send a request's
 * reply, then flush what the handlers published, count the records COMPLETED and commit.
 *
 * A record is committed (TAIL store: the producer may reuse its space) only after its handler
 * returned, so a record is never freed before it was handled (ring READ/TAIL: what crash recovery
 * needs). A handler's throw is caught and counted; nothing else here throws or allocates.
 */
import type { CoreOps } from '../../bindings/core-ops.ts';
import { ADDRESS_MIN } from '../../assembly/layout/arena.ts';
import type { Arena } from '../arena.ts';
import { EngineError } from '../errors.ts';
import type { ControlBlock } from './control-block.ts';
import {
  POLICY_BLOCK, RECORD_CORRELATION_OFFSET, RECORD_FLAGS_OFFSET, RECORD_FLAG_ASYNC, RECORD_FLAG_FAILED,
  RECORD_HEADER_BYTES, RECORD_REPLY_TO_OFFSET, RECORD_SUBSCRIPTION_OFFSET, RECORD_TOPIC_OFFSET,
  REPLY_SUBSCRIPTION, TOPIC_STAT_DELIVERED, TOPIC_STAT_HANDLER_ERRORS, laneIndex,
} from './layout.ts';
import type { EngineShape } from './options.ts';
import type { Producer } from './producer.ts';
import type { SubscriptionTable } from './subscription-table.ts';
import type { TopicRuntime, TopicSet } from './topic-runtime.ts';
import type { HandlerContext, HandlerDef, TopicMap } from './types.ts';

/** What a consumer tells its thread's owner (the engine or the worker loop). */
export interface ConsumerHooks {
  /** A handler threw (or returned a reply its schema refused); `first` is true the first time for this topic on this thread. */
  onHandlerError(topic: string, error: unknown, first: boolean): void;
  /** A reply record addressed to this thread arrived (thread 0's pending requests). */
  onReply?(record: number, topic: TopicRuntime): void;
}

export class Consumer {
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  private readonly f64: Float64Array;
  /** ringFrom[p]: the lane this thread consumes from producer p. */
  private readonly ringFrom: readonly number[];
  private readonly erroredTopics: Uint8Array;

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
    /** Where a reply is staged before it is pushed (or handled here). */
    private readonly replyStaging: number,
    private readonly hooks: ConsumerHooks,
  ) {
    const buffer = arena.memory.buffer;
    this.u16 = new Uint16Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.f64 = new Float64Array(buffer);
    const T = shape.threads;
    const ringFrom: number[] = [];
    for (let p = 0; p < T; p++) ringFrom.push(arena.ring(laneIndex(p, thread, T)).address);
    this.ringFrom = ringFrom;
    this.erroredTopics = new Uint8Array(shape.topicNames.length);
  }

  /**
   * Handles up to `batch` records of the lane from `producer`, flushes what their handlers
   * published, counts them COMPLETED, commits. Returns how many it handled.
   */
  drainLane(producer: number): number {
    const core = this.core;
    const ring = this.ringFrom[producer]!;
    const batch = this.shape.batch;
    let n = 0;
    while (n < batch) {
      const record = core.ringTryPeek(ring);
      if (record < ADDRESS_MIN) break;
      this.handleRecord(record);
      n++;
    }
    if (n > 0) {
      // Children first: what the handlers published is counted ACCEPTED (at its flush) before
      // its parents are counted COMPLETED, so drain never sees a moment with both at rest.
      this.producer.flushAll();
      this.control.addCompleted(n);
      core.ringCommit(ring);
    }
    return n;
  }

  /** One pass over every inbound lane; returns records handled. */
  drainAll(): number {
    let n = 0;
    for (let p = 0; p < this.shape.threads; p++) n += this.drainLane(p);
    return n;
  }

  /** Whether any inbound lane has a published record (loads every HEAD). */
  hasInbound(): boolean {
    for (let p = 0; p < this.shape.threads; p++) if (this.core.ringAvailable(this.ringFrom[p]!) > 0) return true;
    return false;
  }

  /** Runs the handler of the record at `record` (or hands a reply to the owner). */
  handleRecord(record: number): void {
    const u16 = this.u16;
    const topicId = u16[(record + RECORD_TOPIC_OFFSET) >> 1]!;
    const slot = u16[(record + RECORD_SUBSCRIPTION_OFFSET) >> 1]!;
    const topic = this.topics.byId[topicId]!;
    if (slot === REPLY_SUBSCRIPTION) {
      if (this.hooks.onReply !== undefined) this.hooks.onReply(record, topic);
      else this.f64[this.control.lateReplies]! += 1;
      return;
    }
    const def = this.handlerDefs[this.table.handler(slot)]!;
    const stats = this.control.topicStats(topicId);
    const correlation = this.u32[(record + RECORD_CORRELATION_OFFSET) >> 2]!;
    let result: unknown;
    let failed = false;
    (this.context as { topic: string }).topic = topic.name;
    try {
      result = def.handle(topic.reader.at(record + RECORD_HEADER_BYTES) as never, this.context);
      // A handler that returns a Promise did not finish: its record is reused once we return.
      if (result !== undefined && result !== null && typeof (result as { then?: unknown }).then === 'function') throw asyncHandlerError(topic.name, result as PromiseLike<unknown>);
    } catch (error) {
      failed = true;
      result = error;
      this.handlerFailed(topic, stats, error);
    }
    this.f64[stats + TOPIC_STAT_DELIVERED]! += 1;
    if (correlation !== 0) this.reply(topic, correlation, u16[(record + RECORD_REPLY_TO_OFFSET) >> 1]!, result, failed);
  }

  /**
   * Caller-runs: handles the record at `record` on this thread from inside a publish, and leaves
   * ctx.topic as the calling handler (if any) had it.
   */
  handleInline(record: number): void {
    const context = this.context as { topic: string };
    const outer = context.topic;
    try {
      this.handleRecord(record);
    } finally {
      context.topic = outer;
    }
  }

  private handlerFailed(topic: TopicRuntime, stats: number, error: unknown): void {
    this.f64[stats + TOPIC_STAT_HANDLER_ERRORS]! += 1;
    const first = this.erroredTopics[topic.id] === 0;
    this.erroredTopics[topic.id] = 1;
    this.hooks.onHandlerError(topic.name, error, first);
  }

  /** Sends the reply of request `correlation` to thread `to`: never dropped (waits for space). */
  private reply(topic: TopicRuntime, correlation: number, to: number, result: unknown, failed: boolean): void {
    const at = this.replyStaging;
    this.u16[(at + RECORD_TOPIC_OFFSET) >> 1] = topic.id;
    this.u16[(at + RECORD_SUBSCRIPTION_OFFSET) >> 1] = REPLY_SUBSCRIPTION;
    this.u32[(at + RECORD_CORRELATION_OFFSET) >> 2] = correlation;
    this.u16[(at + RECORD_REPLY_TO_OFFSET) >> 1] = this.thread;
    const stats = this.control.topicStats(topic.id);
    let flags = !failed ? 0 : result instanceof EngineError && result.code === 'ERR_HANDLER_ASYNC' ? RECORD_FLAG_FAILED | RECORD_FLAG_ASYNC : RECORD_FLAG_FAILED;
    if (!failed && topic.reply !== undefined) {
      try {
        topic.reply.encode(this.arena.memory, at + RECORD_HEADER_BYTES, result as never);
      } catch (error) {
        flags = RECORD_FLAG_FAILED;
        this.handlerFailed(topic, stats, error);
      }
    }
    this.u16[(at + RECORD_FLAGS_OFFSET) >> 1] = flags;
    if (to === this.thread) {
      this.handleRecord(at);
      return;
    }
    // Replies are never dropped: a worker waits for space; thread 0 keeps it in its backlog.
    this.producer.pushLane(to, at, POLICY_BLOCK, stats, 0);
  }
}

/**
 * The error for a handler of `topic` that returned a Promise (its own rejection, if any, is
 * handled here); a failed request's reply says so with RECORD_FLAG_ASYNC, and thread 0 makes the
 * same error as its cause.
 */
export function asyncHandlerError(topic: string, promise?: PromiseLike<unknown>): EngineError {
  if (promise !== undefined) Promise.resolve(promise).catch(() => undefined); // never an unhandled rejection on top
  return new EngineError('ERR_HANDLER_ASYNC', 'topic', topic, 'a handler returned a Promise: handlers are synchronous (the message is only valid during the call); await asynchronous work outside the engine (e.g. on the main thread) and publish its result');
}
