/**
 * The engine's public types: topics, handler modules, options, subscriptions and stats.
 *
 * A topic is a name with a message schema (and, for request/response, a reply schema). Topics are
 * declared once, in a module that both the code creating the engine and the handler module import,
 * so both sides share one typed declaration:
 *
 *   // topics.ts
 *   export const topics = defineTopics({
 *     moves: { schema: defineSchema({ player: 'u32', x: 'f32', y: 'f32' }), key: 'player' },
 *     where: { schema: defineSchema({ player: 'u32' }), reply: defineSchema({ x: 'f32', y: 'f32' }) },
 *   });
 *   // handlers.ts (imported by every worker)
 *   export default defineHandlers(topics, {
 *     move: { topic: 'moves', handle(move, ctx) { ... } },
 *     where: { topic: 'where', handle(query) { return { x: 1, y: 2 }; } },
 *   });
 */
import type { Histogram } from '../histogram.ts';
import type { SubjectPattern, TopicsMatching } from './subjects.ts';
import type { Message, Schema, SchemaReader, SchemaSpec, SchemaWriter } from '../schema.ts';
import type { Backend } from '../../bindings/core-ops.ts';

/** What a publisher does when a receiving lane is full. */
export type BackpressurePolicy = 'block' | 'reject' | 'drop-oldest' | 'drop-newest' | 'caller-runs';
/**
 * A message's priority class. Each class has its own lane between every two threads; a worker
 * handles higher classes first, while lower ones keep a share (options.priorityWeights).
 */
export type Priority = 'high' | 'normal' | 'low';
/** How a group subscription picks its one member. */
export type Balance = 'round-robin' | 'least-loaded';
/** broadcast: every member gets every message; group: exactly one member; keyed: the member the key's hash picks. */
export type DeliveryMode = 'broadcast' | 'group' | 'keyed';

/** One topic's declaration. */
export interface TopicSpec<S extends SchemaSpec = SchemaSpec, R extends SchemaSpec = SchemaSpec> {
  /** The schema of its messages. */
  readonly schema: Schema<S>;
  /** The schema of replies, for request/response. */
  readonly reply?: Schema<R>;
  /** The field whose MurmurHash3 picks the member of a keyed subscription. */
  readonly key?: keyof S & string;
  /** Default back-pressure policy of its subscriptions; default 'block' (loses nothing). */
  readonly backpressure?: BackpressurePolicy;
  /** Priority class of its messages unless a publish says otherwise; default 'normal'. */
  readonly priority?: Priority;
  /**
   * Admission control, over every publishing thread. `maxInFlight`: at most that many deliveries
   * of this topic (one per receiving subscription member) published and not yet handled; a
   * delivery beyond it is refused (counted admissionRefused). `rate`: at most `rate` publishes
   * per second, with bursts of up to `burst` (default a tenth of a second's worth); a publish
   * beyond it is refused before routing (counted rateLimited). Either way publish returns false
   * at once (tryPublish 'full'), and `await engine.whenWritable(topic)` waits for room.
   */
  readonly admission?: { readonly maxInFlight?: number; readonly rate?: number; readonly burst?: number };
  /**
   * Load shedding by priority at publish time: while a receiver's lanes from the publishing
   * thread hold `low` × a lane's capacity (default 0.5), its low-priority deliveries are shed;
   * from `normal` (default 0.8) normal ones too; each stops once the fill falls below half its
   * threshold. High is never shed. `true`: the defaults. Counted per class in stats (shed).
   */
  readonly shed?: boolean | { readonly low?: number; readonly normal?: number };
}

/** Topic name → declaration. */
export type TopicMap = { readonly [name: string]: TopicSpec<any, any> };
export type TopicName<T extends TopicMap> = keyof T & string;
type SpecOf<X> = X extends Schema<infer S> ? S : never;
/** The plain-object message of topic K. */
export type TopicMessage<T extends TopicMap, K extends TopicName<T>> = Message<SpecOf<T[K]['schema']>>;
/**
 * The topics that declare a reply schema: request() and requestAll() take only these (every name
 * when T is not known, as in plain JavaScript: then the engine checks at run time).
 */
export type ReplyTopicName<T extends TopicMap> = string extends TopicName<T>
  ? string
  : { [K in TopicName<T>]: T[K] extends { readonly reply: Schema<any> } ? K : never }[TopicName<T>];
/** The plain-object reply of topic K (never for topics without a reply schema; a union for a union of topics). */
export type TopicReply<T extends TopicMap, K extends TopicName<T>> = K extends unknown ? (T[K]['reply'] extends Schema<infer R> ? Message<R> : never) : never;
/** The flyweight reader a handler of topic K receives (a union for a union of topics: a pattern's). */
export type TopicReader<T extends TopicMap, K extends TopicName<T>> = K extends unknown ? SchemaReader<SpecOf<T[K]['schema']>> : never;
/** The flyweight writer of topic K's staging record. */
export type TopicWriter<T extends TopicMap, K extends TopicName<T>> = SchemaWriter<SpecOf<T[K]['schema']>>;

/** Declares topics; returns them unchanged (typed). */
export function defineTopics<const T extends TopicMap>(topics: T): T {
  return topics;
}

/** What a handler can do besides reading its message; one per thread, reused for every message. */
export interface HandlerContext<T extends TopicMap> {
  /** Worker number 0..N-1, or -1 on the engine's own thread (a caller-runs delivery). */
  readonly worker: number;
  /**
   * Which delivery of this message this call is: 1 the first time; more when earlier deliveries
   * crashed or hung their worker, which was restarted and handed the message again (at-least-once:
   * whatever those deliveries did before they died, including publishing, has happened).
   */
  readonly deliveries: number;
  /** The topic of the message being handled (tells a pattern's handler which topic it got). */
  readonly topic: TopicName<T>;
  /** Publishes from this thread (see Engine.publish). */
  publish<K extends TopicName<T>>(topic: K, fields: TopicMessage<T, K>, priority?: Priority): boolean;
  /** This thread's staging writer of `topic`: set fields, then `send(topic)`. Allocation-free. */
  writer<K extends TopicName<T>>(topic: K): TopicWriter<T, K>;
  /** Publishes what the staging writer of `topic` holds. */
  send(topic: TopicName<T>, priority?: Priority): boolean;
  /** Makes everything this thread published visible now (it also happens after each batch). */
  flush(): void;
}

/**
 * A handler of topic S — a topic name, or a pattern (subjects.ts: `sensor.*.temp`, `sensor.>`)
 * whose handler reads any matching topic's messages (ctx.topic says which): one message per call
 * (`handle`), or the run of its messages waiting in a lane (`handleBatch`).
 */
export type HandlerDef<T extends TopicMap, S extends string> = MessageHandlerDef<T, S> | BatchHandlerDef<T, S>;

/** A handler that runs one message per call. */
export interface MessageHandlerDef<T extends TopicMap, S extends string> {
  readonly topic: S;
  /**
   * Runs one message (a flyweight over it in place: valid during the call). A request's reply is
   * its return value. It may return a Promise (an async handler): the message stays valid, in its
   * lane, until the promise settles; a request is answered with what it resolves to, and a
   * rejection counts as a handler error. Read `ctx.topic` and `ctx.deliveries` before the first
   * await (the context is shared by the thread's deliveries).
   */
  handle(message: TopicReader<T, TopicsMatching<T, S>>, ctx: HandlerContext<T>): TopicReply<T, TopicsMatching<T, S>> | void | PromiseLike<TopicReply<T, TopicsMatching<T, S>> | void>;
}

/**
 * A batch handler: each call gets the run of consecutive messages of its subscription waiting in
 * one lane (natural batching: what is there, never waiting for more, unless `linger`), at most
 * `maxBatch`.
 */
export interface BatchHandlerDef<T extends TopicMap, S extends string> {
  readonly topic: S;
  /** Most messages per call (default: the engine's `batch`). */
  readonly maxBatch?: number;
  /**
   * ms a run shorter than maxBatch may wait in its lane for more messages before the call (0..60000;
   * default 0: call with what is there). The clock starts when the worker first finds the run;
   * meanwhile the lane waits behind it (records of other subscriptions in the same lane too), and
   * the worker parks until the linger ends or a message comes. A caller-runs or stolen delivery
   * never lingers.
   */
  readonly linger?: number;
  /**
   * Runs a batch: `batch.at(i)` (or iteration) re-points one flyweight at message i, so read what
   * you need from a message before taking the next. Requests in the batch are answered with
   * element i of the returned array (or of what its promise resolves to). It may return a Promise:
   * the whole batch stays valid until it settles; a rejection fails every message of the batch.
   */
  handleBatch(batch: TopicBatch<TopicReader<T, TopicsMatching<T, S>>>, ctx: HandlerContext<T>):
    readonly (TopicReply<T, TopicsMatching<T, S>> | undefined)[] | void | PromiseLike<readonly (TopicReply<T, TopicsMatching<T, S>> | undefined)[] | void>;
}

/** The messages of one batch handler call: `length`, `at(i)`, and iteration (one flyweight, re-pointed). */
export interface TopicBatch<M> extends Iterable<M> {
  readonly length: number;
  at(index: number): M;
}

/** Handler name → the topic (or pattern) it handles. */
export type HandlerTopics<T extends TopicMap = TopicMap> = { readonly [name: string]: TopicName<T> | SubjectPattern };

/**
 * What a handler module's default export is: made by defineHandlers. `H` (handler name → topic)
 * exists only in the type, so that subscribe() accepts only the names of the module's handlers of
 * that topic when the engine knows the module's type (createEngine<typeof topics, typeof handlers>).
 */
export interface HandlerModule<T extends TopicMap = TopicMap, H extends HandlerTopics<T> = HandlerTopics<T>> {
  readonly topics: T;
  /** The handlers by name (each typed precisely where defineHandlers declared it). */
  readonly handlers: { readonly [name: string]: HandlerDef<any, any> };
  /** Runs once per thread before its first message (worker state, caches...). */
  readonly setup?: (ctx: HandlerContext<T>) => void;
  /** Type only (never set): the handlers' topics by name. */
  readonly handlerTopics?: H;
}

/**
 * The names of module M's handlers that may subscribe to subject K: handlers of K itself, and for
 * a topic name also handlers of a pattern it matches (any string when M's handlers are not known).
 */
export type HandlerNameFor<M, K extends string> = M extends { readonly topics: infer T extends TopicMap; readonly handlerTopics?: infer H }
  ? string extends keyof H ? string
    : { [N in keyof H]: H[N] extends K ? N : K extends TopicsMatching<T, H[N] & string> ? N : never }[keyof H] & string
  : string;

/**
 * Declares the handlers a worker runs. The module that calls this must `export default` the
 * result; the engine imports it in every worker (and on its own thread for caller-runs).
 */
export function defineHandlers<T extends TopicMap, const H extends HandlerTopics<T>>(
  topics: T,
  handlers: { readonly [N in keyof H]: HandlerDef<T, H[N]> },
  options: { setup?: (ctx: HandlerContext<T>) => void } = {},
): HandlerModule<T, H> {
  return { topics, handlers, setup: options.setup } as HandlerModule<T, H>;
}

/** A Web Worker, as options.worker returns it (typed structurally so Node's types need no DOM). */
export interface WebWorkerLike {
  postMessage(message: unknown): void;
  terminate(): void;
  addEventListener(type: 'message' | 'error' | 'messageerror', listener: (event: any) => void): void;
}

/** Options of createEngine. */
export interface EngineOptions<T extends TopicMap, M extends HandlerModule<T, any> = HandlerModule<T>> {
  /** The topics (the same object the handler module declares). */
  readonly topics: T;
  /**
   * The handler module every worker imports: a URL, or a file path (Node: resolved against the
   * cwd; browsers: against the page). In a browser bundle it may be the imported module itself
   * (its default export), with `worker` starting a worker script that calls
   * serveEngineWorker(handlers): the bundler then bundles the handlers into that script.
   */
  readonly handlers: string | URL | M;
  /**
   * Browsers: starts engine worker `index` (0-based), e.g.
   * `() => new Worker(new URL('./engine-worker.js', import.meta.url), { type: 'module' })`.
   * Default: the package's own worker script, which imports `handlers` by URL.
   */
  readonly worker?: (index: number) => WebWorkerLike;
  /**
   * Where the core's .wasm is served, when a bundler does not rewrite the package's
   * `new URL('../core.release.wasm', import.meta.url)` (esbuild, say). Default: next to the package.
   */
  readonly coreUrl?: string | URL;
  /** Worker threads; default: available cores under Node, one fewer in browsers (at least 1); at most 35 (the arena directory holds (workers + 1)² × 3 lanes). */
  readonly workers?: number;
  /** 'wasm' (default) or 'js': which implementation of the core every thread uses. */
  readonly backend?: Backend;
  /** Records per lane (ring), a power of two in [2, 2^24] (RING_MAX_CAPACITY); default 1024. */
  readonly ringCapacity?: number;
  /** Subscription slots, 1..1024; default 64. */
  readonly maxSubscriptions?: number;
  /** A lane is flushed (made visible) once this many records are pending, 1..4096; default 64. */
  readonly flushEvery?: number;
  /** Records a worker handles from one lane before it looks at the next, 1..65536; default 256. */
  readonly batch?: number;
  /**
   * Empty polls a worker spins before it parks, 0..10^7. Waking a parked worker costs its producer
   * a notify and ~35 µs of latency on this VM; a longer spin keeps a busy stream from parking
   * between bursts, at the price of that much CPU per idle gap, and of the producer's core when
   * threads outnumber cores. Default: 20000 (about 1–3 ms here), spent only while the engine
   * threads that are awake (workers handling or spinning, the creating thread publishing) fit the
   * machine's cores; otherwise an idle worker parks at once. A number given here is always spent.
   */
  readonly spin?: number;
  /**
   * The starvation guard: while a higher priority class has work, each lower class still gets
   * `batch × its weight ÷ high's weight` records per lane per pass (at least 1), so under
   * saturation the classes share a worker roughly in these proportions. Positive integers,
   * high ≥ normal ≥ low; default { high: 16, normal: 4, low: 1 }.
   */
  readonly priorityWeights?: { readonly high?: number; readonly normal?: number; readonly low?: number };
  /**
   * Latency histograms (engine.latency(), engine.metrics()): queue wait and handler time per
   * topic, sampled — every `sampleEvery`-th push of each publishing thread is stamped and timed
   * (1..2^20; default 128) — and request round trips (the first, then every `sampleEvery`-th
   * request). `false`: none (no clock reads, no histogram memory). README "Latency" says what
   * sampling does to accuracy.
   */
  readonly latency?: { readonly sampleEvery?: number } | false;
  /**
   * Milliseconds a worker publishing under 'block' waits for space before the message spills into
   * its backlog (kept in order, never lost): two workers publishing into each other's full lanes
   * from inside handlers would otherwise wait for each other forever. 0..600000; default 50. For
   * a lane whose consumer is being restarted it waits longer (up to 5000 ms in all, or half of
   * handlerTimeout), since a spilled message lives in the publishing worker's memory.
   */
  readonly blockTimeout?: number;
  /** Milliseconds to wait for the workers to start; default 30000. */
  readonly startTimeout?: number;
  /** Which build of the Wasm core: 'release' (default) or 'debug' (assertions on). */
  readonly coreBuild?: 'release' | 'debug';
  /** Called with every handler's first error per topic and worker, and with crashed workers. */
  readonly onError?: (error: Error) => void;
  /**
   * Supervision: a worker that exits, throws out of its loop, fails in setup() or hangs (see
   * handlerTimeout) is restarted in place — same worker number, lanes and subscriptions — and its
   * successor handles what it held. At most `maxRestarts` restarts per worker within `windowMs`
   * (default 10 per 60000 ms); past that the worker
   * stays down (ERR_WORKER_RESTART_LIMIT to onError) and its messages count as lost. false: never
   * restart (a crashed worker stays down at once).
   *
   * A crash loop backs off: a successor that dies within a second of starting is replaced after
   * `minBackoffMs` (default 10), doubling per further quick death up to `maxBackoffMs` (default
   * 1000); the first crash after a successor ran a second or more is replaced at once.
   */
  readonly restart?: {
    readonly maxRestarts?: number;
    readonly windowMs?: number;
    readonly minBackoffMs?: number;
    readonly maxBackoffMs?: number;
  } | false;
  /**
   * Milliseconds a handler may run before it counts as hung: its worker is terminated and
   * restarted, and the message counts a delivery attempt. Checked by sampling (every quarter of
   * it, at least 5 ms): a hang is noticed between handlerTimeout and 1.25 × handlerTimeout + 5 ms.
   * Time a handler spends waiting for lane space under 'block' counts. Default: none.
   */
  readonly handlerTimeout?: number;
  /**
   * Deliveries a message gets whose handling crashed or hung its worker before it becomes a dead
   * letter (not retried again), 1..1000; default 3.
   */
  readonly maxDeliveries?: number;
  /** Receives dead letters on the engine's thread (poison messages, circuit-open rejections). */
  readonly onDeadLetter?: (letter: DeadLetter) => void;
  /**
   * Node only: records every message of the named topics in an append-only journal on disk
   * (README "Journal"), written by a thread of its own fed like any subscriber — publishing
   * never waits on the disk; a journal that falls behind pushes back like a slow worker.
   */
  readonly journal?: JournalOptions<T>;
  /**
   * Deterministic mode: every choice of which worker gets a message, and in what order, is a
   * function of what each thread published — keyed hashes, and group round-robin cursors that are
   * per publishing thread and start at zero — and every choice that would depend on load or time
   * is refused with a ConfigError: least-loaded balance, work stealing, circuit breakers,
   * back-pressure policies other than 'block', admission limits, shedding, priority classes other
   * than 'normal'. Replaying a journal of the engine's inputs into a fresh engine made the same way
   * then gives every worker the same messages from each publishing thread, in the same order
   * (README "Deterministic mode"). Default false.
   */
  readonly deterministic?: boolean;
}

/**
 * When the journal thread calls fdatasync: never ('none': the OS writes back on its own), after
 * every batch it wrote ('always': group commit, one sync per batch), or at most every `intervalMs`.
 * What each can lose: README "Journal".
 */
export type JournalFsync = 'none' | 'always' | { readonly intervalMs: number };

export interface JournalOptions<T extends TopicMap> {
  /** The journal's directory (created if missing; an existing journal is appended to). */
  readonly dir: string | URL;
  /** Topics to journal; default every topic without a reply schema (request topics are not journaled). */
  readonly topics?: readonly TopicName<T>[];
  /** Default { intervalMs: 100 }. */
  readonly fsync?: JournalFsync;
  /** A segment file is rolled at this size, bytes in [65536, 2^30]; default 64 MiB. */
  readonly segmentBytes?: number;
  /**
   * What is kept: whole segments older than `maxAgeMs`, and the oldest while the journal is larger
   * than `maxBytes` (at least two segments), are deleted; records a durable subscription had not
   * received by then count in its `dropped`. Default: everything, forever.
   */
  readonly retention?: { readonly maxAgeMs?: number; readonly maxBytes?: number };
}

/** Why a message became a dead letter. */
export type DeadLetterReason = 'crashed' | 'hung' | 'circuit-open';

/** A message the engine gave up on, as onDeadLetter receives it on the engine's thread. */
export interface DeadLetter {
  readonly topic: string;
  /** The message's fields, decoded into a plain object. */
  readonly fields: Record<string, unknown>;
  /** 'crashed'/'hung': its last delivery crashed or hung its worker (maxDeliveries reached); 'circuit-open': its subscription's circuit was open. */
  readonly reason: DeadLetterReason;
  /** Deliveries it had (for 'circuit-open': those before this one, which did not run). */
  readonly deliveries: number;
  /** The worker it was meant for. */
  readonly worker: number;
  /** The handler (of the handler module) it was meant for. */
  readonly handler: string;
}

/** A circuit breaker of a subscription (per worker): see SubscribeOptions.circuit. */
export interface CircuitOptions {
  /** Handler errors (throws) within `windowMs` that open the circuit, 1..255. */
  readonly failures: number;
  /** The window failures are counted in, ms. */
  readonly windowMs: number;
  /** How long the circuit stays open before one trial message runs (half-open), ms. */
  readonly cooldownMs: number;
}

export interface SubscribeOptions<H extends string = string> {
  /** Name of the handler (a key of the handler module's handlers) that receives the messages. */
  readonly handler: H;
  /** Default 'broadcast'. */
  readonly mode?: DeliveryMode;
  /** Workers (0..N-1) that take part; default all. */
  readonly workers?: readonly number[];
  /** Overrides the topic's policy for this subscription. */
  readonly backpressure?: BackpressurePolicy;
  /** group mode only; default 'round-robin'. */
  readonly balance?: Balance;
  /**
   * A circuit breaker on each member worker: after `failures` handler errors within `windowMs` the
   * circuit opens, and the subscription's messages on that worker are not run but dead-lettered
   * with reason 'circuit-open'; after `cooldownMs` one trial message runs (half-open): success
   * closes the circuit, an error opens it again. Default: none.
   */
  readonly circuit?: CircuitOptions;
  /**
   * group mode only: work stealing. A member that is idle takes records of this subscription
   * queued behind a busy member (one at a time, newest first, exactly once), so one slow message
   * does not hold up the ones behind it while other members wait. Default false.
   */
  readonly steal?: boolean;
  /**
   * Async handlers (a handler that returns a Promise): how many of this subscription's deliveries
   * one member worker runs at once, their promises pending (1..65535, default 64). At the limit
   * the worker stops taking this lane's records (in order) until one settles. Synchronous
   * handlers are unaffected.
   */
  readonly concurrency?: number;
  /**
   * Node, with a journal of this topic (EngineOptions.journal): a durable subscription under this
   * name (1–64 of A–Z a–z 0–9 . _ -). Its messages come from the journal, not the publishers:
   * while it is absent (unsubscribed, engine closed, process restarted) they are kept; when a
   * subscription of the same name comes back it receives them from its acknowledged position, then
   * the new ones, with no gap. Mode 'group' (default here) or 'keyed'. README "Durable subscriptions".
   */
  readonly durable?: string;
}

export interface Subscription {
  /** Its first slot in the subscription table. */
  readonly id: number;
  /** The topic or pattern subscribed to. */
  readonly topic: string;
  /** The declared topics it receives: the topic itself, or every topic the pattern matched. */
  readonly topics: readonly string[];
  readonly handler: string;
  readonly mode: DeliveryMode;
  readonly workers: readonly number[];
  /** Its policy (a pattern without one given: each topic's own default; this is the first topic's). */
  readonly backpressure: BackpressurePolicy;
  readonly balance: Balance;
  /** The durable name (SubscribeOptions.durable), if durable. */
  readonly durable?: string;
  /** Stops routing new messages to it; messages already accepted are still delivered. */
  unsubscribe(): Promise<void>;
}

export interface RequestOptions {
  /** Milliseconds before the request rejects with ERR_REQUEST_TIMEOUT; default none. */
  readonly timeout?: number;
  /** Aborting rejects the request with ERR_REQUEST_ABORTED. */
  readonly signal?: AbortSignal;
  /** Priority class of the request (its reply travels in the same class); default: the topic's. */
  readonly priority?: Priority;
}

/**
 * Counters of one topic, summed over threads; each may be late by a batch. After drain() they obey,
 * crash or no crash, the accounting identity
 *
 *   routed = delivered + deadLettered + droppedOldest + droppedNewest + rejected + lost
 *            + admissionRefused + shed.high + shed.normal + shed.low
 *
 * (every lane copy made is handled once, given up on, refused or lost), with `crashed` and
 * `redelivered` counting the extra delivery attempts of messages whose handling killed a worker.
 */
/** One topic's latency histograms (snapshots, nanoseconds): engine.latency(). */
export interface TopicLatency {
  /** Publish (push into the lane) → its handler starts: sampled deliveries (options.latency). */
  readonly queueWait: Histogram;
  /** Handler start → return (async: → settle; a batch handler: its call): the same samples. */
  readonly handler: Histogram;
  /** request()/requestAll() → the reply that settles it, on the engine's thread: sampled requests (options.latency). */
  readonly roundTrip: Histogram;
}

/** engine.latency(): per topic, and the sampling identity's two sides (latency.ts). */
export interface LatencyReport {
  readonly topics: Readonly<Record<string, TopicLatency>>;
  /** Epoch ms the histograms count from: the engine's creation. */
  readonly since: number;
  /** Records stamped for sampling, over every publishing thread. */
  readonly stamped: number;
  /** Stamped records not measured (replies, dead letters, records inside a batch run, stolen ones); after drain, stamped = Σ queueWait.count + skipped. */
  readonly skipped: number;
}

export interface TopicStats {
  /** publish() calls accepted by at least one lane or handled inline. */
  published: number;
  /** publish() calls that found no subscription. */
  unrouted: number;
  /** Lane copies made by routing (one per receiving member). */
  routed: number;
  /** Handler calls (including caller-runs and calls that threw). */
  delivered: number;
  droppedOldest: number;
  droppedNewest: number;
  rejected: number;
  callerRuns: number;
  handlerErrors: number;
  /** Of delivered, calls of a message whose earlier deliveries crashed or hung a worker (ctx.deliveries > 1). */
  redelivered: number;
  /** Deliveries that crashed or hung their worker (not in delivered: the handler never returned). */
  crashed: number;
  /** Messages given up on: poison messages (maxDeliveries reached) and circuit-open rejections. */
  deadLettered: number;
  /** Of deadLettered, those whose subscription's circuit was open. */
  circuitOpen: number;
  /**
   * Accepted messages no handler will run: held by a worker that stays down (restart limit, or
   * restart: false) or waiting in the own backlog of a worker that crashed.
   */
  lost: number;
  /** Deliveries refused because maxInFlight of the topic were in flight (TopicSpec.admission). */
  admissionRefused: number;
  /** Of delivered, deliveries run by an idle member that took them from another member's lane (steal). */
  stolen: number;
  /** Publishes refused because the topic's rate (admission.rate) had no token left; not routed, so not in the identity. */
  rateLimited: number;
  /** Deliveries in flight now (admitted, not yet handled): only for a topic with an admission limit, else 0. */
  inFlight: number;
  /** Deliveries shed at publish time, per priority class (TopicSpec.shed; high is never shed). */
  shed: { high: number; normal: number; low: number };
  /** The first handler error seen for this topic, if any. */
  firstError?: Error;
}

/** One lane: the ring from thread `from` to thread `to` (0 = the engine's own thread, w + 1 = worker w) for one priority class. */
export interface LaneStats {
  from: number;
  to: number;
  priority: Priority;
  /** Records made visible on it. */
  published: number;
  /** Records visible and not yet handled. */
  depth: number;
  /** Highest depth its producer saw at a flush. */
  highWater: number;
}

export interface WorkerStats {
  worker: number;
  /** 'restarting': crashed or hung, a successor is on its way; 'crashed': down for good (restart limit, or restart: false). */
  state: 'starting' | 'running' | 'restarting' | 'stopped' | 'crashed';
  /** Times it was restarted. */
  restarts: number;
  busyMs: number;
  idleMs: number;
}

/** One worker's circuit breaker of one subscription (slot). */
export interface CircuitStats {
  /** The subscription slot (Subscription.id for a topic; a pattern has one slot per topic). */
  subscription: number;
  topic: string;
  handler: string;
  worker: number;
  state: 'closed' | 'open' | 'half-open';
  /** Times it opened. */
  opened: number;
}

export interface EngineStats {
  topics: Record<string, TopicStats>;
  lanes: LaneStats[];
  workers: WorkerStats[];
  /** Replies that arrived after their request timed out, was aborted or already answered. */
  lateReplies: number;
  /** Records waiting in publishers' backlogs (a full lane under block on the engine's thread, or drop-oldest). */
  backlog: number;
  /** Sum of every topic's `lost`. */
  lostToCrashes: number;
  /** The circuit breakers of subscriptions that have one, per member worker. */
  circuits: CircuitStats[];
  /** Empty polls a worker spins before it parks (options.spin, or the default). */
  spin: number;
  /** Whether spin is the default, spent only while the awake engine threads fit the cores. */
  adaptiveSpin: boolean;
  /** The journal's extent and its active durable subscriptions, by name; absent without a journal. */
  journal?: JournalStats;
}

export interface JournalStats {
  /** Index of the oldest record kept, and the index the next record gets. */
  first: number;
  next: number;
  durable: Record<string, DurableStats>;
}

export interface DurableStats {
  topic: string;
  /** Every message before this journal index was handled (what a restart resumes from, once saved). */
  acked: number;
  /** The next journal index it forwards. */
  forwarded: number;
  /** Records of the journal not yet forwarded (all topics' records count). */
  behind: number;
  /** Records retention removed before they reached it. */
  dropped: number;
}
