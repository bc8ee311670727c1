/**
 * The whole benchmark suite (`npm run bench`), Wasm vs JS vs the peers in one run, one file per
 * topology: micro (ring-micro.ts: ring ops, route lookup, hashing, batch dispatch), one-to-one
 * (ring-threads.ts: the bare ring; engine-throughput.ts: main → worker beside postMessage;
 * one-to-one.ts: beside ringbuf.js and a plain SAB ring), ping-pong (engine-pingpong.ts: spinning
 * and parked, beside postMessage and Atomics.wait/notify), scaling (engine-scaling.ts), fan-out,
 * large messages (4 KiB and 60 KiB payloads beside postMessage and memcpy), keyed, request-response (beside Piscina and tinypool), in-thread (beside EventEmitter,
 * eventemitter3, mitt), memory (GC events and heap bytes per message beside postMessage) and
 * browser (browser.ts: the demo page's contenders in headless Chromium).
 * A progress line runs through the cases; the run warns when the machine was busy before it,
 * ends with a summary (summary.ts) and the performance goals as the run met them (goals.ts), and
 * writes latest.json (quick.json, filtered.json for partial runs; with the ping-pong cases'
 * latency distributions and the goals) with a report, a throughput chart and a latency chart
 * beside it into bench/results/local/ (ignored by git), or, with --reference (whole runs only),
 * over the committed reference run in bench/results/.
 *
 *   node build/bench/main.js [--quick | --full] [--runs N] [--filter SUBSTRING] [--reference]
 *
 *   --quick   ~80 s: short micro cases, 2 M messages per cross-thread run, one browser case
 *   --full    longer micro cases, 50 M (single) / 200 M (batch) messages per run, 9 runs
 *   --runs N  timed cross-thread runs per case (default 5; min benchmark.js samples per micro case)
 *   --filter  only cases whose id `suite/case/backend` contains SUBSTRING, e.g. `one-to-one`,
 *             `batch`, `/wasm`, `ping-pong`, `memory`, `postMessage`
 *   --reference  write the results into bench/results/ (the committed reference) instead of
 *             bench/results/local/: for maintainers refreshing what the README cites
 *
 * Exits non-zero if any case fails verification (lost, duplicated, reordered records, a checksum
 * mismatch, a failed op, a run that did not finish). Speed is reported, never asserted.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { busyWarning, collectEnv, describeEnv } from './env.ts';
import { runBrowser } from './browser.ts';
import { runEnginePingPong } from './engine-pingpong.ts';
import { runEngineScaling } from './engine-scaling.ts';
import { runEngineThroughput } from './engine-throughput.ts';
import { runFanOut } from './fan-out.ts';
import { runInThread } from './in-thread.ts';
import { runKeyed } from './keyed.ts';
import { runLargeMessages } from './large-messages.ts';
import { runMemory } from './memory.ts';
import { runOneToOne } from './one-to-one.ts';
import { runRequestResponse } from './request-response.ts';
import { Progress } from './progress.ts';
import { LOCAL_DIR, REFERENCE_DIR, whereFilesWent, writeRun } from './report.ts';
import { runRingMicro } from './ring-micro.ts';
import { runRingThreads } from './ring-threads.ts';
import type { BenchOptions, LatencyDistribution, ResultEntry } from './results.ts';
import { goalLines, summaryLines } from './summary.ts';
import { evaluateGoals } from './goals.ts';

/** Every suite, in the order they run. */
const SUITES: ReadonlyArray<(options: BenchOptions, log: (line: string) => void) => Promise<ResultEntry[]>> = [
  runRingMicro, runRingThreads, runEngineThroughput, runEnginePingPong, runEngineScaling, runOneToOne,
  runFanOut, runLargeMessages, runKeyed, runRequestResponse, runInThread, runMemory, runBrowser,
];

const USAGE = 'usage: node build/bench/main.js [--quick | --full] [--runs N] [--filter SUBSTRING] [--reference]';

function parseOptions(argv: readonly string[]): { options: BenchOptions; reference: boolean } {
  let values: { quick?: boolean; full?: boolean; runs?: string; filter?: string; reference?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        quick: { type: 'boolean' },
        full: { type: 'boolean' },
        runs: { type: 'string' },
        filter: { type: 'string' },
        reference: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    // parseArgs names the flag: "Unknown option '--fast'", "Option '--runs <value>' argument missing".
    usage((error as Error).message);
  }
  if (values.help === true) usage(null);
  const options: BenchOptions = { quick: values.quick === true, full: values.full === true, filter: values.filter ?? null, runs: 5 };
  if (options.quick && options.full) usage('--quick and --full exclude each other');
  const reference = values.reference === true;
  if (reference && (options.quick || options.filter !== null)) usage('--reference replaces the committed reference run: a whole run only, not with --quick or --filter');
  if (values.runs !== undefined) {
    const runs = Number(values.runs);
    if (!Number.isInteger(runs) || runs < 1 || runs > 1000) usage(`--runs=${values.runs}: must be an integer in [1, 1000]`);
    options.runs = runs;
  } else if (options.full) {
    options.runs = 9;
  }
  return { options, reference };
}

function usage(problem: string | null): never {
  if (problem) console.error(problem);
  console.error(USAGE);
  process.exit(problem ? 2 : 0);
}

async function main(): Promise<void> {
  const { options, reference } = parseOptions(process.argv.slice(2));
  const started = Date.now();
  const progress = new Progress();
  options.progress = (step, done, total) => progress.update(step, done, total, 'runs');
  const distributions: LatencyDistribution[] = [];
  options.onDistribution = (distribution) => distributions.push(distribution);
  const log = (line: string): void => progress.line(line);
  const env = await collectEnv();
  const warning = busyWarning(env);
  console.log(describeEnv(env));
  if (warning !== null) console.log(warning);
  if (options.runs < 5) console.log(`note: --runs ${options.runs} is below the 5 runs a median needs to mean much`);
  console.log();

  const entries: ResultEntry[] = [];
  for (const run of SUITES) entries.push(...await run(options, log));
  progress.done();
  env.load.loadavgAfter = os.loadavg().map((n) => Math.round(n * 100) / 100);

  if (entries.length === 0) {
    console.error(`no case matches --filter ${options.filter}`);
    process.exitCode = 2;
    return;
  }
  console.log();
  console.log(`Summary: medians of ${options.runs} run${options.runs === 1 ? '' : 's'} (micro: of benchmark.js samples); min–max in the report`);
  console.log();
  for (const line of summaryLines(entries)) console.log(line);
  const goals = evaluateGoals(entries);
  console.log();
  for (const line of goalLines(goals)) console.log(line);

  // A filtered or quick run is a partial one: it must not replace the last whole run's results and report.
  const whole = options.filter === null && !options.quick;
  const name = whole ? 'latest' : options.filter === null ? 'quick' : 'filtered';
  const saved = { quick: options.quick, full: options.full, filter: options.filter, runs: options.runs };
  const files = writeRun({ env, options: saved, entries, distributions, goals }, reference ? REFERENCE_DIR : LOCAL_DIR, name);
  console.log();
  if (warning !== null) console.log(warning);
  for (const line of whereFilesWent(files, reference, 'npm run bench --')) console.log(line);
  console.log(`loadavg before ${env.load.loadavgBefore.join(' / ')}, after ${env.load.loadavgAfter.join(' / ')}; ${((Date.now() - started) / 1000).toFixed(0)} s`);

  const failed = entries.filter((e) => !e.verified);
  if (failed.length > 0) {
    console.error(`\nVERIFICATION FAILED in ${failed.length} case(s):`);
    for (const e of failed) console.error(`  ${e.suite}/${e.case}/${e.who}: ${e.error ?? 'not verified'}`);
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
