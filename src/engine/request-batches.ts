/**
 * RequestBatches: requestBatch on the engine's thread — many requests of one topic sent by one
 * publishBatch (one core call per 256 records) and answered by one promise, with no promise,
 * closure or table entry per request. The replies come back in the requests' order.
 *
 * Correlation ids. request() uses 1..0x7fffffff (Requests). A batch's request i carries
 *
 *   bit 31 │ bits 30..12: chunk id (19 bits)      │ bits 11..0: i mod CHUNK
 *     1    │ firstId + floor(i / CHUNK)            │
 *
 * A batch takes ceil(n / CHUNK) consecutive free chunk ids (never across the wrap), so its
 * correlations are the contiguous range BATCH_CORRELATION | firstId << 12 .. + n − 1 and
 * publishBatch writes base + i. A reply finds its batch by its chunk id and its place by
 * `correlation − base`. Chunk ids advance with every batch and are reused only after 2^19
 * chunks, so a reply that comes after its batch settled (timed out, aborted, failed) is counted
 * late rather than landing in a younger batch, unless that many chunks were sent in between.
 *
 * A batch settles once: resolved when every request has a reply (the first, for a topic several
 * subscriptions receive; later ones count as late), rejected at the first failed reply, a refused
 * or unrouted request, its timeout or signal, a worker that took some of its requests staying
 * down, or close().
 */
import { ConfigError, EngineError } from '../errors.ts';
import type { BatchPublisher, BatchTrack } from './batch-publisher.ts';
import { abortedBeforeSending, checkRequestOptions } from './options.ts';
import { RECORD_FLAGS_OFFSET, RECORD_FLAG_FAILED, RECORD_HEADER_BYTES } from './layout.ts';
import type { Reporter } from './reporter.ts';
import type { TopicRuntime } from './topic-runtime.ts';
import type { RequestOptions } from './subscription-types.ts';

/** Bit 31 of a correlation id: the request belongs to a batch. */
export const BATCH_CORRELATION = 0x80000000;
/** Requests per chunk id: the low 12 bits of a batch correlation. */
const CHUNK_BITS = 12;
const CHUNK = 1 << CHUNK_BITS;
/** Chunk ids: the 19 bits between bit 31 and the index. */
const CHUNK_IDS = 1 << (31 - CHUNK_BITS);
/** Most requests one requestBatch call sends. */
export const MAX_REQUEST_BATCH = 1 << 16;

interface PendingBatch {
  readonly topic: TopicRuntime;
  /** Correlation id of request 0; request i is base + i. */
  readonly base: number;
  readonly firstId: number;
  readonly chunks: number;
  readonly replies: unknown[];
  /** 1 where request i has its reply. */
  readonly answered: Uint8Array;
  remaining: number;
  /** 1 for every thread some of its requests went to (who may answer, or stay down). */
  readonly consumers: Uint8Array;
  resolve: (replies: unknown[]) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
}

export class RequestBatches {
  private readonly byChunk = new Map<number, PendingBatch>();
  private readonly batches = new Set<PendingBatch>();
  private nextChunk = 0;
  private readonly u16: Uint16Array;
  /** Replies that came after their batch was settled or gone, or a second reply to one request. */
  lateReplies = 0;

  constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly publisher: BatchPublisher,
    private readonly reporter: Reporter,
    private readonly threads: number,
  ) {
    this.u16 = new Uint16Array(memory.buffer);
  }

  /** Batches waiting for replies. */
  get pendingCount(): number {
    return this.batches.size;
  }

  /**
   * Validates `messages` as they are staged (a ConfigError names `messages[i]` and the field; the
   * requests before it were sent, and their replies will count as late), sends them in class
   * `priority`, and resolves with reply i for messages[i]. See Engine.requestBatch.
   */
  send(topic: TopicRuntime, messages: readonly unknown[], options: RequestOptions, priority: number): Promise<unknown[]> {
    const name = topic.name;
    const timeout = checkRequestOptions(topic, options, 'requestBatch()');
    if (!Array.isArray(messages)) throw new ConfigError('messages', messages, 'must be an array of messages');
    if (messages.length > MAX_REQUEST_BATCH) throw new ConfigError('messages.length', messages.length, `must be at most ${MAX_REQUEST_BATCH}: split larger batches`);
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(abortedBeforeSending(name, signal));
    const n = messages.length;
    if (n === 0) return Promise.resolve([]);
    const chunks = Math.ceil(n / CHUNK);
    const firstId = this.claimChunks(chunks);
    if (firstId < 0) return Promise.reject(new EngineError('ERR_REQUEST_FAILED', 'topic', name, `${CHUNK_IDS} chunks of ${CHUNK} batched requests are already pending`));
    const batch: PendingBatch = {
      topic, base: (BATCH_CORRELATION | (firstId << CHUNK_BITS)) >>> 0, firstId, chunks,
      replies: new Array<unknown>(n), answered: new Uint8Array(n), remaining: n, consumers: new Uint8Array(this.threads),
      resolve: undefined!, reject: undefined!, timer: undefined, signal,
      onAbort: () => this.fail(batch, new EngineError('ERR_REQUEST_ABORTED', 'topic', name, 'aborted by its signal', { cause: signal?.reason })),
    };
    const promise = new Promise<unknown[]>((resolve, reject) => {
      batch.resolve = resolve;
      batch.reject = reject;
    });
    // Registered before routing: a caller-runs handler replies synchronously, inside publishBatch.
    for (let c = 0; c < chunks; c++) this.byChunk.set(firstId + c, batch);
    this.batches.add(batch);
    // Where the batch goes: its consumers (who may answer, or stay down) and its unrouted count.
    const track: BatchTrack = { reached: batch.consumers, unrouted: 0 };
    let taken: number;
    try {
      taken = this.publisher.publishBatch(topic, messages as readonly Record<string, unknown>[], priority, batch.base, track);
    } catch (error) {
      this.forget(batch); // the requests sent before the bad one: their replies count as late
      throw error;
    }
    if (!this.batches.has(batch)) return promise; // settled inline (caller-runs)
    const unrouted = track.unrouted;
    const refused = n - taken;
    if (unrouted === n) {
      this.fail(batch, new EngineError('ERR_NO_SUBSCRIBER', 'topic', name, 'no subscription receives these requests'));
    } else if (unrouted > 0 || refused > 0) {
      this.fail(batch, new EngineError('ERR_REQUEST_FAILED', 'topic', name,
        `${unrouted} of ${n} requests had no subscriber and ${refused} were refused by a lane (full under reject/drop-newest, or its worker is gone)`));
    }
    if (!this.batches.has(batch)) return promise;
    // Flushed with the rest of the task (Producer.enter's microtask), like request().
    if (timeout !== undefined) {
      batch.timer = setTimeout(() => this.fail(batch, new EngineError('ERR_REQUEST_TIMEOUT', 'topic', name, `${batch.remaining} of ${n} replies missing after ${timeout} ms`)), timeout);
    }
    signal?.addEventListener('abort', batch.onAbort, { once: true });
    return promise;
  }

  /** A reply record whose correlation has BATCH_CORRELATION set (Requests.onReply hands it over). */
  onReply(record: number, topic: TopicRuntime, correlation: number): void {
    const batch = this.byChunk.get((correlation >>> CHUNK_BITS) & (CHUNK_IDS - 1));
    const i = batch === undefined ? -1 : correlation - batch.base;
    if (batch === undefined || i < 0 || i >= batch.answered.length || batch.answered[i] !== 0) {
      this.lateReplies++;
      return;
    }
    if ((this.u16[(record + RECORD_FLAGS_OFFSET) >> 1]! & RECORD_FLAG_FAILED) !== 0) {
      const cause = this.reporter.firstError(topic.name);
      this.fail(batch, new EngineError('ERR_REQUEST_FAILED', 'topic', topic.name,
        `request ${i} of ${batch.answered.length}: the handler threw, rejected, or returned an invalid reply`, { cause }));
      return;
    }
    batch.answered[i] = 1;
    batch.replies[i] = topic.reply!.decode(this.memory, record + RECORD_HEADER_BYTES);
    if (--batch.remaining > 0) return;
    this.forget(batch);
    batch.resolve(batch.replies);
  }

  /** Rejects the batch that request `correlation` belongs to (a dead letter), if it still waits. */
  failCorrelation(correlation: number, error: Error): void {
    const batch = this.byChunk.get((correlation >>> CHUNK_BITS) & (CHUNK_IDS - 1));
    if (batch !== undefined) this.fail(batch, error);
  }

  /** Rejects every pending batch some of whose requests `thread` took (its worker stays down). */
  rejectTakenBy(thread: number, error: Error): void {
    for (const batch of [...this.batches]) if (batch.consumers[thread] === 1) this.fail(batch, error);
  }

  /** Rejects every pending batch with ERR_ENGINE_CLOSED. */
  rejectAllClosed(): void {
    for (const batch of [...this.batches]) {
      this.fail(batch, new EngineError('ERR_ENGINE_CLOSED', 'topic', batch.topic.name, 'the engine closed before every reply came'));
    }
  }

  private fail(batch: PendingBatch, error: Error): void {
    if (!this.batches.has(batch)) return;
    this.forget(batch);
    batch.reject(error);
  }

  /** Unregisters `batch`: its chunk ids free, its timer and abort listener gone. */
  private forget(batch: PendingBatch): void {
    this.batches.delete(batch);
    for (let c = 0; c < batch.chunks; c++) this.byChunk.delete(batch.firstId + c);
    if (batch.timer !== undefined) clearTimeout(batch.timer);
    batch.signal?.removeEventListener('abort', batch.onAbort);
  }

  /** The first of `chunks` consecutive free chunk ids below the wrap, from the cursor on; −1 if none. */
  private claimChunks(chunks: number): number {
    for (let tried = 0; tried < CHUNK_IDS; tried++) {
      let first = this.nextChunk;
      if (first + chunks > CHUNK_IDS) first = 0;
      let free = true;
      for (let c = 0; c < chunks && free; c++) free = !this.byChunk.has(first + c);
      this.nextChunk = (first + chunks) % CHUNK_IDS;
      if (free) return first;
    }
    return -1;
  }
}
