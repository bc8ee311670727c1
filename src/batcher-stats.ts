/**
 * A batcher's figures (src/batcher.ts): counters, the batch-size, wait and call-time histograms,
 * and the saturation clock, which tells whether the batcher's own limits are the bottleneck.
 *
 * Saturation is time during which a batch was due (full, or its turn or linger was over: it would
 * have been called now) but waited because `concurrency` calls were in flight or the rate limit
 * had no token. Lingering (maxWaitMs) and waiting for the end of the turn are not saturation:
 * they are batching. saturatedMs growing at the pace of elapsedMs means the resource, at the
 * limits given, is the stage's bottleneck: batches then grow toward maxBatch, and a key's wait
 * grows with the queue. The counters only grow; the figures over a window are the difference of
 * two readings.
 */
import { DEFAULT_BITS, Histogram, MIN_BITS } from './histogram.ts';

/** What a batch waited on while due. */
export const NOT_LIMITED = 0;
export const LIMITED_BY_CONCURRENCY = 1;
export const LIMITED_BY_RATE = 2;
export type Limit = typeof NOT_LIMITED | typeof LIMITED_BY_CONCURRENCY | typeof LIMITED_BY_RATE;

/** ns per ms: the wait and call histograms count ns. */
const NS_PER_MS = 1e6;

/** A reading of a batcher's figures: a snapshot, later loads do not change it. */
export interface BatcherStats {
  /** fn calls made and not yet answered (≤ concurrency). */
  readonly inFlight: number;
  /** The concurrency option: the most calls in flight. */
  readonly concurrency: number;
  /** Distinct keys waiting for their call (lingering, or held back by a limit). */
  readonly queuedKeys: number;
  /** Batches those keys are in: the one still open to more keys and the full ones. */
  readonly queuedBatches: number;
  /** load() calls, loadMany's keys included (closed-batcher rejections are not counted). */
  readonly loads: number;
  /** Loads that joined an equal key already waiting in their batch: the call had one key for all. */
  readonly deduplicated: number;
  /** fn calls made. */
  readonly calls: number;
  /** Keys passed to fn in those calls: batchSize.sum. */
  readonly keys: number;
  /** fn calls answered (resolved, rejected or thrown): callNs.count. */
  readonly callsDone: number;
  /** Calls that threw, rejected or returned a result of the wrong shape: every key rejected. */
  readonly failedCalls: number;
  /** Keys rejected by a call: an Error in their place, or the whole call failing. */
  readonly failedKeys: number;
  /** Keys per fn call, recorded at the call. */
  readonly batchSize: Histogram;
  /** ns from a key's first load() to the call that carries it, one value per key passed to fn. */
  readonly waitNs: Histogram;
  /** ns from calling fn to its answer, one value per call answered. */
  readonly callNs: Histogram;
  /** ms since the batcher was created. */
  readonly elapsedMs: number;
  /** ms during which a due batch waited because `concurrency` calls were in flight. */
  readonly concurrencyLimitedMs: number;
  /** ms during which a due batch waited for a token of the rate limit. */
  readonly rateLimitedMs: number;
  /** concurrencyLimitedMs + rateLimitedMs: ms the stage was its own bottleneck. */
  readonly saturatedMs: number;
  /** Whether a due batch is waiting on a limit now. */
  readonly saturated: boolean;
}

/** The counters and clocks one batcher updates as it goes. */
export class BatcherRecorder {
  loads = 0;
  deduplicated = 0;
  calls = 0;
  keys = 0;
  callsDone = 0;
  failedCalls = 0;
  failedKeys = 0;
  readonly batchSize: Histogram;
  readonly waitNs = new Histogram({ bits: DEFAULT_BITS });
  readonly callNs = new Histogram({ bits: DEFAULT_BITS });
  private readonly createdAt: number;
  private limit: Limit = NOT_LIMITED;
  private limitedSince = 0;
  private concurrencyLimitedMs = 0;
  private rateLimitedMs = 0;

  constructor(maxBatch: number, now: number) {
    // Just wide enough for maxBatch: batch sizes of up to 2^16 keep the histogram at 1.3k words.
    this.batchSize = new Histogram({ bits: Math.max(MIN_BITS, Math.ceil(Math.log2(maxBatch + 1))) });
    this.createdAt = now;
  }

  /** A call of `size` keys is made at `now`; loadedAt[i] is when key i was first loaded (ms). */
  called(size: number, loadedAt: readonly number[], now: number): void {
    this.calls++;
    this.keys += size;
    this.batchSize.record(size);
    for (let i = 0; i < size; i++) this.waitNs.record((now - loadedAt[i]!) * NS_PER_MS);
  }

  /** A call made at `startedAt` was answered at `now`; `failedKeys` of its keys were rejected. */
  answered(startedAt: number, now: number, failedKeys: number, failed: boolean): void {
    this.callsDone++;
    this.callNs.record((now - startedAt) * NS_PER_MS);
    this.failedKeys += failedKeys;
    if (failed) this.failedCalls++;
  }

  /** From `now` on, a due batch waits on `limit` (NOT_LIMITED: nothing due waits). */
  limitedBy(limit: Limit, now: number): void {
    if (limit === this.limit) return;
    this.closeSpan(now);
    this.limit = limit;
    this.limitedSince = now;
  }

  private closeSpan(now: number): void {
    if (this.limit === LIMITED_BY_CONCURRENCY) this.concurrencyLimitedMs += now - this.limitedSince;
    else if (this.limit === LIMITED_BY_RATE) this.rateLimitedMs += now - this.limitedSince;
  }

  /** The figures at `now`, the current limited span included; histograms copied. */
  read(now: number, live: { inFlight: number; concurrency: number; queuedKeys: number; queuedBatches: number }): BatcherStats {
    const open = now - this.limitedSince;
    const concurrencyLimitedMs = this.concurrencyLimitedMs + (this.limit === LIMITED_BY_CONCURRENCY ? open : 0);
    const rateLimitedMs = this.rateLimitedMs + (this.limit === LIMITED_BY_RATE ? open : 0);
    return {
      ...live,
      loads: this.loads,
      deduplicated: this.deduplicated,
      calls: this.calls,
      keys: this.keys,
      callsDone: this.callsDone,
      failedCalls: this.failedCalls,
      failedKeys: this.failedKeys,
      batchSize: this.batchSize.copy(),
      waitNs: this.waitNs.copy(),
      callNs: this.callNs.copy(),
      elapsedMs: now - this.createdAt,
      concurrencyLimitedMs,
      rateLimitedMs,
      saturatedMs: concurrencyLimitedMs + rateLimitedMs,
      saturated: this.limit !== NOT_LIMITED,
    };
  }
}
