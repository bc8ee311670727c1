/**
 * The public types of createEngine's options: EngineOptions, the Web Worker it may start, and the
 * dead letters onDeadLetter receives. Their validation is options.ts's; types.ts re-exports every
 * public type.
 */
import type { Backend } from '../../bindings/core-ops.ts';
import type { HandlerModule } from './handler-types.ts';
import type { TopicMap, TopicName } from './topic-types.ts';

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
   * (1..2^20; default 128, stretched up to 8192 while a thread's stamps come less than 1 ms apart,
   * so a busy publisher samples about once a ms; a value set here is kept exactly) — and request
   * round trips (the first, then every `sampleEvery`-th request). `false`: none (no clock reads, no histogram memory). README "Latency" says what
   * sampling does to accuracy.
   */
  readonly latency?: { readonly sampleEvery?: number } | false;
  /**
   * The fan-out pool (off unless given): a message of a topic whose schema is at least `minBytes`
   * bytes (64..65535; default 16384), routed to two or more receivers, is copied once into one of
   * `slots` shared slots (a power of two, 1..65536; default 2 × ringCapacity, halved while the
   * slots would take more than 16 MiB), and each receiver's lane gets a reference to it instead of
   * its own copy; the slot is freed when the last receiver is done. When every slot is taken, or a
   * lane is full and its policy keeps or runs the message elsewhere, the message is copied per
   * receiver as without the pool (never refused for it). Memory: slots × (the largest such message
   * + 8 bytes). Off by default: on a 2-core machine, with handlers that copy the payload out, it
   * measured no faster than a copy per receiver (README, "Fan-out of large messages").
   */
  readonly pool?: { readonly slots?: number; readonly minBytes?: number } | false;
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
