/**
 * Large messages: payloads of 4 KiB and 60 KiB from the main thread to a worker, in messages/s
 * and MB/s, beside postMessage (what a user would do without the engine) and beside copying the
 * same bytes on one thread; then broadcasts of 4 KiB and 60 KiB to two workers.
 *
 *   engine (wasm | js):  main ── publishBatch(B) of { seq, payload: bytes N } ──▶ lane 0→1 ──▶ worker: sink
 *                        (whenWritable() between batches; then a `report` request on the same lane)
 *                        sink: copyPayloadTo(a reused buffer), seq order, fold seq + 3 payload words
 *   postMessage:         main ── source.slice(), postMessage({ seq, payload }, [its buffer]) ──▶ worker_thread
 *                        (a fresh buffer per message, transferred; the receiver reads it in place)
 *   postMessage, clone:  main ── postMessage({ seq, payload: source }) ──▶ worker_thread (the clone copies it)
 *   memcpy:              one thread: target.set(source) per message, fold the same words of target
 *
 *   broadcast:  main ── publishBatch ──┬─▶ lane 0→1 ──▶ worker 0: sink    postMessage: a clone per worker
 *                                      └─▶ lane 0→2 ──▶ worker 1: sink    (a transferred buffer reaches one)
 *               a copy of the message in each lane; 60 KiB again with the fan-out pool (pool: {}):
 *               one copy in a pool slot, a 24-byte record in each lane, reported as its speedup
 *               over the copies per receiver
 *
 * Every side moves the same N payload bytes per message: the sender stamps seq into three words
 * of each payload and every receiver folds seq and those words into an FNV-1a checksum
 * (bench/workers/large-common.ts); every timed run checks count, order and checksum against the
 * main thread's own. 60 KiB, not the 64 KiB the issue names: no engine message holds 64 KiB today
 * (PAYLOAD_60K in bench/engine/large-topics.ts says why). The engine's handler copies the payload
 * out of its lane, as a handler that keeps or works on the bytes must (the record is reused once
 * it returns); the postMessage receivers own their payloads and read them in place. memcpy is one
 * source and one target, both in cache: the ceiling of moving the bytes at all. The pool's
 * speedup compares two measurements taken one after the other (the engines with the postMessage
 * clones, then the pooled engines), not interleaved runs.
 *
 * Lanes: an engine lays out (workers + 1)² × 3 lanes of ringCapacity records up front, each
 * record its largest message plus 16 bytes. 4 KiB runs on the defaults (1024 records, a 4 MiB
 * lane; publish batch and the worker's `batch` 256). 60 KiB takes 64 records (3.75 MiB a lane):
 * the default 1024 would lay out lanes of 60 MiB, 12 of them for one worker and 27 for two, more
 * than the arena's 1 GiB (ConfigError on ringCapacity), and a longer lane moved no more bytes here
 * (32 to 256 records measured alike). Its publish batch and `batch` are 16, a quarter of the
 * lane, so the worker frees space while the main thread fills the rest (a `batch` above the
 * capacity would free the lane only when it had handled all of it). postMessage has no
 * back-pressure of its own: its sender keeps at most one lane's worth of messages unacknowledged
 * (the receiver acknowledges every quarter), so its memory stays bounded as the engine's does.
 *
 * Metrics: msgs_per_s and mb_per_s (payload bytes, 10^6 a MB); the broadcast counts published
 * messages and, in its `deliveries` cases, the same runs × 2. memcpy takes its turns with the
 * engines and postMessage (same load) and is reported in a case of its own; the clone is measured
 * right after them, in its own case (a measurement has one side per who). Speedup entries (metric
 * 'speedup', who wasm and js) divide each engine's median messages/s by postMessage's (transfer;
 * clone; the clones when broadcasting) and by memcpy's; their min/max pair the extremes (engine
 * min ÷ peer max, engine max ÷ peer min).
 */
import type { Backend } from '../bindings/core-ops.ts';
import type { Engine } from '../src/index.ts';
import { DEFAULTS } from '../src/engine/options.ts';
import { CHECKSUM_SEED } from './engine/checksum.ts';
import { PAYLOAD_4K, PAYLOAD_60K, largeTopicsFor, type LargeEngineTopics, type PayloadTopic } from './engine/large-topics.ts';
import {
  BACKENDS, SuiteEngines, VerificationError, measureSides, runSize, runTimeoutMs, streamProblems, verify, within, type RunSizes, type Side,
} from './engine-common.ts';
import { makeEntry, selected, type BenchOptions, type EngineBenchEntry, type EngineMetric, type EngineWho } from './results.ts';
import { fillPayload, foldPayload, payloadChecksum, stampPayload, type LargeReport } from './workers/large-common.ts';
import { PostMessageReceivers } from './workers/large-receivers.ts';

const SUITE = 'large-messages';
const HANDLERS = new URL('./engine/large-handlers.js', import.meta.url);
const METRICS: readonly EngineMetric[] = ['msgs_per_s', 'mb_per_s'];
/** Workers a broadcast reaches. */
const FANOUT = 2;

interface Size {
  label: string;
  topic: PayloadTopic;
  /** The handler of `topic` (bench/engine/large-handlers.ts). */
  sink: 'sink4k' | 'sink60k';
  /** Payload bytes per message. */
  length: number;
  ringCapacity: number;
  messages: RunSizes;
  /** Messages per second below which a run times out: far below what any side does. */
  minRate: number;
}

/** Messages of at least this many bytes go through the fan-out pool when an engine has one (options.pool.minBytes' default). */
const POOL_MIN_BYTES = DEFAULTS.poolMinBytes;

const SIZES: readonly Size[] = [
  { label: '4 KiB', topic: 'bytes4k', sink: 'sink4k', length: PAYLOAD_4K, ringCapacity: 1024, messages: { quick: 40_000, normal: 100_000, full: 1_000_000 }, minRate: 5_000 },
  { label: '60 KiB', topic: 'bytes60k', sink: 'sink60k', length: PAYLOAD_60K, ringCapacity: 64, messages: { quick: 3_000, normal: 8_000, full: 80_000 }, minRate: 500 },
];
/** Broadcast sizes: 4 KiB and 60 KiB, both copied into each receiver's lane; 60 KiB again through the fan-out pool (4 KiB is below its minBytes). */
const BROADCASTS: readonly Size[] = [SIZES[0]!, SIZES[1]!];

/** Publish batch, the worker's batch and the postMessage window's acknowledgement step: a quarter of the lane. */
const quarter = (size: Size): number => size.ringCapacity / 4;

const oneCase = (size: Size): string => `${size.label}, main → 1 worker`;
const memcpyCase = (size: Size): string => `${size.label}, memcpy on one thread`;
const cloneCase = (size: Size): string => `${size.label}, postMessage structured clone`;
const broadcastCase = (size: Size): string => `${size.label} broadcast 1→${FANOUT}`;
const deliveryCase = (size: Size): string => `${broadcastCase(size)}, deliveries`;
/** The same broadcast by engines made with the fan-out pool (pool: {}): one copy, in a pool slot. */
const pooledCase = (size: Size): string => `${broadcastCase(size)}, fan-out pool`;

/** An engine of either size (its topics: one payload topic and the report). */
type LargeEngine = Engine<LargeEngineTopics<PayloadTopic>>;
type Payload = { seq: number; payload: Uint8Array };

/** Publishes messages 0..n-1 of `topic`, publishBatch of `batch` (reused objects, each its own payload), whenWritable() between batches. */
async function publishPayloads(engine: LargeEngine, topic: PayloadTopic, n: number, batch: Payload[]): Promise<void> {
  for (let start = 0; start < n; start += batch.length) {
    const size = Math.min(batch.length, n - start);
    const messages = size === batch.length ? batch : batch.slice(0, size);
    for (let i = 0; i < size; i++) {
      messages[i]!.seq = start + i;
      stampPayload(messages[i]!.payload, start + i);
    }
    const taken = engine.publishBatch(topic, messages);
    if (taken !== size) throw new VerificationError(`publishBatch took ${taken} of ${size} messages (policy 'block' refuses none)`);
    await engine.whenWritable();
  }
  engine.flush();
}

/** Every one of `count` reports saw all n messages, in order, with the sender's checksum. */
function checkReports(reports: readonly LargeReport[], count: number, n: number): void {
  const expected = payloadChecksum(n);
  const problems: string[] = [];
  if (reports.length !== count) problems.push(`${reports.length} of ${count} receivers reported`);
  for (const report of reports) problems.push(...streamProblems(report, n, expected, count > 1 ? `worker ${report.worker}: ` : ''));
  if (new Set(reports.map((report) => report.worker)).size !== reports.length) problems.push('two replies came from one worker');
  verify(problems);
}

/** msgs_per_s and mb_per_s of n messages of `length` bytes in `seconds`. */
function rates(n: number, length: number, seconds: number): Record<'msgs_per_s' | 'mb_per_s', number> {
  return { msgs_per_s: n / seconds, mb_per_s: (n * length) / seconds / 1e6 };
}

/** A source payload of `length` bytes, filled with the pattern. */
function sourcePayload(length: number): Uint8Array {
  const payload = new Uint8Array(length);
  fillPayload(payload);
  return payload;
}

/** The engine sides of `size` on `engines` (each keyed by backend), `workers` receivers each. */
function engineSides(engines: SuiteEngines<LargeEngineTopics<PayloadTopic>>, backends: readonly Backend[], size: Size, n: number, workers: number): Side[] {
  const batch = Array.from({ length: quarter(size) }, (): Payload => ({ seq: 0, payload: sourcePayload(size.length) }));
  return backends.map((who) => ({
    who,
    run: async () => {
      const timeout = runTimeoutMs(n * workers, size.minRate);
      const { result: reports, seconds } = await engines.timed(who, `${who} ${size.label}`, timeout, async (engine) => {
        await publishPayloads(engine, size.topic, n, batch);
        return engine.requestAll('report', { reset: true }, { timeout });
      });
      checkReports(reports, workers, n);
      return rates(n, size.length, seconds);
    },
  }));
}

/** The postMessage side: `receivers` (started), n messages per run, transferred or cloned. */
function postMessageSide(receivers: PostMessageReceivers, size: Size, n: number, transfer: boolean, workers: number): Side {
  const source = sourcePayload(size.length);
  return {
    who: 'postMessage',
    run: async () => {
      const started = performance.now();
      const reports = await within(runTimeoutMs(n * workers, size.minRate), `postMessage ${size.label}`, receivers.run(n, transfer, source));
      const seconds = (performance.now() - started) / 1000;
      checkReports(reports, workers, n);
      return rates(n, size.length, seconds);
    },
  };
}

/** The memcpy side: n copies of `size.length` bytes from a stamped source into one target, folded as a receiver folds. */
function memcpySide(size: Size, n: number): Side {
  const source = sourcePayload(size.length);
  const target = new Uint8Array(size.length);
  return {
    who: 'memcpy',
    run: async () => {
      let checksum = CHECKSUM_SEED;
      const started = performance.now();
      for (let seq = 0; seq < n; seq++) {
        stampPayload(source, seq);
        target.set(source);
        checksum = foldPayload(checksum, seq, target);
      }
      const seconds = (performance.now() - started) / 1000;
      checkReports([{ count: n, checksum, orderErrors: 0, worker: 0 }], 1, n);
      return rates(n, size.length, seconds);
    },
  };
}

/**
 * `who`'s median in case `name` over `peer`'s in `peerCase` (msgs_per_s) as a speedup entry in
 * `speedupCase`; unverified, with no value, if either side failed.
 */
function speedupEntry(
  entries: readonly EngineBenchEntry[], name: string, who: Backend, peer: EngineWho, peerCase: string, speedupCase: string, runs: number,
): EngineBenchEntry {
  const find = (c: string, w: EngineWho): EngineBenchEntry | undefined => entries.find((e) => e.case === c && e.metric === 'msgs_per_s' && e.who === w);
  const engine = find(name, who);
  const other = find(peerCase, peer);
  for (const [w, e] of [[who, engine], [peer, other]] as const) {
    if (e === undefined || !e.verified || e.runs === 0) return makeEntry(SUITE, speedupCase, who, 'speedup', [], runs, `${w}: ${e?.error ?? 'no verified timed runs'}`);
  }
  const entry = makeEntry(SUITE, speedupCase, who, 'speedup', [engine!.median / other!.median], 1, undefined);
  entry.min = engine!.min / other!.max;
  entry.max = engine!.max / other!.min;
  entry.runs = Math.min(engine!.runs, other!.runs);
  return entry;
}

/** The main → 1 worker cases of one size: engines, postMessage (transfer), memcpy; then the clone. */
async function runOneWorker(size: Size, options: BenchOptions, log: (line: string) => void): Promise<EngineBenchEntry[]> {
  const name = oneCase(size);
  const backends = BACKENDS.filter((who) => selected(options, SUITE, name, who));
  const transfer = selected(options, SUITE, name, 'postMessage');
  const memcpy = selected(options, SUITE, memcpyCase(size), 'memcpy');
  const clone = selected(options, SUITE, cloneCase(size), 'postMessage');
  if (backends.length === 0 && !transfer && !memcpy && !clone) return [];
  const n = runSize(options, size.messages);
  const entries: EngineBenchEntry[] = [];
  const engines = new SuiteEngines<LargeEngineTopics<PayloadTopic>>();
  let receivers: PostMessageReceivers | null = null;
  try {
    await engines.startEach(backends, { topics: largeTopicsFor(size.topic), handlers: HANDLERS, workers: 1, ringCapacity: size.ringCapacity, batch: quarter(size) }, [
      [size.topic, { handler: size.sink, mode: 'group', workers: [0] }],
      ['report', { handler: 'report', mode: 'group', workers: [0] }],
    ]);
    if (transfer || clone) {
      receivers = new PostMessageReceivers(1, size.ringCapacity);
      await within(30_000, 'postMessage worker start', receivers.ready);
    }
    const sides = engineSides(engines, backends, size, n, 1);
    if (transfer) sides.push(postMessageSide(receivers!, size, n, true, 1));
    if (memcpy) sides.push(memcpySide(size, n));
    if (sides.length > 0) {
      log(`${SUITE} ${name}: ${options.runs} timed runs of ${n.toLocaleString('en')} messages of ${size.length.toLocaleString('en')} bytes after warm-ups, ${sides.map((side) => side.who).join(', ')}`);
      const measured = await measureSides(SUITE, name, sides, METRICS, options, log);
      entries.push(...measured.map((e) => (e.who === 'memcpy' ? { ...e, case: memcpyCase(size) } : e)));
    }
    if (clone) {
      log(`${SUITE} ${cloneCase(size)}: the same, one postMessage each without a transfer list`);
      entries.push(...await measureSides(SUITE, cloneCase(size), [postMessageSide(receivers!, size, n, false, 1)], METRICS, options, log));
    }
  } finally {
    await engines.close();
    await receivers?.stop();
  }
  for (const who of backends) {
    if (transfer) entries.push(speedupEntry(entries, name, who, 'postMessage', name, `${size.label}, engine ÷ postMessage transfer`, options.runs));
    if (clone) entries.push(speedupEntry(entries, name, who, 'postMessage', cloneCase(size), `${size.label}, engine ÷ postMessage clone`, options.runs));
    if (memcpy) entries.push(speedupEntry(entries, name, who, 'memcpy', memcpyCase(size), `${size.label}, engine ÷ memcpy`, options.runs));
  }
  return entries;
}

/**
 * The broadcast cases of one size, to both workers: engines (a copy per receiver's lane) beside a
 * postMessage clone per worker; for a size the fan-out pool takes (60 KiB), the engines again with
 * the pool (pool: {}), and the pool's speedup over the copies per receiver. The two are measured
 * one after the other, not interleaved.
 */
async function runBroadcast(size: Size, options: BenchOptions, log: (line: string) => void): Promise<EngineBenchEntry[]> {
  const name = broadcastCase(size);
  const wanted = (who: EngineWho): boolean => selected(options, SUITE, name, who) || selected(options, SUITE, deliveryCase(size), who);
  const backends = BACKENDS.filter(wanted);
  const baseline = wanted('postMessage');
  const pooling = size.length >= POOL_MIN_BYTES ? BACKENDS.filter((who) => selected(options, SUITE, pooledCase(size), who)) : [];
  if (backends.length === 0 && !baseline && pooling.length === 0) return [];
  const n = runSize(options, size.messages);
  const engines = new SuiteEngines<LargeEngineTopics<PayloadTopic>>();
  const pooled = new SuiteEngines<LargeEngineTopics<PayloadTopic>>();
  let receivers: PostMessageReceivers | null = null;
  try {
    const all = Array.from({ length: FANOUT }, (_, w) => w);
    const config = { topics: largeTopicsFor(size.topic), handlers: HANDLERS, workers: FANOUT, ringCapacity: size.ringCapacity, batch: quarter(size) };
    const subscriptions = [
      [size.topic, { handler: size.sink, mode: 'broadcast', workers: all }],
      ['report', { handler: 'report', mode: 'broadcast', workers: all }],
    ] as const;
    await engines.startEach(backends, config, subscriptions);
    const sides = engineSides(engines, backends, size, n, FANOUT);
    if (baseline) {
      receivers = new PostMessageReceivers(FANOUT, size.ringCapacity);
      await within(30_000, 'postMessage workers start', receivers.ready);
      sides.push(postMessageSide(receivers, size, n, false, FANOUT));
    }
    log(`${SUITE} ${name}: ${options.runs} timed runs of ${n.toLocaleString('en')} messages of ${size.length.toLocaleString('en')} bytes broadcast main → ${FANOUT} workers after warm-ups, ${sides.map((side) => side.who).join(', ')}`);
    const published = await measureSides(SUITE, name, sides, METRICS, options, log);
    // The same runs, counted per delivery: every published message reached FANOUT handlers.
    const deliveries = published.map((e) => ({ ...e, case: deliveryCase(size), median: e.median * FANOUT, min: e.min * FANOUT, max: e.max * FANOUT }));
    const entries = [
      ...published.filter((e) => selected(options, SUITE, name, e.who)),
      ...deliveries.filter((e) => selected(options, SUITE, deliveryCase(size), e.who)),
    ];
    if (baseline) for (const who of backends) entries.push(speedupEntry(published, name, who, 'postMessage', name, `${name}, engine ÷ postMessage`, options.runs));
    if (pooling.length > 0) {
      await engines.close();
      await pooled.startEach(pooling, { ...config, pool: {} }, subscriptions);
      log(`${SUITE} ${pooledCase(size)}: the same through the fan-out pool (pool: {}), ${pooling.join(', ')}`);
      const through = await measureSides(SUITE, pooledCase(size), engineSides(pooled, pooling, size, n, FANOUT), METRICS, options, log);
      entries.push(...through);
      for (const who of pooling.filter((w) => backends.includes(w))) {
        entries.push(speedupEntry([...published, ...through], pooledCase(size), who, who, name, `${name}, fan-out pool ÷ copies per receiver`, options.runs));
      }
    }
    return entries;
  } finally {
    await engines.close();
    await pooled.close();
    await receivers?.stop();
  }
}

/** Runs the large-messages cases selected by `options`. */
export async function runLargeMessages(options: BenchOptions, log: (line: string) => void): Promise<EngineBenchEntry[]> {
  const entries: EngineBenchEntry[] = [];
  for (const size of SIZES) entries.push(...await runOneWorker(size, options, log));
  for (const size of BROADCASTS) entries.push(...await runBroadcast(size, options, log));
  return entries;
}
