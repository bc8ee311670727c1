/**
 * One-to-one ring throughput across real threads, Wasm vs JS.
 *
 *   main thread (coordinates only: bumps GEN, collects one report per worker per run)
 *        │ GEN (control block, Atomics)
 *        ├──────────────────────┬──────────────────────────────────┐
 *        ▼                      ▼                                  ▼
 *   producer worker ──▶ SPSC ring (4096 × 16 B) ──▶ consumer worker
 *   seq 0,1,2… + checksum                         checks seq order + checksum
 *
 * Each backend gets its own arena and its own pair of workers, the same backend on both sides.
 * The pairs are created together and measured in alternating order (wasm, js, js, wasm, …) so a
 * burst of load from other processes does not land on one backend only; the idle pair sleeps on
 * the control block. Per pair: WARMUP_RUNS warm-up runs (excluded), then `runs` timed runs. A
 * run's time is from the producer seeing GEN move to the consumer reading the last record.
 * Reported: median and min–max msgs/s, and `verified` (every run: all records, in order, with
 * the producer's checksum, no side failing).
 */
import { Worker } from 'node:worker_threads';
import type { Backend, CoreOps } from '../bindings/core-ops.ts';
import { createJsCore } from '../bindings/js/index.ts';
import { instantiateCore, loadCoreModule } from '../bindings/wasm.ts';
import { createArena } from '../src/arena.ts';
import { median, selected, type BenchEntry, type BenchOptions } from './results.ts';
import {
  BATCH, CONSUMER_THREAD, CTRL_GEN, CTRL_MESSAGES, CTRL_QUIT, CTRL_SEEN, CTRL_STAGE, CTRL_TIMEOUT_MS, CTRL_WORDS, FLUSH_EVERY,
  PRODUCER_THREAD, RECORD_SIZE, RING_CAPACITY, STAGE_NAMES, THREADS, type Mode, type RingWorkerData, type RunReport,
} from './workers/ring-common.ts';

const SUITE = 'one-to-one';
const BACKENDS: readonly Backend[] = ['wasm', 'js'];

export const CASE_NAMES: Record<Mode, string> = {
  single: `single claim/peek (flush/${FLUSH_EVERY})`,
  batch: `batch ${BATCH}`,
};

/** Untimed runs first: the first one gets the hot loops optimised on-stack (OSR); later calls of
 *  the same loop function need a regular optimised version, which V8 makes on a later call. */
const WARMUP_RUNS = 3;
const WARMUP_MESSAGES = 2_000_000;

/** Messages per timed run. */
export function messagesPerRun(mode: Mode, options: BenchOptions): number {
  if (options.quick) return 2_000_000;
  if (options.full) return mode === 'single' ? 50_000_000 : 200_000_000;
  return mode === 'single' ? 20_000_000 : 50_000_000;
}

/** A run may take this long (≥ 1 M msg/s plus slack) before both sides give up. */
function runTimeoutMs(messages: number): number {
  return 20_000 + Math.ceil(messages / 1_000);
}

/** Queues a worker's messages so they can be awaited one at a time; fails on error or exit. */
class WorkerChannel {
  private readonly queue: unknown[] = [];
  private waiter: ((value: unknown) => void) | null = null;
  private failure: Error | null = null;
  private failWaiter: ((error: Error) => void) | null = null;

  constructor(readonly worker: Worker, readonly name: string) {
    worker.on('message', (message: unknown) => {
      if (this.waiter) {
        const resolve = this.waiter;
        this.clear();
        resolve(message);
      } else {
        this.queue.push(message);
      }
    });
    worker.on('error', (error) => this.fail(new Error(`${name}: ${error.message}`)));
    worker.on('exit', (code) => this.fail(new Error(`${name} exited with code ${code}`)));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const reject = this.failWaiter;
    this.clear();
    reject?.(error);
  }

  private clear(): void {
    this.waiter = null;
    this.failWaiter = null;
  }

  /** The next message, or a rejection on error, exit or `timeoutMs`. */
  next<T>(timeoutMs: number): Promise<T> {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift() as T);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.clear();
        reject(new Error(`${this.name}: no report within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = (value) => { clearTimeout(timer); resolve(value as T); };
      this.failWaiter = (error) => { clearTimeout(timer); reject(error); };
    });
  }
}

interface RunOutcome { rate: number; verified: boolean; error: string | null; producer: RunReport; consumer: RunReport }

/** One backend's arena, control block and producer/consumer workers. */
class RingPair {
  readonly control = new Int32Array(new SharedArrayBuffer(CTRL_WORDS * 4));
  readonly producer: WorkerChannel;
  readonly consumer: WorkerChannel;
  /** Set once a run fails: the pair is stopped and not run again. */
  broken: string | null = null;

  constructor(readonly backend: Backend, readonly mode: Mode, module: WebAssembly.Module) {
    const makeCore = (memory: WebAssembly.Memory): CoreOps => (backend === 'wasm' ? instantiateCore(module, memory) : createJsCore(memory));
    const arena = createArena({
      threads: THREADS,
      rings: [{ capacity: RING_CAPACITY, recordSize: RECORD_SIZE, producer: PRODUCER_THREAD, consumer: CONSUMER_THREAD }],
      scratchBytes: 65536,
    }, makeCore);
    const data: RingWorkerData = { module, memory: arena.memory, backend, control: this.control.buffer as SharedArrayBuffer, mode };
    const spawn = (role: string): WorkerChannel =>
      new WorkerChannel(new Worker(new URL(`./workers/ring-${role}.js`, import.meta.url), { workerData: data }), `${backend} ${mode} ${role}`);
    this.producer = spawn('producer');
    this.consumer = spawn('consumer');
  }

  async ready(): Promise<void> {
    await Promise.all([this.producer.next(30_000), this.consumer.next(30_000)]);
  }

  /** Starts one run of `messages` records on both workers and checks what they report. */
  async run(messages: number): Promise<RunOutcome> {
    const timeoutMs = runTimeoutMs(messages);
    Atomics.store(this.control, CTRL_MESSAGES, messages);
    Atomics.store(this.control, CTRL_TIMEOUT_MS, timeoutMs);
    // Publishes MESSAGES and TIMEOUT_MS: pairs with the workers' Atomics.load of GEN.
    const gen = Atomics.add(this.control, CTRL_GEN, 1) + 1;
    Atomics.notify(this.control, CTRL_GEN);
    let producer: RunReport;
    let consumer: RunReport;
    try {
      [producer, consumer] = await Promise.all([
        this.producer.next<RunReport>(timeoutMs + 5_000),
        this.consumer.next<RunReport>(timeoutMs + 5_000),
      ]);
    } catch (error) {
      throw new Error(`${(error as Error).message} (run ${gen}; ${this.describeStages()})`);
    }
    const problems: string[] = [];
    for (const report of [producer, consumer]) {
      if (report.gen !== gen) problems.push(`${report.role} reported run ${report.gen}, expected ${gen}`);
      if (report.failure !== null) problems.push(report.failure);
      if (report.records !== messages) problems.push(`${report.role} handled ${report.records} of ${messages} records`);
    }
    if (consumer.badRecords !== 0) {
      problems.push(`${consumer.badRecords} records out of order or from another run (first at index ${consumer.firstBadIndex}: seq ${consumer.firstBadSeq}, run ${consumer.firstBadGen}, expected run ${gen})`);
    }
    if (consumer.checksum !== producer.checksum) problems.push(`checksum ${consumer.checksum} != producer's ${producer.checksum}`);
    const seconds = (consumer.end - producer.start) / 1e9;
    return {
      rate: messages / seconds, verified: problems.length === 0, error: problems.length === 0 ? null : problems.join('; '),
      producer, consumer,
    };
  }

  /** Where each worker says it is, for a run that did not report. */
  describeStages(): string {
    return (['producer', 'consumer'] as const).map((role, r) => {
      const stage = Atomics.load(this.control, CTRL_STAGE + r);
      return `${role} ${STAGE_NAMES[stage] ?? stage}, last started run ${Atomics.load(this.control, CTRL_SEEN + r)}`;
    }).join('; ');
  }

  async stop(): Promise<void> {
    Atomics.store(this.control, CTRL_QUIT, 1);
    Atomics.add(this.control, CTRL_GEN, 1);
    Atomics.notify(this.control, CTRL_GEN);
    await Promise.all([this.producer.worker.terminate(), this.consumer.worker.terminate()]);
  }
}

/** Runs the one-to-one cases selected by `options` and returns one entry per (mode, backend). */
export async function runRingThreads(options: BenchOptions, log: (line: string) => void): Promise<BenchEntry[]> {
  const module = await loadCoreModule();
  const entries: BenchEntry[] = [];
  for (const mode of ['single', 'batch'] as const) {
    const name = CASE_NAMES[mode];
    const backends = BACKENDS.filter((who) => selected(options, SUITE, name, who));
    if (backends.length === 0) continue;
    const messages = messagesPerRun(mode, options);
    const warmup = Math.min(messages, WARMUP_MESSAGES);
    log(`${SUITE} ${name}: ${options.runs} timed runs of ${messages.toLocaleString('en')} messages after ${WARMUP_RUNS} warm-up runs of ${warmup.toLocaleString('en')}, ${backends.join(' and ')}`);

    const pairs = backends.map((who) => new RingPair(who, mode, module));
    const rates = new Map<Backend, number[]>(backends.map((who) => [who, []]));
    const parks = new Map<Backend, number[]>(backends.map((who) => [who, [0, 0]]));
    const errors = new Map<Backend, string>();
    const attempt = async (pair: RingPair, count: number, timed: boolean): Promise<void> => {
      if (pair.broken !== null) return;
      try {
        const outcome = await pair.run(count);
        if (!outcome.verified) pair.broken = outcome.error;
        else if (timed) {
          rates.get(pair.backend)!.push(outcome.rate);
          const p = parks.get(pair.backend)!;
          p[0]! += outcome.producer.parks;
          p[1]! += outcome.consumer.parks;
        }
      } catch (error) {
        pair.broken = (error as Error).message;
      }
      if (pair.broken !== null) {
        errors.set(pair.backend, pair.broken);
        log(`  ${pair.backend}: FAILED: ${pair.broken}`);
        await pair.stop();
      }
    };
    try {
      await Promise.all(pairs.map(async (pair) => {
        try {
          await pair.ready();
        } catch (error) {
          pair.broken = (error as Error).message;
          errors.set(pair.backend, pair.broken);
          await pair.stop();
        }
      }));
      for (let run = 0; run < WARMUP_RUNS; run++) for (const pair of pairs) await attempt(pair, warmup, false);
      for (let run = 0; run < options.runs; run++) {
        const order = run % 2 === 0 ? pairs : [...pairs].reverse();
        for (const pair of order) await attempt(pair, messages, true);
      }
    } finally {
      await Promise.all(pairs.filter((pair) => pair.broken === null).map((pair) => pair.stop()));
    }

    for (const who of backends) {
      const samples = rates.get(who)!;
      const error = errors.get(who);
      const [producerParks, consumerParks] = parks.get(who)!;
      entries.push({
        suite: SUITE, case: name, who, metric: 'msgs_per_s', unit: 'msg/s',
        median: median(samples), min: Math.min(...samples), max: Math.max(...samples), runs: samples.length,
        verified: error === undefined && samples.length === options.runs,
        ...(error === undefined ? {} : { error }),
      });
      if (error === undefined) log(`  ${who}: ${samples.map((r) => (r / 1e6).toFixed(1)).join(', ')} M msg/s; parks producer ${producerParks}, consumer ${consumerParks}`);
    }
  }
  return entries;
}
