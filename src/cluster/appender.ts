/**
 * Appender: the publishing side of cluster topics. Cluster.publish hands it a message's bytes and
 * partition; it appends them to the partition's stream in batches with the APPEND script
 * (scripts.ts), one batch in flight per partition and every partition's batch in flight at once
 * (node-redis pipelines the scripts issued in one tick).
 *
 * Batching is self-clocking: while a partition's batch is on its way, what is published for it
 * queues, and the next batch takes all of it (up to maxBatch). Under light load a message goes
 * out alone, at the end of the task that published it; under heavy load batches grow.
 *
 * Exactly-once appends: every batch carries this producer's next sequence number for the
 * partition, and the script skips a sequence it already applied — a batch retried after a lost
 * reply (the connection dropped with the script done) is not appended twice. One batch in flight
 * per partition keeps the sequences applied in order.
 *
 * A batch that fails is retried (backoff 20 ms doubling to 1 s) for appendTimeout ms; then its
 * messages are given up, counted in `failed`, and flush() promises covering them reject with
 * ERR_CLUSTER_APPEND. flush() resolving is the acknowledgement: Redis accepted every message
 * published before the call (kept as durably as its appendfsync setting keeps writes).
 */
import { ClusterError } from './errors.ts';
import { seqKey, streamKey } from './placement.ts';
import type { RedisCommands } from './redis.ts';
import { APPEND, runScript } from './scripts.ts';

interface Lane {
  readonly stream: string;
  readonly seqKey: string;
  /** Messages to append: queue[head..] (the sent prefix is dropped when the queue empties, not shifted). */
  queue: Buffer[];
  head: number;
  sending: boolean;
  seq: number;
  /** Messages appended or given up, and given up. */
  done: number;
  failed: number;
  added: number;
}

interface FlushWaiter {
  readonly targets: Float64Array;
  readonly failedAt: Float64Array;
  resolve(): void;
  reject(error: Error): void;
}

export interface AppenderOptions {
  readonly maxBatch: number;
  readonly appendTimeout: number;
  readonly highWaterMark: number;
}

export class Appender {
  private readonly lanes: Lane[] = [];
  private queued = 0;
  private kickScheduled = false;
  private waiters: FlushWaiter[] = [];
  private writable: (() => void)[] = [];
  private closed = false;
  appended = 0;
  batches = 0;
  failed = 0;
  retries = 0;

  /** `partitions[t]`: partitions of topic t; lane of (t, p) = offsets[t] + p. */
  readonly offsets: number[] = [];

  constructor(
    private readonly redis: RedisCommands,
    name: string,
    producer: string,
    topics: readonly { readonly name: string; readonly partitions: number }[],
    private readonly options: AppenderOptions,
    private readonly onError: (error: Error) => void,
  ) {
    for (const topic of topics) {
      this.offsets.push(this.lanes.length);
      for (let p = 0; p < topic.partitions; p++) {
        this.lanes.push({
          stream: streamKey(name, topic.name, p), seqKey: seqKey(name, producer, topic.name, p),
          queue: [], head: 0, sending: false, seq: 0, done: 0, failed: 0, added: 0,
        });
      }
    }
  }

  /** Messages queued and not yet sent. */
  get pending(): number {
    return this.queued;
  }

  /** Queues `bytes` for partition `partition` of topic `topic`; false when more than highWaterMark wait (it is queued all the same). */
  add(topic: number, partition: number, bytes: Buffer): boolean {
    const lane = this.lanes[this.offsets[topic]! + partition]!;
    lane.queue.push(bytes);
    lane.added++;
    this.queued++;
    if (!this.kickScheduled) {
      this.kickScheduled = true;
      queueMicrotask(this.kick);
    }
    return this.queued <= this.options.highWaterMark;
  }

  /** Resolves when every message added so far was appended; rejects with ERR_CLUSTER_APPEND if some were given up. */
  flush(): Promise<void> {
    const targets = new Float64Array(this.lanes.length);
    const failedAt = new Float64Array(this.lanes.length);
    let waiting = false;
    for (let i = 0; i < this.lanes.length; i++) {
      const lane = this.lanes[i]!;
      targets[i] = lane.added;
      failedAt[i] = lane.failed;
      if (lane.done < lane.added) waiting = true;
    }
    if (!waiting) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ targets, failedAt, resolve, reject }));
  }

  /** Resolves once no more than half of highWaterMark messages wait. */
  whenWritable(): Promise<void> {
    if (this.queued <= this.options.highWaterMark / 2) return Promise.resolve();
    return new Promise((resolve) => this.writable.push(resolve));
  }

  /** Stops retrying: batches still failing are given up at their next attempt. */
  close(): void {
    this.closed = true;
  }

  private readonly kick = (): void => {
    this.kickScheduled = false;
    for (const lane of this.lanes) if (!lane.sending && lane.queue.length > lane.head) void this.send(lane);
  };

  private async send(lane: Lane): Promise<void> {
    lane.sending = true;
    let batch: Buffer[];
    if (lane.head === 0 && lane.queue.length <= this.options.maxBatch) {
      batch = lane.queue;
      lane.queue = [];
    } else {
      batch = lane.queue.slice(lane.head, lane.head + this.options.maxBatch);
      lane.head += batch.length;
      if (lane.head === lane.queue.length) {
        lane.queue = [];
        lane.head = 0;
      }
    }
    this.queued -= batch.length;
    this.wakeWritable();
    const seq = ++lane.seq;
    const started = performance.now();
    let delay = 20;
    for (;;) {
      try {
        // The attempt may wait to be sent (Redis unreachable: the client's offline queue) only
        // until appendTimeout runs out; then it is never sent and the batch is given up.
        const left = Math.max(1, Math.ceil(this.options.appendTimeout - (performance.now() - started)));
        await runScript(this.redis, APPEND, [lane.stream, lane.seqKey], [seq, Math.max(600_000, 2 * this.options.appendTimeout), ...batch], { timeout: left });
        this.appended += batch.length;
        this.batches++;
        break;
      } catch (error) {
        if (this.closed || performance.now() - started >= this.options.appendTimeout) {
          lane.failed += batch.length;
          this.failed += batch.length;
          this.onError(new ClusterError('ERR_CLUSTER_APPEND', 'stream', lane.stream, `${batch.length} messages not appended within ${this.options.appendTimeout} ms: ${(error as Error).message}`, { cause: error }));
          break;
        }
        this.retries++;
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, 1000);
      }
    }
    lane.done += batch.length;
    lane.sending = false;
    this.settleWaiters();
    if (lane.queue.length > lane.head) void this.send(lane);
  }

  private wakeWritable(): void {
    if (this.writable.length === 0 || this.queued > this.options.highWaterMark / 2) return;
    const writable = this.writable;
    this.writable = [];
    for (const resolve of writable) resolve();
  }

  private settleWaiters(): void {
    if (this.waiters.length === 0) return;
    const still: FlushWaiter[] = [];
    for (const waiter of this.waiters) {
      let done = true;
      let failed = false;
      for (let i = 0; i < this.lanes.length; i++) {
        const lane = this.lanes[i]!;
        if (lane.done < waiter.targets[i]!) done = false;
        if (lane.failed > waiter.failedAt[i]!) failed = true;
      }
      if (!done) still.push(waiter);
      else if (failed) waiter.reject(new ClusterError('ERR_CLUSTER_APPEND', 'flush', this.failed, 'some messages published before flush() could not be appended (see onError)'));
      else waiter.resolve();
    }
    this.waiters = still;
  }
}
