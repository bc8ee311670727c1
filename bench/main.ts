/**
 * The whole benchmark suite (`npm run bench`), Wasm vs JS vs the peers in one run, one file per
 * topology: micro (ring-micro.ts: ring ops, route lookup, hashing, batch dispatch), one-to-one
 * (ring-threads.ts: the bare ring; engine-throughput.ts: main → worker beside postMessage;
 * one-to-one.ts: beside ringbuf.js and a plain SAB ring), ping-pong (engine-pingpong.ts: spinning
 * and parked, beside postMessage and Atomics.wait/notify), scaling (engine-scaling.ts), fan-out,
 * keyed, request-response (beside Piscina and tinypool), in-thread (beside EventEmitter,
 * eventemitter3, mitt), memory (GC events and heap bytes per message beside postMessage) and
 * browser (browser.ts: the demo page's contenders in headless Chromium).
 * Printed side by side and written to bench/results/latest.json, latest.md and latest.svg.
 *
 *   node build/bench/main.js [--quick | --full] [--runs N] [--filter SUBSTRING]
 *
 *   --quick   ~80 s: short micro cases, 2 M messages per cross-thread run, one browser case
 *   --full    longer micro cases, 50 M (single) / 200 M (batch) messages per run, 9 runs
 *   --runs N  timed cross-thread runs per case (default 5; min benchmark.js samples per micro case)
 *   --filter  only cases whose id `suite/case/backend` contains SUBSTRING, e.g. `one-to-one`,
 *             `batch`, `/wasm`, `ping-pong`, `memory`, `postMessage`
 *
 * Exits non-zero if any case fails verification (lost, duplicated, reordered records, a checksum
 * mismatch, a failed op, a run that did not finish). Speed is reported, never asserted.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT, collectEnv, describeEnv } from './env.ts';
import { runBrowser } from './browser.ts';
import { runEnginePingPong } from './engine-pingpong.ts';
import { runEngineScaling } from './engine-scaling.ts';
import { runEngineThroughput } from './engine-throughput.ts';
import { runFanOut } from './fan-out.ts';
import { runInThread } from './in-thread.ts';
import { runKeyed } from './keyed.ts';
import { runMemory } from './memory.ts';
import { runOneToOne } from './one-to-one.ts';
import { runRequestResponse } from './request-response.ts';
import { writeReport } from './report.ts';
import { runRingMicro } from './ring-micro.ts';
import { runRingThreads } from './ring-threads.ts';
import { printEngineTable, printTable, roundEntries, type BenchEntry, type BenchOptions, type EngineBenchEntry } from './results.ts';

const USAGE = 'usage: node build/bench/main.js [--quick | --full] [--runs N] [--filter SUBSTRING]';

function parseOptions(argv: readonly string[]): BenchOptions {
  let values: { quick?: boolean; full?: boolean; runs?: string; filter?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        quick: { type: 'boolean' },
        full: { type: 'boolean' },
        runs: { type: 'string' },
        filter: { type: 'string' },
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
  if (values.runs !== undefined) {
    const runs = Number(values.runs);
    if (!Number.isInteger(runs) || runs < 1 || runs > 1000) usage(`--runs=${values.runs}: must be an integer in [1, 1000]`);
    options.runs = runs;
  } else if (options.full) {
    options.runs = 9;
  }
  return options;
}

function usage(problem: string | null): never {
  if (problem) console.error(problem);
  console.error(USAGE);
  process.exit(problem ? 2 : 0);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const started = Date.now();
  const log = (line: string): void => console.log(line);
  const env = await collectEnv();
  console.log(describeEnv(env));
  if (options.runs < 5) console.log(`note: --runs ${options.runs} is below the 5 runs a median needs to mean much`);
  console.log();

  const entries: (BenchEntry | EngineBenchEntry)[] = [];
  const micro = await runRingMicro(options, log);
  entries.push(...micro);
  const threads = await runRingThreads(options, log);
  entries.push(...threads);
  const engine: EngineBenchEntry[] = [];
  engine.push(...await runEngineThroughput(options, log));
  engine.push(...await runEnginePingPong(options, log));
  engine.push(...await runEngineScaling(options, log));
  engine.push(...await runOneToOne(options, log));
  engine.push(...await runFanOut(options, log));
  engine.push(...await runKeyed(options, log));
  engine.push(...await runRequestResponse(options, log));
  engine.push(...await runInThread(options, log));
  engine.push(...await runMemory(options, log));
  engine.push(...await runBrowser(options, log));
  entries.push(...engine);
  env.load.loadavgAfter = os.loadavg().map((n) => Math.round(n * 100) / 100);

  console.log();
  printTable('micro (one thread), records/s', micro);
  if (micro.length > 0 && threads.length > 0) console.log();
  printTable('one-to-one (2 workers), msgs/s', threads);
  if ((micro.length > 0 || threads.length > 0) && engine.length > 0) console.log();
  printEngineTable('engine (main + workers)', engine);
  console.log(`\nloadavg before ${env.load.loadavgBefore.join(' / ')}, after ${env.load.loadavgAfter.join(' / ')}; ${((Date.now() - started) / 1000).toFixed(1)} s`);

  if (entries.length === 0) {
    console.error(`no case matches --filter ${options.filter}`);
    process.exitCode = 2;
    return;
  }
  const dir = new URL('bench/results/', PROJECT_ROOT);
  mkdirSync(dir, { recursive: true });
  // A filtered or quick run is a partial one: it must not replace the last whole run's results and report.
  const whole = options.filter === null && !options.quick;
  const file = new URL(whole ? 'latest.json' : options.filter === null ? 'quick.json' : 'filtered.json', dir);
  const rounded = roundEntries(entries);
  writeFileSync(file, `${JSON.stringify({ env, options, entries: rounded }, null, 2)}\n`);
  console.log(`results: ${fileURLToPath(file)}`);
  if (whole) {
    const report = writeReport({ env, entries: rounded }, dir);
    console.log(`report: ${fileURLToPath(report.markdown)}, chart: ${fileURLToPath(report.svg)}`);
  }

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
