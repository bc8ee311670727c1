/**
 * The engine: owns the arena, starts the workers, and is the typed API the user calls.
 *
 *   thread 0 (yours)            workers 1..N (each: its own core instance over the same memory)
 *   ┌──────────────┐  lane 0→w  ┌──────────────────────────────────────────────┐
 *   │ publish      │ ─────────▶ │ drain lanes → handler(reader, ctx) → commit  │
 *   │ request      │            │ ctx.publish ──▶ lanes w→v (any worker)       │
 *   │ replies ◀────│ ◀───────── │ return value of a request's handler → reply  │
 *   └──────────────┘  lane w→0  └──────────────────────────────────────────────┘
 *
 * Lanes form a full mesh of SPSC rings (threads × threads), one router (RCU routing table) maps a
 * topic and key hash to (consumer thread, subscription slot) pairs, and a subscription table in
 * thread 0's control block says which handler and back-pressure policy each slot has.
 *
 * Thread 0 never blocks: a full lane under 'block' keeps the message in a backlog and publish()
 * returns false until `whenWritable()` resolves (like a Node stream's write()); replies and
 * backlogs are moved by an asynchronous loop that parks with Atomics.waitAsync.
 */
import { createJsCore } from '../../bindings/js/index.ts';
import { parkProducerAsync } from '../../bindings/park.ts';
import { instantiateCore, loadCoreModule } from '../../bindings/wasm.ts';
import type { CoreOps } from '../../bindings/core-ops.ts';
import { MODE_BROADCAST, MODE_GROUP, MODE_KEYED } from '../../assembly/layout/router.ts';
import { STATUS_BUSY, STATUS_OK } from '../../assembly/layout/status.ts';
import { createArena, type Arena, type RingSpec } from '../arena.ts';
import { ConfigError, EngineError, ModuleError } from '../errors.ts';
import {
  BALANCE_LEAST_LOADED, BALANCE_ROUND_ROBIN, COMMAND_STOP, CONTROL_ACCEPTED_OFFSET,
  CONTROL_BACKLOG_OFFSET, CONTROL_COMMAND_OFFSET, CONTROL_COMPLETED_OFFSET, CONTROL_DOORBELL_OFFSET,
  CONTROL_IDLE_MS_OFFSET, CONTROL_IDLE_SINCE_MS_OFFSET, CONTROL_LANE_STATS_OFFSET,
  CONTROL_LATE_REPLIES_OFFSET, CONTROL_SLEEPING_OFFSET, CONTROL_START_MS_OFFSET,
  CONTROL_STATE_OFFSET, LANE_STAT_BYTES, LANE_STAT_HIGH_WATER, LANE_STAT_PUBLISHED,
  POLICY_BLOCK, POLICY_CALLER_RUNS, POLICY_DROP_NEWEST, POLICY_DROP_OLDEST, POLICY_REJECT,
  RECORD_CORRELATION_OFFSET, RECORD_FLAGS_OFFSET, RECORD_FLAG_FAILED, RECORD_HEADER_BYTES,
  SUB_ACTIVE, SUB_ENTRY_BYTES, SUB_FREE, SUB_HANDLER_OFFSET, SUB_MODE_OFFSET,
  SUB_POLICY_OFFSET, SUB_RETIRED, SUB_STATE_OFFSET, SUB_TOPIC_OFFSET, THREAD_RUNNING,
  THREAD_STOPPED, TOPIC_STAT_BYTES, TOPIC_STAT_CALLER_RUNS, TOPIC_STAT_DELIVERED,
  TOPIC_STAT_DROPPED_NEWEST, TOPIC_STAT_DROPPED_OLDEST, TOPIC_STAT_HANDLER_ERRORS,
  TOPIC_STAT_PUBLISHED, TOPIC_STAT_REJECTED, TOPIC_STAT_ROUTED, TOPIC_STAT_UNROUTED, laneIndex,
  routeLane,
} from './layout.ts';
import { POLICIES, topicFingerprint, validateOptions, type ValidatedOptions } from './options.ts';
import { deserializeError, type Platform, type WorkerHandle, type WorkerMessage } from './platform.ts';
import { ThreadRuntime, type TopicRuntime } from './thread.ts';
import type {
  BackpressurePolicy, DeliveryMode, EngineOptions, EngineStats, HandlerModule, LaneStats,
  RequestOptions, SubscribeOptions, Subscription, TopicMap, TopicMessage, TopicName, TopicReply,
  TopicStats, TopicWriter, WorkerStats,
} from './types.ts';
import { checkHandlerModule, importHandlers } from './worker.ts';

const POLICY_CODES: Readonly<Record<BackpressurePolicy, number>> = {
  block: POLICY_BLOCK, reject: POLICY_REJECT, 'drop-oldest': POLICY_DROP_OLDEST,
  'drop-newest': POLICY_DROP_NEWEST, 'caller-runs': POLICY_CALLER_RUNS,
};
const MODE_CODES: Readonly<Record<DeliveryMode, number>> = { broadcast: MODE_BROADCAST, group: MODE_GROUP, keyed: MODE_KEYED };
/** Empty polls of the reply lanes before thread 0 parks with waitAsync (each ~50 ns; keeps the event loop free). */
const THREAD0_SPIN = 64;
const THREAD0_PARK_MS = 1000;
/** Polls of a full lane by thread 0's backlog pump before it parks asynchronously (~20–50 µs). */
const PUMP_SPIN = 256;
const ROUTER_PUBLISH_TIMEOUT_MS = 10_000;

interface PendingRequest {
  /** requestAll: resolve with every receiver's reply; request: with the first. */
  readonly all: boolean;
  /** Replies to wait for: 1 for request(), every receiver that took it for requestAll(). */
  expected: number;
  readonly replies: unknown[];
  resolve(value: unknown): void;
  reject(error: Error): void;
  readonly topic: TopicRuntime;
  readonly consumers: readonly number[];
  cleanup(): void;
}

interface WorkerRecord {
  handle: WorkerHandle | undefined;
  state: 'starting' | 'running' | 'stopped' | 'crashed';
  stopping: boolean;
  stopped: Promise<void>;
  markStopped(): void;
}

/**
 * Creates an engine on `platform`: validates the options, lays out the arena, starts the workers
 * (each gets the handler module) and resolves once all of them run. The package's entry points
 * bind the platform: createEngine from 'wasm-dispatch' (src/index.ts under Node, src/browser.ts in
 * browsers). ConfigError for a bad option, ModuleError for a bad handler module, EngineError
 * ERR_NOT_ISOLATED on a page without cross-origin isolation, ERR_WORKER_START if a worker fails.
 */
export async function createEngineWith<T extends TopicMap>(platform: Platform, options: EngineOptions<T>): Promise<Engine<T>> {
  platform.checkSupport();
  const validated = validateOptions(options as EngineOptions<TopicMap>, platform.defaultWorkers());
  if (options.worker !== undefined && platform.name !== 'browser') {
    throw new ConfigError('worker', options.worker, 'browsers only: under Node every worker imports options.handlers by path or URL');
  }
  let href: string;
  let handlerModule: HandlerModule;
  if (typeof options.handlers === 'string' || options.handlers instanceof URL) {
    href = platform.resolveModule(options.handlers);
    handlerModule = await importHandlers(href);
  } else {
    // The module itself: the app's worker script brings its own copy (serveEngineWorker(handlers)).
    if (options.worker === undefined) {
      throw new ConfigError('worker', undefined, 'a handler module passed as an object needs options.worker: a function that starts a Web Worker whose script calls serveEngineWorker(handlers)');
    }
    href = '';
    handlerModule = checkHandlerModule(options.handlers, 'handlers');
  }
  const { shape } = validated;
  if (topicFingerprint(handlerModule.topics, shape.topicNames) !== topicFingerprint(options.topics, shape.topicNames)) {
    throw new ConfigError('handlers', href || 'handlers', "the handler module's topics differ from options.topics (same names, schemas, reply schemas and keys are required)");
  }
  const coreUrl = options.coreUrl === undefined ? undefined : new URL(platform.resolveModule(options.coreUrl));
  const module = validated.backend === 'wasm' ? await loadCoreModule(validated.coreBuild, coreUrl) : undefined;
  const makeCore = (memory: WebAssembly.Memory): CoreOps => (module !== undefined ? instantiateCore(module, memory) : createJsCore(memory));
  const T = shape.threads;
  const rings: RingSpec[] = [];
  for (let p = 0; p < T; p++) for (let c = 0; c < T; c++) rings.push({ capacity: shape.ringCapacity, recordSize: shape.recordSize, producer: p, consumer: c });
  const arena = createArena({
    threads: T, rings, scratchBytes: validated.scratchBytes,
    routers: [{ maxTopics: shape.topicNames.length, maxSubscriptions: shape.routerSubscriptions }],
  }, makeCore);
  const core = makeCore(arena.memory);
  if (core.routerTryLock(arena.router(0).address, 0) !== STATUS_OK) throw new Error('unreachable: a new router is locked');
  const engine = new Engine<T>(options, validated, platform, arena, core, handlerModule, href);
  await engine.start(module);
  return engine;
}

export class Engine<T extends TopicMap> {
  /** Worker count. */
  readonly workers: number;
  readonly backend: 'wasm' | 'js';
  private readonly runtime: ThreadRuntime;
  private readonly workerRecords: WorkerRecord[] = [];
  private readonly pending = new Map<number, PendingRequest>();
  private readonly firstErrors = new Map<string, Error>();
  private readonly subscriptions = new Map<number, Subscription>();
  private nextCorrelation = 1;
  private lateReplies = 0;
  private closing: Promise<void> | undefined;
  private closed = false;
  private pumpRunning = false;
  private writableWaiters: (() => void)[] = [];
  private subscribeQueue: Promise<unknown> = Promise.resolve();
  private readonly router: number;

  /** @internal use createEngine. */
  constructor(
    private readonly options: EngineOptions<T>,
    private readonly validated: ValidatedOptions,
    private readonly platform: Platform,
    readonly arena: Arena,
    private readonly core: CoreOps,
    private readonly handlerModule: HandlerModule,
    private readonly handlersHref: string,
  ) {
    this.workers = validated.workers;
    this.backend = validated.backend;
    this.router = arena.router(0).address;
    this.runtime = new ThreadRuntime(0, core, arena, validated.shape, options.topics, handlerModule, false, {
      onHandlerError: (topic, error, first) => {
        if (first) this.reportHandlerError(topic, error instanceof Error ? error : new Error(String(error)));
      },
      onReply: (record, topic) => this.onReply(record, topic),
      onBacklog: () => { void this.pump(); },
    });
  }

  /** @internal Starts the workers and thread 0's loop; resolves when every worker runs. */
  async start(module: WebAssembly.Module | undefined): Promise<void> {
    const { shape, startTimeout } = this.validated;
    const fingerprint = topicFingerprint(this.options.topics, shape.topicNames);
    const ready: Promise<void>[] = [];
    for (let w = 0; w < this.workers; w++) {
      const thread = w + 1;
      let markStopped!: () => void;
      const record: WorkerRecord = {
        handle: undefined, state: 'starting', stopping: false,
        stopped: new Promise<void>((resolve) => { markStopped = resolve; }), markStopped: () => markStopped(),
      };
      this.workerRecords.push(record);
      let timer: ReturnType<typeof setTimeout> | undefined;
      ready.push(new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => reject(new EngineError('ERR_WORKER_START', 'worker', w, `did not start within ${startTimeout} ms`)), startTimeout);
        record.handle = this.platform.startWorker(
          { thread, memory: this.arena.memory, module, backend: this.backend, handlers: this.handlersHref, fingerprint, shape },
          {
            message: (message: WorkerMessage) => {
              switch (message.kind) {
                case 'ready':
                  record.state = 'running';
                  clearTimeout(timer);
                  resolve();
                  break;
                case 'start-failed':
                  clearTimeout(timer);
                  reject(new EngineError('ERR_WORKER_START', 'worker', w, `failed to start: ${message.error.message}`, { cause: deserializeError(message.error) }));
                  break;
                case 'handler-error':
                  this.reportHandlerError(message.topic, deserializeError(message.error));
                  break;
                case 'stopped':
                  record.state = 'stopped';
                  record.markStopped();
                  break;
              }
            },
            error: (error) => {
              clearTimeout(timer);
              reject(new EngineError('ERR_WORKER_START', 'worker', w, `failed: ${error.message}`, { cause: error }));
              this.onWorkerGone(w, error);
            },
            exit: (code) => {
              clearTimeout(timer);
              reject(new EngineError('ERR_WORKER_START', 'worker', w, `exited with code ${code} before it started`));
              this.onWorkerGone(w, new Error(`exited with code ${code}`));
            },
          },
          this.options.worker,
        );
      }).finally(() => clearTimeout(timer)));
    }
    try {
      await Promise.all(ready);
    } catch (error) {
      this.closed = true;
      await Promise.all(this.workerRecords.map((r) => r.handle?.terminate()));
      throw error;
    }
    this.handlerModule.setup?.(this.runtime.context);
    void this.threadZeroLoop();
  }

  // ── publishing ──────────────────────────────────────────────────────────────────────────────

  /**
   * Publishes one message: every field is validated by its setter (ConfigError naming the field
   * and value; nothing is routed then), routed to every receiving subscription member, and made
   * visible at the end of the current task or once `flushEvery` records wait for a lane.
   * Returns true if every receiver took it; false if a lane rejected or dropped it, or a lane is
   * full under 'block' (the message is kept, in order: await whenWritable() before publishing more).
   */
  publish<K extends TopicName<T>>(topic: K, fields: TopicMessage<T, K>): boolean {
    const runtime = this.topicRuntime(topic);
    return this.runtime.publish(runtime, fields as Record<string, unknown>);
  }

  /**
   * Publishes a batch; returns how many no receiver refused (rejected or dropped as newest): they
   * will be delivered. Some may wait in a backlog: await whenWritable() before the next batch to
   * respect back-pressure. A message that fails validation throws after the ones before it were
   * published.
   */
  publishBatch<K extends TopicName<T>>(topic: K, messages: readonly TopicMessage<T, K>[]): number {
    const runtime = this.topicRuntime(topic);
    if (!Array.isArray(messages)) throw new ConfigError('messages', messages, 'must be an array of messages');
    return this.runtime.publishBatch(runtime, messages as readonly Record<string, unknown>[]);
  }


  /**
   * Never waits and never queues: 'ok' if every receiving lane took the message (or none
   * subscribes: see stats().topics[t].unrouted), 'full' if some lane was full or its worker is
   * gone (the message was not enqueued there, whatever the policy: it is still yours to retry;
   * with several receivers the others did take it). Counted as rejected.
   */
  tryPublish<K extends TopicName<T>>(topic: K, fields: TopicMessage<T, K>): 'ok' | 'full' {
    const runtime = this.topicRuntime(topic);
    this.runtime.forceReject = true;
    try {
      return this.runtime.publish(runtime, fields as Record<string, unknown>) ? 'ok' : 'full';
    } finally {
      this.runtime.forceReject = false;
    }
  }

  /**
   * The staging writer of `topic` on this thread: set its fields, then call send(topic). The
   * allocation-free way to publish (no fields object); fields you do not set keep their last value.
   */
  writer<K extends TopicName<T>>(topic: K): TopicWriter<T, K> {
    return this.topicRuntime(topic).writer as unknown as TopicWriter<T, K>;
  }

  /** Publishes what the staging writer of `topic` holds; returns as publish does. */
  send(topic: TopicName<T>): boolean {
    return this.runtime.route(this.topicRuntime(topic), 0);
  }

  /** Makes everything published so far visible to the workers now. */
  flush(): void {
    this.runtime.flushAll();
  }

  /** Resolves when no message of this thread waits in a backlog (publish may return true again). */
  whenWritable(): Promise<void> {
    if (this.runtime.backlogSize === 0) return Promise.resolve();
    void this.pump();
    return new Promise<void>((resolve) => this.writableWaiters.push(resolve));
  }

  private topicRuntime(name: string): TopicRuntime {
    if (this.closing !== undefined) throw new EngineError('ERR_ENGINE_CLOSED', 'topic', name, 'the engine is closed');
    return this.runtime.topicByName(name);
  }


  // ── request/response ────────────────────────────────────────────────────────────────────────

  /**
   * Sends a request to the topic's subscribers and resolves with the first reply (the return value
   * of the handler, decoded with the topic's reply schema). Rejects with EngineError:
   * ERR_NO_SUBSCRIBER, ERR_REQUEST_TIMEOUT (options.timeout ms), ERR_REQUEST_ABORTED
   * (options.signal), ERR_REQUEST_FAILED (the handler threw, or every lane refused it),
   * ERR_WORKER_CRASHED, ERR_ENGINE_CLOSED. A reply that arrives after that is counted (lateReplies).
   */
  request<K extends TopicName<T>>(topic: K, fields: TopicMessage<T, K>, options: RequestOptions = {}): Promise<TopicReply<T, K>> {
    return this.sendRequest(topic, fields, options, false) as Promise<TopicReply<T, K>>;
  }

  /**
   * Scatter-gather: sends a request like request() and resolves with the replies of every
   * receiver that took it (e.g. one per worker of a broadcast subscription), in arrival order.
   */
  requestAll<K extends TopicName<T>>(topic: K, fields: TopicMessage<T, K>, options: RequestOptions = {}): Promise<TopicReply<T, K>[]> {
    return this.sendRequest(topic, fields, options, true) as Promise<TopicReply<T, K>[]>;
  }

  private sendRequest(topic: string, fields: unknown, options: RequestOptions, all: boolean): Promise<unknown> {
    const runtime = this.topicRuntime(topic);
    if (runtime.reply === undefined) throw new ConfigError('topic', topic, 'has no reply schema: declare { reply } to use request()');
    if (options === null || typeof options !== 'object') throw new ConfigError('options', options, 'must be { timeout?, signal? }');
    const timeout = options.timeout;
    if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout >= 0) || !Number.isFinite(timeout))) throw new ConfigError('timeout', timeout, 'must be a finite number of milliseconds ≥ 0');
    const signal = options.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new ConfigError('signal', signal, 'must be an AbortSignal');
    if (signal?.aborted) return Promise.reject(new EngineError('ERR_REQUEST_ABORTED', 'topic', topic, 'the signal was already aborted', { cause: signal.reason }));
    if (fields === null || typeof fields !== 'object') throw new ConfigError('fields', fields, 'must be an object with one property per field');
    // Validate and stage before anything is routed.
    runtime.assign(runtime.writer, fields as Record<string, unknown>);
    const correlation = this.nextCorrelation;
    this.nextCorrelation = this.nextCorrelation === 0xffffffff ? 1 : this.nextCorrelation + 1;
    // Registered before routing: a caller-runs handler replies synchronously, inside route().
    let settle!: { resolve(value: unknown): void; reject(error: Error): void };
    const promise = new Promise<unknown>((resolve, reject) => { settle = { resolve, reject }; });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = (): void => {
      if (!this.pending.has(correlation)) return;
      entry.cleanup();
      settle.reject(new EngineError('ERR_REQUEST_ABORTED', 'topic', topic, 'aborted by its signal', { cause: signal?.reason }));
    };
    const consumers: number[] = [];
    const entry: PendingRequest = {
      all, expected: all ? Infinity : 1, replies: [], resolve: (value) => settle.resolve(value), reject: (error) => settle.reject(error), topic: runtime, consumers,
      cleanup: () => {
        this.pending.delete(correlation);
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      },
    };
    this.pending.set(correlation, entry);
    this.runtime.route(runtime, correlation);
    this.runtime.u32[(runtime.staging + RECORD_CORRELATION_OFFSET) >> 2] = 0;
    const routed = this.runtime.lastRouted;
    const accepted = this.runtime.lastAccepted;
    for (let i = 0; i < accepted; i++) consumers.push(this.runtime.lastConsumers[i]!);
    entry.expected = all ? accepted : 1;
    if (all && accepted > 0 && entry.replies.length >= accepted && this.pending.has(correlation)) {
      entry.cleanup(); // every receiver answered inline (caller-runs)
      entry.resolve(entry.replies);
    }
    if (routed === 0 || accepted === 0) {
      entry.cleanup();
      return Promise.reject(routed === 0
        ? new EngineError('ERR_NO_SUBSCRIBER', 'topic', topic, 'no subscription receives this request')
        : new EngineError('ERR_REQUEST_FAILED', 'topic', topic, 'every receiving lane refused it (full under reject/drop-newest, or its worker is gone)'));
    }
    if (!this.pending.has(correlation)) return promise; // answered inline (caller-runs)
    this.runtime.flushAll();
    if (timeout !== undefined) {
      timer = setTimeout(() => {
        entry.cleanup();
        settle.reject(new EngineError('ERR_REQUEST_TIMEOUT', 'topic', topic, `no reply within ${timeout} ms`));
      }, timeout);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    return promise;
  }

  private onReply(record: number, topic: TopicRuntime): void {
    const correlation = this.runtime.u32[(record + RECORD_CORRELATION_OFFSET) >> 2]!;
    const entry = this.pending.get(correlation);
    if (entry === undefined) {
      this.lateReplies++;
      return;
    }
    if ((this.runtime.u16[(record + RECORD_FLAGS_OFFSET) >> 1]! & RECORD_FLAG_FAILED) !== 0) {
      entry.cleanup();
      const first = this.firstErrors.get(topic.name);
      entry.reject(new EngineError('ERR_REQUEST_FAILED', 'topic', topic.name, 'the handler threw (or returned an invalid reply)', { cause: first }));
      return;
    }
    entry.replies.push(topic.reply!.decode(this.arena.memory, record + RECORD_HEADER_BYTES));
    if (entry.replies.length < entry.expected) return;
    entry.cleanup();
    entry.resolve(entry.all ? entry.replies : entry.replies[0]);
  }

  // ── thread 0's loop: replies and backlogs, without ever blocking ────────────────────────────

  private async threadZeroLoop(): Promise<void> {
    const runtime = this.runtime;
    const i32 = runtime.i32;
    const sleeping = (runtime.control + CONTROL_SLEEPING_OFFSET) >> 2;
    const doorbell = (runtime.control + CONTROL_DOORBELL_OFFSET) >> 2;
    let polls = 0;
    while (!this.closed) {
      if (runtime.drainAll() > 0) {
        polls = 0;
        await null; // let the resolved requests' continuations run
        continue;
      }
      if (++polls < THREAD0_SPIN) continue;
      polls = 0;
      Atomics.store(i32, sleeping, 1);
      const seen = Atomics.load(i32, doorbell);
      // Re-check after announcing SLEEPING (pairs with the worker's HEAD store then SLEEPING load).
      if (runtime.hasInbound()) {
        Atomics.store(i32, sleeping, 0);
        continue;
      }
      // Workers keep the process alive; waitAsync alone would not (Node 20).
      await this.platform.waitAsync(i32, doorbell, seen, THREAD0_PARK_MS);
      Atomics.store(i32, sleeping, 0);
    }
  }

  /** Moves thread 0's backlogs into their lanes as the consumers free space. */
  private async pump(): Promise<void> {
    if (this.pumpRunning) return;
    this.pumpRunning = true;
    try {
      let polls = 0;
      while (this.runtime.pumpBacklogs() > 0 && !this.closed) {
        const consumer = this.runtime.firstBackloggedLane();
        if (consumer < 0) break;
        if (this.workerRecords[consumer - 1]?.state === 'crashed') continue;
        // A worker that is draining frees space within microseconds, while an asynchronous wake-up
        // costs tens of µs to a millisecond here: poll a little first (this blocks the event loop
        // for at most ~PUMP_SPIN polls, each one ring-index load).
        if (++polls < PUMP_SPIN) continue;
        polls = 0;
        await parkProducerAsync(this.core, this.runtime.i32, this.runtime.ringTo[consumer]!, 50, this.platform.waitAsync);
      }
    } finally {
      this.pumpRunning = false;
    }
    if (this.runtime.backlogSize === 0) {
      const waiters = this.writableWaiters;
      this.writableWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  // ── subscriptions ───────────────────────────────────────────────────────────────────────────

  /**
   * Subscribes the handler `options.handler` (of the handler module) to `topic` on
   * `options.workers` (default all). Resolves once the new routing table is live: messages
   * published after that reach it. Subscription changes are serialised.
   */
  subscribe<K extends TopicName<T>>(topic: K, options: SubscribeOptions): Promise<Subscription> {
    const run = this.subscribeQueue.then(() => this.doSubscribe(topic, options));
    this.subscribeQueue = run.catch(() => undefined);
    return run;
  }

  private async doSubscribe(topicName: string, options: SubscribeOptions): Promise<Subscription> {
    const topic = this.topicRuntime(topicName);
    if (options === null || typeof options !== 'object') throw new ConfigError('options', options, 'must be { handler, mode?, workers?, backpressure?, balance? }');
    const handlerNames = Object.keys(this.handlerModule.handlers).sort();
    const handlerIndex = handlerNames.indexOf(options.handler);
    if (handlerIndex < 0) throw new ConfigError('handler', options.handler, `is not a handler of the module (${handlerNames.join(', ')})`);
    const handlerTopic = this.handlerModule.handlers[options.handler]!.topic;
    if (handlerTopic !== topicName) throw new ConfigError('handler', options.handler, `handles topic ${JSON.stringify(handlerTopic)}, not ${JSON.stringify(topicName)}`);
    const mode = options.mode ?? 'broadcast';
    if (!(mode in MODE_CODES)) throw new ConfigError('mode', mode, "must be 'broadcast', 'group' or 'keyed'");
    if (mode === 'keyed' && this.options.topics[topicName]!.key === undefined) throw new ConfigError('mode', mode, `topic ${JSON.stringify(topicName)} declares no key field`);
    const policy = options.backpressure ?? this.options.topics[topicName]!.backpressure ?? 'block';
    if (!POLICIES.includes(policy)) throw new ConfigError('backpressure', policy, `must be one of ${POLICIES.join(', ')}`);
    const balance = options.balance ?? 'round-robin';
    if (balance !== 'round-robin' && balance !== 'least-loaded') throw new ConfigError('balance', balance, "must be 'round-robin' or 'least-loaded'");
    if (balance === 'least-loaded' && mode !== 'group') throw new ConfigError('balance', balance, "applies to mode 'group' only");
    const workers = options.workers === undefined ? Array.from({ length: this.workers }, (_, w) => w) : [...options.workers];
    if (workers.length === 0) throw new ConfigError('workers', options.workers, 'must name at least one worker');
    for (const w of workers) {
      if (!Number.isInteger(w) || w < 0 || w >= this.workers) throw new ConfigError('workers', options.workers, `must be distinct worker numbers in [0, ${this.workers - 1}]`);
    }
    if (new Set(workers).size !== workers.length) throw new ConfigError('workers', options.workers, 'must not repeat a worker');

    const slot = await this.freeSlot();
    const entry = this.runtime.subscriptionTable + slot * SUB_ENTRY_BYTES;
    const u8 = this.runtime.u8;
    const u16 = this.runtime.u16;
    u8[entry + SUB_MODE_OFFSET] = MODE_CODES[mode];
    u8[entry + SUB_POLICY_OFFSET] = POLICY_CODES[policy];
    // Like the entry, before the router publish that makes the slot routable.
    u8[this.runtime.balanceTable + slot] = balance === 'least-loaded' ? BALANCE_LEAST_LOADED : BALANCE_ROUND_ROBIN;
    u16[(entry + SUB_HANDLER_OFFSET) >> 1] = handlerIndex;
    u16[(entry + SUB_TOPIC_OFFSET) >> 1] = topic.id;
    u8[entry + SUB_STATE_OFFSET] = SUB_ACTIVE;
    // least-loaded groups are routed as broadcast members; the publisher picks one by the balance
    // table (dispatchBatch in the core, ThreadRuntime.leastLoaded on the per-record path).
    const routerMode = balance === 'least-loaded' ? MODE_BROADCAST : MODE_CODES[mode];
    const ids: number[] = [];
    for (const w of workers) {
      const id = this.core.routerAddSubscription(this.router, topic.id, routeLane(w + 1, slot), routerMode, slot);
      if (id < 0) {
        for (const added of ids) this.core.routerRemoveSubscription(this.router, added);
        u8[entry + SUB_STATE_OFFSET] = SUB_FREE;
        u8[this.runtime.balanceTable + slot] = BALANCE_ROUND_ROBIN;
        throw new ConfigError('maxSubscriptions', this.validated.shape.maxSubscriptions, 'the routing table is full');
      }
      ids.push(id);
    }
    const subscription: Subscription = {
      id: slot, topic: topicName, handler: options.handler, mode, workers, backpressure: policy, balance,
      unsubscribe: () => {
        const run = this.subscribeQueue.then(() => this.doUnsubscribe(slot, ids));
        this.subscribeQueue = run.catch(() => undefined);
        return run;
      },
    };
    this.subscriptions.set(slot, subscription);
    await this.publishRoutes();
    return subscription;
  }

  private async doUnsubscribe(slot: number, ids: readonly number[]): Promise<void> {
    if (!this.subscriptions.has(slot)) return;
    for (const id of ids) this.core.routerRemoveSubscription(this.router, id);
    // RETIRED, not FREE: records already in lanes still name this slot and its handler. Its balance
    // byte stays too: a thread still inside an older table version may route to its members.
    this.runtime.u8[this.runtime.subscriptionTable + slot * SUB_ENTRY_BYTES + SUB_STATE_OFFSET] = SUB_RETIRED;
    this.subscriptions.delete(slot);
    await this.publishRoutes();
  }

  /** Makes the edited subscription list the live routing table (retrying while readers hold the old one). */
  private async publishRoutes(): Promise<void> {
    const deadline = Date.now() + ROUTER_PUBLISH_TIMEOUT_MS;
    for (;;) {
      this.runtime.flushAll(); // thread 0 leaves the table too
      const status = this.core.routerTryPublish(this.router);
      if (status === STATUS_OK) return;
      if (status !== STATUS_BUSY || Date.now() > deadline) {
        throw new EngineError('ERR_ENGINE_CLOSED', 'router', status, 'could not publish the routing table (a thread stayed inside one table version too long)');
      }
      await this.platform.yield();
    }
  }

  /** A FREE slot; else reclaims RETIRED slots once no lane or backlog can hold their records. */
  private async freeSlot(): Promise<number> {
    const u8 = this.runtime.u8;
    const table = this.runtime.subscriptionTable;
    const count = this.validated.shape.maxSubscriptions;
    for (let s = 0; s < count; s++) if (u8[table + s * SUB_ENTRY_BYTES + SUB_STATE_OFFSET] === SUB_FREE) return s;
    // Two table publishes after the retirement guarantee no thread routes with a table that had
    // the slot; then empty lanes and backlogs mean no record names it.
    await this.publishRoutes();
    await this.publishRoutes();
    await this.drain({ timeout: 10_000 });
    let found = -1;
    for (let s = 0; s < count; s++) {
      const at = table + s * SUB_ENTRY_BYTES + SUB_STATE_OFFSET;
      if (u8[at] === SUB_RETIRED) {
        u8[at] = SUB_FREE;
        u8[this.runtime.balanceTable + s] = BALANCE_ROUND_ROBIN;
        if (found < 0) found = s;
      }
    }
    if (found < 0) throw new ConfigError('maxSubscriptions', count, 'every subscription slot is in use');
    return found;
  }

  // ── lifecycle ───────────────────────────────────────────────────────────────────────────────

  /**
   * Resolves when every message accepted so far has been handled (including what handlers
   * published meanwhile) and no backlog holds a message, or can never be: what a crashed worker
   * left in its lanes and backlogs is counted in stats().lostToCrashes instead. Rejects with
   * ERR_DRAIN_TIMEOUT after `timeout` ms (default: never).
   */
  async drain(options: { timeout?: number } = {}): Promise<void> {
    const deadline = options.timeout === undefined ? Infinity : Date.now() + options.timeout;
    const i32 = this.runtime.i32;
    const scratch = this.arena.scratch;
    for (;;) {
      this.runtime.flushAll();
      this.runtime.pumpBacklogs();
      // COMPLETED first, then ACCEPTED: every thread counts a record ACCEPTED before it can be
      // COMPLETED, and counts children ACCEPTED before their parent COMPLETED, so equal sums read
      // in this order mean that at the moment between the two reads nothing was in flight.
      let completed = 0;
      for (const block of scratch) completed = (completed + Atomics.load(i32, (block.address + CONTROL_COMPLETED_OFFSET) >> 2)) | 0;
      let accepted = 0;
      for (const block of scratch) accepted = (accepted + Atomics.load(i32, (block.address + CONTROL_ACCEPTED_OFFSET) >> 2)) | 0;
      // Records a crashed worker will never handle are written off (stats().lostToCrashes).
      if (((accepted - completed - this.lostToCrashes()) | 0) === 0 && this.runtime.backlogSize === 0) return;
      if (Date.now() > deadline) throw new EngineError('ERR_DRAIN_TIMEOUT', 'timeout', options.timeout, `${(accepted - completed) | 0} messages still in flight`);
      await new Promise<void>((resolve) => setTimeout(resolve, 1));
    }
  }

  /**
   * Drains (up to `timeout` ms, default 10 s), stops every worker, rejects pending requests with
   * ERR_ENGINE_CLOSED. Publishing after close() throws ERR_ENGINE_CLOSED. Idempotent.
   */
  close(options: { timeout?: number } = {}): Promise<void> {
    this.closing ??= this.doClose(options.timeout ?? 10_000);
    return this.closing;
  }

  private async doClose(timeout: number): Promise<void> {
    const started = Date.now();
    let drainError: unknown;
    try {
      await this.drain({ timeout });
    } catch (error) {
      drainError = error;
    }
    const i32 = this.runtime.i32;
    this.workerRecords.forEach((record, w) => {
      record.stopping = true;
      const control = this.arena.scratchOf(w + 1).address;
      Atomics.store(i32, (control + CONTROL_COMMAND_OFFSET) >> 2, COMMAND_STOP);
      Atomics.add(i32, (control + CONTROL_DOORBELL_OFFSET) >> 2, 1);
      Atomics.notify(i32, (control + CONTROL_DOORBELL_OFFSET) >> 2);
    });
    const left = Math.max(100, timeout - (Date.now() - started));
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(this.workerRecords.map((r) => (r.state === 'running' ? r.stopped : undefined))),
      new Promise<void>((resolve) => { timer = setTimeout(resolve, left); }),
    ]);
    clearTimeout(timer);
    this.closed = true;
    await Promise.all(this.workerRecords.map((r) => r.handle?.terminate()));
    for (const entry of [...this.pending.values()]) {
      entry.cleanup();
      entry.reject(new EngineError('ERR_ENGINE_CLOSED', 'topic', entry.topic.name, 'the engine closed before the reply came'));
    }
    for (const resolve of this.writableWaiters) resolve();
    this.writableWaiters = [];
    if (drainError !== undefined && !(drainError instanceof EngineError && drainError.code === 'ERR_WORKER_CRASHED')) {
      this.report(drainError instanceof Error ? drainError : new Error(String(drainError)));
    }
  }

  /** Records accepted for crashed workers that nobody will handle: their lanes' unhandled records and their backlogs. */
  private lostToCrashes(): number {
    const T = this.validated.shape.threads;
    let lost = 0;
    this.workerRecords.forEach((record, w) => {
      if (record.state !== 'crashed') return;
      for (let p = 0; p < T; p++) lost += this.core.ringSize(this.arena.ring(laneIndex(p, w + 1, T)).address);
      lost += Atomics.load(this.runtime.i32, (this.arena.scratchOf(w + 1).address + CONTROL_BACKLOG_OFFSET) >> 2);
    });
    return lost;
  }

  private onWorkerGone(w: number, error: Error): void {
    const record = this.workerRecords[w]!;
    if (record.stopping || record.state === 'stopped' || record.state === 'crashed') {
      record.markStopped();
      return;
    }
    const wasRunning = record.state === 'running';
    record.state = 'crashed';
    record.markStopped();
    if (!wasRunning) return;
    // Nobody consumes its lanes any more: close them, so publishers get CLOSED instead of waiting.
    const T = this.validated.shape.threads;
    for (let p = 0; p < T; p++) this.core.ringCloseConsumer(this.arena.ring(laneIndex(p, w + 1, T)).address);
    const crash = new EngineError('ERR_WORKER_CRASHED', 'worker', w, `crashed: ${error.message}`, { cause: error });
    for (const entry of [...this.pending.values()]) {
      if (entry.consumers.includes(w + 1)) {
        entry.cleanup();
        entry.reject(crash);
      }
    }
    this.report(crash);
  }

  private reportHandlerError(topic: string, error: Error): void {
    if (!this.firstErrors.has(topic)) this.firstErrors.set(topic, error);
    this.report(new EngineError('ERR_HANDLER', 'topic', topic, `a handler threw: ${error.message}`, { cause: error }));
  }

  private report(error: Error): void {
    if (this.options.onError !== undefined) this.options.onError(error);
  }

  // ── stats ───────────────────────────────────────────────────────────────────────────────────

  /** Counters summed over every thread (each may be late by one batch); reads shared memory only. */
  stats(): EngineStats {
    const { shape } = this.validated;
    const f64 = this.runtime.f64;
    const i32 = this.runtime.i32;
    const T = shape.threads;
    const topics: Record<string, TopicStats> = {};
    shape.topicNames.forEach((name, id) => {
      const sum = (stat: number): number => {
        let total = 0;
        for (const block of this.arena.scratch) total += f64[((block.address + shape.control.topicStats + id * TOPIC_STAT_BYTES) >> 3) + stat]!;
        return total;
      };
      topics[name] = {
        published: sum(TOPIC_STAT_PUBLISHED), unrouted: sum(TOPIC_STAT_UNROUTED), routed: sum(TOPIC_STAT_ROUTED),
        delivered: sum(TOPIC_STAT_DELIVERED), droppedOldest: sum(TOPIC_STAT_DROPPED_OLDEST),
        droppedNewest: sum(TOPIC_STAT_DROPPED_NEWEST), rejected: sum(TOPIC_STAT_REJECTED),
        callerRuns: sum(TOPIC_STAT_CALLER_RUNS), handlerErrors: sum(TOPIC_STAT_HANDLER_ERRORS),
        ...(this.firstErrors.has(name) ? { firstError: this.firstErrors.get(name)! } : {}),
      };
    });
    const lanes: LaneStats[] = [];
    for (let p = 0; p < T; p++) {
      const control = this.arena.scratchOf(p).address;
      for (let c = 0; c < T; c++) {
        const lane = (control + CONTROL_LANE_STATS_OFFSET + c * LANE_STAT_BYTES) >> 3;
        lanes.push({
          from: p, to: c, published: f64[lane + LANE_STAT_PUBLISHED]!, highWater: f64[lane + LANE_STAT_HIGH_WATER]!,
          depth: this.core.ringSize(this.arena.ring(laneIndex(p, c, T)).address),
        });
      }
    }
    const now = performance.timeOrigin + performance.now();
    const workers: WorkerStats[] = this.workerRecords.map((record, w) => {
      const control = this.arena.scratchOf(w + 1).address;
      const start = f64[(control + CONTROL_START_MS_OFFSET) >> 3]!;
      const since = f64[(control + CONTROL_IDLE_SINCE_MS_OFFSET) >> 3]!;
      const idle = f64[(control + CONTROL_IDLE_MS_OFFSET) >> 3]! + (since !== 0 ? Math.max(0, now - since) : 0);
      const state = Atomics.load(i32, (control + CONTROL_STATE_OFFSET) >> 2);
      return {
        worker: w,
        state: record.state === 'crashed' ? 'crashed' : state === THREAD_STOPPED ? 'stopped' : state === THREAD_RUNNING ? 'running' : 'starting',
        busyMs: start === 0 ? 0 : Math.max(0, now - start - idle), idleMs: idle,
      };
    });
    let late = this.lateReplies;
    let backlog = 0;
    for (const block of this.arena.scratch) {
      late += f64[(block.address + CONTROL_LATE_REPLIES_OFFSET) >> 3]!;
      backlog += Atomics.load(i32, (block.address + CONTROL_BACKLOG_OFFSET) >> 2);
    }
    return { topics, lanes, workers, lateReplies: late, backlog, lostToCrashes: this.lostToCrashes() };
  }
}
