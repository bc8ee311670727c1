/**
 * Engine one-to-one throughput: the main thread publishes, one worker's handler consumes.
 *
 *   main thread (engine thread 0)                          worker 0
 *   publish() / writer+send() / publishBatch(256) ──▶ lane 0→1 (SPSC ring, 1024 × 32 B)
 *        ▲  whenWritable() when the lane is full              │ sink handler: count, seq order,
 *        │                                                    │ FNV-1a checksum of values
 *        └─────────────── report request (same lane, after the items) ◀── reply
 *
 *   baseline: main ──postMessage({ seq, value, stamp }) × N──▶ one worker_thread (same checks)
 *
 * Messages are 16 bytes (seq u32, value u32, stamp f64). A run publishes N messages and then a
 * `report` request on the same lane, so its reply comes after the sink handled every message; the
 * run's time is from the first publish to that reply, and the reply's count, checksum and order
 * errors must equal what was sent (computed independently on the main thread). Each backend has
 * its own engine (1 worker, default options: ringCapacity 1024, flushEvery 64, batch 256); the
 * idle engine's worker is parked while the other runs.
 *
 * `publish` reuses one fields object (no allocation per message from the benchmark itself);
 * `writer+send` sets the staging writer's fields; `publishBatch` publishes arrays of 256 reused
 * objects and awaits whenWritable() between batches. All three honour back-pressure.
 */
import { Worker } from 'node:worker_threads';
import type { Backend } from '../bindings/core-ops.ts';
import { createEngine, type Engine } from '../src/index.ts';
import { streamChecksum, valueOf } from './engine/checksum.ts';
import { throughputTopics, type ThroughputTopics } from './engine/throughput-topics.ts';
import {
  BACKENDS, VerificationError, measureSides, selectedCase, within, type EngineBenchEntry, type Side,
} from './engine-common.ts';
import type { BenchOptions } from './results.ts';

/** Suite 'one-to-one' (the name): main thread → one worker, with the postMessage baseline. */
const SUITE = 'one-to-one';
const HANDLERS = new URL('./engine/throughput-handlers.js', import.meta.url);
const BATCH = 256;
type Mode = 'publish' | 'writer+send' | 'publishBatch';
const MODES: readonly Mode[] = ['publish', 'writer+send', 'publishBatch'];
const CASE_NAMES: Record<Mode, string> = { publish: 'engine publish', 'writer+send': 'engine writer+send, 16 B', publishBatch: `engine publishBatch ${BATCH}` };
const POSTMESSAGE_CASE = 'postMessage baseline';

function messagesPerRun(options: BenchOptions): number {
  if (options.quick) return 500_000;
  if (options.full) return 10_000_000;
  return 1_000_000;
}
/** postMessage queues everything unbounded and runs at ~1 M/s: fewer messages. */
function postMessagesPerRun(options: BenchOptions): number {
  if (options.quick) return 200_000;
  if (options.full) return 2_000_000;
  return 300_000;
}
function runTimeoutMs(messages: number): number {
  return 20_000 + Math.ceil(messages / 100); // ≥ 100 k msg/s plus slack
}

type ThroughputEngine = Engine<ThroughputTopics>;

async function publishRun(engine: ThroughputEngine, mode: Mode, n: number): Promise<void> {
  switch (mode) {
    case 'publish': {
      const message = { seq: 0, value: 0, stamp: 0 };
      for (let seq = 0; seq < n; seq++) {
        message.seq = seq;
        message.value = valueOf(seq);
        message.stamp = seq;
        if (!engine.publish('item', message)) await engine.whenWritable();
      }
      break;
    }
    case 'writer+send': {
      const writer = engine.writer('item');
      for (let seq = 0; seq < n; seq++) {
        writer.seq = seq;
        writer.value = valueOf(seq);
        writer.stamp = seq;
        if (!engine.send('item')) await engine.whenWritable();
      }
      break;
    }
    case 'publishBatch': {
      const batch = Array.from({ length: BATCH }, () => ({ seq: 0, value: 0, stamp: 0 }));
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
      break;
    }
  }
  engine.flush();
}

function checkReport(report: { count: number; checksum: number; orderErrors: number }, n: number, expected: number): void {
  const problems: string[] = [];
  if (report.count !== n) problems.push(`handled ${report.count} of ${n} messages`);
  if (report.orderErrors !== 0) problems.push(`${report.orderErrors} messages out of order`);
  if (report.checksum !== expected) problems.push(`checksum ${report.checksum} != sent ${expected}`);
  if (problems.length > 0) throw new VerificationError(problems.join('; '));
}

/** A worker_thread that sums what it is posted (the baseline); resolves once it is ready. */
class PostMessageSink {
  private readonly worker = new Worker(new URL('./workers/engine-postmessage.js', import.meta.url));
  private waiter: { resolve(value: unknown): void; reject(error: Error): void } | null = null;
  private failure: Error | null = null;

  constructor() {
    this.worker.on('message', (message: unknown) => { const w = this.waiter; this.waiter = null; w?.resolve(message); });
    const fail = (error: Error): void => { this.failure ??= error; const w = this.waiter; this.waiter = null; w?.reject(error); };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`postMessage worker exited with code ${code}`)));
  }

  next<T>(): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => { this.waiter = { resolve: resolve as (value: unknown) => void, reject }; });
  }

  /** Posts n items then a report request; resolves with the report. */
  async run(n: number): Promise<{ count: number; checksum: number; orderErrors: number }> {
    const reply = this.next<{ count: number; checksum: number; orderErrors: number }>();
    for (let seq = 0; seq < n; seq++) this.worker.postMessage({ seq, value: valueOf(seq), stamp: seq });
    this.worker.postMessage({ report: true });
    return reply;
  }

  async stop(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}

/** Runs the throughput cases selected by `options`. */
export async function runEngineThroughput(options: BenchOptions, log: (line: string) => void): Promise<EngineBenchEntry[]> {
  const modes = MODES.filter((mode) => BACKENDS.some((who) => selectedCase(options, SUITE, CASE_NAMES[mode], who)));
  const baseline = selectedCase(options, SUITE, POSTMESSAGE_CASE, 'postMessage');
  if (modes.length === 0 && !baseline) return [];
  const entries: EngineBenchEntry[] = [];
  const n = messagesPerRun(options);
  const expected = streamChecksum(n);

  if (modes.length > 0) {
    const backends = BACKENDS.filter((who) => modes.some((mode) => selectedCase(options, SUITE, CASE_NAMES[mode], who)));
    const engines = new Map<Backend, ThroughputEngine>();
    const errors = new Map<Backend, Error[]>(backends.map((who) => [who, []]));
    try {
      for (const backend of backends) {
        const engine = await createEngine<ThroughputTopics>({
          topics: throughputTopics, handlers: HANDLERS, backend, workers: 1, onError: (error) => errors.get(backend)!.push(error),
        });
        engines.set(backend, engine);
        await engine.subscribe('item', { handler: 'sink', mode: 'group', workers: [0] });
        await engine.subscribe('report', { handler: 'report', mode: 'group', workers: [0] });
      }
      for (const mode of modes) {
        const name = CASE_NAMES[mode];
        log(`${SUITE} ${name}: ${options.runs} timed runs of ${n.toLocaleString('en')} messages (main → 1 worker) after warm-ups, ${backends.join(' and ')}`);
        const sides: Side[] = backends.filter((who) => selectedCase(options, SUITE, name, who)).map((who) => ({
          who,
          run: async () => {
            const engine = engines.get(who)!;
            const timeout = runTimeoutMs(n);
            const started = performance.now();
            const report = await within(timeout, `${who} ${name}`, (async () => {
              await publishRun(engine, mode, n);
              return engine.request('report', { reset: true }, { timeout });
            })());
            const seconds = (performance.now() - started) / 1000;
            const reported = errors.get(who)!;
            if (reported.length > 0) throw new VerificationError(`engine reported: ${reported[0]!.message}`);
            checkReport(report, n, expected);
            return { msgs_per_s: n / seconds };
          },
        }));
        entries.push(...await measureSides(SUITE, name, sides, ['msgs_per_s'], options, log));
      }
    } finally {
      await Promise.all([...engines.values()].map((engine) => engine.close({ timeout: 5_000 })));
    }
  }

  if (baseline) {
    const pn = postMessagesPerRun(options);
    const pexpected = streamChecksum(pn);
    log(`${SUITE} ${POSTMESSAGE_CASE}: ${options.runs} timed runs of ${pn.toLocaleString('en')} messages (main → 1 worker_thread, one postMessage each) after warm-ups`);
    const sink = new PostMessageSink();
    try {
      await within(30_000, 'postMessage worker start', sink.next());
      entries.push(...await measureSides(SUITE, POSTMESSAGE_CASE, [{
        who: 'postMessage',
        run: async () => {
          const started = performance.now();
          const report = await within(runTimeoutMs(pn), POSTMESSAGE_CASE, sink.run(pn));
          const seconds = (performance.now() - started) / 1000;
          checkReport(report, pn, pexpected);
          return { msgs_per_s: pn / seconds };
        },
      }], ['msgs_per_s'], options, log));
    } finally {
      await sink.stop();
    }
  }
  return entries;
}
