/**
 * One-to-one throughput, the engine beside the ring buffers a user could pick instead.
 *
 *   engine (wasm | js):  main thread ── writer+send / publishBatch(256) ──▶ lane 0→1 ──▶ worker: sink handler
 *                        (then a `report` request on the same lane; its reply ends the run)
 *   ringbuf.js:          producer worker ── push(256 msgs as u32 words) ──▶ RingBuffer ──▶ consumer worker: pop
 *   sab-ring:            producer worker ── 256 msgs in place, Atomics.store(head) ──▶ SAB ring ──▶ consumer worker
 *
 * Every side moves the same 24-byte message (seq u32, value u32, x u32, y u32, stamp f64) from one
 * thread to one other thread; the consumer checks seq order, folds value into an FNV-1a checksum
 * and sums stamp. Each timed run verifies count, order, checksum and stamp sum against what was
 * sent (VerificationError otherwise). A run's time is measured on the main thread: for the engine
 * from the first publish to the report's reply; for the peers from bumping the control block's GEN
 * (which wakes both parked workers) to receiving both workers' reports. Both engine backends and
 * both peers run in the same process run, alternating run by run (engine-common.ts measureSides).
 *
 * Cases: 'engine writer+send' (wasm, js: one message per call, the engine flushes every 64),
 * 'messages, batch 256' (wasm, js via publishBatch of 256 reused objects; ringbuf.js; sab-ring), and
 * 'messages, batch 256, beside a 56 KiB topic' (wasm, js: the same publishBatch runs in engines that
 * also declare `bulk`, a 56 KiB message nobody publishes, so every lane's records are 56 KiB; a
 * record is copied by its own topic's bytes, and this case shows what the large slots still cost).
 * (The ring's own one-to-one cases, bench/ring-threads.ts, move bare records, not messages.)
 * Engines: 1 worker, default options (ringCapacity 1024, flushEvery 64, batch 256); peers: a ring
 * of 4096 messages (bench/workers/o2o-common.ts).
 */
import { Worker } from 'node:worker_threads';
import type { Backend } from '../bindings/core-ops.ts';
import type { Engine } from '../src/index.ts';
import { RingBuffer } from 'ringbuf.js';
import { streamChecksum, valueOf } from './engine/checksum.ts';
import { o2oBulkTopics, o2oTopics, type O2oBulkTopics, type O2oTopics } from './engine/o2o-topics.ts';
import {
  BACKENDS, SuiteEngines, VerificationError, measureSides, runSize, streamProblems, verify, within, type RunSizes, type Side, type StreamTally,
} from './engine-common.ts';
import { selected, type BenchOptions, type EngineBenchEntry } from './results.ts';
import {
  CTRL_ABORT, CTRL_GEN, CTRL_MESSAGES, CTRL_QUIT, CTRL_WORDS, MESSAGE_WORDS, RING_MESSAGES, RUN_TIMEOUT_MS, SAB_RING_BYTES,
  Y_MASK, stampOf, stampSum, type PeerKind, type PeerReport, type PeerWorkerData, type Role,
} from './workers/o2o-common.ts';

const SUITE = 'one-to-one';
const HANDLERS = new URL('./engine/o2o-handlers.js', import.meta.url);
const BATCH = 256;
const WRITER_CASE = 'engine writer+send';
const BATCH_CASE = `messages, batch ${BATCH}`;
const BULK_CASE = `messages, batch ${BATCH}, beside a 56 KiB topic`;
const BULK_HANDLERS = new URL('./engine/o2o-bulk-handlers.js', import.meta.url);
const PEERS: readonly PeerKind[] = ['ringbuf.js', 'sab-ring'];
const PEER_WORKERS: Record<PeerKind, string> = { 'ringbuf.js': './workers/o2o-ringbuf.js', 'sab-ring': './workers/o2o-sab-ring.js' };

/** Messages per engine run (~10 M msg/s wasm, ~6 M js measured here). */
const ENGINE_MESSAGES: RunSizes = { quick: 500_000, normal: 2_000_000, full: 10_000_000 };
/** Messages per peer run: the plain rings run several times faster. */
const PEER_MESSAGES: RunSizes = { quick: 2_000_000, normal: 10_000_000, full: 50_000_000 };

interface Tally extends StreamTally { stampSum: number }

function check(tally: Tally, n: number, expectedChecksum: number): void {
  const problems = streamProblems(tally, n, expectedChecksum);
  const sum = stampSum(n);
  if (tally.stampSum !== sum) problems.push(`stamp sum ${tally.stampSum} != sent ${sum}`);
  verify(problems);
}

type O2oEngine = Engine<O2oTopics>;

/** One run's messages: one writer+send per message, or publishBatch of BATCH; flushed at the end. */
export async function publishRun(engine: O2oEngine, batched: boolean, n: number): Promise<void> {
  if (!batched) {
    const writer = engine.writer('msg');
    for (let seq = 0; seq < n; seq++) {
      const value = valueOf(seq);
      writer.seq = seq;
      writer.value = value;
      writer.x = seq & 0xffff;
      writer.y = (value ^ Y_MASK) >>> 0;
      writer.stamp = stampOf(seq);
      if (!engine.send('msg')) await engine.whenWritable();
    }
  } else {
    const batch = Array.from({ length: BATCH }, () => ({ seq: 0, value: 0, x: 0, y: 0, stamp: 0 }));
    for (let start = 0; start < n; start += BATCH) {
      const size = Math.min(BATCH, n - start);
      const messages = size === BATCH ? batch : batch.slice(0, size);
      for (let i = 0; i < size; i++) {
        const m = messages[i]!;
        const seq = start + i;
        m.seq = seq;
        m.value = valueOf(seq);
        m.x = seq & 0xffff;
        m.y = (m.value ^ Y_MASK) >>> 0;
        m.stamp = stampOf(seq);
      }
      const taken = engine.publishBatch('msg', messages);
      if (taken !== size) throw new VerificationError(`publishBatch took ${taken} of ${size} messages (policy 'block' refuses none)`);
      await engine.whenWritable();
    }
  }
  engine.flush();
}

/** A producer worker and a consumer worker of one peer ring, parked on a control block between runs. */
class PeerPair {
  private readonly control = new SharedArrayBuffer(CTRL_WORDS * 4);
  private readonly ctrl = new Int32Array(this.control);
  private readonly workers: Worker[];
  private readonly inbox: PeerReport[][] = [[], []];
  private waiters: (() => void)[] = [];
  private failure: Error | null = null;

  constructor(readonly kind: PeerKind) {
    const ring = kind === 'sab-ring'
      ? new SharedArrayBuffer(SAB_RING_BYTES)
      : RingBuffer.getStorageForCapacity(RING_MESSAGES * MESSAGE_WORDS, Uint32Array);
    const roles: Role[] = ['producer', 'consumer'];
    this.workers = roles.map((role, i) => {
      const data: PeerWorkerData = { role, control: this.control, ring };
      const worker = new Worker(new URL(PEER_WORKERS[kind], import.meta.url), { workerData: data });
      worker.on('message', (message: PeerReport) => { this.inbox[i]!.push(message); this.wake(); });
      worker.on('error', (error) => this.fail(error));
      worker.on('exit', (code) => this.fail(new Error(`${kind} ${role} exited with code ${code}`)));
      return worker;
    });
  }

  private wake(): void { const w = this.waiters; this.waiters = []; for (const f of w) f(); }
  private fail(error: Error): void { this.failure ??= error; Atomics.store(this.ctrl, CTRL_ABORT, 1); this.wake(); }

  /** The next message from worker i (0 producer, 1 consumer). */
  private async next(i: number): Promise<PeerReport> {
    for (;;) {
      if (this.failure) throw this.failure;
      const message = this.inbox[i]!.shift();
      if (message !== undefined) return message;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  async ready(): Promise<void> {
    await Promise.all([this.next(0), this.next(1)]);
  }

  /** One run of n messages; returns the consumer's tally and the seconds from GEN to both reports. */
  async run(n: number): Promise<{ tally: Tally; seconds: number }> {
    Atomics.store(this.ctrl, CTRL_MESSAGES, n);
    const started = performance.now();
    Atomics.add(this.ctrl, CTRL_GEN, 1); // MESSAGES first; the workers load it after seeing GEN move
    Atomics.notify(this.ctrl, CTRL_GEN);
    const [producer, consumer] = await Promise.all([this.next(0), this.next(1)]);
    const seconds = (performance.now() - started) / 1000;
    const error = producer.error ?? consumer.error;
    if (error !== null) throw new VerificationError(error);
    if (producer.count !== n) throw new VerificationError(`${this.kind} producer wrote ${producer.count} of ${n} messages`);
    return { tally: consumer, seconds };
  }

  async stop(): Promise<void> {
    for (const worker of this.workers) worker.removeAllListeners('exit');
    Atomics.store(this.ctrl, CTRL_QUIT, 1);
    Atomics.add(this.ctrl, CTRL_GEN, 1);
    Atomics.notify(this.ctrl, CTRL_GEN);
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}

/** Runs the one-to-one suite's cases selected by `options`: engine (wasm, js) beside ringbuf.js and sab-ring. */
export async function runOneToOne(options: BenchOptions, log: (line: string) => void): Promise<EngineBenchEntry[]> {
  const writerBackends = BACKENDS.filter((who) => selected(options, SUITE, WRITER_CASE, who));
  const batchBackends = BACKENDS.filter((who) => selected(options, SUITE, BATCH_CASE, who));
  const peers = PEERS.filter((who) => selected(options, SUITE, BATCH_CASE, who));
  const bulkBackends = BACKENDS.filter((who) => selected(options, SUITE, BULK_CASE, who));
  const backends = BACKENDS.filter((who) => writerBackends.includes(who) || batchBackends.includes(who));
  if (backends.length === 0 && peers.length === 0 && bulkBackends.length === 0) return [];
  const entries: EngineBenchEntry[] = [];
  const en = runSize(options, ENGINE_MESSAGES);
  const pn = runSize(options, PEER_MESSAGES);
  const engineExpected = streamChecksum(en);
  const peerExpected = streamChecksum(pn);

  const engines = new SuiteEngines<O2oTopics>();
  const bulkEngines = new SuiteEngines<O2oBulkTopics>();
  const pairs: PeerPair[] = [];
  try {
    await engines.startEach(backends, { topics: o2oTopics, handlers: HANDLERS, workers: 1 }, [
      ['msg', { handler: 'sink', mode: 'group', workers: [0] }],
      ['report', { handler: 'report', mode: 'group', workers: [0] }],
    ]);
    await bulkEngines.startEach(bulkBackends, { topics: o2oBulkTopics, handlers: BULK_HANDLERS, workers: 1 }, [
      ['msg', { handler: 'sink', mode: 'group', workers: [0] }],
      ['report', { handler: 'report', mode: 'group', workers: [0] }],
    ]);
    for (const kind of peers) pairs.push(new PeerPair(kind));
    await within(30_000, 'peer workers start', Promise.all(pairs.map((pair) => pair.ready())));

    /** Case `name` on `suite`'s engine of `who`: publishRun (batched or not), then the report. */
    const engineSide = (suite: SuiteEngines<O2oTopics>, who: Backend, batched: boolean, name: string): Side => ({
      who,
      run: async () => {
        const timeout = RUN_TIMEOUT_MS;
        const { result: tally, seconds } = await suite.timed(who, `${who} ${name}`, timeout, async (engine) => {
          await publishRun(engine, batched, en);
          return engine.request('report', { reset: true }, { timeout });
        });
        check(tally, en, engineExpected);
        return { msgs_per_s: en / seconds };
      },
    });
    // The bulk engines have the same topics and one more: publishRun publishes only `msg`.
    const bulkSuite = bulkEngines as unknown as SuiteEngines<O2oTopics>;
    const peerSide = (pair: PeerPair): Side => ({
      who: pair.kind,
      run: async () => {
        const { tally, seconds } = await within(RUN_TIMEOUT_MS + 10_000, `${pair.kind} run`, pair.run(pn));
        check(tally, pn, peerExpected);
        return { msgs_per_s: pn / seconds };
      },
    });

    if (writerBackends.length > 0) {
      log(`${SUITE} ${WRITER_CASE}: ${options.runs} timed runs of ${en.toLocaleString('en')} messages (main → 1 worker) after warm-ups, ${writerBackends.join(' and ')}`);
      const sides = writerBackends.map((who) => engineSide(engines, who, false, WRITER_CASE));
      entries.push(...await measureSides(SUITE, WRITER_CASE, sides, ['msgs_per_s'], options, log));
    }
    if (batchBackends.length > 0 || peers.length > 0) {
      log(`${SUITE} ${BATCH_CASE}: ${options.runs} timed runs after warm-ups: ${en.toLocaleString('en')} messages for ${batchBackends.join(' and ') || 'no engine'} (publishBatch, main → 1 worker), ${pn.toLocaleString('en')} for ${peers.join(' and ') || 'no peer'} (producer worker → consumer worker)`);
      const sides = [...batchBackends.map((who) => engineSide(engines, who, true, BATCH_CASE)), ...pairs.map(peerSide)];
      entries.push(...await measureSides(SUITE, BATCH_CASE, sides, ['msgs_per_s'], options, log));
    }
    if (bulkBackends.length > 0) {
      log(`${SUITE} ${BULK_CASE}: ${options.runs} timed runs of ${en.toLocaleString('en')} messages (publishBatch, main → 1 worker, lanes of 56 KiB records) after warm-ups, ${bulkBackends.join(' and ')}`);
      entries.push(...await measureSides(SUITE, BULK_CASE, bulkBackends.map((who) => engineSide(bulkSuite, who, true, BULK_CASE)), ['msgs_per_s'], options, log));
    }
  } finally {
    await Promise.all([engines.close(), bulkEngines.close(), ...pairs.map((pair) => pair.stop())]);
  }
  return entries;
}
