/**
 * ThreadRuntime: one engine thread's data path, the same on the engine's own thread (thread 0)
 * and in every worker (threads 1..N). It owns nothing itself: it places this thread's scratch
 * block (layout.ts, ScratchLayout) and wires the rooms that do the work —
 *
 *   topics        TopicSet (topic-runtime.ts): staging records, writers, readers, key kinds
 *   outbound      OutboundLanes (outbound.ts): this thread's lanes — push, flush, doorbell
 *   producer      Producer (producer.ts): route, admit, hand each delivery to its lane
 *   backpressure  Backpressure (backpressure.ts): policies, backlogs, blocking push, caller-runs
 *   batch         BatchPublisher (batch-publisher.ts): publishBatch over the core's dispatchBatch
 *   consumer      Consumer (consumer.ts): drain a lane, handleRecord; completion, replies, circuits, batch runs
 *   inbound       Inbound (inbound.ts): the pass over every inbound lane, by priority class
 *   stealer       Stealer (stealer.ts): an idle worker takes queued records of stealing groups
 *
 * — and gives handlers their context. The rooms call each other in a loop (handleRecord → reply →
 * push → full → caller-runs → handleRecord), so Producer and Backpressure get their partners
 * after construction, here and nowhere else.
 */
import type { CoreOps } from '../../bindings/core-ops.ts';
import type { Arena } from '../arena.ts';
import { ConfigError } from '../errors.ts';
import { Admission } from './admission.ts';
import { Backpressure } from './backpressure.ts';
import { BatchPublisher } from './batch-publisher.ts';
import { Consumer, type ConsumerHooks } from './consumer.ts';
import { Inbound } from './inbound.ts';
import { LatencyProbe } from './latency.ts';
import { controlBlocks, type ControlBlock } from './control-block.ts';
import { scratchLayout } from './layout.ts';
import type { EngineShape } from './options.ts';
import { OutboundLanes } from './outbound.ts';
import { FanOutPool } from './fan-out-pool.ts';
import { Producer, SCHEDULED_DELIVERY, SCHEDULED_RATE } from './producer.ts';
import { Shedder } from './shedder.ts';
import { Stealer } from './stealer.ts';
import { SubscriptionTable } from './subscription-table.ts';
import { TopicSet, priorityOf, type TopicRuntime } from './topic-runtime.ts';
import type { HandlerContext, HandlerModule, Priority, TopicMap } from './types.ts';

/** What the thread tells its owner (engine or worker loop). */
export interface ThreadHooks extends ConsumerHooks {
  /** A backlog got its first record (thread 0 starts its asynchronous pump). */
  onBacklog?(): void;
  /** This thread started publishing in a new task (thread 0: hold the process open). */
  onTask?(): void;
}

export class ThreadRuntime {
  readonly topics: TopicSet;
  /** Every thread's control block (index = thread). */
  readonly controls: readonly ControlBlock[];
  /** This thread's control block. */
  readonly control: ControlBlock;
  /** The subscription table (in thread 0's control block). */
  readonly subscriptions: SubscriptionTable;
  /** This thread's outbound lanes (one per consumer and class): push, flush, doorbell. */
  readonly outbound: OutboundLanes;
  readonly producer: Producer;
  readonly backpressure: Backpressure;
  readonly batch: BatchPublisher;
  readonly consumer: Consumer;
  /** This thread's inbound lanes as a whole: passes over them, waits for them. */
  readonly inbound: Inbound;
  readonly admission: Admission;
  readonly shedder: Shedder;
  /** Work stealing for group subscriptions made with steal (workers only run it). */
  readonly stealer: Stealer;
  readonly context: HandlerContext<TopicMap>;
  /** Latency sampling: stamps this thread's pushes, times the stamped records it handles. */
  readonly latency: LatencyProbe;
  /** The fan-out pool: a message to several receivers copied once (fan-out-pool.ts). */
  readonly pool: FanOutPool;

  constructor(
    readonly thread: number,
    readonly core: CoreOps,
    readonly arena: Arena,
    readonly shape: EngineShape,
    topicMap: TopicMap,
    handlerModule: HandlerModule | undefined,
    /** Whether this thread may wait synchronously (workers: yes; the engine's thread: never). */
    canBlock: boolean,
    hooks: ThreadHooks,
  ) {
    const memory = arena.memory;
    const layout = shape.control;
    this.controls = controlBlocks(arena, layout);
    this.control = this.controls[thread]!;
    const table0 = arena.scratchOf(0).address;
    this.subscriptions = new SubscriptionTable(memory.buffer, table0 + layout.subscriptions, table0 + layout.balances, shape.maxSubscriptions);
    const base = this.control.address;
    const scratch = scratchLayout(layout, shape.topicNames.length, shape.recordSize, shape.routerSubscriptions, shape.threads, shape.spillCapacity);
    this.topics = new TopicSet(memory, topicMap, shape.topicNames, base + scratch.topicStaging, shape.recordSize, shape.topicRecordBytes, shape.deterministic, shape.topicPooled);
    this.latency = new LatencyProbe(shape, thread, memory.buffer);

    this.outbound = new OutboundLanes(thread, core, arena, shape, this.controls, base + scratch.ringTable, this.latency);
    this.producer = new Producer(thread, core, arena, shape, this.control, this.subscriptions, base + scratch.routeOut, this.outbound, hooks.onTask);
    this.pool = new FanOutPool(core, arena, this.topics.byId.map((topic) => topic.messageBytes));
    this.producer.pool = this.pool;
    this.producer.pooledStaging = base + scratch.pooledStaging;
    this.backpressure = new Backpressure(
      thread, core, memory, shape, this.control, this.producer, this.outbound, canBlock, base + scratch.callerStaging, hooks.onBacklog,
      // A worker's backlogs live in its spill regions (they outlive it); thread 0's on its heap.
      canBlock && shape.spillCapacity > 0 ? (key) => base + scratch.spill + key * scratch.spillBytes : undefined,
    );
    this.producer.backpressure = this.backpressure;
    this.admission = new Admission(memory.buffer, table0 + layout.admission, topicMap, shape.topicNames, shape.epochMs);
    this.shedder = new Shedder(core, this.outbound.ringTo, shape.threads, shape.ringCapacity, topicMap, shape.topicNames);
    this.producer.admission = this.admission;
    this.producer.shedder = this.shedder;
    this.producer.scheduled = Uint8Array.from(shape.topicNames, (_, id) =>
      (this.admission.limited(id) || this.shedder.sheds(id) ? SCHEDULED_DELIVERY : 0) | (this.admission.rated(id) ? SCHEDULED_RATE : 0));
    this.backpressure.admission = this.admission;
    this.batch = new BatchPublisher(thread, core, arena, shape, this.control, this.subscriptions, this.producer, this.outbound, this.backpressure, {
      batchStaging: base + scratch.batchStaging, pushedCounts: base + scratch.pushedCounts, dispatchResult: base + scratch.dispatchResult,
    });

    const names = handlerModule === undefined ? [] : Object.keys(handlerModule.handlers).sort();
    const handlerDefs = names.map((n) => handlerModule!.handlers[n]!);
    const topics = this.topics;
    const producer = this.producer;
    this.context = {
      worker: thread - 1,
      topic: '', // set by the consumer before each handler call
      deliveries: 1, // likewise
      publish: (topic, fields, priority) => this.publish(topics.get(topic), fields as Record<string, unknown>, priority),
      writer: (topic) => topics.get(topic).writer as never,
      send: (topic, priority) => {
        // Without a priority: the two-argument call the hot path always made (route's defaults).
        if (priority === undefined) return producer.route(topics.get(topic), 0);
        const runtime = topics.get(topic);
        return producer.route(runtime, 0, runtime.staging, 0, undefined, priorityOf(runtime, priority));
      },
      flush: () => producer.flushAll(),
    };
    this.consumer = new Consumer(
      thread, core, arena, shape, this.control, this.topics, this.subscriptions, handlerDefs, this.context,
      this.producer, this.admission, base + scratch.replyStaging, hooks, this.controls[0]!, this.latency, this.pool,
    );
    this.inbound = new Inbound(core, shape, this.control, this.consumer);
    this.stealer = new Stealer(thread, core, arena, shape.threads, this.controls, this.subscriptions, this.consumer, this.producer, this.admission, this.latency, this.pool);
    // Caller-runs needs handlers on this thread.
    if (handlerDefs.length > 0) this.backpressure.consumer = this.consumer;
    this.backpressure.context = this.context;
  }

  /** Stages `fields` (each validated by its setter: ConfigError naming the field) and routes it in class `priority` (default: the topic's). */
  publish(topic: TopicRuntime, fields: Record<string, unknown>, priority?: Priority): boolean {
    if (priority === undefined) {
      this.stage(topic, fields);
      return this.producer.route(topic, 0);
    }
    const cls = priorityOf(topic, priority);
    this.stage(topic, fields);
    return this.producer.route(topic, 0, topic.staging, 0, undefined, cls);
  }

  /** Writes `fields` into `topic`'s staging record (each validated by its setter: ConfigError naming the field). */
  stage(topic: TopicRuntime, fields: Record<string, unknown>): void {
    if (fields === null || typeof fields !== 'object') throw new ConfigError('fields', fields, 'must be an object with one property per field');
    topic.assign(topic.writer, fields);
  }
}
