/**
 * ThreadRuntime: everything one engine thread does on the data path, the same code on the engine's
 * own thread (thread 0) and in every worker (threads 1..N).
 *
 * Publishing (any thread):
 *   stage   the message is written into this thread's staging record of its topic (a flyweight
 *           writer over the arena; the setters validate each field)
 *   route   routerRoute(topic, keyHash) → the lanes of every receiving subscription member; the
 *           thread enters the router's current version once per task and leaves it at flush
 *   push    ringTryPush copies the staged record into each lane's ring (Wasm or JS twin); nothing
 *           is visible yet (write-combining)
 *   flush   one HEAD store per lane, when FLUSH_EVERY records are pending, at the end of the task
 *           (microtask) and after every batch a worker handles; then the consumer's doorbell is
 *           rung only if it said it sleeps
 *   full    the subscription's back-pressure policy decides: block, reject, drop-newest,
 *           drop-oldest (Backlog) or caller-runs
 *
 * Consuming (workers; thread 0 only for replies): peek up to BATCH records of one lane, run each
 * record's handler on a flyweight reader of the record in place, flush what the handlers published,
 * count them COMPLETED, then commit (TAIL store) so the producer may reuse the space: a record is
 * never freed before its handler returned, which is what crash recovery would need (ring READ/TAIL).
 *
 * Nothing here allocates per message or throws on the hot path, except a setter's ConfigError for
 * a bad field value (before anything is routed) and whatever a handler throws (caught, counted).
 */
import type { CoreOps } from '../../bindings/core-ops.ts';
import { parkProducer } from '../../bindings/park.ts';
import { ADDRESS_MIN } from '../../assembly/layout/arena.ts';
import { STATUS_CLOSED, STATUS_OK } from '../../assembly/layout/status.ts';
import { RING_CONSUMER_CLOSED_OFFSET } from '../../assembly/layout/ring.ts';
import {
  DISPATCH_FAILED_LANE_OFFSET, DISPATCH_LANE_COUNT_OFFSET,
  DISPATCH_ROUTED_OFFSET, DISPATCH_UNROUTED_OFFSET, KEY_BYTES, KEY_NONE, KEY_PREFIXED_BYTES, KEY_U32, KEY_U8,
  ROUTE_SKIPPED,
} from '../../assembly/layout/dispatch.ts';
import type { Arena } from '../arena.ts';
import { ConfigError } from '../errors.ts';
import type { AnySchema } from '../schema.ts';
import { Backlog } from './backlog.ts';
import {
  BALANCE_LEAST_LOADED, CONTROL_ACCEPTED_OFFSET, CONTROL_BACKLOG_OFFSET, CONTROL_COMPLETED_OFFSET,
  CONTROL_DOORBELL_OFFSET, CONTROL_LANE_STATS_OFFSET, CONTROL_LATE_REPLIES_OFFSET,
  CONTROL_SLEEPING_OFFSET, LANE_STAT_BYTES, LANE_STAT_HIGH_WATER, LANE_STAT_PUBLISHED,
  POLICY_BLOCK, POLICY_CALLER_RUNS, POLICY_DROP_NEWEST, POLICY_DROP_OLDEST, POLICY_REJECT,
  RECORD_CORRELATION_OFFSET, RECORD_FLAGS_OFFSET, RECORD_FLAG_FAILED, RECORD_HEADER_BYTES,
  RECORD_REPLY_TO_OFFSET, RECORD_SUBSCRIPTION_OFFSET, RECORD_TOPIC_OFFSET, REPLY_SUBSCRIPTION,
  SUB_ENTRY_BYTES, SUB_HANDLER_OFFSET, SUB_POLICY_OFFSET, TOPIC_STAT_BYTES,
  TOPIC_STAT_CALLER_RUNS, TOPIC_STAT_DELIVERED, TOPIC_STAT_DROPPED_NEWEST, TOPIC_STAT_DROPPED_OLDEST,
  TOPIC_STAT_HANDLER_ERRORS, TOPIC_STAT_PUBLISHED, TOPIC_STAT_REJECTED, TOPIC_STAT_ROUTED,
  TOPIC_STAT_UNROUTED, BATCH_RECORDS, laneIndex, scratchLayout, type ControlLayout,
} from './layout.ts';
import type { HandlerContext, HandlerDef, HandlerModule, TopicMap } from './types.ts';

/** Numbers every thread derives identically from the engine's options. */
export interface EngineShape {
  /** Engine thread count: workers + 1. */
  readonly threads: number;
  readonly topicNames: readonly string[];
  /** Bytes per ring record: RECORD_HEADER_BYTES + the largest message or reply, rounded to 8. */
  readonly recordSize: number;
  readonly ringCapacity: number;
  readonly maxSubscriptions: number;
  readonly flushEvery: number;
  readonly batch: number;
  readonly spin: number;
  /** Milliseconds a worker waits for space under 'block' before it spills into its backlog. */
  readonly blockTimeout: number;
  readonly control: ControlLayout;
  /** Router slots: maxSubscriptions × workers (a subscription has one router entry per member). */
  readonly routerSubscriptions: number;
}


/** One topic as this thread sees it: its schemas, its staging record and writer, its reader. */
export interface TopicRuntime {
  readonly id: number;
  readonly name: string;
  readonly schema: AnySchema;
  readonly reply: AnySchema | undefined;
  /** Field names in declaration order (publish(fields) sets them in this order). */
  readonly fieldNames: readonly string[];
  /** Address of this thread's staging record of the topic. */
  readonly staging: number;
  /** Writer flyweight over the staging record's message. */
  readonly writer: Record<string, unknown>;
  /** Sets every field of the writer from a message object (each setter validates its value). */
  readonly assign: (writer: Record<string, unknown>, message: Record<string, unknown>) => void;
  /** Reader flyweight, re-pointed at each record handled. */
  readonly reader: { at(address: number): unknown };
  /** Writer flyweight re-pointed at each record of a batch being staged (publishBatch). */
  readonly batchWriter: { at(address: number): Record<string, unknown> };
  readonly keyKind: number;
  readonly keyOffset: number;
  readonly keyLength: number;
}

/** What the thread tells its owner (engine or worker loop). */
export interface ThreadHooks {
  /** A handler threw; `first` is true the first time for this topic on this thread. */
  onHandlerError(topic: string, error: unknown, first: boolean): void;
  /** A reply record addressed to this thread arrived (thread 0's pending requests). */
  onReply?(record: number, topic: TopicRuntime): void;
  /** A backlog got its first record (thread 0 starts its asynchronous pump). */
  onBacklog?(): void;
}

/** Outcomes of pushing a record into one lane. */
const TAKEN = 0; // enqueued (or handled inline): it will be delivered
const TAKEN_WAIT = 1; // kept in a backlog in order: it will be delivered, but the publisher should wait
const REFUSED = 2; // rejected, dropped (drop-newest) or the consumer is gone
type PushOutcome = typeof TAKEN | typeof TAKEN_WAIT | typeof REFUSED;
const LANE_FULL = 3; // tryPush only: the ring is full, the policy decides

export class ThreadRuntime {
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly topics: TopicRuntime[];
  private readonly topicsByName = new Map<string, TopicRuntime>();
  private lastTopicName: string | undefined;
  private lastTopic: TopicRuntime | undefined;
  readonly router: number;
  /** This thread's control block. */
  readonly control: number;
  /** Thread 0's subscription table. */
  readonly subscriptionTable: number;
  /** Thread 0's balance table (u8 BALANCE_* per slot): dispatchBatch's `balance` and the per-record path's. */
  readonly balanceTable: number;
  readonly routeOut: number;
  /** u32 × threads: this thread's ring to each consumer (dispatchBatch's ring table). */
  readonly ringTable: number;
  /** u32 × threads: records dispatchBatch pushed per consumer since the runtime last read them. */
  readonly pushedCounts: number;
  readonly dispatchResult: number;
  /** BATCH_RECORDS staged records for publishBatch. */
  readonly batchStaging: number;
  readonly replyStaging: number;
  readonly callerStaging: number;
  /** ringTo[c]: the lane this thread produces into for consumer c; ringFrom[p]: lane from p. */
  readonly ringTo: number[];
  readonly ringFrom: number[];
  /** Handlers by subscription-table handler index (sorted handler names). */
  readonly handlerDefs: HandlerDef<TopicMap, string>[];
  readonly context: HandlerContext<TopicMap>;

  /** Records pushed per lane and not yet flushed; `fresh` ones were not counted ACCEPTED yet. */
  private readonly pending: Int32Array;
  private readonly fresh: Int32Array;
  private readonly backlogs: (Backlog | undefined)[];
  private backlogTotal = 0;
  private accepted = 0;
  private completed = 0;
  private entered = false;
  private flushScheduled = false;
  private readonly flushTask = (): void => {
    this.flushScheduled = false;
    this.flushAll();
  };
  private readonly erroredTopics: Uint8Array;
  /** Receivers of the last routed record, and how many took it. */
  lastRouted = 0;
  lastAccepted = 0;
  lastRefused = 0;
  /** Consumer threads the last routed record went to (first lastAccepted entries). */
  readonly lastConsumers: Int32Array;
  /** While true (tryPublish), every full lane rejects, whatever its policy. */
  forceReject = false;
  /** > 0 while a caller-runs handler runs (its record is in callerStaging: no nesting). */
  private inlineDepth = 0;

  constructor(
    readonly thread: number,
    readonly core: CoreOps,
    readonly arena: Arena,
    readonly shape: EngineShape,
    topicMap: TopicMap,
    handlerModule: HandlerModule | undefined,
    /** Whether this thread may wait synchronously (workers: yes; the engine's thread: never). */
    readonly canBlock: boolean,
    private readonly hooks: ThreadHooks,
  ) {
    const memory = arena.memory;
    this.u8 = new Uint8Array(memory.buffer);
    this.u16 = new Uint16Array(memory.buffer);
    this.u32 = new Uint32Array(memory.buffer);
    this.i32 = new Int32Array(memory.buffer);
    this.f64 = new Float64Array(memory.buffer);
    const T = shape.threads;
    this.router = arena.router(0).address;
    this.control = arena.scratchOf(thread).address;
    this.subscriptionTable = arena.scratchOf(0).address + shape.control.subscriptions;
    this.balanceTable = arena.scratchOf(0).address + shape.control.balances;
    const topicCount = shape.topicNames.length;
    const scratch = scratchLayout(shape.control, topicCount, shape.recordSize, shape.routerSubscriptions, T);
    const stagingBase = this.control + scratch.topicStaging;
    this.replyStaging = this.control + scratch.replyStaging;
    this.callerStaging = this.control + scratch.callerStaging;
    this.routeOut = this.control + scratch.routeOut;
    this.ringTable = this.control + scratch.ringTable;
    this.pushedCounts = this.control + scratch.pushedCounts;
    this.dispatchResult = this.control + scratch.dispatchResult;
    this.batchStaging = this.control + scratch.batchStaging;
    this.ringTo = [];
    this.ringFrom = [];
    for (let c = 0; c < T; c++) this.ringTo.push(arena.ring(laneIndex(thread, c, T)).address);
    for (let c = 0; c < T; c++) this.u32[(this.ringTable >> 2) + c] = this.ringTo[c]!;
    for (let p = 0; p < T; p++) this.ringFrom.push(arena.ring(laneIndex(p, thread, T)).address);
    this.pending = new Int32Array(T);
    this.fresh = new Int32Array(T);
    this.backlogs = new Array<Backlog | undefined>(T).fill(undefined);
    this.erroredTopics = new Uint8Array(topicCount);
    this.lastConsumers = new Int32Array(shape.routerSubscriptions);

    this.topics = shape.topicNames.map((name, id) => {
      const spec = topicMap[name]!;
      const staging = stagingBase + id * shape.recordSize;
      this.u16[(staging + RECORD_TOPIC_OFFSET) >> 1] = id;
      const schema = spec.schema as AnySchema;
      const key = spec.key === undefined ? undefined : schema.fields.find((f) => f.name === spec.key);
      let keyKind = KEY_NONE;
      let keyLength = 0;
      if (key !== undefined) {
        switch (key.type) {
          case 'u32': case 'i32': keyKind = KEY_U32; break;
          case 'u8': case 'bool': keyKind = KEY_U8; break;
          case 'string': keyKind = KEY_PREFIXED_BYTES; break;
          default: keyKind = KEY_BYTES; keyLength = key.size; // f32, f64, i64, bytes: their bytes
        }
      }
      return {
        id, name, schema, reply: spec.reply as AnySchema | undefined,
        fieldNames: Object.keys(schema.spec),
        assign: compileAssign(Object.keys(schema.spec)),
        staging,
        writer: schema.writer(memory).at(staging + RECORD_HEADER_BYTES) as unknown as Record<string, unknown>,
        reader: schema.reader(memory),
        batchWriter: schema.writer(memory) as unknown as { at(address: number): Record<string, unknown> },
        keyKind, keyOffset: key?.offset ?? 0, keyLength,
      };
    });

    for (const topic of this.topics) this.topicsByName.set(topic.name, topic);
    const names = handlerModule === undefined ? [] : Object.keys(handlerModule.handlers).sort();
    this.handlerDefs = names.map((n) => handlerModule!.handlers[n]!);
    const self = this;
    this.context = {
      worker: thread - 1,
      publish: (topic, fields) => self.publish(self.topicByName(topic), fields as Record<string, unknown>),
      writer: (topic) => self.topicByName(topic).writer as never,
      send: (topic) => self.route(self.topicByName(topic), 0),
      flush: () => self.flushAll(),
    };
  }

  /** The topic named `name`, or a ConfigError naming it. */
  topicByName(name: string): TopicRuntime {
    // Publishers usually repeat one topic: a string compare (pointer-equal for the same literal)
    // is cheaper than a Map lookup per message.
    if (name === this.lastTopicName) return this.lastTopic!;
    const topic = this.topicsByName.get(name);
    if (topic === undefined) throw new ConfigError('topic', name, `is not a declared topic (${this.shape.topicNames.join(', ')})`);
    this.lastTopicName = name;
    this.lastTopic = topic;
    return topic;
  }

  /** Stages `fields` (each validated by its setter: ConfigError naming the field) and routes it. */
  publish(topic: TopicRuntime, fields: Record<string, unknown>): boolean {
    if (fields === null || typeof fields !== 'object') throw new ConfigError('fields', fields, 'must be an object with one property per field');
    topic.assign(topic.writer, fields);
    return this.route(topic, 0);
  }

  /**
   * Routes the record staged for `topic` (its header's correlation id = `correlation`) to every
   * receiving lane. True if every receiver took it (enqueued or ran inline); false if some lane
   * rejected or dropped it, or this thread must wait before publishing more (a backlog).
   */
  route(topic: TopicRuntime, correlation: number, src: number = topic.staging): boolean {
    const core = this.core;
    this.u32[(src + RECORD_CORRELATION_OFFSET) >> 2] = correlation;
    this.u16[(src + RECORD_REPLY_TO_OFFSET) >> 1] = this.thread;
    this.enter();
    const hash = topic.keyKind === KEY_NONE ? 0 : this.keyHash(topic, src + RECORD_HEADER_BYTES);
    const n = core.routerRoute(this.router, this.thread, topic.id, hash, this.routeOut);
    const stats = this.topicStats(topic.id);
    this.lastRouted = n > 0 ? n : 0;
    this.lastAccepted = 0;
    this.lastRefused = 0;
    if (n <= 0) {
      this.f64[stats + TOPIC_STAT_UNROUTED]! += 1;
      return true;
    }
    // The loop of pushRouted, inline: as a call it pushes the JS backend's twins out of
    // TurboFan's inlining budget, and boxed numbers then cost a scavenge every ~300 000 publishes.
    const out = this.routeOut >> 2;
    let all = true;
    for (let i = 0; i < n; i++) {
      const lane = this.u32[out + i]!;
      if (lane === ROUTE_SKIPPED) continue;
      const slot = lane & 0xffff;
      const entry = this.subscriptionTable + slot * SUB_ENTRY_BYTES;
      const consumer = this.u8[this.balanceTable + slot] === BALANCE_LEAST_LOADED ? this.leastLoaded(out, i, n, slot) : lane >>> 16;
      this.u16[(src + RECORD_SUBSCRIPTION_OFFSET) >> 1] = slot;
      this.f64[stats + TOPIC_STAT_ROUTED]! += 1;
      const outcome = this.pushLane(consumer, src, this.u8[entry + SUB_POLICY_OFFSET]!, stats);
      if (outcome !== REFUSED) this.lastConsumers[this.lastAccepted++] = consumer;
      else this.lastRefused++;
      if (outcome !== TAKEN) all = false;
    }
    if (this.lastAccepted > 0) this.f64[stats + TOPIC_STAT_PUBLISHED]! += 1;
    return all;
  }

  /** f64 index of this thread's counters of topic `id`. */
  private topicStats(id: number): number {
    return (this.control + this.shape.control.topicStats + id * TOPIC_STAT_BYTES) >> 3;
  }

  /** Enters the router's current version once per task (left at flushAll). */
  private enter(): void {
    if (this.entered) return;
    this.core.routerEnter(this.router, this.thread);
    this.entered = true;
    this.scheduleFlush();
  }

  /**
   * Pushes the record at `src` into the lanes of route entries from..n-1 at routeOut, each under
   * its subscription's policy; counts lastAccepted / lastRefused. True if every lane took it.
   */
  private pushRouted(src: number, from: number, n: number, stats: number): boolean {
    const out = this.routeOut >> 2;
    let all = true;
    for (let i = from; i < n; i++) {
      const lane = this.u32[out + i]!;
      if (lane === ROUTE_SKIPPED) continue;
      const slot = lane & 0xffff;
      const entry = this.subscriptionTable + slot * SUB_ENTRY_BYTES;
      const consumer = this.u8[this.balanceTable + slot] === BALANCE_LEAST_LOADED ? this.leastLoaded(out, i, n, slot) : lane >>> 16;
      this.u16[(src + RECORD_SUBSCRIPTION_OFFSET) >> 1] = slot;
      this.f64[stats + TOPIC_STAT_ROUTED]! += 1;
      const outcome = this.pushLane(consumer, src, this.u8[entry + SUB_POLICY_OFFSET]!, stats);
      if (outcome !== REFUSED) this.lastConsumers[this.lastAccepted++] = consumer;
      else this.lastRefused++;
      if (outcome !== TAKEN) all = false;
    }
    return all;
  }

  /**
   * Publishes `messages` (each validated by the setters), staged BATCH_RECORDS at a time and
   * routed and enqueued by ONE dispatchBatch call per chunk: hashing, routing, least-loaded picks
   * (by the balance table) and copying happen inside the core (Wasm or its JS twin). A lane that
   * fills up mid-chunk gets its policy from that record on, exactly as in publish(). Returns how
   * many messages no receiver refused. A message that fails validation throws after the ones
   * before it were published.
   */
  publishBatch(topic: TopicRuntime, messages: readonly Record<string, unknown>[]): number {
    const size = this.shape.recordSize;
    let taken = 0;
    for (let start = 0; start < messages.length; start += BATCH_RECORDS) {
      const count = Math.min(BATCH_RECORDS, messages.length - start);
      let staged = 0;
      try {
        for (; staged < count; staged++) {
          const message = messages[start + staged];
          if (message === null || typeof message !== 'object') throw new ConfigError(`messages[${start + staged}]`, message, 'must be an object with one property per field');
          const record = this.batchStaging + staged * size;
          this.u16[(record + RECORD_TOPIC_OFFSET) >> 1] = topic.id;
          this.u32[(record + RECORD_CORRELATION_OFFSET) >> 2] = 0;
          this.u16[(record + RECORD_REPLY_TO_OFFSET) >> 1] = this.thread;
          this.u16[(record + RECORD_FLAGS_OFFSET) >> 1] = 0;
          topic.assign(topic.batchWriter.at(record + RECORD_HEADER_BYTES), message);
        }
      } finally {
        taken += this.dispatchStaged(topic, staged);
      }
    }
    return taken;
  }

  /** Routes and enqueues the first `count` staged batch records; returns how many no receiver refused. */
  private dispatchStaged(topic: TopicRuntime, count: number): number {
    if (count === 0) return 0;
    const size = this.shape.recordSize;
    this.enter();
    const stats = this.topicStats(topic.id);
    const result = this.dispatchResult >> 2;
    let taken = 0;
    let i = 0;
    while (i < count) {
      if (this.backlogTotal > 0) {
        // A lane holds records in a backlog: only the per-record path keeps such a lane FIFO
        // (dispatchBatch would push straight into the ring, ahead of them).
        for (; i < count; i++) {
          this.route(topic, 0, this.batchStaging + i * size);
          if (this.lastRefused === 0) taken++;
        }
        break;
      }
      const done = this.core.dispatchBatch(
        this.router, this.thread, topic.id, this.batchStaging + i * size, count - i, size,
        topic.keyKind, RECORD_HEADER_BYTES + topic.keyOffset, topic.keyLength, this.ringTable,
        RECORD_SUBSCRIPTION_OFFSET, this.pushedCounts, this.balanceTable, this.routeOut, this.dispatchResult,
      );
      const routed = this.u32[result + (DISPATCH_ROUTED_OFFSET >> 2)]!;
      const unrouted = this.u32[result + (DISPATCH_UNROUTED_OFFSET >> 2)]!;
      this.collectPushed();
      const whole = done < 0 ? 0 : done;
      this.f64[stats + TOPIC_STAT_ROUTED]! += routed;
      this.f64[stats + TOPIC_STAT_UNROUTED]! += unrouted;
      this.f64[stats + TOPIC_STAT_PUBLISHED]! += whole - unrouted;
      taken += whole;
      if (done < 0 || i + done >= count) break;
      // Record i + done met a full (or closed) lane at route entry FAILED_LANE: its earlier
      // entries were pushed (or are ROUTE_SKIPPED: not chosen by their least-loaded pick); the
      // rest get their policies, as in publish(). A pick that stopped there left the chosen entry
      // at FAILED_LANE and the others skipped, so leastLoaded resumes it with the same member.
      const record = this.batchStaging + (i + done) * size;
      const failed = this.u32[result + (DISPATCH_FAILED_LANE_OFFSET >> 2)]!;
      const lanes = this.u32[result + (DISPATCH_LANE_COUNT_OFFSET >> 2)]!;
      const out = this.routeOut >> 2;
      this.lastAccepted = 0;
      for (let j = 0; j < failed; j++) if (this.u32[out + j] !== ROUTE_SKIPPED) this.lastAccepted++;
      this.lastRefused = 0;
      this.flushAllLanes(); // our own unflushed records may be what fills the lane
      this.pushRouted(record, failed, lanes, stats);
      if (this.lastAccepted > 0) this.f64[stats + TOPIC_STAT_PUBLISHED]! += 1;
      if (this.lastRefused === 0) taken++;
      i += done + 1;
    }
    for (let c = 0; c < this.shape.threads; c++) if (this.pending[c]! >= this.shape.flushEvery) this.flushLane(c);
    return taken;
  }

  /** Moves dispatchBatch's per-consumer push counts into pending/fresh (and zeroes them). */
  private collectPushed(): void {
    const at = this.pushedCounts >> 2;
    for (let c = 0; c < this.shape.threads; c++) {
      const n = this.u32[at + c]!;
      if (n === 0) continue;
      this.u32[at + c] = 0;
      this.pending[c]! += n;
      this.fresh[c]! += n;
    }
  }

  /** Flushes every lane with pending records (without leaving the router version). */
  private flushAllLanes(): void {
    const pending = this.pending;
    for (let c = 0; c < pending.length; c++) if (pending[c]! > 0) this.flushLane(c);
  }

  /**
   * Among route entries i..n-1 of subscription `slot` (not ROUTE_SKIPPED), the consumer whose lane
   * holds the fewest records, ties to the earliest entry; marks the others ROUTE_SKIPPED. The same
   * pick as dispatchBatch's: ringSize + pending = (HEAD - TAIL) + (CLAIM - HEAD) = CLAIM - TAIL.
   */
  private leastLoaded(out: number, i: number, n: number, slot: number): number {
    let best = this.u32[out + i]! >>> 16;
    let bestDepth = this.laneDepth(best);
    for (let j = i + 1; j < n; j++) {
      const lane = this.u32[out + j]!;
      if (lane === ROUTE_SKIPPED || (lane & 0xffff) !== slot) continue;
      const consumer = lane >>> 16;
      const depth = this.laneDepth(consumer);
      if (depth < bestDepth) {
        best = consumer;
        bestDepth = depth;
      }
      this.u32[out + j] = ROUTE_SKIPPED;
    }
    return best;
  }

  /**
   * Records in this thread's lane to `consumer`, flushed or not (as dispatchBatch's pick counts
   * them); a lane its consumer closed (a crashed worker) counts as deepest, so picks avoid it.
   */
  private laneDepth(consumer: number): number {
    const ring = this.ringTo[consumer]!;
    if (Atomics.load(this.i32, (ring + RING_CONSUMER_CLOSED_OFFSET) >> 2) !== 0) return 0xffffffff;
    return this.core.ringSize(ring) + this.pending[consumer]!;
  }

  private keyHash(topic: TopicRuntime, message: number): number {
    const at = message + topic.keyOffset;
    switch (topic.keyKind) {
      case KEY_U32: return this.core.hashU32(this.i32[at >> 2]!);
      case KEY_U8: return this.core.hashU32(this.u8[at]!);
      case KEY_PREFIXED_BYTES: return this.core.hashBytes(at + 2, this.u16[at >> 1]!);
      default: return this.core.hashBytes(at, topic.keyLength);
    }
  }

  /** Pushes the record at `src` into the lane to `consumer`, applying `policy` if it is full. */
  private pushLane(consumer: number, src: number, policy: number, stats: number): PushOutcome {
    const backlog = this.backlogs[consumer];
    if (backlog !== undefined && backlog.size > 0) {
      this.pumpBacklog(consumer);
      if (backlog.size > 0) return this.onFull(consumer, src, policy, stats);
    }
    const outcome = this.tryPush(consumer, src, stats);
    return outcome === LANE_FULL ? this.onFull(consumer, src, policy, stats) : outcome;
  }

  /** One ringTryPush into the lane to `consumer`: TAKEN, REFUSED (its consumer is gone: counted rejected) or LANE_FULL. */
  private tryPush(consumer: number, src: number, stats: number): PushOutcome | typeof LANE_FULL {
    const status = this.core.ringTryPush(this.ringTo[consumer]!, src);
    if (status === STATUS_OK) {
      this.pushed(consumer, 1);
      return TAKEN;
    }
    if (status === STATUS_CLOSED) {
      this.f64[stats + TOPIC_STAT_REJECTED]! += 1;
      return REFUSED;
    }
    return LANE_FULL;
  }

  private pushed(consumer: number, fresh: number): void {
    this.fresh[consumer]! += fresh;
    if (++this.pending[consumer]! >= this.shape.flushEvery) this.flushLane(consumer);
  }

  private onFull(consumer: number, src: number, policy: number, stats: number): PushOutcome {
    switch (this.forceReject ? POLICY_REJECT : policy) {
      case POLICY_REJECT:
        this.f64[stats + TOPIC_STAT_REJECTED]! += 1;
        return REFUSED;
      case POLICY_DROP_NEWEST:
        this.f64[stats + TOPIC_STAT_DROPPED_NEWEST]! += 1;
        return REFUSED;
      case POLICY_CALLER_RUNS:
        if (this.handlerDefs.length > 0 && this.inlineDepth === 0) {
          this.runInline(src, stats);
          return TAKEN;
        }
        break; // no handler module on this thread: treat as block
      case POLICY_DROP_OLDEST: {
        const backlog = this.backlogFor(consumer);
        if (backlog.size >= this.shape.ringCapacity) {
          const dropped = backlog.dropOldest(POLICY_DROP_OLDEST);
          if (dropped >= 0) {
            const topic = backlog.storage[dropped]! & 0xffff;
            this.f64[((this.control + this.shape.control.topicStats + topic * TOPIC_STAT_BYTES) >> 3) + TOPIC_STAT_DROPPED_OLDEST]! += 1;
            this.backlogTotal--;
            this.completed = (this.completed + 1) | 0;
            Atomics.store(this.i32, (this.control + CONTROL_COMPLETED_OFFSET) >> 2, this.completed);
          }
        }
        this.enqueueBacklog(backlog, src, POLICY_DROP_OLDEST);
        return TAKEN;
      }
      default:
        break;
    }
    // POLICY_BLOCK (and caller-runs without handlers).
    if (this.canBlock) return this.blockingPush(consumer, src, stats);
    this.enqueueBacklog(this.backlogFor(consumer), src, POLICY_BLOCK);
    return TAKEN_WAIT;
  }

  private backlogFor(consumer: number): Backlog {
    let backlog = this.backlogs[consumer];
    if (backlog === undefined) {
      backlog = new Backlog(this.shape.recordSize >> 2, this.shape.ringCapacity);
      this.backlogs[consumer] = backlog;
    }
    return backlog;
  }

  private enqueueBacklog(backlog: Backlog, src: number, policy: number): void {
    backlog.push(this.i32, src >> 2, policy);
    this.backlogTotal++;
    this.accepted = (this.accepted + 1) | 0;
    // Counted accepted before anyone can complete it (drain reads COMPLETED, then ACCEPTED).
    Atomics.store(this.i32, (this.control + CONTROL_ACCEPTED_OFFSET) >> 2, this.accepted);
    Atomics.store(this.i32, (this.control + CONTROL_BACKLOG_OFFSET) >> 2, this.backlogTotal);
    if (this.backlogTotal === 1) this.hooks.onBacklog?.();
  }

  /**
   * Workers under 'block': flush, spin, then park until the consumer frees space (or closes), for
   * at most BLOCK_TIMEOUT ms. Then the record spills into this lane's backlog, in order, and later
   * records join it without waiting until the worker loop has moved it all into the ring: two
   * workers publishing into each other's full lanes from inside handlers would otherwise wait for
   * each other forever (a cycle of bounded queues). The backlog is unbounded (stats().backlog).
   */
  private blockingPush(consumer: number, src: number, stats: number): PushOutcome {
    if (consumer === this.thread) {
      // Waiting for our own lane would wait forever (we are its consumer): keep the record in
      // order behind the ring; the worker loop moves it in once it has drained the lane.
      this.enqueueBacklog(this.backlogFor(consumer), src, POLICY_BLOCK);
      return TAKEN;
    }
    const backlog = this.backlogs[consumer];
    if (backlog !== undefined && backlog.size > 0) {
      this.enqueueBacklog(backlog, src, POLICY_BLOCK); // spilling: keep order, do not wait again
      return TAKEN;
    }
    const ring = this.ringTo[consumer]!;
    this.flushLane(consumer);
    let polls = 0;
    let deadline = 0;
    for (;;) {
      if (backlog !== undefined && backlog.size > 0) this.pumpBacklog(consumer);
      if (backlog === undefined || backlog.size === 0) {
        const outcome = this.tryPush(consumer, src, stats);
        if (outcome !== LANE_FULL) return outcome;
      }
      // Why spin, then park: waking a parked thread costs ~35 µs on this VM, while a consumer
      // that is merely busy frees space within microseconds. parkProducer sets PRODUCER_PARKED and
      // re-checks TAIL before Atomics.wait, so the consumer's commit (which notifies only when
      // that flag is set) cannot be missed.
      if (++polls < this.shape.spin) continue;
      const now = performance.now();
      if (deadline === 0) deadline = now + this.shape.blockTimeout;
      else if (now >= deadline) {
        this.enqueueBacklog(this.backlogFor(consumer), src, POLICY_BLOCK);
        return TAKEN;
      }
      parkProducer(this.core, this.i32, ring, Math.max(1, Math.min(50, deadline - now)));
    }
  }

  /** Runs the handler of the record at `src` on this thread (caller-runs). */
  private runInline(src: number, stats: number): void {
    const words = this.shape.recordSize >> 2;
    const from = src >> 2;
    const to = this.callerStaging >> 2;
    for (let i = 0; i < words; i++) this.i32[to + i] = this.i32[from + i]!;
    this.f64[stats + TOPIC_STAT_CALLER_RUNS]! += 1;
    this.inlineDepth++;
    try {
      this.dispatch(this.callerStaging);
    } finally {
      this.inlineDepth--;
    }
  }

  /** Moves backlog records of the lane to `consumer` into its ring while there is space. */
  pumpBacklog(consumer: number): void {
    const backlog = this.backlogs[consumer];
    if (backlog === undefined) return;
    const ring = this.ringTo[consumer]!;
    const words = this.shape.recordSize >> 2;
    let moved = 0;
    for (;;) {
      const head = backlog.headIndex();
      if (head < 0) break;
      const address = this.core.ringTryClaim(ring);
      if (address < ADDRESS_MIN) {
        if (address === STATUS_CLOSED) {
          // The consumer is gone (crashed): what waits for it can never be delivered.
          while (backlog.headIndex() >= 0) {
            backlog.shift();
            this.backlogTotal--;
            this.completed = (this.completed + 1) | 0;
          }
          Atomics.store(this.i32, (this.control + CONTROL_COMPLETED_OFFSET) >> 2, this.completed);
        }
        break;
      }
      const storage = backlog.storage;
      const to = address >> 2;
      for (let i = 0; i < words; i++) this.i32[to + i] = storage[head + i]!;
      backlog.shift();
      this.backlogTotal--;
      moved++;
      this.pending[consumer]!++;
    }
    if (moved > 0) {
      Atomics.store(this.i32, (this.control + CONTROL_BACKLOG_OFFSET) >> 2, this.backlogTotal);
      this.flushLane(consumer);
    }
  }

  /** Pumps every backlog; returns how many records are still waiting. */
  pumpBacklogs(): number {
    if (this.backlogTotal === 0) return 0;
    for (let c = 0; c < this.shape.threads; c++) this.pumpBacklog(c);
    return this.backlogTotal;
  }

  /** The first consumer whose backlog is not empty, or -1. */
  firstBackloggedLane(): number {
    for (let c = 0; c < this.shape.threads; c++) if ((this.backlogs[c]?.size ?? 0) > 0) return c;
    return -1;
  }

  get backlogSize(): number {
    return this.backlogTotal;
  }

  /** Makes the records pushed into the lane to `consumer` visible, and wakes it if it sleeps. */
  flushLane(consumer: number): void {
    const i32 = this.i32;
    const fresh = this.fresh[consumer]!;
    if (fresh > 0) {
      this.accepted = (this.accepted + fresh) | 0;
      // Before the HEAD store: a record is counted accepted before anyone can complete it.
      Atomics.store(i32, (this.control + CONTROL_ACCEPTED_OFFSET) >> 2, this.accepted);
      this.fresh[consumer] = 0;
    }
    const ring = this.ringTo[consumer]!;
    this.core.ringFlush(ring);
    const lane = (this.control + CONTROL_LANE_STATS_OFFSET + consumer * LANE_STAT_BYTES) >> 3;
    this.f64[lane + LANE_STAT_PUBLISHED]! += this.pending[consumer]!;
    this.pending[consumer] = 0;
    const depth = this.core.ringSize(ring);
    if (depth > this.f64[lane + LANE_STAT_HIGH_WATER]!) this.f64[lane + LANE_STAT_HIGH_WATER] = depth;
    // Doorbell: pairs with the consumer's store of SLEEPING followed by its loads of every lane's
    // HEAD (ThreadRuntime.sleep). Our HEAD store (ringFlush) precedes this load of SLEEPING, so
    // either we see SLEEPING = 1 and ring, or the consumer sees our HEAD and does not sleep.
    const control = this.arena.scratch[consumer]!.address;
    if (Atomics.load(i32, (control + CONTROL_SLEEPING_OFFSET) >> 2) !== 0) {
      Atomics.add(i32, (control + CONTROL_DOORBELL_OFFSET) >> 2, 1);
      Atomics.notify(i32, (control + CONTROL_DOORBELL_OFFSET) >> 2, 1);
    }
  }

  /** Flushes every lane with pending records and leaves the router's version. */
  flushAll(): void {
    this.flushAllLanes();
    if (this.entered) {
      this.core.routerLeave(this.router, this.thread);
      this.entered = false;
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(this.flushTask);
  }

  /**
   * Consumer: handles up to BATCH records of the lane from `producer`, flushes what their handlers
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
      this.dispatch(record);
      n++;
    }
    if (n > 0) {
      // Children first: what the handlers published is counted ACCEPTED (at its flush) before
      // its parents are counted COMPLETED, so drain never sees a moment with both at rest.
      this.flushAll();
      this.completed = (this.completed + n) | 0;
      Atomics.store(this.i32, (this.control + CONTROL_COMPLETED_OFFSET) >> 2, this.completed);
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
  dispatch(record: number): void {
    const u16 = this.u16;
    const topicId = u16[(record + RECORD_TOPIC_OFFSET) >> 1]!;
    const slot = u16[(record + RECORD_SUBSCRIPTION_OFFSET) >> 1]!;
    const topic = this.topics[topicId]!;
    if (slot === REPLY_SUBSCRIPTION) {
      if (this.hooks.onReply !== undefined) this.hooks.onReply(record, topic);
      else this.f64[(this.control + CONTROL_LATE_REPLIES_OFFSET) >> 3]! += 1;
      return;
    }
    const def = this.handlerDefs[u16[(this.subscriptionTable + slot * SUB_ENTRY_BYTES + SUB_HANDLER_OFFSET) >> 1]!]!;
    const stats = (this.control + this.shape.control.topicStats + topicId * TOPIC_STAT_BYTES) >> 3;
    const correlation = this.u32[(record + RECORD_CORRELATION_OFFSET) >> 2]!;
    let result: unknown;
    let failed = false;
    try {
      result = def.handle(topic.reader.at(record + RECORD_HEADER_BYTES) as never, this.context);
    } catch (error) {
      failed = true;
      result = error;
      this.f64[stats + TOPIC_STAT_HANDLER_ERRORS]! += 1;
      const first = this.erroredTopics[topicId] === 0;
      this.erroredTopics[topicId] = 1;
      this.hooks.onHandlerError(topic.name, error, first);
    }
    this.f64[stats + TOPIC_STAT_DELIVERED]! += 1;
    if (correlation !== 0) this.reply(topic, correlation, u16[(record + RECORD_REPLY_TO_OFFSET) >> 1]!, result, failed);
  }

  /** Sends the reply of request `correlation` to thread `to`: never dropped (waits for space). */
  private reply(topic: TopicRuntime, correlation: number, to: number, result: unknown, failed: boolean): void {
    const at = this.replyStaging;
    this.u16[(at + RECORD_TOPIC_OFFSET) >> 1] = topic.id;
    this.u16[(at + RECORD_SUBSCRIPTION_OFFSET) >> 1] = REPLY_SUBSCRIPTION;
    this.u32[(at + RECORD_CORRELATION_OFFSET) >> 2] = correlation;
    this.u16[(at + RECORD_REPLY_TO_OFFSET) >> 1] = this.thread;
    let flags = failed ? RECORD_FLAG_FAILED : 0;
    if (!failed && topic.reply !== undefined) {
      try {
        topic.reply.encode(this.arena.memory, at + RECORD_HEADER_BYTES, result as never);
      } catch (error) {
        flags = RECORD_FLAG_FAILED;
        const stats = (this.control + this.shape.control.topicStats + topic.id * TOPIC_STAT_BYTES) >> 3;
        this.f64[stats + TOPIC_STAT_HANDLER_ERRORS]! += 1;
        this.hooks.onHandlerError(topic.name, error, this.erroredTopics[topic.id] === 0);
        this.erroredTopics[topic.id] = 1;
      }
    }
    this.u16[(at + RECORD_FLAGS_OFFSET) >> 1] = flags;
    if (to === this.thread) {
      this.dispatch(at);
      return;
    }
    const stats = (this.control + this.shape.control.topicStats + topic.id * TOPIC_STAT_BYTES) >> 3;
    // Replies are never dropped: a worker waits for space; thread 0 keeps it in its backlog.
    this.pushLane(to, at, POLICY_BLOCK, stats);
  }
}

/**
 * `(w, m) => { w.a = m.a; w.b = m.b; ... }` for these field names. Generated code gives every
 * property access its own monomorphic site: ~4× faster than a loop of keyed accesses, which go
 * megamorphic. Field names are validated identifiers (schema.ts), so the source is safe to build.
 * Where eval is forbidden (a Content-Security-Policy without 'unsafe-eval'), the loop is used.
 */
export function compileAssign(names: readonly string[]): (writer: Record<string, unknown>, message: Record<string, unknown>) => void {
  try {
    const body = names.map((name) => `w.${name} = m.${name};`).join('\n');
    return new Function('w', 'm', body) as (writer: Record<string, unknown>, message: Record<string, unknown>) => void;
  } catch {
    return (writer, message) => {
      for (let i = 0; i < names.length; i++) writer[names[i]!] = message[names[i]!];
    };
  }
}
