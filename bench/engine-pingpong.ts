/**
 * Engine round-trip latency: worker-to-worker ping-pong while both workers spin, beside the same
 * game over two raw SAB rings; the same game with parked workers (spin: 0) beside postMessage and
 * Atomics.wait/notify baselines; and the main thread's request() round trip.
 *
 *   main ── start{rounds} ──▶ worker A (0)                        worker B (1)
 *                              pong handler: RTT sample,  ── ping ──▶ ping handler
 *                              next ping                  ◀── pong ── (publishes pong)
 *   main ◀── report (count, checksum, RTT spectrum of A's HdrHistogram) ── A
 *
 *   main ── request('echo', {x}) ──▶ worker A ── reply {y: x+1} ──▶ main     (one at a time)
 *
 *   spinning baseline: worker A ── ping ring ──▶ worker B      (two SPSC rings on a SAB, both spin)
 *                      worker A ◀── pong ring ── worker B
 *   parked baselines:  worker A ── postMessage ──▶ worker B   (MessageChannel, event loops)
 *                      worker A ── Atomics.notify ──▶ worker B (SharedArrayBuffer, Atomics.wait)
 *
 * ping and pong are group subscriptions pinned to one worker each (`workers: [1]` / `[0]`), so
 * every hop crosses threads through one SPSC lane. A measures each round trip with
 * performance.now() from just before it publishes a ping to the start of the pong's handler
 * (publish, flush at the end of A's batch, B's poll, B's handler and flush, A's poll), records
 * it in ns into an HdrHistogram (hdr-histogram-js, 3 significant digits; bench/workers/
 * pp-histogram.ts) and reports its spectrum (p50 … p99.99, max). Workers spin SPIN polls before
 * parking, far longer than a round trip, so the game runs without parking. Verified: A saw every
 * pong, in order, with the checksum of the values B computed from A's pings.
 *
 * Beside it, in the same case, the raw floor (side 'sab-ring'): two worker_threads playing the same
 * game over two hand-written SPSC rings on a SharedArrayBuffer, one per direction, both spinning
 * on the other's index (bench/workers/pp-sab-ring.ts): what the engine's game would cost with no
 * routing, handlers or accounting. Same rounds, same histogram, same checks.
 *
 * Parked: the same game on engines created with `spin: 0`, so each worker parks as soon as its
 * lanes are empty and every hop pays a notify and a wake-up. Beside it, in the same case, two
 * worker_threads playing it over postMessage (bench/workers/pp-postmessage.ts), and in a case of
 * its own two workers playing it with raw Atomics.wait/notify on a SharedArrayBuffer (bench/
 * workers/pp-atomics.ts): the floor of any design that parks. Same histogram, same checks.
 *
 * request(): the main thread awaits each request before sending the next and measures each round
 * trip (publish, flush, A's handler, the reply lane, thread 0's loop noticing it — it parks with
 * Atomics.waitAsync after a short spin — and the promise continuation) into the same kind of
 * HdrHistogram as the games, so every percentile of this suite is computed one way. Verified:
 * every reply is x + 1. Metrics are the median over runs of each run's p50, p99 (and p99.9 for
 * the games). Each side's whole spectrum also goes to options.onDistribution when its case ends
 * (CaseSpectra): at each percentile, the median over the timed runs, so the distribution chart
 * agrees with the table's p50/p99/p99.9 and no one run's outlier draws the tail alone.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { Backend } from '../bindings/core-ops.ts';
import type { Engine } from '../src/index.ts';
import { CHECKSUM_SEED, checksumStep, valueOf } from './engine/checksum.ts';
import { pongValue } from './engine/pingpong-handlers.ts';
import { pingPongTopics, type PingPongTopics } from './engine/pingpong-topics.ts';
import {
  BACKENDS, SuiteEngines, VerificationError, measureSides, runSize, streamProblems, verify, within,
  type RunSizes, type Side,
} from './engine-common.ts';
import { PP_ATOMICS_BYTES, PING_SEQ_OFFSET, STOP } from './workers/pp-atomics.ts';
import { PP_SAB_RING_BYTES, stopPpSabRing } from './workers/pp-sab-ring.ts';
import {
  SPECTRUM_PERCENTILES, recordRttMs, rttHistogram, rttSpectrumUs, type GameReport, type RttHistogram, type RttSpectrum,
} from './workers/pp-histogram.ts';
import { medianSpectrum, selected, type BenchOptions, type EngineBenchEntry, type EngineMetric, type EngineWho } from './results.ts';

const SUITE = 'ping-pong';
const HANDLERS = new URL('./engine/pingpong-handlers.js', import.meta.url);
const PINGPONG_CASE = 'worker↔worker';
const PARKED_CASE = 'worker↔worker parked';
const ATOMICS_CASE = 'parked baseline: Atomics.wait/notify';
const REQUEST_CASE = 'request() main→worker';
/** Empty polls before a worker parks: milliseconds of spinning, against a round trip of µs. */
const SPIN = 50_000;
const GAME_METRICS: readonly EngineMetric[] = ['rtt_p50_us', 'rtt_p99_us', 'rtt_p999_us'];

const ROUNDS: RunSizes = { quick: 20_000, normal: 50_000, full: 200_000 };
/** Parked round trips cost tens of µs (a wake-up per hop): fewer rounds. */
const PARKED_ROUNDS: RunSizes = { quick: 2_000, normal: 5_000, full: 50_000 };
const REQUESTS: RunSizes = { quick: 1_000, normal: 3_000, full: 20_000 };
const RUN_TIMEOUT_MS = 60_000;

type PingPongEngine = Engine<PingPongTopics>;

function expectedChecksum(rounds: number): number {
  let hash = CHECKSUM_SEED;
  for (let seq = 0; seq < rounds; seq++) hash = checksumStep(hash, pongValue(valueOf(seq)));
  return hash;
}

/** The spectrum of A's game once its count, order and checksum verify. */
function checkGame(report: GameReport, rounds: number, expected: number): RttSpectrum {
  verify(streamProblems({ count: report.count, checksum: report.checksum, orderErrors: report.errors }, rounds, expected, 'A: '));
  return report;
}

async function playGame(engine: PingPongEngine, rounds: number, expected: number): Promise<RttSpectrum> {
  engine.publish('start', { rounds });
  engine.flush();
  // drain: every message accepted so far (the whole chain of pings and pongs) has been handled.
  await engine.drain({ timeout: RUN_TIMEOUT_MS });
  return checkGame(await engine.request('report', { reset: true }, { timeout: RUN_TIMEOUT_MS }), rounds, expected);
}

/**
 * Two baseline workers A and B (one file, role in workerData); A plays a game per `game(rounds)`
 * and answers with its GameReport. Both post `{ ready }` once they can play.
 */
class BaselinePair {
  private readonly a: Worker;
  private readonly b: Worker;
  private waiter: { resolve(value: unknown): void; reject(error: Error): void } | null = null;
  private failure: Error | null = null;
  readonly ready: Promise<unknown>;

  constructor(file: string, shared: Record<string, unknown>, ports: { a?: MessagePort; b?: MessagePort } = {}) {
    const url = new URL(file, import.meta.url);
    const fail = (error: Error): void => { this.failure ??= error; const w = this.waiter; this.waiter = null; w?.reject(error); };
    const start = (role: 'A' | 'B', port: MessagePort | undefined): Worker => {
      const worker = new Worker(url, { workerData: { role, ...shared, ...(port ? { port } : {}) }, transferList: port ? [port] : [] });
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`${file} ${role} exited with code ${code}`)));
      return worker;
    };
    this.b = start('B', ports.b);
    const readyB = new Promise((resolve) => this.b.once('message', resolve));
    this.a = start('A', ports.a);
    this.a.on('message', (message: unknown) => { const w = this.waiter; this.waiter = null; w?.resolve(message); });
    this.ready = Promise.all([this.next(), readyB]);
  }

  private next<T>(): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => { this.waiter = { resolve: resolve as (value: unknown) => void, reject }; });
  }

  game(rounds: number): Promise<GameReport> {
    const reply = this.next<GameReport>();
    this.a.postMessage({ rounds });
    return reply;
  }

  async stop(): Promise<void> {
    this.a.removeAllListeners('exit');
    this.b.removeAllListeners('exit');
    await Promise.all([this.a.terminate(), this.b.terminate()]);
  }
}

/** `requests` sequential request() round trips, each recorded in `histogram` (reset first), as the games record theirs. */
async function requestRun(engine: PingPongEngine, requests: number, histogram: RttHistogram): Promise<RttSpectrum> {
  histogram.reset();
  for (let i = 0; i < requests; i++) {
    const x = valueOf(i);
    const started = performance.now();
    const reply = await engine.request('echo', { x }, { timeout: RUN_TIMEOUT_MS });
    recordRttMs(histogram, performance.now() - started);
    if (reply.y !== ((x + 1) >>> 0)) throw new VerificationError(`request ${i}: echo of ${x} replied ${reply.y}`);
  }
  return rttSpectrumUs(histogram);
}

/**
 * The spectra of one case's timed runs, side by side. Each side's run returns its verified
 * spectrum; the side gives measureSides the metrics read from it and keeps it when the run was
 * timed (warm-ups are left out, as from the entries). When the case ends, tell() hands each side's
 * per-percentile median over its timed runs (medianSpectrum) to options.onDistribution.
 */
class CaseSpectra {
  private readonly kept = new Map<EngineWho, RttSpectrum[]>();

  constructor(readonly name: string) {}

  /** A side of the case whose runs give `spectrum()`. */
  side(who: EngineWho, spectrum: () => Promise<RttSpectrum>): Side {
    const kept: RttSpectrum[] = [];
    this.kept.set(who, kept);
    return {
      who,
      run: async (timed) => {
        const s = await spectrum();
        if (timed) kept.push(s);
        return { rtt_p50_us: s.p50, rtt_p99_us: s.p99, rtt_p999_us: s.p999 };
      },
    };
  }

  /** Tells `options` each side's distribution (verified as `entries`, the case's, say of that side). */
  tell(entries: readonly EngineBenchEntry[], options: BenchOptions): void {
    for (const [who, spectra] of this.kept) {
      if (spectra.length === 0) continue;
      const points = medianSpectrum(spectra.map((s) => SPECTRUM_PERCENTILES.map(([field, percentile]) => [percentile, s[field]])));
      const verified = entries.every((e) => e.who !== who || e.verified);
      options.onDistribution?.({ suite: SUITE, case: this.name, who, unit: 'µs', runs: spectra.length, verified, points });
    }
  }
}

/** measureSides for the case of `spectra`, whose sides come from it; then its distributions told. */
async function measureLatency(
  spectra: CaseSpectra, sides: readonly Side[], metrics: readonly EngineMetric[], options: BenchOptions, log: (line: string) => void,
): Promise<EngineBenchEntry[]> {
  const entries = await measureSides(SUITE, spectra.name, sides, metrics, options, log);
  spectra.tell(entries, options);
  return entries;
}

type PingPongEngines = SuiteEngines<PingPongTopics>;

/** One engine per backend with the ping-pong subscriptions. */
async function startEngines(engines: PingPongEngines, backends: readonly Backend[], spin: number): Promise<void> {
  await engines.startEach(backends, { topics: pingPongTopics, handlers: HANDLERS, workers: 2, spin }, [
    ['start', { handler: 'start', mode: 'group', workers: [0] }],
    ['ping', { handler: 'ping', mode: 'group', workers: [1] }],
    ['pong', { handler: 'pong', mode: 'group', workers: [0] }],
    ['report', { handler: 'report', mode: 'group', workers: [0] }],
    ['echo', { handler: 'echo', mode: 'group', workers: [0] }],
  ]);
}

function gameSide(spectra: CaseSpectra, who: Backend, engines: PingPongEngines, rounds: number, expected: number): Side {
  return spectra.side(who, () => engines.run(who, `${who} ${spectra.name}`, RUN_TIMEOUT_MS + 5_000, (engine) => playGame(engine, rounds, expected)));
}

function baselineSide(spectra: CaseSpectra, who: EngineWho, pair: BaselinePair, rounds: number, expected: number): Side {
  return spectra.side(who, async () => checkGame(await within(RUN_TIMEOUT_MS, `${who} ${spectra.name}`, pair.game(rounds)), rounds, expected));
}

/** Runs the latency cases selected by `options`. */
export async function runEnginePingPong(options: BenchOptions, log: (line: string) => void): Promise<EngineBenchEntry[]> {
  const pick = (name: string): Backend[] => BACKENDS.filter((who) => selected(options, SUITE, name, who));
  const spinning = { game: pick(PINGPONG_CASE), request: pick(REQUEST_CASE) };
  const sabRing = selected(options, SUITE, PINGPONG_CASE, 'sab-ring');
  const parked = pick(PARKED_CASE);
  const postMessage = selected(options, SUITE, PARKED_CASE, 'postMessage');
  const atomics = selected(options, SUITE, ATOMICS_CASE, 'atomics');
  const entries: EngineBenchEntry[] = [];
  const engines: PingPongEngines = new SuiteEngines();
  const pairs: BaselinePair[] = [];
  try {
    const spinBackends = BACKENDS.filter((who) => spinning.game.includes(who) || spinning.request.includes(who));
    if (spinBackends.length > 0 || sabRing) {
      await startEngines(engines, spinBackends, SPIN);
      if (spinning.game.length > 0 || sabRing) {
        const rounds = runSize(options, ROUNDS);
        const expected = expectedChecksum(rounds);
        const spectra = new CaseSpectra(PINGPONG_CASE);
        const sides = spinning.game.map((who) => gameSide(spectra, who, engines, rounds, expected));
        const sab = sabRing ? new SharedArrayBuffer(PP_SAB_RING_BYTES) : null;
        if (sab !== null) {
          const pair = new BaselinePair('./workers/pp-sab-ring.js', { sab });
          pairs.push(pair);
          await within(30_000, 'SAB ring ping-pong workers start', pair.ready);
          sides.push(baselineSide(spectra, 'sab-ring', pair, rounds, expected));
        }
        log(`${SUITE} ${PINGPONG_CASE}: ${options.runs} timed games of ${rounds.toLocaleString('en')} round trips (2 spinning workers) after warm-ups, ${sides.map((side) => side.who === 'sab-ring' ? 'sab-ring (two raw SAB rings)' : side.who).join(', ')}`);
        try {
          entries.push(...await measureLatency(spectra, sides, GAME_METRICS, options, log));
        } finally {
          // B parks on GEN between games: QUIT and a moved GEN wake it so it exits on its own.
          if (sab !== null) stopPpSabRing(sab);
        }
      }
      if (spinning.request.length > 0) {
        const requests = runSize(options, REQUESTS);
        const histogram = rttHistogram();
        log(`${SUITE} ${REQUEST_CASE}: ${options.runs} timed runs of ${requests.toLocaleString('en')} sequential requests after warm-ups, ${spinning.request.join(' and ')}`);
        const spectra = new CaseSpectra(REQUEST_CASE);
        const sides = spinning.request.map((who) => spectra.side(
          who, () => engines.run(who, `${who} ${REQUEST_CASE}`, RUN_TIMEOUT_MS + 5_000, (engine) => requestRun(engine, requests, histogram)),
        ));
        entries.push(...await measureLatency(spectra, sides, ['rtt_p50_us', 'rtt_p99_us'], options, log));
      }
      await engines.close();
    }
    const rounds = runSize(options, PARKED_ROUNDS);
    const expected = expectedChecksum(rounds);
    if (parked.length > 0 || postMessage) {
      await startEngines(engines, parked, 0);
      const spectra = new CaseSpectra(PARKED_CASE);
      const sides = parked.map((who) => gameSide(spectra, who, engines, rounds, expected));
      if (postMessage) {
        const channel = new MessageChannel();
        const pair = new BaselinePair('./workers/pp-postmessage.js', {}, { a: channel.port1, b: channel.port2 });
        pairs.push(pair);
        await within(30_000, 'postMessage ping-pong workers start', pair.ready);
        sides.push(baselineSide(spectra, 'postMessage', pair, rounds, expected));
      }
      log(`${SUITE} ${PARKED_CASE}: ${options.runs} timed games of ${rounds.toLocaleString('en')} round trips (spin: 0, workers park between messages) after warm-ups, ${sides.map((side) => side.who).join(', ')}`);
      entries.push(...await measureLatency(spectra, sides, GAME_METRICS, options, log));
      await engines.close();
    }
    if (atomics) {
      const sab = new SharedArrayBuffer(PP_ATOMICS_BYTES);
      const pair = new BaselinePair('./workers/pp-atomics.js', { sab });
      pairs.push(pair);
      await within(30_000, 'Atomics ping-pong workers start', pair.ready);
      log(`${SUITE} ${ATOMICS_CASE}: ${options.runs} timed games of ${rounds.toLocaleString('en')} round trips (2 workers in Atomics.wait) after warm-ups`);
      try {
        const spectra = new CaseSpectra(ATOMICS_CASE);
        entries.push(...await measureLatency(spectra, [baselineSide(spectra, 'atomics', pair, rounds, expected)], GAME_METRICS, options, log));
      } finally {
        // B sleeps in Atomics.wait on PING_SEQ: STOP wakes it so it exits on its own.
        const i32 = new Int32Array(sab);
        Atomics.store(i32, PING_SEQ_OFFSET >> 2, STOP);
        Atomics.notify(i32, PING_SEQ_OFFSET >> 2);
      }
    }
  } finally {
    await engines.close();
    await Promise.all(pairs.map((pair) => pair.stop()));
  }
  return entries;
}
