/**
 * The engine's public front: the typed API the user calls, each call handed to the room that owns
 * it — the thread's data path (ThreadRuntime), Workers, Subscriptions, Requests, Stats, ThreadZero,
 * KeepAlive, Reporter and Lifecycle (drain, close), built and wired to each other in
 * engine-rooms.ts. createEngine's work is in create-engine.ts.
 *
 *   thread 0 (yours)            workers 1..N (each: its own core instance over the same memory)
 *   ┌──────────────┐  lane 0→w  ┌──────────────────────────────────────────────┐
 *   │ publish      │ ─────────▶ │ drain lanes → handler(reader, ctx) → commit  │
 *   │ request      │            │ ctx.publish ──▶ lanes w→v (any worker)       │
 *   │ replies ◀────│ ◀───────── │ return value of a request's handler → reply  │
 *   └──────────────┘  lane w→0  └──────────────────────────────────────────────┘
 *
 * Lanes form a full mesh of SPSC rings (threads × threads), one router (RCU routing table) maps a
 * topic and key hash to route entries (consumer thread, subscription slot), and a subscription
 * table in thread 0's control block says which handler and back-pressure policy each slot has.
 * docs/architecture.md walks the whole data path.
 *
 * Thread 0 never blocks: a full lane under 'block' keeps the message in a backlog and publish()
 * returns false until `whenWritable()` resolves (like a Node stream's write()); replies and
 * backlogs are moved by an asynchronous loop that parks with Atomics.waitAsync.
 */
import type { Arena } from '../arena.ts';
import { ConfigError, EngineError } from '../errors.ts';
import { latencyExports } from '../metrics/latency.ts';
import { formatPrometheus, type PrometheusOptions } from '../metrics/prometheus.ts';
import { openStream, type ConsumeOptions } from './consume.ts';
import type { Durables } from './durables.ts';
import type { EngineRooms } from './engine-rooms.ts';
import type { KeepAlive } from './keep-alive.ts';
import { LatencyReader } from './latency.ts';
import { POLICY_REJECT } from './layout.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { ValidatedOptions } from './options.ts';
import type { Requests } from './requests.ts';
import type { Stats } from './stats.ts';
import { isPattern, patternProblem, topicsOf, type SubjectPattern } from './subjects.ts';
import type { Subscriptions } from './subscriptions.ts';
import type { Supervisor } from './supervisor.ts';
import type { ThreadRuntime } from './thread.ts';
import type { ThreadZero } from './thread-zero.ts';
import { ClusterPort } from './cluster-port.ts';
import { priorityOf, type TopicRuntime } from './topic-runtime.ts';
import type {
  EngineStats, HandlerModule, LatencyReport, Priority, HandlerNameFor, ReplyTopicName, RequestOptions, SubscribeOptions,
  Subscription, TopicMap, TopicMessage, TopicName, TopicReply, TopicWriter,
} from './types.ts';
import type { Workers } from './workers.ts';

/**
 * A running engine. `T` is its topics; `M` its handler module's type, when given
 * (createEngine<typeof topics, typeof handlers>), so subscribe() accepts only handler names of
 * the topic subscribed to.
 */
export class Engine<T extends TopicMap, M extends HandlerModule<T, any> = HandlerModule<T>> {
  /** Worker count. */
  readonly workers: number;
  readonly backend: 'wasm' | 'js';
  private readonly runtime: ThreadRuntime;
  private readonly workerThreads: Workers;
  private readonly requests: Requests;
  private readonly subscriptions: Subscriptions;
  private readonly counters: Stats;
  private latencyReader: LatencyReader | undefined;
  private readonly threadZero: ThreadZero;
  private readonly keepAlive: KeepAlive;
  private readonly supervisor: Supervisor;
  private readonly lifecycle: Lifecycle;
  private readonly durables: Durables | undefined;
  private port: ClusterPort | undefined;

  /** @internal use createEngine (its rooms come from engine-rooms.ts). */
  constructor(
    private readonly validated: ValidatedOptions,
    readonly arena: Arena,
    rooms: EngineRooms,
    private readonly handlerModule: HandlerModule,
  ) {
    this.workers = validated.workers;
    this.backend = validated.backend;
    this.runtime = rooms.runtime;
    this.workerThreads = rooms.workerThreads;
    this.requests = rooms.requests;
    this.subscriptions = rooms.subscriptions;
    this.counters = rooms.counters;
    this.threadZero = rooms.threadZero;
    this.keepAlive = rooms.keepAlive;
    this.supervisor = rooms.supervisor;
    this.lifecycle = rooms.lifecycle;
    this.durables = rooms.durables;
  }

  /** The engine's topics (the handler module's, which createEngine checked equal options.topics). */
  get topics(): T {
    return this.handlerModule.topics as T;
  }

  /** @internal Starts the workers and thread 0's loop; resolves when every worker runs. */
  async start(launch: Parameters<Workers['start']>[1]): Promise<void> {
    try {
      // The journal's subscriptions are live before any thread (the journal's too) starts.
      const { journal } = this.validated.shape;
      if (journal !== undefined) await this.subscriptions.subscribeJournal(journal, this.runtime.topics.byId);
      await this.workerThreads.start(this.validated.engineWorkers, launch, this.validated.startTimeout);
    } catch (error) {
      this.lifecycle.neverStarted();
      throw error;
    }
    try {
      this.handlerModule.setup?.(this.runtime.context);
    } catch (error) {
      // createEngine rejects and the caller gets no engine to close: stop the workers here.
      this.lifecycle.neverStarted();
      await this.workerThreads.terminate();
      throw new EngineError('ERR_WORKER_START', 'setup', 'thread 0', `the handler module's setup() threw on the engine's thread: ${(error as Error)?.message ?? error}`, { cause: error });
    }
    this.threadZero.start();
    this.supervisor.start();
    this.keepAlive.watch();
  }

  // ── publishing ──────────────────────────────────────────────────────────────────────────────

  /**
   * Publishes one message: every field is validated by its setter (ConfigError naming the field
   * and value; nothing is routed then), routed to every receiving subscription member, and made
   * visible at the end of the current task or once `flushEvery` records wait for a lane.
   * Returns true if every receiver took it; false if a lane rejected or dropped it, or a lane is
   * full under 'block' (the message is kept, in order: await whenWritable() before publishing more),
   * or a receiver refused it by admission control or shed it (await whenWritable(topic)).
   * `priority` (default: the topic's) picks its lanes: higher classes overtake lower ones.
   */
  publish<K extends TopicName<T>>(topic: K, fields: TopicMessage<T, K>, priority?: Priority): boolean {
    return this.runtime.publish(this.topic(topic), fields as Record<string, unknown>, priority);
  }

  /**
   * Publishes a batch; returns how many no receiver refused (rejected or dropped as newest): they
   * will be delivered. Some may wait in a backlog: await whenWritable() before the next batch to
   * respect back-pressure. A message that fails validation throws after the ones before it were
   * published. Every message goes in class `priority` (default: the topic's).
   */
  publishBatch<K extends TopicName<T>>(topic: K, messages: readonly TopicMessage<T, K>[], priority?: Priority): number {
    const runtime = this.topic(topic);
    const cls = priorityOf(runtime, priority);
    if (!Array.isArray(messages)) throw new ConfigError('messages', messages, 'must be an array of messages');
    return this.runtime.batch.publishBatch(runtime, messages as readonly Record<string, unknown>[], cls);
  }

  /**
   * Never waits and never queues: 'ok' if every receiving lane took the message (or none
   * subscribes: see stats().topics[t].unrouted), 'full' if some lane was full or its worker is
   * gone (the message was not enqueued there, whatever the policy: it is still yours to retry;
   * with several receivers the others did take it). Counted as rejected (or admissionRefused,
   * or shed, when that is why).
   */
  tryPublish<K extends TopicName<T>>(topic: K, fields: TopicMessage<T, K>, priority?: Priority): 'ok' | 'full' {
    const runtime = this.topic(topic);
    const cls = priorityOf(runtime, priority);
    this.runtime.stage(runtime, fields as Record<string, unknown>);
    return this.runtime.producer.route(runtime, 0, runtime.staging, POLICY_REJECT, undefined, cls) ? 'ok' : 'full';
  }

  /**
   * The staging writer of `topic` on this thread: set its fields, then call send(topic). The
   * allocation-free way to publish (no fields object); fields you do not set keep their last value.
   */
  writer<K extends TopicName<T>>(topic: K): TopicWriter<T, K> {
    return this.topic(topic).writer as unknown as TopicWriter<T, K>;
  }

  /** Publishes what the staging writer of `topic` holds; returns as publish does. */
  send(topic: TopicName<T>, priority?: Priority): boolean {
    const runtime = this.topic(topic);
    if (priority === undefined) return this.runtime.producer.route(runtime, 0);
    return this.runtime.producer.route(runtime, 0, runtime.staging, 0, undefined, priorityOf(runtime, priority));
  }

  /** @internal The cluster bridge's access to this thread (cluster-port.ts); not public API. */
  clusterPort(): ClusterPort {
    this.lifecycle.checkOpen('clusterPort', undefined);
    return (this.port ??= new ClusterPort(this.runtime));
  }

  /** Makes everything published so far visible to the workers now. */
  flush(): void {
    this.runtime.producer.flushAll();
  }

  /**
   * Resolves when no message of this thread waits in a backlog (publish may return true again);
   * with `topic`, also when that topic has room under its admission limit (another publisher may
   * still take it first: publish says).
   */
  whenWritable(topic?: TopicName<T>): Promise<void> {
    if (topic === undefined) return this.threadZero.whenWritable();
    const runtime = this.topic(topic);
    return this.threadZero.whenWritable(runtime.id);
  }

  /** The topic named `name` on this thread; ERR_ENGINE_CLOSED once close() was called. */
  private topic(name: string): TopicRuntime {
    this.lifecycle.checkOpen('topic', name);
    return this.runtime.topics.get(name);
  }

  // ── request/response ────────────────────────────────────────────────────────────────────────

  /**
   * Sends a request to the topic's subscribers and resolves with the first reply (the return value
   * of the handler, decoded with the topic's reply schema). Rejects with EngineError:
   * ERR_NO_SUBSCRIBER, ERR_REQUEST_TIMEOUT (options.timeout ms), ERR_REQUEST_ABORTED
   * (options.signal), ERR_REQUEST_FAILED (the handler threw, or every lane refused it),
   * ERR_WORKER_CRASHED or ERR_WORKER_RESTART_LIMIT (its receiver stays down; a restarted one
   * answers from its successor), ERR_ENGINE_CLOSED. A reply that arrives after that is counted (lateReplies).
   */
  request<K extends ReplyTopicName<T> & TopicName<T>>(topic: K, fields: TopicMessage<T, K>, options: RequestOptions = {}): Promise<TopicReply<T, K>> {
    const runtime = this.topic(topic);
    this.keepAlive.hold();
    return this.requests.send(runtime, fields, options, false) as Promise<TopicReply<T, K>>;
  }

  /**
   * Scatter-gather: sends a request like request() and resolves with the replies of every
   * receiver that took it (e.g. one per worker of a broadcast subscription), in arrival order.
   */
  requestAll<K extends ReplyTopicName<T> & TopicName<T>>(topic: K, fields: TopicMessage<T, K>, options: RequestOptions = {}): Promise<TopicReply<T, K>[]> {
    const runtime = this.topic(topic);
    this.keepAlive.hold();
    return this.requests.send(runtime, fields, options, true) as Promise<TopicReply<T, K>[]>;
  }

  /**
   * Sends one request per message (like publishBatch: staged and routed by one core call per 256)
   * and resolves with one array: reply i answers messages[i] (the first reply, if several
   * subscriptions receive the topic). At most MAX_REQUEST_BATCH (65 536) messages per call. One
   * promise for the whole batch, and no per-request promise or table entry: the way to many
   * requests per second. Rejects as a whole, with the rejections of request(), at the first failed
   * request (its index in the message) or when any request is refused or has no subscriber;
   * `timeout` and `signal` apply to the whole batch. A message that fails validation throws a
   * ConfigError naming `messages[i]` after the requests before it were sent (their replies then
   * count as lateReplies). Round trips of batched requests are not sampled into engine.latency().
   */
  requestBatch<K extends ReplyTopicName<T> & TopicName<T>>(topic: K, messages: readonly TopicMessage<T, K>[], options: RequestOptions = {}): Promise<TopicReply<T, K>[]> {
    const runtime = this.topic(topic);
    const cls = priorityOf(runtime, options?.priority);
    this.keepAlive.hold();
    return this.requests.batches.send(runtime, messages, options, cls) as Promise<TopicReply<T, K>[]>;
  }

  // ── subscriptions ───────────────────────────────────────────────────────────────────────────

  /**
   * Subscribes the handler `options.handler` (of the handler module) to `topic` on
   * `options.workers` (default all). Resolves once the new routing table is live: messages
   * published after that reach it. Subscription changes are serialised.
   *
   * `topic` may be a pattern over dot-separated tokens (`sensor.*.temp`: `*` is one token;
   * `sensor.>`: one or more): it subscribes to every declared topic it matches, resolved now
   * (one subscription slot per topic), with a handler declared for that pattern.
   */
  subscribe<K extends TopicName<T> | SubjectPattern>(topic: K, options: SubscribeOptions<HandlerNameFor<M, K>>): Promise<Subscription> {
    return this.subscriptions.subscribe(topic, () => this.resolveSubject(topic), options);
  }

  /**
   * Receives `topic`'s messages on this thread: resolves, once subscribed, to an async iterator
   * of decoded messages (plain objects) — `for await (const m of await engine.consume(topic))` —
   * fed by a subscription whose member is the engine's own thread (consume.ts). While
   * `highWaterMark` (default 256) messages wait unpulled, the lanes into this thread hold and
   * publishers meet the topic's back-pressure. Ends with `break`/`return()`, `signal`, or close().
   */
  async consume<K extends TopicName<T>>(topic: K, options: ConsumeOptions = {}): Promise<AsyncIterableIterator<TopicMessage<T, K>>> {
    if (options === null || typeof options !== 'object') throw new ConfigError('options', options, 'must be { highWaterMark?, signal? }');
    const runtime = this.topic(topic);
    return openStream<TopicMessage<T, K>>(runtime, options, this.arena.memory, this.runtime.consumer, this.subscriptions, this.lifecycle);
  }

  /** The declared topics `subject` (a name or a pattern) stands for; ConfigError if none. */
  private resolveSubject(subject: string): readonly TopicRuntime[] {
    if (typeof subject !== 'string' || !isPattern(subject)) return [this.topic(subject)];
    this.lifecycle.checkOpen('topic', subject);
    const problem = patternProblem(subject);
    if (problem !== null) throw new ConfigError('topic', subject, problem);
    const names = topicsOf(subject, this.runtime.topics.names);
    if (names.length === 0) throw new ConfigError('topic', subject, `matches no declared topic (${this.runtime.topics.names.join(', ')})`);
    return names.map((name) => this.runtime.topics.get(name));
  }

  // ── lifecycle ───────────────────────────────────────────────────────────────────────────────

  /**
   * Resolves when every message accepted so far has been handled (including what handlers
   * published meanwhile) and no backlog holds a message, or can never be: what a worker that stays
   * down left in its lanes is counted in stats().topics[t].lost instead (a restarting worker's
   * successor handles what it held, and drain waits for it). Handler errors the workers reported
   * have reached onError and stats().topics[t].firstError by then. Rejects with
   * ERR_DRAIN_TIMEOUT after `timeout` ms (default: never).
   */
  drain(options: { timeout?: number } = {}): Promise<void> {
    return this.lifecycle.drain(options);
  }

  /**
   * Drains (up to `timeout` ms, default 10 s), stops every worker, rejects pending requests with
   * ERR_ENGINE_CLOSED. Publishing after close() throws ERR_ENGINE_CLOSED. Idempotent.
   */
  close(options: { timeout?: number } = {}): Promise<void> {
    return this.lifecycle.close(options);
  }

  // ── stats ───────────────────────────────────────────────────────────────────────────────────

  /** Counters summed over every thread (each may be late by one batch); reads shared memory only. */
  stats(): EngineStats {
    const stats = this.counters.read();
    if (this.durables !== undefined) stats.journal = this.durables.stats();
    return stats;
  }

  /**
   * Snapshots of the latency histograms (nanoseconds; latency.ts): per topic (or just `topic`),
   * queue wait and handler time merged over every thread, and request round trips; plus how many
   * records were stamped and how many of those were skipped. Reads shared memory only. Throws
   * ConfigError when the engine was made with latency: false, or for an unknown topic.
   */
  latency(topic?: string): LatencyReport {
    const latency = this.validated.shape.latency;
    if (latency === undefined) throw new ConfigError('latency', false, 'the engine was created with latency: false');
    this.latencyReader ??= new LatencyReader(this.validated.shape, latency);
    const topics = this.runtime.topics;
    const names = topic === undefined ? topics.names : [topics.get(topic).name];
    return this.latencyReader.report(names.map((name) => topics.get(name)), this.validated.shape.epochMs);
  }

  /**
   * stats() and the latency histograms as Prometheus text exposition (format 0.0.4; serve it with
   * PROMETHEUS_CONTENT_TYPE): see formatPrometheus. Latency families (seconds, LATENCY_BUCKETS):
   * `<prefix>_queue_wait_seconds`, `_handler_duration_seconds` and `_request_duration_seconds`,
   * labelled by topic, for the topics that have samples.
   */
  metrics(options?: PrometheusOptions): string {
    const stats = this.stats();
    if (this.validated.shape.latency === undefined) return formatPrometheus(stats, options);
    return formatPrometheus(stats, { ...options, histograms: [...latencyExports(this.latency()), ...(options?.histograms ?? [])] });
  }

  /** `await using engine = await createEngine(…)`: close() (which drains) when the scope ends. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
