/**
 * Fan-out throughput: the main thread broadcasts, every worker's handler gets every message.
 *
 *   main thread (engine thread 0)          ┌──▶ lane 0→1 ──▶ worker 0: sink (count, seq order, FNV-1a)
 *   publishBatch(256) of 'item' ──────────┤
 *     whenWritable() between batches      └──▶ lane 0→2 ──▶ worker 1: sink (count, seq order, FNV-1a)
 *   requestAll('report') after the items ◀── one reply per worker, after all of its items
 *
 *   baseline: main ──postMessage({ seq, value, stamp }) × 2 per message──▶ two worker_threads
 *
 * One `item` subscription in 'broadcast' mode over both workers (N = FANOUT = 2): each publish is
 * routed into both lanes. Topics and handler module are the one-to-one benchmark's
 * (bench/engine/throughput-*.ts): 16-byte messages, a sink that checks seq rises by exactly 1
 * and folds values into an order-sensitive checksum, a `report` request answered after the items
 * on the same lane. A run publishes M messages and then requestAll('report'); its time runs from
 * the first publish to the last reply, and every worker's count, order and checksum must equal
 * what was sent (computed on the main thread). The postMessage baseline posts every message to
 * each of its two workers (bench/workers/engine-postmessage.ts), then a report request to both.
 *
 * Metrics: msgs_per_s in case `…` counts messages published per second; the same runs appear
 * again in case `…, deliveries` as handler deliveries per second (published × N). All sides take
 * turns in one measureSides call, so the baseline sees the same machine load as the backends.
 */
import { Worker } from 'node:worker_threads';
import type { Backend } from '../bindings/core-ops.ts';
import { createEngine, type Engine } from '../src/index.ts';
import { streamChecksum, valueOf } from './engine/checksum.ts';
import { throughputTopics, type ThroughputTopics } from './engine/throughput-topics.ts';
import {
  BACKENDS, VerificationError, measureSides, selectedCase, within, type EngineBenchEntry, type EngineWho, type Side,
} from './engine-common.ts';
import type { BenchOptions } from './results.ts';

const SUITE = 'fan-out';
const HANDLERS = new URL('./engine/throughput-handlers.js', import.meta.url);
/** Workers every message is broadcast to. */
const FANOUT = 2;
const BATCH = 256;
const PUBLISHED_CASE = `broadcast 1→${FANOUT} publishBatch ${BATCH}`;
const DELIVERY_CASE = `${PUBLISHED_CASE}, deliveries`;

function messagesPerRun(options: BenchOptions): number {
  if (options.quick) return 100_000;
  if (options.full) return 4_000_000;
  return 400_000;
}
/** postMessage queues everything unbounded at well under 1 M/s per copy: fewer messages. */
function postMessagesPerRun(options: BenchOptions): number {
  if (options.quick) return 30_000;
  if (options.full) return 1_000_000;
  return 100_000;
}
function runTimeoutMs(messages: number): number {
  return 20_000 + Math.ceil((messages * FANOUT) / 100); // ≥ 100 k deliveries/s plus slack
}

type FanOutEngine = Engine<ThroughputTopics>;
interface SinkReport { count: number; checksum: number; orderErrors: number; worker?: number }

/** Every one of FANOUT reports saw all n messages, in order, with the sender's checksum. */
function checkReports(reports: readonly SinkReport[], n: number, expected: number): void {
  const problems: string[] = [];
  if (reports.length !== FANOUT) problems.push(`${reports.length} of ${FANOUT} workers reported`);
  reports.forEach((report, i) => {
    const who = report.worker ?? i;
    if (report.count !== n) problems.push(`worker ${who} handled ${report.count} of ${n} messages`);
    if (report.orderErrors !== 0) problems.push(`worker ${who}: ${report.orderErrors} messages out of order`);
    if (report.checksum !== expected) problems.push(`worker ${who}: checksum ${report.checksum} != sent ${expected}`);
  });
  const workers = new Set(reports.map((report) => report.worker));
  if (reports[0]?.worker !== undefined && workers.size !== reports.length) problems.push(`replies came from workers ${[...workers].join(', ')}`);
  if (problems.length > 0) throw new VerificationError(problems.join('; '));
}

async function publishRun(engine: FanOutEngine, n: number, batch: { seq: number; value: number; stamp: number }[]): Promise<void> {
  for (let start = 0; start < n; start += BATCH) {
    const size = Math.min(BATCH, n - start);
    const messages = size === BATCH ? batch : batch.slice(0, size);
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

/** FANOUT worker_threads running the postMessage sink; `ready` resolves once all of them can take messages. */
class PostMessageFanOut {
  private readonly workers: Worker[] = [];
  private failure: Error | null = null;
  private onFailure: ((error: Error) => void) | null = null;
  readonly ready: Promise<unknown>;

  constructor() {
    const ready: Promise<unknown>[] = [];
    for (let w = 0; w < FANOUT; w++) {
      const worker = new Worker(new URL('./workers/engine-postmessage.js', import.meta.url));
      const fail = (error: Error): void => { this.failure ??= error; this.onFailure?.(error); };
      ready.push(new Promise((resolve) => worker.once('message', resolve)));
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`postMessage worker ${w} exited with code ${code}`)));
      this.workers.push(worker);
    }
    this.ready = Promise.all(ready);
  }

  /** Posts n items to every worker (one postMessage per item and worker), then a report request to each. */
  async run(n: number): Promise<SinkReport[]> {
    if (this.failure) throw this.failure;
    const replies = Promise.all(this.workers.map((worker, w) => new Promise<SinkReport>((resolve, reject) => {
      this.onFailure = reject;
      worker.once('message', (report: SinkReport) => resolve({ ...report, worker: w }));
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

/** Runs the fan-out cases selected by `options`. */
export async function runFanOut(options: BenchOptions, log: (line: string) => void): Promise<EngineBenchEntry[]> {
  const wanted = (who: EngineWho): boolean => selectedCase(options, SUITE, PUBLISHED_CASE, who) || selectedCase(options, SUITE, DELIVERY_CASE, who);
  const backends = BACKENDS.filter(wanted);
  const baseline = wanted('postMessage');
  if (backends.length === 0 && !baseline) return [];
  const n = messagesPerRun(options);
  const expected = streamChecksum(n);
  const pn = postMessagesPerRun(options);
  const pexpected = streamChecksum(pn);
  const engines = new Map<Backend, FanOutEngine>();
  const errors = new Map<Backend, Error[]>(backends.map((who) => [who, []]));
  let sink: PostMessageFanOut | null = null;
  try {
    for (const backend of backends) {
      const engine = await createEngine<ThroughputTopics>({
        topics: throughputTopics, handlers: HANDLERS, backend, workers: FANOUT, onError: (error) => errors.get(backend)!.push(error),
      });
      engines.set(backend, engine);
      const all = Array.from({ length: FANOUT }, (_, w) => w);
      await engine.subscribe('item', { handler: 'sink', mode: 'broadcast', workers: all });
      await engine.subscribe('report', { handler: 'report', mode: 'broadcast', workers: all });
    }
    const batch = Array.from({ length: BATCH }, () => ({ seq: 0, value: 0, stamp: 0 }));
    const sides: Side[] = backends.map((who) => ({
      who,
      run: async () => {
        const engine = engines.get(who)!;
        const timeout = runTimeoutMs(n);
        const started = performance.now();
        const reports = await within(timeout, `${who} ${PUBLISHED_CASE}`, (async () => {
          await publishRun(engine, n, batch);
          return engine.requestAll('report', { reset: true }, { timeout });
        })());
        const seconds = (performance.now() - started) / 1000;
        const reported = errors.get(who)!;
        if (reported.length > 0) throw new VerificationError(`engine reported: ${reported[0]!.message}`);
        checkReports(reports, n, expected);
        return { msgs_per_s: n / seconds };
      },
    }));
    if (baseline) {
      sink = new PostMessageFanOut();
      const started = sink;
      await within(30_000, 'postMessage workers start', started.ready);
      sides.push({
        who: 'postMessage',
        run: async () => {
          const begun = performance.now();
          const reports = await within(runTimeoutMs(pn), `postMessage ${PUBLISHED_CASE}`, started.run(pn));
          const seconds = (performance.now() - begun) / 1000;
          checkReports(reports, pn, pexpected);
          return { msgs_per_s: pn / seconds };
        },
      });
    }
    log(`${SUITE} ${PUBLISHED_CASE}: ${options.runs} timed runs of ${n.toLocaleString('en')} messages (postMessage: ${pn.toLocaleString('en')}) broadcast main → ${FANOUT} workers after warm-ups, ${sides.map((side) => side.who).join(', ')}`);
    const published = await measureSides(SUITE, PUBLISHED_CASE, sides, ['msgs_per_s'], options, log);
    // The same runs, counted per delivery: every published message reached FANOUT handlers.
    const deliveries = published.map((entry) => ({
      ...entry, case: DELIVERY_CASE, median: entry.median * FANOUT, min: entry.min * FANOUT, max: entry.max * FANOUT,
    }));
    return [
      ...published.filter((entry) => selectedCase(options, SUITE, PUBLISHED_CASE, entry.who)),
      ...deliveries.filter((entry) => selectedCase(options, SUITE, DELIVERY_CASE, entry.who)),
    ];
  } finally {
    await Promise.all([...engines.values()].map((engine) => engine.close({ timeout: 5_000 })));
    await sink?.stop();
  }
}
