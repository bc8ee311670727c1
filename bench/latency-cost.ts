/**
 * What latency sampling costs a round trip: the spinning worker↔worker ping-pong game and
 * sequential request() round trips (bench/engine-pingpong.ts's cases, its topics and handlers) on
 * Wasm engines that differ only in `latency` — off, the default (every 128th push stamped), and
 * every push (`sampleEvery: 1`, the worst case) — all alive at once, taking turns run by run.
 *
 *   per round: for each side in a rotating order, one game of ROUNDS round trips (p50/p99 from
 *   worker A's HdrHistogram) and REQUESTS sequential requests (p50/p99 from the main thread's)
 *
 * After WARMUPS unrecorded rounds, the median over ROUNDS_TIMED rounds of each side's p50 and p99,
 * and each side's p50 minus the off side's in the same round (median of the differences). Every
 * game is verified (count, checksum, order), every echo checked. The engine's own round-trip
 * histogram of each side is printed too, beside the main thread's, as a check of the recorder.
 *
 *   node build/bench/latency-cost.js
 *   LC_SIDES='[{"name":"off A","latency":false},{"name":"off B","latency":false}]' node build/bench/latency-cost.js
 *     (other sides, as JSON: two identical ones show how far apart the same engine runs here)
 */
import { createEngine, type Engine, type EngineOptions } from '../src/index.ts';
import { valueOf } from './engine/checksum.ts';
import { pingPongTopics, type PingPongTopics } from './engine/pingpong-topics.ts';
import { busyWarning, collectEnv, describeEnv } from './env.ts';
import { formatMicros } from './format.ts';
import { median } from './results.ts';
import { recordRttMs, rttHistogram, rttSpectrumUs } from './workers/pp-histogram.ts';

const HANDLERS = new URL('./engine/pingpong-handlers.js', import.meta.url);
const ROUNDS = 20_000;
const REQUESTS = 2_000;
const WARMUPS = 2;
const ROUNDS_TIMED = 9;
const SPIN = 50_000;

type PingPongEngine = Engine<PingPongTopics>;
interface SideSpec { readonly name: string; readonly latency: EngineOptions<PingPongTopics>['latency'] }
const SIDES: readonly SideSpec[] = process.env.LC_SIDES ? JSON.parse(process.env.LC_SIDES) : [
  { name: 'latency: false', latency: false },
  { name: 'default (1 in 128)', latency: undefined },
  { name: 'sampleEvery: 1', latency: { sampleEvery: 1 } },
];

async function start(spec: SideSpec): Promise<PingPongEngine> {
  const engine = await createEngine({
    topics: pingPongTopics, handlers: HANDLERS, workers: 2, spin: SPIN, ...(spec.latency !== undefined ? { latency: spec.latency } : {}),
  });
  for (const [topic, handler, worker] of [['start', 'start', 0], ['ping', 'ping', 1], ['pong', 'pong', 0], ['report', 'report', 0], ['echo', 'echo', 0]] as const) {
    await engine.subscribe(topic, { handler, mode: 'group', workers: [worker] });
  }
  return engine;
}

async function game(engine: PingPongEngine): Promise<{ p50: number; p99: number }> {
  engine.publish('start', { rounds: ROUNDS });
  engine.flush();
  await engine.drain({ timeout: 60_000 });
  const report = await engine.request('report', { reset: true }, { timeout: 60_000 });
  if (report.count !== ROUNDS || report.errors !== 0) throw new Error(`game: ${report.count} of ${ROUNDS} round trips, ${report.errors} order errors`);
  return { p50: report.p50, p99: report.p99 };
}

async function requests(engine: PingPongEngine): Promise<{ p50: number; p99: number }> {
  const histogram = rttHistogram();
  for (let i = 0; i < REQUESTS; i++) {
    const x = valueOf(i);
    const started = performance.now();
    const reply = await engine.request('echo', { x }, { timeout: 60_000 });
    recordRttMs(histogram, performance.now() - started);
    if (reply.y !== ((x + 1) >>> 0)) throw new Error(`request ${i}: echo of ${x} replied ${reply.y}`);
  }
  return rttSpectrumUs(histogram);
}

const env = await collectEnv();
console.log(describeEnv(env));
const warning = busyWarning(env);
if (warning !== null) console.log(warning);

const engines: PingPongEngine[] = [];
try {
  for (const spec of SIDES) engines.push(await start(spec));
  const results = SIDES.map(() => ({ game50: [] as number[], game99: [] as number[], req50: [] as number[], req99: [] as number[] }));
  for (let round = 0; round < WARMUPS + ROUNDS_TIMED; round++) {
    for (let k = 0; k < SIDES.length; k++) {
      const s = (round + k) % SIDES.length; // rotate who goes first
      const g = await game(engines[s]!);
      const r = await requests(engines[s]!);
      if (round < WARMUPS) continue;
      results[s]!.game50.push(g.p50);
      results[s]!.game99.push(g.p99);
      results[s]!.req50.push(r.p50);
      results[s]!.req99.push(r.p99);
    }
  }
  const off = results[0]!;
  const diffNs = (a: number[], b: number[]): number => median(a.map((v, i) => (v - b[i]!) * 1000));
  console.log(`\nmedians of ${ROUNDS_TIMED} rounds (after ${WARMUPS} warm-ups); games of ${ROUNDS} spinning round trips, ${REQUESTS} sequential requests; µs unless noted\n`);
  console.log('| latency | game p50 | game p99 | game p50 − off (ns) | request p50 | request p99 | request p50 − off (ns) |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  SIDES.forEach((spec, s) => {
    const r = results[s]!;
    const d = (a: number[], b: number[]): string => (s === 0 ? '—' : diffNs(a, b).toFixed(0));
    console.log(`| ${spec.name} | ${formatMicros(median(r.game50))} | ${formatMicros(median(r.game99))} | ${d(r.game50, off.game50)} | ${formatMicros(median(r.req50))} | ${formatMicros(median(r.req99))} | ${d(r.req50, off.req50)} |`);
  });
  // The recorder beside the main thread's own measure (every request of every round, warm-ups included).
  for (let s = 0; s < SIDES.length; s++) {
    if (SIDES[s]!.latency === false) continue;
    const echo = engines[s]!.latency('echo').topics.echo!.roundTrip;
    console.log(`${SIDES[s]!.name}: engine.latency() echo round trip p50 ${formatMicros(echo.percentile(50) / 1000)} µs, p99 ${formatMicros(echo.percentile(99) / 1000)} µs over ${echo.count} timed requests`);
  }
} finally {
  await Promise.all(engines.map((engine) => engine.close()));
}
