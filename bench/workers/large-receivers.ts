/**
 * The main thread's end of the large-messages suite's postMessage sides (bench/large-messages.ts):
 * worker_threads running bench/workers/large-postmessage.ts, fed one postMessage per message and
 * receiver, with at most a window of messages unacknowledged per receiver (postMessage has no
 * back-pressure of its own: without one, a sender faster than its receiver queues without bound).
 */
import { Worker } from 'node:worker_threads';
import { stampPayload, type LargeFromWorker, type LargeReport, type LargeToWorker, type LargeWorkerData } from './large-common.ts';

/** `count` receivers; `ready` resolves once all of them can take messages. Receivers acknowledge every `window` ÷ 4 messages. */
export class PostMessageReceivers {
  private readonly workers: Worker[] = [];
  private readonly acked: number[];
  private readonly reports: LargeReport[] = [];
  private wake: (() => void) | null = null;
  private failure: Error | null = null;
  readonly ready: Promise<unknown>;

  constructor(count: number, private readonly window: number) {
    this.acked = new Array<number>(count).fill(0);
    const ready: Promise<unknown>[] = [];
    for (let w = 0; w < count; w++) {
      const data: LargeWorkerData = { worker: w, ackEvery: window / 4 };
      const worker = new Worker(new URL('./large-postmessage.js', import.meta.url), { workerData: data });
      ready.push(new Promise((resolve) => worker.once('message', resolve)));
      worker.on('message', (message: LargeFromWorker) => {
        if ('acked' in message) this.acked[w] = message.acked;
        else if ('report' in message) this.reports.push(message.report);
        this.notify();
      });
      worker.on('error', (error) => this.fail(error));
      worker.on('exit', (code) => this.fail(new Error(`postMessage worker ${w} exited with code ${code}`)));
      this.workers.push(worker);
    }
    this.ready = Promise.all(ready);
  }

  private notify(): void { const wake = this.wake; this.wake = null; wake?.(); }
  private fail(error: Error): void { this.failure ??= error; this.notify(); }

  /** Messages every receiver has acknowledged. */
  private leastAcked(): number {
    let least = this.acked[0]!;
    for (const acked of this.acked) least = Math.min(least, acked);
    return least;
  }

  /** Resolves at the next message from a receiver; throws once one failed. */
  private async heard(): Promise<void> {
    if (this.failure) throw this.failure;
    await new Promise<void>((resolve) => { this.wake = resolve; });
    if (this.failure) throw this.failure;
  }

  /**
   * Posts messages 0..n-1 to every receiver, each a fresh copy of `source` whose buffer is
   * transferred (one receiver only: a transferred buffer reaches one), or `source` itself, cloned
   * by postMessage; then a report request. Resolves with the reports.
   */
  async run(n: number, transfer: boolean, source: Uint8Array): Promise<LargeReport[]> {
    if (transfer && this.workers.length !== 1) throw new Error('a transferred buffer reaches one receiver');
    this.reports.length = 0;
    this.acked.fill(0);
    for (let seq = 0; seq < n; seq++) {
      while (seq - this.leastAcked() >= this.window) await this.heard();
      if (transfer) {
        const payload = source.slice(); // a fresh buffer, copied in one step (new + set also zero-fills it first)
        stampPayload(payload, seq);
        const message: LargeToWorker = { seq, payload };
        this.workers[0]!.postMessage(message, [payload.buffer]);
      } else {
        stampPayload(source, seq);
        const message: LargeToWorker = { seq, payload: source };
        for (const worker of this.workers) worker.postMessage(message);
      }
    }
    for (const worker of this.workers) worker.postMessage({ report: true } satisfies LargeToWorker);
    while (this.reports.length < this.workers.length) await this.heard();
    return [...this.reports];
  }

  async stop(): Promise<void> {
    for (const worker of this.workers) worker.removeAllListeners('exit');
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}

