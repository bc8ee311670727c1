/**
 * Requests: request/response on the engine's thread — the table of pending requests by
 * correlation id, their timeouts and abort signals, and the replies that settle them.
 *
 * A request is an ordinary record whose header carries a nonzero correlation id and the thread to
 * reply to; the handler's return value comes back as a reply record (REPLY_SUBSCRIPTION) that
 * thread 0's loop hands to onReply.
 */
import { ConfigError, EngineError } from '../errors.ts';
import { abortedBeforeSending, checkRequestOptions } from './options.ts';
import { RECORD_CORRELATION_OFFSET, RECORD_FLAGS_OFFSET, RECORD_FLAG_FAILED, RECORD_HEADER_BYTES } from './layout.ts';
import { RouteResult, type Producer } from './producer.ts';
import type { Reporter } from './reporter.ts';
import { priorityOf, type TopicRuntime } from './topic-runtime.ts';
import type { RequestOptions } from './types.ts';
import type { LatencyProbe } from './latency.ts';
import { BATCH_CORRELATION, type RequestBatches } from './request-batches.ts';

/**
 * One request waiting for its reply (requestAll: its replies): one object of one shape per request,
 * with no closure of its own unless it has an AbortSignal (the listener).
 */
class PendingRequest {
  /** Replies to wait for: 1 for request(), every receiver that took it for requestAll(). */
  expected = 1;
  /** requestAll's replies in arrival order; null for request(). */
  readonly replies: unknown[] | null;
  /** The consumer thread that took it; with several receivers (requestAll), all of them in `consumers`. */
  consumer = -1;
  consumers: number[] | null = null;
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  resolve!: (value: unknown) => void;
  reject!: (error: Error) => void;

  constructor(
    readonly correlation: number,
    /** requestAll: resolve with every receiver's reply; request: with the first. */
    readonly all: boolean,
    readonly topic: TopicRuntime,
    /** When it was sent (LatencyProbe.now()) if it is sampled, else 0: its round trip is timed to the reply that settles it. */
    readonly sent: number,
    readonly signal: AbortSignal | undefined,
  ) {
    this.replies = all ? [] : null;
  }

  /** Whether consumer thread `thread` took it. */
  takenBy(thread: number): boolean {
    return this.consumer === thread || (this.consumers !== null && this.consumers.includes(thread));
  }
}

export class Requests {
  private readonly pending = new Map<number, PendingRequest>();
  private nextCorrelation = 1;
  private readonly result: RouteResult;
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  private lateSingle = 0;

  /** Replies that came after their request (or batch) was settled or gone. */
  get lateReplies(): number {
    return this.lateSingle + this.batches.lateReplies;
  }

  /** Requests and request batches waiting for their replies. */
  get pendingCount(): number {
    return this.pending.size + this.batches.pendingCount;
  }

  constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly producer: Producer,
    private readonly reporter: Reporter,
    routerSubscriptions: number,
    /** Thread 0's latency probe: round trips (latency.ts). */
    private readonly latency: LatencyProbe,
    /** requestBatch's pending batches: replies whose correlation has BATCH_CORRELATION go there. */
    readonly batches: RequestBatches,
  ) {
    this.u16 = new Uint16Array(memory.buffer);
    this.u32 = new Uint32Array(memory.buffer);
    this.result = new RouteResult(routerSubscriptions);
  }

  /**
   * Validates, stages and routes a request of `topic`; resolves with the first reply (or every
   * receiver's, `all`). See Engine.request for the rejections.
   */
  send(topic: TopicRuntime, fields: unknown, options: RequestOptions, all: boolean): Promise<unknown> {
    const name = topic.name;
    const timeout = checkRequestOptions(topic, options, 'request()');
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(abortedBeforeSending(name, signal));
    const cls = priorityOf(topic, options.priority);
    if (fields === null || typeof fields !== 'object') throw new ConfigError('fields', fields, 'must be an object with one property per field');
    // Validate and stage before anything is routed.
    topic.assign(topic.writer, fields as Record<string, unknown>);
    const correlation = this.nextCorrelation;
    // Bit 31 marks a batch's requests (RequestBatches): request() ids stay below it.
    this.nextCorrelation = this.nextCorrelation === BATCH_CORRELATION - 1 ? 1 : this.nextCorrelation + 1;
    // Registered before routing: a caller-runs handler replies synchronously, inside route().
    const entry = new PendingRequest(correlation, all, topic, this.latency.sampleRequest() ? this.latency.now() : 0, signal);
    const promise = new Promise<unknown>((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = reject;
    });
    if (all) entry.expected = Infinity;
    this.pending.set(correlation, entry);
    const result = this.result;
    this.producer.route(topic, correlation, topic.staging, 0, result, cls);
    for (let i = 0; i < result.accepted; i++) {
      const thread = result.consumers[i]!;
      if (i === 0) entry.consumer = thread;
      else (entry.consumers ??= [entry.consumer]).push(thread);
    }
    if (all) entry.expected = result.accepted;
    if (all && result.accepted > 0 && entry.replies!.length >= result.accepted && this.pending.has(correlation)) {
      this.forget(entry); // every receiver answered inline (caller-runs)
      entry.resolve(entry.replies);
    }
    if (result.routed === 0 || result.accepted === 0) {
      this.forget(entry);
      return Promise.reject(result.routed === 0
        ? new EngineError('ERR_NO_SUBSCRIBER', 'topic', name, 'no subscription receives this request')
        : new EngineError('ERR_REQUEST_FAILED', 'topic', name, 'every receiving lane refused it (full under reject/drop-newest, or its worker is gone)'));
    }
    if (!this.pending.has(correlation)) return promise; // answered inline (caller-runs)
    // Not flushed here: the task's flush (Producer.enter's microtask) sends it with every other
    // request and message of this task, one HEAD store and at most one wake-up per lane. A
    // flush per request cost a futex wake per request whenever the worker slept.
    if (timeout !== undefined) entry.timer = setTimeout(this.onTimeout, timeout, entry, timeout);
    if (signal !== undefined) {
      entry.onAbort = () => this.settleFailed(entry, new EngineError('ERR_REQUEST_ABORTED', 'topic', name, 'aborted by its signal', { cause: signal.reason }));
      signal.addEventListener('abort', entry.onAbort, { once: true });
    }
    return promise;
  }

  private readonly onTimeout = (entry: PendingRequest, timeout: number): void => {
    this.settleFailed(entry, new EngineError('ERR_REQUEST_TIMEOUT', 'topic', entry.topic.name, `no reply within ${timeout} ms`));
  };

  /** Rejects `entry` with `error` if it still waits. */
  private settleFailed(entry: PendingRequest, error: Error): void {
    if (this.pending.get(entry.correlation) !== entry) return;
    this.forget(entry);
    entry.reject(error);
  }

  /** Unregisters `entry`: its timer and abort listener gone. */
  private forget(entry: PendingRequest): void {
    this.pending.delete(entry.correlation);
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    if (entry.onAbort !== undefined) entry.signal!.removeEventListener('abort', entry.onAbort);
  }

  /** A reply record for this thread (thread 0's consumer hands it over). */
  onReply(record: number, topic: TopicRuntime): void {
    const correlation = this.u32[(record + RECORD_CORRELATION_OFFSET) >> 2]!;
    if (correlation >= BATCH_CORRELATION) {
      this.batches.onReply(record, topic, correlation);
      return;
    }
    const entry = this.pending.get(correlation);
    if (entry === undefined) {
      this.lateSingle++;
      return;
    }
    const flags = this.u16[(record + RECORD_FLAGS_OFFSET) >> 1]!;
    if ((flags & RECORD_FLAG_FAILED) !== 0) {
      this.forget(entry);
      if (entry.sent !== 0) this.latency.roundTrip(topic.id, entry.sent);
      const cause = this.reporter.firstError(topic.name);
      entry.reject(new EngineError('ERR_REQUEST_FAILED', 'topic', topic.name, 'the handler threw, rejected, or returned an invalid reply', { cause }));
      return;
    }
    const reply = topic.reply!.decode(this.memory, record + RECORD_HEADER_BYTES);
    const replies = entry.replies;
    if (replies !== null) {
      replies.push(reply);
      if (replies.length < entry.expected) return;
    }
    this.forget(entry);
    if (entry.sent !== 0) this.latency.roundTrip(topic.id, entry.sent);
    entry.resolve(replies ?? reply);
  }

  /** Rejects every pending request that `thread` took (its worker stays down). */
  rejectTakenBy(thread: number, error: Error): void {
    this.batches.rejectTakenBy(thread, error);
    for (const entry of [...this.pending.values()]) if (entry.takenBy(thread)) this.settleFailed(entry, error);
  }

  /** Rejects the pending request `correlation` (if it still waits) with `error`. */
  fail(correlation: number, error: Error): void {
    if (correlation >= BATCH_CORRELATION) {
      this.batches.failCorrelation(correlation, error);
      return;
    }
    const entry = this.pending.get(correlation);
    if (entry !== undefined) this.settleFailed(entry, error);
  }

  /** Rejects every pending request with ERR_ENGINE_CLOSED. */
  rejectAllClosed(): void {
    this.batches.rejectAllClosed();
    for (const entry of [...this.pending.values()]) {
      this.settleFailed(entry, new EngineError('ERR_ENGINE_CLOSED', 'topic', entry.topic.name, 'the engine closed before the reply came'));
    }
  }
}
