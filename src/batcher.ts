/**
 * createBatcher: concurrent load(key) calls toward a slow resource coalesce into one call of the
 * user's fn(keys), and its results are split back to the loads, in the manner of Facebook's
 * DataLoader (github.com/graphql/dataloader) with the batching made optimistic and bounded:
 *
 *   load(k1) load(k2) load(k1) …          ┌ open batch ┐ due: end of job / turn / maxWaitMs / full
 *        └────────────┬────────┘  ─────▶  │ k1 k2 …    │ ──┐
 *                     │                   └────────────┘   │  full batches wait in order
 *        the same promise for equal keys                    ▼
 *                                           concurrency slot free? rate token? ── no: keep
 *                                                    │ yes                          coalescing
 *                                                    ▼
 *                                            fn([k1, k2, …]) ─▶ results[i] settles key i
 *
 * - A batch is due when the job it was opened in is over (maxWaitMs 0, dispatch 'job': whatever
 *   the task and its microtasks loaded, one call, as DataLoader does), or the event-loop turn
 *   (dispatch 'turn': in Node every timer or I/O callback of the same loop phase too), after
 *   maxWaitMs from its first key otherwise, or as soon as it took maxBatch loads (repeated keys
 *   count: see Batch.loads).
 * - At most `concurrency` calls are in flight, at most `rate` calls per second start (a token
 *   bucket of `burst`). A due batch held back by either stays open and keeps taking loads up to
 *   maxBatch: under load the batches grow, which is what lets a slow resource keep up.
 * - Equal keys (by `key(k)`, default the key itself, Map identity) within one batch are one key of
 *   fn's call and share one promise. Nothing is cached across batches: a key loaded again after
 *   its call was made goes to the resource again.
 * - results[i] an Error rejects key i alone; fn throwing or rejecting rejects the whole batch with
 *   that value; a result that is not one value per key rejects the whole batch with BatcherError
 *   ERR_BATCH_RESULT.
 *
 * It uses nothing but timers and performance.now(), so it runs on any thread: Node's main thread
 * or a worker_thread, a browser page or Web Worker, an engine handler.
 */
import { BatcherError, ConfigError } from './errors.ts';
import { BatcherRecorder, LIMITED_BY_CONCURRENCY, LIMITED_BY_RATE, NOT_LIMITED, type BatcherStats } from './batcher-stats.ts';
import { TokenBucket } from './token-bucket.ts';
import { afterJob, afterTurn } from './after-turn.ts';

export type { BatcherStats } from './batcher-stats.ts';

/**
 * The call toward the resource: one result per key, in the keys' order; an Error in place i
 * rejects key i only. `keys` is the call's own array (it is not reused).
 */
export type BatchFunction<K, V> = (keys: readonly K[]) => PromiseLike<ArrayLike<V | Error>> | ArrayLike<V | Error>;

export interface BatcherOptions<K> {
  /**
   * Most loads per batch, so most keys per call (fewer when loads repeat a key); a batch that
   * reaches it is due at once. Integer ≥ 1; default 256.
   */
  readonly maxBatch?: number;
  /**
   * ms a batch lingers for more keys after its first. Default 0: no timer, the batch is due when
   * the job or turn it was opened in is over (`dispatch`).
   */
  readonly maxWaitMs?: number;
  /**
   * With maxWaitMs 0, when a batch is due. 'job' (default): once the task that opened it and every
   * microtask it queued are done (Node: a promise job then process.nextTick, DataLoader's
   * schedule): an engine's drain pass, or one request's promise chain, is one call. 'turn': at the
   * end of the event-loop turn (Node: setImmediate), so loads from every timer or I/O callback that
   * fired in the same loop phase join too — bigger batches from independent callbacks (sockets,
   * timers), at the latency of the rest of the phase. Browsers have no hook after the last
   * microtask: both are a MessageChannel task there.
   */
  readonly dispatch?: 'job' | 'turn';
  /** Most fn calls in flight; further due batches wait and keep coalescing. Integer ≥ 1 or Infinity; default 4. */
  readonly concurrency?: number;
  /** Most fn calls started per second (a token bucket); default none. */
  readonly rate?: number;
  /** Calls the rate limit lets start at once after an idle spell (the bucket's size). Needs `rate`; default 1. */
  readonly burst?: number;
  /** A key's identity for de-duplication within a batch (compared as Map keys do). Default: the key itself. */
  readonly key?: (key: K) => unknown;
}

export interface Batcher<K, V> {
  /** The value fn gives for `key`, from the call of the batch it joins. Rejects with ERR_BATCHER_CLOSED after close(). */
  load(key: K): Promise<V>;
  /** load() of every key; resolves when all are settled, with each key's value or its Error. */
  loadMany(keys: readonly K[]): Promise<(V | Error)[]>;
  /** Makes the open batch due now, without waiting for the end of the job or turn or maxWaitMs (limits still apply). */
  flush(): void;
  /**
   * The figures so far: queue, calls in flight, histograms, saturation. A snapshot: it copies the
   * three histograms (about 75 KB), so read it per second or per scrape, not per load.
   */
  stats(): BatcherStats;
  /**
   * Rejects every load still waiting for its call with BatcherError ERR_BATCHER_CLOSED, and
   * resolves once the calls in flight are answered (their loads settle as usual). Later loads reject.
   */
  close(): Promise<void>;
  /** close(), for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

export const BATCHER_DEFAULTS = { maxBatch: 256, maxWaitMs: 0, dispatch: 'job', concurrency: 4, burst: 1 } as const;

/** Longest timer delay (setTimeout clamps longer ones to 1 ms). */
const MAX_TIMER_MS = 0x7fffffff;
/** Keys per clock reading of a batch's loadedAt (a power of two). */
const CLOCK_EVERY = 16;
/** Largest maxBatch: a batch's arrays grow to it. */
const MAX_BATCH_LIMIT = 1 << 24;

/** Creates a batcher over `fn`; throws ConfigError naming the option for a bad one. */
export function createBatcher<K, V>(fn: BatchFunction<K, V>, options: BatcherOptions<K> = {}): Batcher<K, V> {
  if (typeof fn !== 'function') throw new ConfigError('fn', fn, 'must be a function (keys) => results');
  if (options === null || typeof options !== 'object') throw new ConfigError('options', options, 'must be an object');
  const maxBatch = options.maxBatch ?? BATCHER_DEFAULTS.maxBatch;
  if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > MAX_BATCH_LIMIT) {
    throw new ConfigError('maxBatch', maxBatch, `must be an integer in [1, ${MAX_BATCH_LIMIT}]`);
  }
  const maxWaitMs = options.maxWaitMs ?? BATCHER_DEFAULTS.maxWaitMs;
  if (typeof maxWaitMs !== 'number' || !(maxWaitMs >= 0) || maxWaitMs > MAX_TIMER_MS) {
    throw new ConfigError('maxWaitMs', maxWaitMs, `must be a number of milliseconds in [0, ${MAX_TIMER_MS}]`);
  }
  const dispatch = options.dispatch ?? BATCHER_DEFAULTS.dispatch;
  if (dispatch !== 'job' && dispatch !== 'turn') throw new ConfigError('dispatch', dispatch, "must be 'job' or 'turn'");
  const concurrency = options.concurrency ?? BATCHER_DEFAULTS.concurrency;
  if (!(concurrency === Infinity || (Number.isInteger(concurrency) && concurrency >= 1))) {
    throw new ConfigError('concurrency', concurrency, 'must be an integer ≥ 1, or Infinity');
  }
  const rate = options.rate;
  if (rate !== undefined && (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0)) {
    throw new ConfigError('rate', rate, 'must be a finite number of calls per second > 0 (or left out)');
  }
  if (options.burst !== undefined && rate === undefined) throw new ConfigError('burst', options.burst, 'needs a rate');
  const burst = options.burst ?? BATCHER_DEFAULTS.burst;
  if (!Number.isInteger(burst) || burst < 1) throw new ConfigError('burst', burst, 'must be an integer ≥ 1');
  const key = options.key;
  if (key !== undefined && typeof key !== 'function') throw new ConfigError('key', key, 'must be a function key => identity');
  return new BatchQueue(fn, { maxBatch, maxWaitMs, dispatch, concurrency, rate, burst, key });
}

interface Settings<K> {
  readonly maxBatch: number;
  readonly maxWaitMs: number;
  readonly dispatch: 'job' | 'turn';
  readonly concurrency: number;
  readonly rate: number | undefined;
  readonly burst: number;
  readonly key: ((key: K) => unknown) | undefined;
}

/**
 * One call's keys and the loads waiting on them. A new one per call: kept for reuse, a batch ages
 * into the old generation, and the young promises and arrays it then holds made V8 promote and
 * pretenure them (8 mark-compacts in 4 s at 300 k loads/s, 10 % of the throughput, against none).
 */
class Batch<K, V> {
  /** Distinct keys in load order: fn's argument. */
  readonly keys: K[] = [];
  /**
   * Loads it took, repeated keys included: it is full at maxBatch loads, not keys. The loads one
   * call answers come back together and load again together; were a batch to take more loads than
   * maxBatch (repeats costing no key), the next round's would overflow a full batch by a few and
   * leave a trail of calls of a few keys each (measured: calls of 1–3 keys among full ones, 80
   * keys a call on average at concurrency ∞ in bench/batcher.ts's cohorts).
   */
  loads = 0;
  /** Each key identity's promise, which a load of an equal key shares. */
  readonly promises = new Map<unknown, Promise<V>>();
  readonly resolves: ((value: V) => void)[] = [];
  readonly rejects: ((reason: unknown) => void)[] = [];
  /**
   * When each key was first loaded (performance.now() ms), for the wait histogram: read for every
   * CLOCK_EVERY-th key (and the first); the keys between take the last reading.
   */
  readonly loadedAt: number[] = [];
  /** The last clock reading of loadedAt. */
  clock = 0;
  /** Its turn or linger is over (or flush()): called as soon as the limits let it. */
  due = false;
  /** The maxWaitMs timer of the open batch. */
  linger: ReturnType<typeof setTimeout> | undefined = undefined;

  rejectAll(reason: unknown): void {
    for (let i = 0; i < this.rejects.length; i++) this.rejects[i]!(reason);
  }
}

function closedError(): BatcherError {
  return new BatcherError('ERR_BATCHER_CLOSED', 'batcher', 'closed', 'the batcher was closed before this key was called');
}

function passValue<V>(value: V): V {
  return value;
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason
    : new BatcherError('ERR_BATCH_FAILED', 'fn', reason, 'the call failed with a value that is not an Error', { cause: reason });
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function';
}

/** The batcher: the open batch, the full ones waiting, the calls in flight and the limits over them. */
class BatchQueue<K, V> implements Batcher<K, V> {
  private readonly settings: Settings<K>;
  private readonly bucket: TokenBucket | null;
  private readonly recorder: BatcherRecorder;
  /** The batch new keys join; null until the next load. */
  private open: Batch<K, V> | null = null;
  /** Full batches, oldest first, each waiting for a slot (or a token). */
  private readonly full: Batch<K, V>[] = [];
  private inFlight = 0;
  private queuedKeys = 0;
  private closed = false;
  private pumping = false;
  /** An afterJob / afterTurn callback is pending: it makes whatever batch is open then due. */
  private turnPending = false;
  private rateTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  private idle: (() => void) | undefined = undefined;
  private idlePromise: Promise<void> | undefined = undefined;
  /** The resolving functions of the promise being made: one executor for every load, no closure each. */
  private nextResolve: (value: V) => void = passValue;
  private nextReject: (reason: unknown) => void = passValue;
  private readonly capture = (resolve: (value: V) => void, reject: (reason: unknown) => void): void => {
    this.nextResolve = resolve;
    this.nextReject = reject;
  };
  private readonly onBatchEnd = (): void => {
    this.turnPending = false;
    if (this.open !== null) this.open.due = true;
    this.pump();
  };
  private readonly onLinger = (): void => {
    if (this.open === null) return;
    this.open.linger = undefined;
    this.open.due = true;
    this.pump();
  };
  private readonly onToken = (): void => {
    this.rateTimer = undefined;
    this.pump();
  };

  constructor(private readonly fn: BatchFunction<K, V>, settings: Settings<K>) {
    const now = performance.now();
    this.settings = settings;
    this.bucket = settings.rate === undefined ? null : new TokenBucket(settings.rate, settings.burst, now);
    this.recorder = new BatcherRecorder(settings.maxBatch, now);
  }

  load(key: K): Promise<V> {
    if (this.closed) return Promise.reject(closedError());
    const identity = this.settings.key === undefined ? key : this.settings.key(key);
    const batch = this.open ?? this.openBatch();
    this.recorder.loads++;
    batch.loads++;
    let promise = batch.promises.get(identity);
    if (promise !== undefined) {
      this.recorder.deduplicated++;
    } else {
      promise = new Promise<V>(this.capture);
      batch.promises.set(identity, promise);
      batch.keys.push(key);
      batch.resolves.push(this.nextResolve);
      batch.rejects.push(this.nextReject);
      // A clock read costs 25–60 ns, a quarter of a load: one per CLOCK_EVERY keys. A key's wait is
      // then counted from its group's reading: overstated by at most what CLOCK_EVERY loads take.
      if ((batch.keys.length & (CLOCK_EVERY - 1)) === 1) batch.clock = performance.now();
      batch.loadedAt.push(batch.clock);
      this.queuedKeys++;
    }
    if (batch.loads >= this.settings.maxBatch) {
      // Full: due at once, behind the full batches before it. The next load opens another.
      if (batch.linger !== undefined) clearTimeout(batch.linger);
      batch.linger = undefined;
      batch.due = true;
      this.open = null;
      this.full.push(batch);
      this.pump();
    }
    return promise;
  }

  loadMany(keys: readonly K[]): Promise<(V | Error)[]> {
    const settled: Promise<V | Error>[] = new Array(keys.length);
    for (let i = 0; i < keys.length; i++) settled[i] = this.load(keys[i]!).then(passValue, asError);
    return Promise.all(settled);
  }

  flush(): void {
    if (this.open === null) return;
    this.open.due = true;
    this.pump();
  }

  stats(): BatcherStats {
    return this.recorder.read(performance.now(), {
      inFlight: this.inFlight,
      concurrency: this.settings.concurrency,
      queuedKeys: this.queuedKeys,
      queuedBatches: this.full.length + (this.open === null ? 0 : 1),
    });
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      if (this.rateTimer !== undefined) clearTimeout(this.rateTimer);
      this.rateTimer = undefined;
      const error = closedError();
      const waiting = this.open === null ? this.full.splice(0) : [...this.full.splice(0), this.open];
      this.open = null;
      for (const batch of waiting) {
        if (batch.linger !== undefined) clearTimeout(batch.linger);
        batch.rejectAll(error);
      }
      this.queuedKeys = 0;
      this.recorder.limitedBy(NOT_LIMITED, performance.now());
    }
    if (this.inFlight === 0) return Promise.resolve();
    return this.idlePromise ??= new Promise<void>((resolve) => { this.idle = resolve; });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** A batch for the next key, with the trigger that makes it due: the end of this turn, or maxWaitMs. */
  private openBatch(): Batch<K, V> {
    const batch = new Batch<K, V>();
    this.open = batch;
    if (this.settings.maxWaitMs > 0) {
      batch.linger = setTimeout(this.onLinger, this.settings.maxWaitMs);
    } else if (!this.turnPending) {
      this.turnPending = true;
      if (this.settings.dispatch === 'job') afterJob(this.onBatchEnd);
      else afterTurn(this.onBatchEnd);
    }
    return batch;
  }

  /**
   * Calls every due batch the limits let through, oldest first: the full batches in order, then
   * the open one if it is due. Stops at the first that must wait, which stays where it is (the open
   * one keeps taking keys), and notes what it waits on. Called after anything that may let a batch
   * go: a batch became due, a call was answered, a token came. A call answered synchronously from
   * inside (fn not returning a promise) lets the loop go on rather than nesting.
   */
  private pump(): void {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    try {
      for (;;) {
        const now = performance.now();
        const batch = this.full.length > 0 ? this.full[0]! : this.open !== null && this.open.due ? this.open : null;
        if (batch === null) {
          this.recorder.limitedBy(NOT_LIMITED, now);
          return;
        }
        if (this.inFlight >= this.settings.concurrency) {
          // No timer: the answer of a call in flight pumps again.
          this.recorder.limitedBy(LIMITED_BY_CONCURRENCY, now);
          return;
        }
        if (this.bucket !== null) {
          const wait = this.bucket.tryTake(now);
          if (wait > 0) {
            this.recorder.limitedBy(LIMITED_BY_RATE, now);
            // setTimeout waits at least 1 ms (whole ms in browsers): the token is there by then.
            this.rateTimer ??= setTimeout(this.onToken, Math.ceil(wait));
            return;
          }
        }
        if (batch === this.open) {
          if (batch.linger !== undefined) clearTimeout(batch.linger);
          this.open = null;
        } else {
          this.full.shift();
        }
        this.call(batch, now);
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Makes `batch`'s call; its answer settles the keys. */
  private call(batch: Batch<K, V>, now: number): void {
    const keys = batch.keys;
    this.inFlight++;
    this.queuedKeys -= keys.length;
    this.recorder.called(keys.length, batch.loadedAt, now);
    let result: unknown;
    try {
      result = this.fn(keys);
    } catch (error) {
      this.answer(batch, now, undefined, error, true);
      return;
    }
    if (isPromiseLike(result)) {
      result.then((results) => this.answer(batch, now, results, undefined, false), (error: unknown) => this.answer(batch, now, undefined, error, true));
    } else {
      this.answer(batch, now, result, undefined, false);
    }
  }

  /**
   * Settles `batch`'s loads from its call made at `startedAt`: `results` one per key, or, when the
   * call `threw` (or rejected), every key rejected with `error`. Then lets the next batches go.
   */
  private answer(batch: Batch<K, V>, startedAt: number, results: unknown, error: unknown, threw: boolean): void {
    this.inFlight--;
    const size = batch.keys.length;
    let failed = threw;
    if (!threw) {
      const length = results !== null && typeof results === 'object' ? (results as { length?: unknown }).length : undefined;
      if (typeof length !== 'number') {
        failed = true;
        error = new BatcherError('ERR_BATCH_RESULT', 'result', results, 'fn must return (or resolve to) an array: one result per key');
      } else if (length !== size) {
        failed = true;
        error = new BatcherError('ERR_BATCH_RESULT', 'result.length', length, `fn returned ${length} results for ${size} keys: the i-th result answers the i-th key`);
      }
    }
    let failedKeys = 0;
    if (failed) {
      failedKeys = size;
      batch.rejectAll(error);
    } else {
      const values = results as ArrayLike<V | Error>;
      for (let i = 0; i < size; i++) {
        const value = values[i]!;
        if (value instanceof Error) {
          failedKeys++;
          batch.rejects[i]!(value);
        } else {
          batch.resolves[i]!(value);
        }
      }
    }
    this.recorder.answered(startedAt, performance.now(), failedKeys, failed);
    if (this.closed) {
      if (this.inFlight === 0 && this.idle !== undefined) this.idle();
    } else {
      this.pump();
    }
  }
}
