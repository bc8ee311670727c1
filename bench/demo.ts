/**
 * The main job (`npm start`): a game-server demo on both backends, then a compact Wasm-vs-JS
 * benchmark beside postMessage and the worker pools, in one run, in about a minute.
 *
 *   main thread ──moves (keyed by player)──▶ worker 0 ┐  each owns its players, checks move order,
 *               ──storms (broadcast)───────▶ worker 1 ┘  applies storms, publishes knockouts
 *               ◀─"where is p?" (request/response, answered by p's owner)
 *
 * The demo is examples/game-server (every answer and every count is checked against the main
 * thread's own model; the run fails if one differs). The benchmark is the quick variant of the
 * suites in bench/ (throughput with a postMessage baseline, ping-pong latency, request/response
 * vs Piscina and tinypool), every run verified. The whole suite is `npm run bench`.
 *
 *   node build/bench/demo.js [--quick]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runGameServer, type GameServerSummary } from '../examples/game-server/main.ts';
import { PROJECT_ROOT, collectEnv, describeEnv } from './env.ts';
import { runEnginePingPong } from './engine-pingpong.ts';
import { runEngineThroughput } from './engine-throughput.ts';
import { runRequestResponse } from './request-response.ts';
import { formatWithUnit } from './format.ts';
import { printEngineTable, roundEntries, type BenchOptions, type EngineBenchEntry } from './results.ts';

const BAR_WIDTH = 30;

/** A progress bar on stderr when it is a terminal; otherwise a line at each quarter. */
function progress(label: string): (done: number, total: number) => void {
  const tty = process.stderr.isTTY === true;
  let lastQuarter = -1;
  return (done, total) => {
    const fraction = total > 0 ? done / total : 1;
    if (tty) {
      const filled = Math.round(fraction * BAR_WIDTH);
      process.stderr.write(`\r  ${label} [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${done.toLocaleString('en-US')} moves`);
      if (done >= total) process.stderr.write('\n');
    } else {
      const quarter = Math.floor(fraction * 4);
      if (quarter > lastQuarter) {
        lastQuarter = quarter;
        console.log(`  ${label}: ${(quarter * 25).toString().padStart(3)}% (${done.toLocaleString('en-US')} moves)`);
      }
    }
  };
}

const USAGE = 'usage: node build/bench/demo.js [--quick]   (npm start [-- --quick])';

function parseOptions(argv: readonly string[]): { quick: boolean } {
  try {
    const { values } = parseArgs({ args: [...argv], options: { quick: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
    if (values.help === true) {
      console.error(USAGE);
      process.exit(0);
    }
    return { quick: values.quick === true };
  } catch (error) {
    // parseArgs names the flag: "Unknown option '--fast'".
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

async function main(): Promise<void> {
  const { quick } = parseOptions(process.argv.slice(2));
  const started = Date.now();
  const env = await collectEnv(500);
  console.log(describeEnv(env));
  console.log();

  console.log('Game server: moves keyed by player to 2 workers, storms broadcast, queries by request/response');
  const games: GameServerSummary[] = [];
  let failed = false;
  for (const backend of ['wasm', 'js'] as const) {
    const summary = await runGameServer({ backend, players: 1000, moves: quick ? 100_000 : 400_000, onProgress: progress(backend.padEnd(4)) });
    games.push(summary);
    const verdict = summary.ok ? 'every answer and count checked' : `FAILED: ${summary.failures.join('; ')}`;
    if (!summary.ok) failed = true;
    console.log(`  ${backend}: ${summary.moves.toLocaleString('en-US')} moves + ${summary.storms} storms in ${summary.elapsedMs.toFixed(0)} ms = ${formatWithUnit(summary.movesPerSecond, 'msg/s')}; ${summary.knockouts} knockouts; ${verdict}`);
  }
  console.log();

  const options: BenchOptions = { quick: true, full: false, filter: null, runs: 5 };
  const log = (line: string): void => console.log(line);
  const entries: EngineBenchEntry[] = [];
  entries.push(...await runEngineThroughput(options, log));
  entries.push(...(await runEnginePingPong(options, log)).filter((e) => e.metric !== 'rtt_p99_us'));
  entries.push(...await runRequestResponse(options, log));
  const demo: EngineBenchEntry[] = games.map((g) => ({
    suite: 'demo', case: 'game server moves (2 workers)', who: g.backend, metric: 'msgs_per_s', unit: 'msg/s',
    median: g.movesPerSecond, min: g.movesPerSecond, max: g.movesPerSecond, runs: 1, verified: g.ok,
  }));
  console.log();
  printEngineTable('summary (medians [min–max])', [...demo, ...entries]);
  console.log(`\n${((Date.now() - started) / 1000).toFixed(1)} s. The whole suite, with every peer and a report: npm run bench`);

  const dir = new URL('bench/results/', PROJECT_ROOT);
  mkdirSync(dir, { recursive: true });
  const rounded = roundEntries([...demo, ...entries]);
  writeFileSync(new URL('demo.json', dir), `${JSON.stringify({ env, entries: rounded }, null, 2)}\n`);
  if (failed || entries.some((e) => !e.verified)) {
    console.error('VERIFICATION FAILED (see above)');
    process.exitCode = 1;
  }
}

await main();
