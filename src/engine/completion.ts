/**
 * Completion: what follows a handler's call on one thread — complete the delivery (its circuit
 * breaker, a request's reply, the counts; a handler error counted and reported, first per topic
 * flagged) or, when the handler returned a Promise, follow it as a pending delivery until it
 * settles and complete it then. Counted last: a thread that dies before a delivery completed (in
 * the handler, or waiting to push the reply) has its record redelivered and counted once, by the
 * delivery that completes.
 */
import type { Arena } from '../arena.ts';
import type { Admission } from './admission.ts';
import type { AsyncDeliveries, AsyncDelivery } from './async-deliveries.ts';
import { CircuitBreakers } from './circuit-breakers.ts';
import type { ConsumerHooks } from './consumer.ts';
import type { ControlBlock } from './control-block.ts';
import type { LatencyProbe } from './latency.ts';
import {
  CIRCUIT_HALF_OPEN, RECORD_CORRELATION_OFFSET, RECORD_CRASHES_OFFSET, RECORD_FLAG_ADMITTED, RECORD_PRIORITY_SHIFT, RECORD_REPLY_TO_OFFSET,
  RECORD_TOPIC_OFFSET, TOPIC_STAT_DELIVERED, TOPIC_STAT_HANDLER_ERRORS, TOPIC_STAT_REDELIVERED,
} from './layout.ts';
import type { EngineShape } from './options.ts';
import type { Producer } from './producer.ts';
import { Replies } from './replies.ts';
import type { FanOutPool } from './fan-out-pool.ts';
import type { SubscriptionTable } from './subscription-table.ts';
import type { TopicReaderFlyweight, TopicRuntime, TopicSet } from './topic-runtime.ts';

export class Completion {
  /** The circuit breakers; `circuitState` is their state per slot (read per record). */
  readonly breakers: CircuitBreakers;
  private readonly circuitState: Uint8Array;
  /** Replies of requests, and dead letters of open circuits. */
  private readonly replies: Replies;
  /** Per topic: 1 once a handler error of it was reported on this thread. */
  private readonly erroredTopics: Uint8Array;
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  private readonly f64: Float64Array;

  constructor(
    thread: number,
    private readonly arena: Arena,
    shape: EngineShape,
    private readonly control: ControlBlock,
    private readonly topics: TopicSet,
    private readonly table: SubscriptionTable,
    producer: Producer,
    private readonly admission: Admission,
    /** Where a reply or dead letter is staged before it is pushed (or handled here). */
    replyStaging: number,
    private readonly hooks: ConsumerHooks,
    private readonly pending: AsyncDeliveries,
    private readonly latency: LatencyProbe,
    /** Handles a record addressed to this thread (Consumer.handleRecord). */
    handleHere: (record: number) => boolean,
    /** The fan-out pool: a dead letter of a pooled record is copied inline (Replies). */
    pool: FanOutPool,
  ) {
    const buffer = arena.memory.buffer;
    this.u16 = new Uint16Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.erroredTopics = new Uint8Array(shape.topicNames.length);
    this.replies = new Replies(thread, arena, shape.topicRecordBytes, control, producer, replyStaging, handleHere, (topic, stats, error) => this.handlerFailed(topic, stats, error), pool);
    this.breakers = new CircuitBreakers(buffer, control, table, shape.maxSubscriptions, this.replies);
    this.circuitState = this.breakers.state;
  }

  /**
   * A delivery's handler returned (or threw, or its promise settled): circuit breaker, the reply
   * of a request, the counts. Counted last, right before drainLane's handled-cursor store.
   */
  complete(topic: TopicRuntime, slot: number, stats: number, correlation: number, replyTo: number, priority: number, deliveries: number, result: unknown, failed: boolean): void {
    if (failed) {
      this.handlerFailed(topic, stats, result);
      if (this.table.circuitFailures(slot) !== 0) this.breakers.failed(slot);
    } else if (this.circuitState[slot] === CIRCUIT_HALF_OPEN) this.breakers.close(slot);
    if (correlation !== 0) this.replies.reply(topic, correlation, replyTo, result, failed, priority);
    this.f64[stats + TOPIC_STAT_DELIVERED]! += 1;
    if (deliveries > 1) this.f64[stats + TOPIC_STAT_REDELIVERED]! += 1;
  }

  private handlerFailed(topic: TopicRuntime, stats: number, error: unknown): void {
    this.f64[stats + TOPIC_STAT_HANDLER_ERRORS]! += 1;
    const first = this.erroredTopics[topic.id] === 0;
    this.erroredTopics[topic.id] = 1;
    this.hooks.onHandlerError(topic.name, error, first);
  }

  /**
   * The handler of the record at `record` (in lane `from`, or FROM_STOLEN / FROM_INLINE, FLAGS
   * `flags`) returned `promise`: follows it until it settles. `onDone`: a thief's completion of a
   * stolen record.
   */
  follow(record: number, from: number, flags: number, promise: PromiseLike<unknown>, onDone: (() => void) | undefined): void {
    const u16 = this.u16;
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
  readonly settle = (delivery: AsyncDelivery, value: unknown, failed: boolean): void => {
    const topic = this.topics.byId[delivery.topic]!;
    this.complete(topic, delivery.slot, this.control.topicStats(delivery.topic), delivery.correlation, delivery.replyTo, delivery.priority, delivery.deliveries, value, failed);
    if (delivery.admitted) this.admission.release(delivery.topic);
    if (delivery.reader !== undefined && !delivery.timedOut) topic.spareReaders.push(delivery.reader);
    this.pending.finish(delivery);
  };

  /**
   * The stamped record's handler (LatencyProbe.begin gave `token`) returned: its time now if
   * `complete`, else when `promise` (what it returned) settles.
   */
  timed(record: number, token: number, complete: boolean, promise: PromiseLike<unknown> | undefined): void {
    const topic = this.u16[(record + RECORD_TOPIC_OFFSET) >> 1]!;
    if (complete) {
      this.latency.handlerDone(topic, token);
      return;
    }
    const start = this.latency.handlerPending(token);
    const done = (): void => this.latency.handlerSettled(topic, start);
    promise!.then(done, done);
  }
}
