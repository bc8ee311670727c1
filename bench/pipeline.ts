/**
 * Pipeline throughput: three CPU-bound steps per message, as a three-stage pipeline on three
 * single-worker stages, beside the same three steps in one handler on one worker and on a group of
 * three workers, all in the same run.
 *
 *   pipeline   main ─ s1 ─▶ worker 0: h = step(seq) ─ s2 ─▶ worker 1: h = step(h) ─ s3 ─▶ worker 2: h = step(h), sum += h
 *   1 worker   main ─ all ─▶ worker 0: h = step(step(step(seq))), sum += h
 *   3 workers  main ─ all ─▶ group (round-robin) over workers 0, 1, 2: the same
 *
 * A step is spinHash(·, rounds) (bench/engine/checksum.ts), `rounds` calibrated on the main thread
 * so a step costs ~WORK_NS (2 µs): 6 µs of CPU per message in every configuration. A run publishes
 * N messages (writer + send, back-pressure honoured: whenWritable), then drain(); its time ends
 * when drain resolves (drain polls every 1 ms: ≤ 1–2 ms of a run of hundreds). Then every worker's
 * count and sum of final hashes (requestAll 'report', reset) must add up to N and to the main
 * thread's own sum over seq 0..N-1. Each round runs the three configurations back to back, in
 * alternating order, after WARMUP rounds; the figures are medians over RUNS rounds, and each ratio
 * is the median of the per-round ratios (rates measured moments apart). For the pipeline, its
 * stages' busy share over the last round is printed too (pipeline.stats()).
 *
 * On a 2-core machine: the pipeline and the 3-worker group each run four threads (three workers
 * and the publishing main thread) on two cores, so neither can reach 3× one worker; the bound is
 * 2 cores ÷ 6 µs per message, 2× one worker, less what the main thread and the lanes cost. The
 * pipeline also hands each message from thread to thread twice more than the group does, and its
 * stages wait for each other (a stage that finds the next one's lane full waits; one that finds
 * its own empty parks and must be woken, ~35 µs on this VM).
 *
 * Measured on the project's 2-core VM (quiet, Node 20.20.2): the pipeline 1.41× one worker, the
 * group 1.67×, the pipeline 0.85× the group, alike on both backends (README, Pipelines).
 *
 *   node build/bench/pipeline.js [wasm|js]     (default: both)
 *   env PIPE_MESSAGES (100000), PIPE_RUNS (5), PIPE_WARMUP (1), PIPE_WORK_NS (2000)
 */
import { createEngine, createPipeline, type Engine, type Pipeline } from '../src/index.ts';
import { calibrateRounds, spinHash } from './engine/checksum.ts';
import { pipelineBenchTopics, type PipelineBenchTopics } from './engine/pipeline-topics.ts';
import { verify, within } from './engine-common.ts';
import { busyWarning, collectEnv, describeEnv } from './env.ts';
import { formatRate, formatRatio } from './format.ts';

const HANDLERS = new URL('./engine/pipeline-handlers.js', import.meta.url);
const MESSAGES = Number(process.env.PIPE_MESSAGES ?? 100_000);
const RUNS = Number(process.env.PIPE_RUNS ?? 5);
const WARMUP = Number(process.env.PIPE_WARMUP ?? 1);
/** Target cost of one step, ns (three per message). */
const WORK_NS = Number(process.env.PIPE_WORK_NS ?? 2000);
/** A run's deadline: generous, far below any plausible rate (10 k messages/s) plus slack. */
const RUN_DEADLINE_MS = 30_000 + MESSAGES / 10;
/**
 * The pipeline engine's blockTimeout: a stage waits this long for room in the next stage's lane
 * before it spills into its backlog (the engine's 50 ms default breaks cycles; a pipeline has none).
 */
const PIPELINE_BLOCK_TIMEOUT_MS = 5000;

type BenchEngine = Engine<PipelineBenchTopics>;

interface Config {
  readonly id: 'pipeline' | 'one' | 'group';
  readonly name: string;
  readonly workers: number;
  /** The topic the main thread publishes to. */
  readonly topic: 's1' | 'all';
}

const CONFIGS: readonly Config[] = [
  { id: 'pipeline', name: 'pipeline: 3 stages × 1 worker', workers: 3, topic: 's1' },
  { id: 'one', name: 'one stage, 1 worker', workers: 1, topic: 'all' },
  { id: 'group', name: 'one stage, 3 workers (group)', workers: 3, topic: 'all' },
];

interface Setup {
  readonly config: Config;
  readonly engine: BenchEngine;
  readonly pipeline?: Pipeline;
}

async function start(config: Config, backend: 'wasm' | 'js'): Promise<Setup> {
  const engine = await within(30_000, `${config.name}: createEngine`, createEngine<PipelineBenchTopics>({
    topics: pipelineBenchTopics, handlers: HANDLERS, backend, workers: config.workers,
    ...(config.id === 'pipeline' ? { blockTimeout: PIPELINE_BLOCK_TIMEOUT_MS } : {}),
  }));
  await engine.subscribe('report', { handler: 'report', mode: 'broadcast' });
  if (config.id !== 'pipeline') {
    await engine.subscribe('all', { handler: 'all', mode: 'group' });
    return { config, engine };
  }
  const pipeline = await createPipeline(engine, [
    { name: 'step 1', topic: 's1', handler: 's1', workers: [0] },
    { name: 'step 2', topic: 's2', handler: 's2', workers: [1] },
    { name: 'step 3', topic: 's3', handler: 's3', workers: [2] },
  ]);
  return { config, engine, pipeline };
}

/** One run: N messages published, drained, checked. Returns messages per second and the largest backlog seen. */
async function run(setup: Setup, n: number, rounds: number, expectedSum: number): Promise<{ rate: number; backlog: number }> {
  const { engine, config } = setup;
  let backlog = 0;
  const started = performance.now();
  const writer = engine.writer(config.topic);
  writer.rounds = rounds;
  writer.h = 0;
  for (let seq = 0; seq < n; seq++) {
    writer.seq = seq;
    if (!engine.send(config.topic)) await engine.whenWritable();
    if ((seq & 4095) === 4095) backlog = Math.max(backlog, engine.stats().backlog);
  }
  await within(RUN_DEADLINE_MS, `${config.name}: drain`, engine.drain());
  const seconds = (performance.now() - started) / 1000;
  const replies = await within(20_000, `${config.name}: report`, engine.requestAll('report', { reset: true }, { timeout: 10_000 }));
  const count = replies.reduce((t, r) => t + r.count, 0);
  const sum = replies.reduce((t, r) => t + r.sum, 0);
  const problems: string[] = [];
  if (replies.length !== engine.workers) problems.push(`${config.name}: ${replies.length} of ${engine.workers} workers replied`);
  if (count !== n) problems.push(`${config.name}: handled ${count} of ${n} messages`);
  if (sum !== expectedSum) problems.push(`${config.name}: sum of final hashes ${sum} != expected ${expectedSum}`);
  verify(problems);
  return { rate: n / seconds, backlog };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const percent = (x: number): string => `${Math.round(x * 100)} %`;

/** The backend's table rows, and a note on the pipeline's stages. */
async function runBackend(backend: 'wasm' | 'js', rounds: number, expectedSum: number): Promise<{ rows: string[]; note: string }> {
  const setups: Setup[] = [];
  try {
    for (const config of CONFIGS) setups.push(await start(config, backend));
    const rates: Record<Config['id'], number[]> = { pipeline: [], one: [], group: [] };
    const ratios = { pipelineOne: [] as number[], groupOne: [] as number[], pipelineGroup: [] as number[] };
    let busy = '';
    let backlog = 0;
    for (let round = 0; round < WARMUP + RUNS; round++) {
      const order = round % 2 === 0 ? setups : [...setups].reverse();
      const got: Partial<Record<Config['id'], number>> = {};
      for (const setup of order) {
        setup.pipeline?.stats(); // the busy figures cover this run only
        const result = await run(setup, MESSAGES, rounds, expectedSum);
        got[setup.config.id] = result.rate;
        if (setup.pipeline !== undefined && round >= WARMUP) {
          backlog = Math.max(backlog, result.backlog);
          busy = setup.pipeline.stats().stages.map((s) => `${s.name} ${percent(s.busy)}`).join(', ');
        }
      }
      if (round < WARMUP) continue;
      for (const config of CONFIGS) rates[config.id].push(got[config.id]!);
      ratios.pipelineOne.push(got.pipeline! / got.one!);
      ratios.groupOne.push(got.group! / got.one!);
      ratios.pipelineGroup.push(got.pipeline! / got.group!);
    }
    const row = (config: Config, ratio: string): string => {
      const r = rates[config.id];
      return `| ${backend} | ${config.name} | ${formatRate(median(r))} | ${formatRate(Math.min(...r))}–${formatRate(Math.max(...r))} | ${ratio} |`;
    };
    return {
      rows: [
        row(CONFIGS[0]!, `${formatRatio(median(ratios.pipelineOne))}× (÷ group: ${formatRatio(median(ratios.pipelineGroup))}×)`),
        row(CONFIGS[1]!, '1.00×'),
        row(CONFIGS[2]!, `${formatRatio(median(ratios.groupOne))}×`),
      ],
      note: `${backend} pipeline, last round: stages busy ${busy} (wall-clock: waits for the next stage's lane and time preempted count); largest backlog seen ${backlog}`,
    };
  } finally {
    for (const setup of setups) await setup.engine.close({ timeout: 5000 }).catch(() => undefined);
  }
}

const chosen = process.argv.slice(2);
for (const arg of chosen) {
  if (arg !== 'wasm' && arg !== 'js') {
    console.error(`unexpected argument ${arg}\nusage: pipeline.js [wasm|js]`);
    process.exit(2);
  }
}
const backends = chosen.length === 0 ? (['wasm', 'js'] as const) : (chosen as ('wasm' | 'js')[]);
const env = await collectEnv();
console.log(describeEnv(env));
const warning = busyWarning(env);
if (warning !== null) console.log(warning);
const rounds = calibrateRounds(WORK_NS);
let expectedSum = 0;
for (let seq = 0; seq < MESSAGES; seq++) expectedSum += spinHash(spinHash(spinHash(seq, rounds), rounds), rounds);
console.log(`pipeline: ${MESSAGES.toLocaleString('en-US')} messages per run, 3 steps of ${rounds} hash rounds (~${WORK_NS / 1000} µs each) per message; ${WARMUP} warm-up + ${RUNS} timed rounds, each running every configuration; ${backends.join(' and ')}`);
const lines = ['| backend | configuration | msgs/s (median) | min–max | ÷ 1 worker (median of per-round ratios) |', '|---|---|---:|---:|---:|'];
const notes: string[] = [];
let failed = false;
for (const backend of backends) {
  try {
    const { rows, note } = await runBackend(backend, rounds, expectedSum);
    lines.push(...rows);
    notes.push(note);
  } catch (error) {
    failed = true;
    lines.push(`| ${backend} | FAILED: ${(error as Error).message} | | | |`);
  }
}
console.log([...lines, '', ...notes].join('\n'));
if (failed) process.exitCode = 1;
else console.log('every run verified: count and sum of final hashes equal the main thread\'s');
