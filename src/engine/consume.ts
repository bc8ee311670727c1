/**
 * Consuming on the engine's own thread: `for await (const m of engine.consume(topic))`.
 *
 * Each consume() is a subscription whose one member is thread 0 (Subscriptions.subscribeLocal): a
 * group slot routed to the engine's thread, whose handler is this stream's `deliver`. Thread 0's
 * consumer runs it from its loop (thread-zero.ts) like any handler, on the message in place; it
 * decodes the message into a plain object (stable once yielded) and queues it for the iterator.
 *
 * Back-pressure: once `highWaterMark` messages wait in the queue, deliver returns a promise (an
 * async delivery, async-deliveries.ts) that settles when the iterator is pulled below the mark;
 * the slot's concurrency is 1, so its next records wait in their lanes meanwhile: lanes fill,
 * and publishers see the topic's back-pressure policy, as with a slow worker. Those lanes are the
 * lanes into the engine's thread from each publishing thread, which also carry replies to
 * requests: replies behind a held message wait until the iterator is pulled.
 *
 * Ending: `break`/`return()`, the AbortSignal (the pending next() rejects with its reason), or
 * engine.close(). The subscription is removed; messages still queued are discarded, and records
 * routed to it before the removal took effect are run by a handler that discards them (they count
 * as delivered). An open stream does not by itself keep the process alive (as `events.on`).
 */
import { ConfigError } from '../errors.ts';
import type { AnySchema } from '../schema.ts';
import type { Consumer } from './consumer.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { Subscriptions } from './subscriptions.ts';
import type { TopicRuntime } from './topic-runtime.ts';
import type { HandlerDef, TopicMap } from './types.ts';

/** engine.consume's options. */
export interface ConsumeOptions {
  /** Messages decoded and queued before the stream holds its lanes (default 256). */
  readonly highWaterMark?: number;
  /** Ends the stream: a pending next() rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/**
 * engine.consume on `topic` (found, the engine open): checks `options` (ConfigError), then opens a
 * stream over `memory` fed by thread 0's `consumer`, kept in the lifecycle's streams until it ends.
 */
export async function openStream<M>(
  topic: TopicRuntime, options: ConsumeOptions, memory: WebAssembly.Memory, consumer: Consumer, subscriptions: Subscriptions, lifecycle: Lifecycle,
): Promise<MainThreadStream<M>> {
  const highWaterMark = options.highWaterMark ?? 256;
  if (!Number.isInteger(highWaterMark) || highWaterMark < 1 || highWaterMark > 1 << 20) throw new ConfigError('highWaterMark', options.highWaterMark, 'must be an integer in [1, 1048576]');
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw new ConfigError('signal', options.signal, 'must be an AbortSignal');
  lifecycle.checkOpen('topic', topic.name);
  const streams = lifecycle.streams;
  const stream: MainThreadStream<M> = new MainThreadStream<M>(memory, topic.schema, highWaterMark, options.signal, consumer, () => streams.delete(stream));
  streams.add(stream);
  try {
    await stream.open(subscriptions, topic);
  } catch (error) {
    stream.fail(error);
    throw error;
  }
  return stream;
}

export class MainThreadStream<M> implements AsyncIterableIterator<M> {
  private readonly queue: M[] = [];
  private head = 0;
  private waiting: { resolve(result: IteratorResult<M>): void; reject(error: unknown): void } | undefined;
  /** The delivery held while the queue is at its mark (settles when pulled below). */
  private holding: (() => void) | undefined;
  private ended = false;
  private unsubscribe: (() => Promise<void>) | undefined;
  private slot = -1;
  private readonly onAbort = (): void => this.end(this.signal?.reason ?? new Error('aborted'));

  constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly schema: AnySchema,
    private readonly highWaterMark: number,
    private readonly signal: AbortSignal | undefined,
    private readonly consumer: Consumer,
    private readonly onClosed: () => void,
  ) {}

  /** Subscribes (thread 0's handler first, then the routes). */
  async open(subscriptions: Subscriptions, topic: TopicRuntime): Promise<void> {
    if (this.signal?.aborted) {
      this.ended = true;
      this.onClosed();
      return;
    }
    this.signal?.addEventListener('abort', this.onAbort, { once: true });
    const def: HandlerDef<TopicMap, string> = { topic: topic.name, handle: (m) => this.deliver(m as unknown as { address: number }) };
    // The handler is set once the slot is picked, before the routes that make it reachable.
    const local = await subscriptions.subscribeLocal(topic, 1, (slot) => this.consumer.setLocalHandler(slot, def));
    this.slot = local.slot;
    this.unsubscribe = local.unsubscribe;
    if (this.ended) await this.close();
  }

  /** Thread 0's handler for the stream's records: decode, queue or hand to a waiting next(). */
  private deliver(m: { address: number }): Promise<void> | undefined {
    if (this.ended) return undefined;
    const value = this.schema.decode(this.memory, m.address) as M;
    const waiting = this.waiting;
    if (waiting !== undefined) {
      this.waiting = undefined;
      waiting.resolve({ value, done: false });
      return undefined;
    }
    this.queue.push(value);
    if (this.queue.length - this.head < this.highWaterMark) return undefined;
    return new Promise<void>((resolve) => {
      this.holding = resolve;
    });
  }

  next(): Promise<IteratorResult<M>> {
    if (this.head < this.queue.length) {
      const value = this.queue[this.head++]!;
      if (this.head === this.queue.length) {
        this.queue.length = 0;
        this.head = 0;
      }
      const holding = this.holding;
      if (holding !== undefined && this.queue.length - this.head < this.highWaterMark) {
        this.holding = undefined;
        holding();
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  async return(): Promise<IteratorResult<M>> {
    this.end(undefined);
    await this.close();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<M> {
    return this;
  }

  /** The subscription could not be made: a waiting next() rejects with `error`, later ones are done. */
  fail(error: unknown): void {
    this.end(error);
    this.onClosed();
  }

  /** Ends the stream: a waiting next() settles (rejected with `reason`, if any), the subscription goes. */
  private end(reason: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.queue.length = 0;
    this.head = 0;
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting !== undefined) {
      if (reason !== undefined) waiting.reject(reason);
      else waiting.resolve({ value: undefined, done: true });
    }
    this.holding?.();
    this.holding = undefined;
    void this.close();
  }

  private async close(): Promise<void> {
    const unsubscribe = this.unsubscribe;
    if (unsubscribe === undefined) return;
    this.onClosed();
    this.unsubscribe = undefined;
    // Records routed before the removal took effect run the discarding handler (consumer.ts).
    this.consumer.setLocalHandler(this.slot, undefined);
    await unsubscribe();
  }
}
