/**
 * The item stream of the one-to-one throughput and fan-out suites (engine-throughput.ts,
 * fan-out.ts): the engine side's batched publishing of `item` (bench/engine/throughput-topics.ts)
 * and the postMessage baseline's sinks, worker_threads running bench/workers/engine-postmessage.ts.
 * Message `seq` carries value valueOf(seq) and stamp seq; every consumer reports a StreamTally.
 */
import { Worker } from 'node:worker_threads';
import type { Engine } from '../src/index.ts';
import { valueOf } from './engine/checksum.ts';
import type { ThroughputTopics } from './engine/throughput-topics.ts';
import { VerificationError, type StreamTally } from './engine-common.ts';

/** Items per publishBatch call. */
export const ITEM_BATCH = 256;

/** Reused item objects for publishItemBatches: one batch's worth. */
export function itemBatch(): { seq: number; value: number; stamp: number }[] {
  return Array.from({ length: ITEM_BATCH }, () => ({ seq: 0, value: 0, stamp: 0 }));
}

/**
 * Publishes items 0..n-1 with publishBatch of ITEM_BATCH reused objects (`batch`, from itemBatch),
 * awaiting whenWritable() between batches, then flushes. Policy 'block' refuses none: a batch not
 * taken whole fails the run.
 */
export async function publishItemBatches(engine: Engine<ThroughputTopics>, n: number, batch: { seq: number; value: number; stamp: number }[]): Promise<void> {
  for (let start = 0; start < n; start += ITEM_BATCH) {
    const size = Math.min(ITEM_BATCH, n - start);
    const messages = size === ITEM_BATCH ? batch : batch.slice(0, size);
    for (let i = 0; i < size; i++) {
      const message = messages[i]!;
      message.seq = start + i;
      message.value = valueOf(start + i);
      message.stamp = start + i;
    }
    const taken = engine.publishBatch('item', messages);
    if (taken !== size) throw new VerificationError(`publishBatch took ${taken} of ${size} messages (policy 'block' refuses none)`);
    await engine.whenWritable();
  }
  engine.flush();
}

/** A postMessage sink's tally, and which of the sinks sent it. */
export interface SinkReport extends StreamTally {
  worker: number;
}

/**
 * `count` worker_threads running the postMessage sink; `ready` resolves once all of them can take
 * messages. A run posts every item to every sink (one postMessage per item and sink), then a
 * report request to each.
 */
export class PostMessageSinks {
  private readonly workers: Worker[] = [];
  private failure: Error | null = null;
  private onFailure: ((error: Error) => void) | null = null;
  readonly ready: Promise<unknown>;

  constructor(count: number) {
    const ready: Promise<unknown>[] = [];
    for (let w = 0; w < count; w++) {
      const worker = new Worker(new URL('./workers/engine-postmessage.js', import.meta.url));
      const fail = (error: Error): void => { this.failure ??= error; this.onFailure?.(error); };
      ready.push(new Promise((resolve) => worker.once('message', resolve)));
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`postMessage worker ${w} exited with code ${code}`)));
      this.workers.push(worker);
    }
    this.ready = Promise.all(ready);
  }

  /** Posts items 0..n-1 to every sink, then a report request to each; resolves with their reports, in sink order. */
  async run(n: number): Promise<SinkReport[]> {
    if (this.failure) throw this.failure;
    const replies = Promise.all(this.workers.map((worker, w) => new Promise<SinkReport>((resolve, reject) => {
      this.onFailure = reject;
      worker.once('message', (report: StreamTally) => resolve({ ...report, worker: w }));
    })));
    for (let seq = 0; seq < n; seq++) {
      const message = { seq, value: valueOf(seq), stamp: seq };
      for (const worker of this.workers) worker.postMessage(message);
    }
    for (const worker of this.workers) worker.postMessage({ report: true });
    return replies;
  }

  async stop(): Promise<void> {
    for (const worker of this.workers) worker.removeAllListeners('exit');
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}
