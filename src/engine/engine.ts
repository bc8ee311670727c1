/**
 * The engine's public front: the typed API the user calls, each call handed to the room that owns
 * it — the thread's data path (ThreadRuntime), Workers, Subscriptions, Requests, Stats, ThreadZero,
 * KeepAlive and Reporter. createEngine's work is in create-engine.ts.
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
import type { CoreOps } from '../../bindings/core-ops.ts';
import type { Arena } from '../arena.ts';
import { ConfigError, EngineError } from '../errors.ts';
import { POLICY_REJECT } from './layout.ts';
import { checkTimeout, type ValidatedOptions } from './options.ts';
import type { Platform } from './platform.ts';
import { latencyExports } from '../metrics/latency.ts';
import { formatPrometheus, type PrometheusOptions } from '../metrics/prometheus.ts';
import { LATENCY_HANDLER, LATENCY_QUEUE_WAIT, LATENCY_ROUND_TRIP, LatencyReader } from './latency.ts';
import { MainThreadStream, type ConsumeOptions } from './consume.ts';
import { KeepAlive } from './keep-alive.ts';
import { Reporter } from './reporter.ts';
import { Recovery } from './recovery.ts';
import { Requests } from './requests.ts';
import { Stats } from './stats.ts';
import { isPattern, patternProblem, topicsOf, type SubjectPattern } from './subjects.ts';
import { Durables } from './durables.ts';
import { Subscriptions } from './subscriptions.ts';
import { Supervisor } from './supervisor.ts';
import { ThreadRuntime } from './thread.ts';
import { ThreadZero } from './thread-zero.ts';
import { priorityOf, type TopicRuntime } from './topic-runtime.ts';
import type {
  EngineOptions, EngineStats, HandlerModule, LatencyReport, Priority, HandlerNameFor, ReplyTopicName, RequestOptions, SubscribeOptions,
  Subscription, TopicLatency, TopicMap, TopicMessage, TopicName, TopicReply, TopicWriter,
} from './types.ts';
import { Workers } from './workers.ts';

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
  private readonly reporter: Reporter;
  private readonly workerThreads: Workers;
  private readonly requests: Requests;
  private readonly subscriptions: Subscriptions;
  /** Durable subscriptions (with a journal). */
  private readonly durables: Durables | undefined;
  private readonly yieldFn: () => Promise<void>;
  private readonly counters: Stats;
  private latencyReader: LatencyReader | undefined;
  private readonly threadZero: ThreadZero;
  private readonly keepAlive: KeepAlive;
  private readonly supervisor: Supervisor;
  private closing: Promise<void> | undefined;
  /** consume() streams not yet ended (close() ends them first: nobody pulls them any more). */
  private readonly streams = new Set<MainThreadStream<unknown>>();

  /** @internal use createEngine. */
  constructor(
    private readonly options: EngineOptions<T, M>,
    private readonly validated: ValidatedOptions,
    platform: Platform,
    readonly arena: Arena,
    core: CoreOps,
    private readonly handlerModule: HandlerModule,
  ) {
    const { shape } = validated;
    this.workers = validated.workers;
    this.backend = validated.backend;
    this.reporter = new Reporter(options.onError);
    const reporter = this.reporter;
    let requests!: Requests;
    let threadZero!: ThreadZero;
    let keepAlive!: KeepAlive;
    let supervisor!: Supervisor;
    this.runtime = new ThreadRuntime(0, core, arena, shape, options.topics, handlerModule, false, {
      onHandlerError: (topic, error, first) => {
        if (first) reporter.handlerError(topic, error instanceof Error ? error : new Error(String(error)), -1);
      },
      onReply: (record, topic) => requests.onReply(record, topic),
      onDeadLetter: (record, topic) => supervisor.onLetter(record, topic),
      onBacklog: () => {
        keepAlive.hold();
        void threadZero.pump();
      },
      onTask: () => keepAlive.hold(),
    });
    const { producer, controls } = this.runtime;
    this.runtime.admission.initialize(); // rate buckets full, before any worker publishes
    this.requests = requests = new Requests(arena.memory, producer, reporter, shape.routerSubscriptions, this.runtime.latency);
    const handlerNames = Object.keys(handlerModule.handlers).sort();
    const recovery = new Recovery(core, arena, shape, controls, arena.router(0).address, this.runtime.admission);
    this.supervisor = supervisor = new Supervisor(
      arena, recovery, controls, this.runtime.topics, this.runtime.subscriptions, handlerNames, requests, reporter, validated.supervision, validated.engineWorkers,
    );
    this.workerThreads = new Workers(platform, arena, shape, controls, reporter, (death) => supervisor.onDeath(death));
    supervisor.workers = this.workerThreads;
    this.threadZero = threadZero = new ThreadZero(this.runtime, core, platform, (thread) => thread > 0 && this.workerThreads.state(thread - 1) === 'crashed');
    this.durables = shape.journal === undefined ? undefined
      : new Durables(shape.journal, shape.maxSubscriptions, shape.topicNames, platform.durablePositions?.(shape.journal.dir), controls[shape.journal.thread]!);
    this.subscriptions = new Subscriptions(
      options.topics, handlerModule, this.workers, shape, core, arena.router(0).address, this.runtime.subscriptions, producer,
      () => platform.yield(), (drain) => this.drain(drain), controls[0]!, this.durables,
    );
    this.yieldFn = () => platform.yield();
    this.counters = new Stats(
      arena, core, shape, controls, this.workerThreads, requests, reporter, recovery, this.runtime.subscriptions, this.subscriptions.members, handlerNames, this.runtime.admission,
    );
    const backpressure = this.runtime.backpressure;
    this.keepAlive = keepAlive = new KeepAlive(
      (keep) => this.workerThreads.setKeepAlive(keep),
      () => requests.pendingCount > 0 || backpressure.backlogSize > 0 || this.counters.inFlight() !== 0,
    );
  }

  /** The topics the engine was created with (options.topics). */
  get topics(): T {
    return this.options.topics;
  }

  /** @internal Starts the workers and thread 0's loop; resolves when every worker runs. */
  async start(launch: Parameters<Workers['start']>[1]): Promise<void> {
    try {
      // The journal's subscriptions are live before any thread (the journal's too) starts.
      const { journal } = this.validated.shape;
      if (journal !== undefined) await this.subscriptions.subscribeJournal(journal, this.runtime.topics.byId);
      await this.workerThreads.start(this.validated.engineWorkers, launch, this.validated.startTimeout);
    } catch (error) {
      this.closing = Promise.resolve();
      throw error;
    }
    try {
      this.handlerModule.setup?.(this.runtime.context);
    } catch (error) {
      // createEngine rejects and the caller gets no engine to close: stop the workers here.
      this.closing = Promise.resolve();
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
    if (this.closing !== undefined) throw new EngineError('ERR_ENGINE_CLOSED', 'topic', name, 'the engine is closed');
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
    const highWaterMark = options.highWaterMark ?? 256;
    if (!Number.isInteger(highWaterMark) || highWaterMark < 1 || highWaterMark > 1 << 20) throw new ConfigError('highWaterMark', options.highWaterMark, 'must be an integer in [1, 1048576]');
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw new ConfigError('signal', options.signal, 'must be an AbortSignal');
    if (this.closing !== undefined) throw new EngineError('ERR_ENGINE_CLOSED', 'topic', topic, 'the engine is closed');
    const stream = new MainThreadStream<TopicMessage<T, K>>(this.arena.memory, runtime.schema, highWaterMark, options.signal, this.runtime.consumer, () => this.streams.delete(stream));
    this.streams.add(stream);
    try {
      await stream.open(this.subscriptions, runtime);
    } catch (error) {
      stream.fail(error);
      throw error;
    }
    return stream;
  }

  /** The declared topics `subject` (a name or a pattern) stands for; ConfigError if none. */
  private resolveSubject(subject: string): readonly TopicRuntime[] {
    if (typeof subject !== 'string' || !isPattern(subject)) return [this.topic(subject)];
    if (this.closing !== undefined) throw new EngineError('ERR_ENGINE_CLOSED', 'topic', subject, 'the engine is closed');
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
  async drain(options: { timeout?: number } = {}): Promise<void> {
    const timeout = checkTimeout('timeout', lifecycleOptions(options).timeout);
    const deadline = timeout === undefined ? Infinity : Date.now() + timeout;
    const { producer, backpressure } = this.runtime;
    for (;;) {
      producer.flushAll();
      backpressure.pumpBacklogs();
      // Journaled records a durable subscription has yet to get: read before and after the count
      // (durable-table.ts DurableTable.behind says why both).
      const behind = this.durables?.behind() ?? 0;
      const inFlight = this.counters.inFlight();
      const stillBehind = this.durables?.behind() ?? 0;
      if (inFlight === 0 && behind === 0 && stillBehind === 0 && backpressure.backlogSize === 0 && !this.workerThreads.reportsInTransit()) return;
      if (Date.now() > deadline) throw new EngineError('ERR_DRAIN_TIMEOUT', 'timeout', timeout, `${inFlight} messages still in flight`);
      await new Promise<void>((resolve) => setTimeout(resolve, 1));
    }
  }

  /**
   * Drains (up to `timeout` ms, default 10 s), stops every worker, rejects pending requests with
   * ERR_ENGINE_CLOSED. Publishing after close() throws ERR_ENGINE_CLOSED. Idempotent.
   */
  close(options: { timeout?: number } = {}): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    let timeout: number;
    try {
      timeout = checkTimeout('timeout', lifecycleOptions(options).timeout) ?? 10_000;
    } catch (error) {
      return Promise.reject(error); // like drain(): bad options reject, and the engine stays open
    }
    this.closing = this.doClose(timeout);
    return this.closing;
  }

  private async doClose(timeout: number): Promise<void> {
    const started = Date.now();
    let drainError: unknown;
    await Promise.all([...this.streams].map((stream) => stream.return()));
    try {
      await this.drain({ timeout });
    } catch (error) {
      drainError = error;
    }
    // Durable subscriptions stop while the journal thread still runs: it confirms what was handled, the positions are saved.
    await this.durables?.close(this.yieldFn);
    this.supervisor.stop();
    await this.workerThreads.stop(Math.max(100, timeout - (Date.now() - started)));
    this.threadZero.stop();
    this.keepAlive.stop();
    await this.workerThreads.terminate();
    this.requests.rejectAllClosed();
    if (drainError !== undefined && !(drainError instanceof EngineError && drainError.code === 'ERR_WORKER_CRASHED')) {
      this.reporter.report(drainError instanceof Error ? drainError : new Error(String(drainError)));
    }
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
    const reader = this.latencyReader;
    const names = topic === undefined ? this.runtime.topics.names : [this.runtime.topics.get(topic).name];
    const topics: Record<string, TopicLatency> = {};
    for (const name of names) {
      const id = this.runtime.topics.get(name).id;
      topics[name] = { queueWait: reader.merged(id, LATENCY_QUEUE_WAIT), handler: reader.merged(id, LATENCY_HANDLER), roundTrip: reader.merged(id, LATENCY_ROUND_TRIP) };
    }
    return { topics, since: this.validated.shape.epochMs, ...reader.sampling() };
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

/** drain()/close() options: an object (or nothing), else a ConfigError. */
function lifecycleOptions(options: unknown): { timeout?: unknown } {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') throw new ConfigError('options', options, 'must be { timeout? }');
  return options as { timeout?: unknown };
}
