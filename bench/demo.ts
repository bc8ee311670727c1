/**
 * The main job (`npm start`): a game-server demo on both backends, then a compact Wasm-vs-JS
 * benchmark beside postMessage and the worker pools, in one run, in 20–45 seconds here.
 *
 *   main thread ──moves (keyed by player)──▶ worker 0 ┐  each owns its players, checks move order,
 *               ──storms (broadcast)───────▶ worker 1 ┘  applies storms, publishes knockouts
 *               ◀─"where is p?" (request/response, answered by p's owner)
 *
 * The demo is examples/game-server (every answer and every count is checked against the main
 * thread's own model; the run fails if one differs); while it runs the progress line shows the
 * move topic's queue-wait p99 so far, and after each run the sampled queue-wait and handler-time
 * percentiles (p50/p99/p99.9) of move and storm and the round trips of `where` (engine.latency()). The benchmark is the quick variant of the
 * suites in bench/ (throughput with a postMessage baseline, ping-pong latency, request/response
 * vs Piscina and tinypool), every run verified. A progress line runs through both phases; the
 * run warns when the machine was busy before it, ends with a summary (summary.ts) and the
 * performance goals its entries cover (goals.ts; the others say not measured), and writes
 * demo.json with a report, a throughput chart and a latency chart (ping-pong and request() round
 * trips by percentile) beside it into bench/results/local/ (ignored by git), or, with
 * --reference, over the committed reference run in bench/results/. The whole suite is
 * `npm run bench`.
 *
 *   node build/bench/demo.js [--quick] [--reference]
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { runGameServer, type GameServerSummary } from '../examples/game-server/main.ts';
import { busyWarning, collectEnv, describeEnv } from './env.ts';
import { runEnginePingPong } from './engine-pingpong.ts';
import { runEngineThroughput } from './engine-throughput.ts';
import type { Histogram, LatencyReport } from '../src/index.ts';
import { formatCount, formatMicros, formatWithUnit } from './format.ts';
import { Progress } from './progress.ts';
import { LOCAL_DIR, REFERENCE_DIR, whereFilesWent, writeRun } from './report.ts';
import { runRequestResponse } from './request-response.ts';
import type { BenchOptions, EngineBenchEntry, LatencyDistribution } from './results.ts';
import { goalLines, summaryLines } from './summary.ts';
import { evaluateGoals } from './goals.ts';

const USAGE = 'usage: node build/bench/demo.js [--quick] [--reference]   (npm start [-- --quick])';
const RUNS = 5;

function parseOptions(argv: readonly string[]): { quick: boolean; reference: boolean } {
  let values: { quick?: boolean; reference?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { quick: { type: 'boolean' }, reference: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (error) {
    // parseArgs names the flag: "Unknown option '--fast'".
    usage((error as Error).message);
  }
  if (values.help === true) usage(null);
  if (values.quick === true && values.reference === true) usage('--reference replaces the committed reference run: not with --quick');
  return { quick: values.quick === true, reference: values.reference === true };
}

function usage(problem: string | null): never {
  if (problem) console.error(problem);
  console.error(USAGE);
  process.exit(problem ? 2 : 0);
}

/** Percentile `p` of a latency histogram (ns) in µs, or '–' without samples. */
function micros(histogram: Histogram, p: number): string {
  return histogram.count === 0 ? '–' : `${formatMicros(histogram.percentile(p) / 1000)} µs`;
}

/** The run's latency figures: sampled queue wait and handler time of the busy topics, the requests' round trips. */
function latencyLines(report: LatencyReport): string[] {
  const spread = (h: Histogram): string => `p50 ${micros(h, 50)} · p99 ${micros(h, 99)} · p99.9 ${micros(h, 99.9)}`;
  const { move, storm, where } = report.topics;
  return [
    `move  queue wait ${spread(move!.queueWait)}; handler ${spread(move!.handler)} (${formatCount(move!.queueWait.count)} samples)`,
    `storm queue wait ${spread(storm!.queueWait)}; handler ${spread(storm!.handler)} (${formatCount(storm!.queueWait.count)} samples)`,
    `where round trip ${spread(where!.roundTrip)} (${formatCount(where!.roundTrip.count)} timed of the requests)`,
  ];
}

async function main(): Promise<void> {
  const { quick, reference } = parseOptions(process.argv.slice(2));
  const started = Date.now();
  const progress = new Progress();
  const env = await collectEnv(500);
  const warning = busyWarning(env);
  console.log(describeEnv(env));
  if (warning !== null) console.log(warning);
  console.log();

  console.log('Game server: moves keyed by player to 2 workers, storms broadcast, queries by request/response');
  const games: GameServerSummary[] = [];
  let failed = false;
  for (const backend of ['wasm', 'js'] as const) {
    const summary = await runGameServer({
      backend, players: 1000, moves: quick ? 100_000 : 400_000,
      // Live: the move topic's sampled queue wait so far.
      onProgress: (done, total, move) => progress.update(`game server, ${backend}`, done, total, `moves · move queue wait p99 ${micros(move.queueWait, 99)}`, true),
    });
    progress.done();
    games.push(summary);
    const verdict = summary.ok ? 'every answer and count checked' : `FAILED: ${summary.failures.join('; ')}`;
    if (!summary.ok) failed = true;
    console.log(`  ${backend}: ${formatCount(summary.moves)} moves + ${summary.storms} storms in ${formatCount(summary.elapsedMs)} ms = ${formatWithUnit(summary.movesPerSecond, 'msg/s')}; ${summary.knockouts} knockouts; ${verdict}`);
    for (const line of latencyLines(summary.latency)) console.log(`    ${line}`);
  }
  console.log();

  console.log(`Benchmark: each case ${RUNS} timed runs per side after 2 warm-ups, sides taking turns`);
  const distributions: LatencyDistribution[] = [];
  const options: BenchOptions = {
    quick: true, full: false, filter: null, runs: RUNS,
    progress: (step, done, total) => progress.update(step, done, total, 'runs'),
    onDistribution: (distribution) => distributions.push(distribution),
  };
  const log = (line: string): void => progress.line(line);
  const entries: EngineBenchEntry[] = [];
  entries.push(...await runEngineThroughput(options, log));
  entries.push(...(await runEnginePingPong(options, log)).filter((e) => e.metric !== 'rtt_p99_us'));
  entries.push(...await runRequestResponse(options, log));
  progress.done();
  env.load.loadavgAfter = os.loadavg().map((n) => Math.round(n * 100) / 100);
  const demo: EngineBenchEntry[] = games.map((g) => ({
    suite: 'demo', case: 'game server moves (2 workers)', who: g.backend, metric: 'msgs_per_s', unit: 'msg/s',
    median: g.movesPerSecond, min: g.movesPerSecond, max: g.movesPerSecond, runs: 1, verified: g.ok,
  }));

  console.log();
  console.log(`Summary: medians of ${RUNS} runs (the game server: one run each); min–max in the report`);
  console.log();
  for (const line of summaryLines([...demo, ...entries])) console.log(line);
  const goals = evaluateGoals(entries);
  console.log();
  for (const line of goalLines(goals)) console.log(line);

  const files = writeRun({ env, entries: [...demo, ...entries], distributions, goals }, reference ? REFERENCE_DIR : LOCAL_DIR, 'demo');
  console.log();
  if (warning !== null) console.log(warning);
  for (const line of whereFilesWent(files, reference, 'npm start --')) console.log(line);
  console.log(`${((Date.now() - started) / 1000).toFixed(0)} s. The whole suite, with every peer: npm run bench`);
  if (failed || entries.some((e) => !e.verified)) {
    console.error('VERIFICATION FAILED (see above)');
    process.exitCode = 1;
  }
}

await main();
