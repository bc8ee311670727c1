/**
 * BatchPublisher: publishBatch — messages staged BATCH_RECORDS at a time in this thread's batch
 * staging and routed and enqueued by ONE core call per chunk (dispatchBatch: key hashing,
 * routing, least-loaded picks by the balance table and copying happen inside the core, Wasm or
 * its JS twin), falling back to the Producer's per-record path where a lane is full or keeps a
 * backlog.
 */
import type { CoreOps } from '../../bindings/core-ops.ts';
import {
  DISPATCH_FAILED_ENTRY_OFFSET, DISPATCH_ENTRY_COUNT_OFFSET, DISPATCH_ROUTED_OFFSET,
  DISPATCH_UNROUTED_OFFSET, ROUTE_SKIPPED,
} from '../../assembly/layout/dispatch.ts';
import type { Arena } from '../arena.ts';
import { ConfigError } from '../errors.ts';
import type { Backpressure } from './backpressure.ts';
import type { ControlBlock } from './control-block.ts';
import {
  BATCH_RECORDS, RECORD_CORRELATION_OFFSET, RECORD_FLAGS_OFFSET, RECORD_HEADER_BYTES, RECORD_PRIORITY_SHIFT,
  RECORD_REPLY_TO_OFFSET, RECORD_SUBSCRIPTION_OFFSET, RECORD_TOPIC_OFFSET, TOPIC_STAT_PUBLISHED,
  TOPIC_STAT_ROUTED, TOPIC_STAT_UNROUTED,
} from './layout.ts';
import type { EngineShape } from './options.ts';
import type { OutboundLanes } from './outbound.ts';
import { RouteResult, type Producer } from './producer.ts';
import type { SubscriptionTable } from './subscription-table.ts';
import type { TopicRuntime } from './topic-runtime.ts';

/** Where a batch of requests went (RequestBatches), filled in by publishBatch when given. */
export interface BatchTrack {
  /** Per thread: set to 1 once a record was pushed to it or run inline on it. */
  readonly reached: Uint8Array;
  /** Records no subscription receives (added to). */
  unrouted: number;
}

export class BatchPublisher {
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  private readonly f64: Float64Array;
  private readonly router: number;
  private readonly result: RouteResult;
  /** The BatchTrack of the publishBatch call running now, if it was given one. */
  private track: BatchTrack | null = null;

  constructor(
    private readonly thread: number,
    private readonly core: CoreOps,
    arena: Arena,
    private readonly shape: EngineShape,
    private readonly control: ControlBlock,
    private readonly table: SubscriptionTable,
    private readonly producer: Producer,
    /** This thread's outbound lanes: dispatchBatch pushes into them directly (their `rings` table). */
    private readonly lanes: OutboundLanes,
    private readonly backpressure: Backpressure,
    private readonly scratch: {
      /** BATCH_RECORDS staged records. */
      readonly batchStaging: number;
      /** u32 × threads: records dispatchBatch pushed per consumer since the lanes collected them. */
      readonly pushedCounts: number;
      /** dispatchBatch's result block. */
      readonly dispatchResult: number;
    },
  ) {
    const buffer = arena.memory.buffer;
    this.u16 = new Uint16Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.router = arena.router(0).address;
    this.result = new RouteResult(shape.routerSubscriptions);
  }

  /**
   * Publishes `messages` (each validated by the setters). A lane that fills up mid-chunk gets its
   * policy from that record on, exactly as in publish(). Returns how many messages no receiver
   * refused. A message that fails validation throws after the ones before it were published.
   * Every message goes in class `priority` (default: the topic's). With `correlationBase` nonzero
   * message i is a request with correlation id `correlationBase + i` (RequestBatches), and `track`,
   * if given, learns where the batch went.
   */
  publishBatch(
    topic: TopicRuntime, messages: readonly Record<string, unknown>[], priority: number = topic.priority, correlationBase = 0, track: BatchTrack | null = null,
  ): number {
    // A caller-runs handler on this thread may publish a batch from inside ours: each call tracks
    // into its own BatchTrack, and ours is back when the inner call returns.
    const outer = this.track;
    this.track = track;
    try {
      return this.publishChunks(topic, messages, priority, correlationBase);
    } finally {
      this.track = outer;
    }
  }

  /** publishBatch's loop: stages and dispatches BATCH_RECORDS at a time; returns how many no receiver refused. */
  private publishChunks(topic: TopicRuntime, messages: readonly Record<string, unknown>[], priority: number, correlationBase: number): number {
    // Records are staged at their topic's own size, not the lane's: dispatchBatch copies `size`
    // bytes per record, so a small topic's batch costs its own bytes beside a large topic.
    const size = topic.recordBytes;
    const staging = this.scratch.batchStaging;
    let taken = 0;
    for (let start = 0; start < messages.length; start += BATCH_RECORDS) {
      const count = Math.min(BATCH_RECORDS, messages.length - start);
      let staged = 0;
      try {
        for (; staged < count; staged++) {
          const message = messages[start + staged];
          if (message === null || typeof message !== 'object') throw new ConfigError(`messages[${start + staged}]`, message, 'must be an object with one property per field');
          const record = staging + staged * size;
          this.u16[(record + RECORD_TOPIC_OFFSET) >> 1] = topic.id;
          this.u32[(record + RECORD_CORRELATION_OFFSET) >> 2] = correlationBase === 0 ? 0 : correlationBase + start + staged;
          this.u16[(record + RECORD_REPLY_TO_OFFSET) >> 1] = this.thread;
          this.u16[(record + RECORD_FLAGS_OFFSET) >> 1] = priority << RECORD_PRIORITY_SHIFT;
          topic.assign(topic.batchWriter.at(record + RECORD_HEADER_BYTES), message);
        }
      } finally {
        taken += this.dispatchStaged(topic, staged, priority);
      }
    }
    return taken;
  }

  /** Routes and enqueues the first `count` staged records; returns how many no receiver refused. */
  private dispatchStaged(topic: TopicRuntime, count: number, priority: number): number {
    if (count === 0) return 0;
    const size = topic.recordBytes;
    const { batchStaging, pushedCounts, dispatchResult } = this.scratch;
    const producer = this.producer;
    const lanes = this.lanes;
    const result = this.result;
    producer.enter();
    const stats = this.control.topicStats(topic.id);
    const words = dispatchResult >> 2;
    let taken = 0;
    let i = 0;
    while (i < count) {
      if (this.backpressure.backlogSize > 0 || producer.scheduled[topic.id] !== 0 || (topic.pooled && this.core.routerGroupCount(this.router, topic.id) > 1)) {
        // A lane holds records in a backlog: only the per-record path keeps such a lane FIFO
        // (dispatchBatch would push straight into the ring, ahead of them). Likewise a topic with
        // an admission limit or shedding: each delivery asks Producer.admit; and a pooled topic
        // with several route entries: its message is copied once into a pool slot
        // (fan-out-pool.ts), where dispatchBatch would copy it whole into every lane.
        for (; i < count; i++) {
          const record = batchStaging + i * size;
          producer.route(topic, this.u32[(record + RECORD_CORRELATION_OFFSET) >> 2]!, record, 0, result, priority);
          if (result.refused === 0) taken++;
          if (this.track !== null) this.noteRoute(this.track, result, result.routed !== 0 || result.refused !== 0);
        }
        break;
      }
      const done = this.core.dispatchBatch(
        this.router, this.thread, topic.id, batchStaging + i * size, count - i, size,
        topic.keyKind, RECORD_HEADER_BYTES + topic.keyOffset, topic.keyLength, lanes.ringTable + priority * this.shape.threads * 4,
        RECORD_SUBSCRIPTION_OFFSET, pushedCounts, this.table.balances, producer.routeOut, dispatchResult,
      );
      const routed = this.u32[words + (DISPATCH_ROUTED_OFFSET >> 2)]!;
      const unrouted = this.u32[words + (DISPATCH_UNROUTED_OFFSET >> 2)]!;
      const track = this.track;
      if (track !== null) {
        track.unrouted += unrouted;
        for (let c = 0, at = pushedCounts >> 2; c < track.reached.length; c++) if (this.u32[at + c] !== 0) track.reached[c] = 1;
      }
      lanes.collectPushed(pushedCounts, priority);
      const whole = done < 0 ? 0 : done;
      this.f64[stats + TOPIC_STAT_ROUTED]! += routed;
      this.f64[stats + TOPIC_STAT_UNROUTED]! += unrouted;
      this.f64[stats + TOPIC_STAT_PUBLISHED]! += whole - unrouted;
      taken += whole;
      if (done < 0 || i + done >= count) break;
      // Record i + done met a full (or closed) lane at route entry FAILED_ENTRY: its earlier
      // entries were pushed (or are ROUTE_SKIPPED: not chosen by their least-loaded pick); the
      // rest get their policies, as in publish(). A pick that stopped there left the chosen entry
      // at FAILED_ENTRY and the others skipped, so the resumed pick is a pick of one.
      const record = batchStaging + (i + done) * size;
      const failed = this.u32[words + (DISPATCH_FAILED_ENTRY_OFFSET >> 2)]!;
      const entries = this.u32[words + (DISPATCH_ENTRY_COUNT_OFFSET >> 2)]!;
      const out = producer.routeOut >> 2;
      result.accepted = 0;
      for (let j = 0; j < failed; j++) if (this.u32[out + j] !== ROUTE_SKIPPED) result.accepted++;
      result.refused = 0;
      lanes.flushAllLanes(); // our own unflushed records may be what fills the lane
      producer.pushRoutes(record, failed, entries, stats, 0, result);
      if (result.refused === 0) taken++;
      if (this.track !== null) this.noteRoute(this.track, result, true);
      i += done + 1;
    }
    lanes.flushFullLanes();
    return taken;
  }

  /**
   * Notes where one record of the per-record path went (tracking requests): `routed` unless no
   * subscription receives it (a rate limit's refusal has routed 0 too, but refused 1).
   */
  private noteRoute(track: BatchTrack, result: RouteResult, routed: boolean): void {
    if (!routed) track.unrouted++;
    for (let j = 0; j < result.accepted; j++) track.reached[result.consumers[j]!] = 1;
  }
}
