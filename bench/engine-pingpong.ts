/**
 * Engine round-trip latency: worker-to-worker ping-pong while both workers spin, and the main
 * thread's request() round trip.
 *
 *   main ── start{rounds} ──▶ worker A (0)                        worker B (1)
 *                              pong handler: RTT sample,  ── ping ──▶ ping handler
 *                              next ping                  ◀── pong ── (publishes pong)
 *   main ◀── report (p50/p99 of A's samples, count, checksum) ── A
 *
 *   main ── request('echo', {x}) ──▶ worker A ── reply {y: x+1} ──▶ main     (one at a time)
 *
 * ping and pong are group subscriptions pinned to one worker each (`workers: [1]` / `[0]`), so
 * every hop crosses threads through one SPSC lane. A measures each round trip with
 * performance.now() from just before it publishes a ping to the start of the pong's handler
 * (publish, flush at the end of A's batch, B's poll, B's handler and flush, A's poll), keeps
 * the samples in a preallocated Float64Array and reports nearest-rank percentiles. Workers spin
 * SPIN polls before parking, far longer than a round trip, so the game runs without parking.
 * Verified: A saw every pong, in order, with the checksum of the values B computed from A's pings.
 *
 * request(): the main thread awaits each request before sending the next and measures each round
 * trip (publish, flush, A's handler, the reply lane, thread 0's loop noticing it — it parks with
 * Atomics.waitAsync after a short spin — and the promise continuation). Verified: every reply is
 * x + 1. Metrics are the median over runs of each run's p50 and p99.
 */
import type { Backend } from '../bindings/core-ops.ts';
import { createEngine, type Engine } from '../src/engine/engine.ts';
import { CHECKSUM_SEED, checksumStep, valueOf } from './engine/checksum.ts';
import { pongValue } from './engine/pingpong-handlers.ts';
import { pingPongTopics, type PingPongTopics } from './engine/pingpong-topics.ts';
import {
  BACKENDS, VerificationError, measureSides, percentile, selectedCase, within, type EngineBenchEntry, type Side,
} from './engine-common.ts';
import type { BenchOptions } from './results.ts';

const SUITE = 'engine-pingpong';
const HANDLERS = new URL('./engine/pingpong-handlers.js', import.meta.url);
const PINGPONG_CASE = 'worker↔worker';
const REQUEST_CASE = 'request() main→worker';
/** Empty polls before a worker parks: milliseconds of spinning, against a round trip of µs. */
const SPIN = 50_000;

function roundsPerRun(options: BenchOptions): number {
  if (options.quick) return 20_000;
  if (options.full) return 200_000;
  return 50_000;
}
function requestsPerRun(options: BenchOptions): number {
  if (options.quick) return 1_000;
  if (options.full) return 20_000;
  return 3_000;
}
const RUN_TIMEOUT_MS = 60_000;

type PingPongEngine = Engine<PingPongTopics>;

function expectedChecksum(rounds: number): number {
  let hash = CHECKSUM_SEED;
  for (let seq = 0; seq < rounds; seq++) hash = checksumStep(hash, pongValue(valueOf(seq)));
  return hash;
}

async function playGame(engine: PingPongEngine, rounds: number, expected: number): Promise<{ rtt_p50_us: number; rtt_p99_us: number }> {
  engine.publish('start', { rounds });
  engine.flush();
  // drain: every message accepted so far (the whole chain of pings and pongs) has been handled.
  await engine.drain({ timeout: RUN_TIMEOUT_MS });
  const report = await engine.request('report', { reset: true }, { timeout: RUN_TIMEOUT_MS });
  const problems: string[] = [];
  if (report.count !== rounds) problems.push(`A saw ${report.count} of ${rounds} pongs`);
  if (report.errors !== 0) problems.push(`${report.errors} pongs out of order`);
  if (report.checksum !== expected) problems.push(`checksum ${report.checksum} != expected ${expected}`);
  if (problems.length > 0) throw new VerificationError(problems.join('; '));
  return { rtt_p50_us: report.p50, rtt_p99_us: report.p99 };
}

async function requestRun(engine: PingPongEngine, requests: number, samples: Float64Array): Promise<{ rtt_p50_us: number; rtt_p99_us: number }> {
  for (let i = 0; i < requests; i++) {
    const x = valueOf(i);
    const started = performance.now();
    const reply = await engine.request('echo', { x }, { timeout: RUN_TIMEOUT_MS });
    samples[i] = (performance.now() - started) * 1000;
    if (reply.y !== ((x + 1) >>> 0)) throw new VerificationError(`request ${i}: echo of ${x} replied ${reply.y}`);
  }
  const sorted = samples.subarray(0, requests).sort();
  return { rtt_p50_us: percentile(sorted, requests, 50), rtt_p99_us: percentile(sorted, requests, 99) };
}

/** Runs the latency cases selected by `options`. */
export async function runEnginePingPong(options: BenchOptions, log: (line: string) => void): Promise<EngineBenchEntry[]> {
  const cases = [PINGPONG_CASE, REQUEST_CASE].filter((name) => BACKENDS.some((who) => selectedCase(options, SUITE, name, who)));
  if (cases.length === 0) return [];
  const backends = BACKENDS.filter((who) => cases.some((name) => selectedCase(options, SUITE, name, who)));
  const entries: EngineBenchEntry[] = [];
  const engines = new Map<Backend, PingPongEngine>();
  const errors = new Map<Backend, Error[]>(backends.map((who) => [who, []]));
  const checkErrors = (who: Backend): void => {
    const reported = errors.get(who)!;
    if (reported.length > 0) throw new VerificationError(`engine reported: ${reported[0]!.message}`);
  };
  try {
    for (const backend of backends) {
      const engine = await createEngine<PingPongTopics>({
        topics: pingPongTopics, handlers: HANDLERS, backend, workers: 2, spin: SPIN, onError: (error) => errors.get(backend)!.push(error),
      });
      engines.set(backend, engine);
      await engine.subscribe('start', { handler: 'start', mode: 'group', workers: [0] });
      await engine.subscribe('ping', { handler: 'ping', mode: 'group', workers: [1] });
      await engine.subscribe('pong', { handler: 'pong', mode: 'group', workers: [0] });
      await engine.subscribe('report', { handler: 'report', mode: 'group', workers: [0] });
      await engine.subscribe('echo', { handler: 'echo', mode: 'group', workers: [0] });
    }
    if (cases.includes(PINGPONG_CASE)) {
      const rounds = roundsPerRun(options);
      const expected = expectedChecksum(rounds);
      log(`${SUITE} ${PINGPONG_CASE}: ${options.runs} timed games of ${rounds.toLocaleString('en')} round trips (2 spinning workers) after warm-ups, ${backends.join(' and ')}`);
      const sides: Side[] = backends.filter((who) => selectedCase(options, SUITE, PINGPONG_CASE, who)).map((who) => ({
        who,
        run: async () => {
          const result = await within(RUN_TIMEOUT_MS + 5_000, `${who} ${PINGPONG_CASE}`, playGame(engines.get(who)!, rounds, expected));
          checkErrors(who);
          return result;
        },
      }));
      entries.push(...await measureSides(SUITE, PINGPONG_CASE, sides, ['rtt_p50_us', 'rtt_p99_us'], options, log));
    }
    if (cases.includes(REQUEST_CASE)) {
      const requests = requestsPerRun(options);
      const samples = new Float64Array(requests);
      log(`${SUITE} ${REQUEST_CASE}: ${options.runs} timed runs of ${requests.toLocaleString('en')} sequential requests after warm-ups, ${backends.join(' and ')}`);
      const sides: Side[] = backends.filter((who) => selectedCase(options, SUITE, REQUEST_CASE, who)).map((who) => ({
        who,
        run: async () => {
          const result = await within(RUN_TIMEOUT_MS + 5_000, `${who} ${REQUEST_CASE}`, requestRun(engines.get(who)!, requests, samples));
          checkErrors(who);
          return result;
        },
      }));
      entries.push(...await measureSides(SUITE, REQUEST_CASE, sides, ['rtt_p50_us', 'rtt_p99_us'], options, log));
    }
  } finally {
    await Promise.all([...engines.values()].map((engine) => engine.close({ timeout: 5_000 })));
  }
  return entries;
}
