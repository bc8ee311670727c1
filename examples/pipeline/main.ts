/**
 * Pipeline example: a building-automation gateway. Command lines arrive as text (as an MQTT
 * payload or an HTTP body would), and three stages on disjoint workers carry them out:
 *
 *   main ─ raw line ─▶ parse (worker 0) ─ command, keyed by zone ─▶ route (workers 1..R) ─ one per device ─▶ execute (worker R+1)
 *                      text → fields,                               owns its zones: order check,              async send, ioMs each,
 *                      malformed lines dropped                      state, fan-out if it changes              up to `concurrency` pending
 *
 * The main thread publishes the lines, honouring back-pressure (publish false: await
 * whenWritable), prints each stage's figures while it runs (pipeline.stats()), drains, and checks
 * every worker's counters against its own model of the building: which lines were malformed,
 * which commands changed a zone's state, and the count, id sum and checksum of every device send.
 *
 *   node build/examples/pipeline/main.js [wasm|js] [--commands=N] [--zones=N] [--routeWorkers=N]
 *        [--ioMs=N] [--concurrency=N] [--malformedEvery=N] [--ringCapacity=N] [--printEveryMs=N] [--seed=N]
 */
import { parseExampleArgs, runIfMain } from '../cli.ts';
import { random } from '../random.ts';
import { createEngine, createPipeline, type PipelineStats, type TopicReply } from 'wasm-dispatch';
import { OPS, deviceId, devicesOf, mix, topics, type Topics } from './topics.ts';

export interface PipelineExampleOptions {
  /** 'wasm' (default) or 'js'. */
  readonly backend?: 'wasm' | 'js';
  /** Command lines to publish; default 200 000. */
  readonly commands?: number;
  /** Zones 0..zones-1; default 1000. */
  readonly zones?: number;
  /** Workers of the route stage (keyed by zone); default 2. The engine has routeWorkers + 2. */
  readonly routeWorkers?: number;
  /** Simulated latency of one send to a device, ms; default 1. */
  readonly ioMs?: number;
  /**
   * Sends pending at once on the execute worker; default twice what its inbound lanes hold
   * (routeWorkers × ringCapacity × 2, at most 65535), so that every record in them can be pending
   * (see the comment at createPipeline).
   */
  readonly concurrency?: number;
  /** Every this many lines, one is malformed; default 1000. */
  readonly malformedEvery?: number;
  /** Records per lane; default the engine's (1024). Small values exercise back-pressure. */
  readonly ringCapacity?: number;
  /** The engine's blockTimeout, ms: how long a stage waits for space in the next one's lane before it spills; default 5000. */
  readonly blockTimeout?: number;
  /** How often the figures are printed while it runs, ms (with log); default 500. */
  readonly printEveryMs?: number;
  /** Seed of the deterministic command stream; default 1. */
  readonly seed?: number;
  /** Prints the figures while it runs, and the summary. Default false. */
  readonly log?: boolean;
}

type WorkerReport = TopicReply<Topics, 'report'>;

export interface PipelineExampleSummary {
  readonly backend: 'wasm' | 'js';
  readonly workers: number;
  readonly lines: number;
  /** What the main thread's model expects. */
  readonly expected: { malformed: number; commands: number; unchanged: number; sent: number; idSum: number; mixSum: number };
  /** Publishing every line, then drain(). */
  readonly elapsedMs: number;
  readonly linesPerSecond: number;
  /** How often publishing had to wait for whenWritable() (back-pressure reaching the main thread). */
  readonly waits: number;
  /** The pipeline's figures over the whole run, after drain(). */
  readonly stats: PipelineStats;
  readonly reports: readonly WorkerReport[];
  /** Human-readable failed checks; empty when everything matched. */
  readonly failures: readonly string[];
  readonly ok: boolean;
}

/** The kinds of malformed line the gateway meets, in turn. */
const MALFORMED = [
  (id: number) => `cmd id=${id} zone=3 seq=0 op=reboot value=1`, // unknown operation
  (id: number) => `cmd id=${id} zone=3 seq=0 op=fan`, // no value
  (id: number) => `cmd id=${id} zone=3 seq=0 op=fan value=high`, // not a number
  () => '\u0000\u0007garbage from a flaky serial line', // not a command
];

const pct = (x: number): string => `${Math.round(x * 100)}%`.padStart(4);
const count = (x: number): string => Math.round(x).toLocaleString('en-US');

/** One block of figures: a line per stage. */
function formatStats(s: PipelineStats, elapsedMs: number): string {
  const rows = s.stages.map((x) => `  ${x.name.padEnd(8)} delivered ${count(x.delivered).padStart(9)}  ${count(x.deliveredPerSecond).padStart(8)}/s  in flight ${count(x.inFlight).padStart(6)}  queued ${x.queuedByWorker.map((q) => count(q).padStart(5)).join(' ')}  busy ${x.busyByWorker.map(pct).join(' ')}`);
  return `t=${(elapsedMs / 1000).toFixed(2)} s, over the last ${s.intervalMs.toFixed(0)} ms (backlog ${count(s.backlog)}):\n${rows.join('\n')}`;
}

export async function runPipelineExample(options: PipelineExampleOptions = {}): Promise<PipelineExampleSummary> {
  const backend = options.backend ?? 'wasm';
  const lines = options.commands ?? 200_000;
  const zones = options.zones ?? 1000;
  const routeWorkers = options.routeWorkers ?? 2;
  const ioMs = options.ioMs ?? 1;
  const malformedEvery = options.malformedEvery ?? 1000;
  const printEveryMs = options.printEveryMs ?? 500;
  const log = options.log === true ? console.log : () => {};
  const rand = random(options.seed ?? 1);
  const errors: Error[] = [];
  const workers = routeWorkers + 2;
  const route = Array.from({ length: routeWorkers }, (_, k) => 1 + k);
  const concurrency = options.concurrency ?? Math.min(0xffff, routeWorkers * (options.ringCapacity ?? 1024) * 2);

  // blockTimeout: a stage that finds the next stage's lane full waits up to this long, then
  // spills into its own (unbounded) backlog and goes on, and back-pressure stops there. The
  // default, 50 ms, is there to break cycles of workers publishing to each other; a pipeline has
  // none, and a 50 ms stall is common on a busy machine, so this engine waits longer.
  const engine = await createEngine({
    topics,
    handlers: new URL('./handlers.js', import.meta.url),
    workers,
    backend,
    ...(options.ringCapacity !== undefined ? { ringCapacity: options.ringCapacity } : {}),
    blockTimeout: options.blockTimeout ?? 5000,
    onError: (error) => errors.push(error),
  });
  try {
    await engine.subscribe('configure', { handler: 'configure', mode: 'broadcast' });
    await engine.subscribe('report', { handler: 'report', mode: 'broadcast' });
    await engine.requestAll('configure', { ioMs }, { timeout: 10_000 });
    const pipeline = await createPipeline(engine, [
      { name: 'parse', topic: 'raw', handler: 'parse', workers: [0] },
      // Keyed: a zone's commands all reach one route worker, which owns its state. They also
      // arrive in order, because parse has one worker: a group stage of several workers would
      // pass one zone's commands through different threads, and there is no order between
      // publishing threads.
      { name: 'route', topic: 'command', handler: 'route', workers: route, mode: 'keyed' },
      // The concurrency limit is above what execute's inbound lanes (one per route worker) can
      // hold, so it is never what stops the worker taking a record: at its limit the engine gives
      // each freed place to the first of those lanes that has a record, and the route workers
      // behind the others wait, starved (an engine issue: --concurrency=256 shows it as one route
      // worker busy and the other idle with nothing queued).
      { name: 'execute', topic: 'device', handler: 'execute', workers: [routeWorkers + 1], concurrency },
    ]);

    // The main thread's model of the building: what the workers should report.
    const lastSeq = new Int32Array(zones).fill(-1);
    const state = new Float32Array(zones * OPS.length).fill(NaN);
    const expected = { malformed: 0, commands: 0, unchanged: 0, sent: 0, idSum: 0, mixSum: 0 };
    let waits = 0;

    log(`pipeline: ${backend}, ${workers} workers (parse [0], route [${route.join(', ')}] keyed by zone, execute [${routeWorkers + 1}] async ${ioMs} ms per send, up to ${concurrency} at once), ${lines.toLocaleString('en-US')} lines, ${zones} zones`);
    const started = performance.now();
    let nextPrint = started + printEveryMs;
    const print = (): void => {
      const now = performance.now();
      if (now < nextPrint) return;
      nextPrint = now + printEveryMs;
      log(formatStats(pipeline.stats(), now - started));
    };
    const raw = engine.writer('raw'); // staging writer: no object per line
    for (let id = 0; id < lines; id++) {
      if (id % malformedEvery === malformedEvery - 1) {
        raw.line = MALFORMED[Math.floor(id / malformedEvery) % MALFORMED.length]!(id);
        expected.malformed++;
      } else {
        const zone = Math.floor(rand() * zones);
        const op = Math.floor(rand() * OPS.length);
        const value = op === 0 ? 18 + 0.5 * Math.floor(rand() * 13) : op === 1 ? Math.floor(rand() * 4) : Math.floor(rand() * 2);
        const seq = ++lastSeq[zone]!;
        raw.line = `cmd id=${id} zone=${zone} seq=${seq} op=${OPS[op]} value=${value}`;
        // What route will do with it: the same comparison, on the same f32 value.
        expected.commands++;
        const at = zone * OPS.length + op;
        if (state[at] === Math.fround(value)) expected.unchanged++;
        else {
          state[at] = value;
          for (let k = 0, n = devicesOf(zone); k < n; k++) {
            expected.sent++;
            expected.idSum += id;
            expected.mixSum += mix(id, deviceId(zone, k));
          }
        }
      }
      // false: a lane into parse is full and the line waits in the main thread's backlog (kept,
      // in order); the stages behind it are full too, or parse would have made room.
      if (!engine.send('raw')) {
        waits++;
        await engine.whenWritable();
      }
      if ((id & 1023) === 1023) print();
    }
    const printer = setInterval(print, Math.max(10, printEveryMs / 5));
    try {
      await engine.drain({ timeout: 120_000 });
    } finally {
      clearInterval(printer);
    }
    const elapsedMs = performance.now() - started;
    const linesPerSecond = Math.round(lines / (elapsedMs / 1000));
    // Counters are totals since the pipeline started; rates and busy cover the time since the last print.
    const stats = pipeline.stats();
    log(`published and handled ${lines.toLocaleString('en-US')} lines in ${elapsedMs.toFixed(0)} ms: ${linesPerSecond.toLocaleString('en-US')} lines/s (${waits} waits for back-pressure)`);

    const reports = (await engine.requestAll('report', { reset: false }, { timeout: 10_000 })).sort((a, b) => a.worker - b.worker);
    const sum = (field: keyof WorkerReport): number => reports.reduce((t, r) => t + (r[field] as number), 0);
    const failures: string[] = [];
    const expect = (what: string, got: unknown, want: unknown): void => {
      if (got !== want) failures.push(`${what}: got ${String(got)}, expected ${String(want)}`);
    };
    expect('reports', reports.length, workers);
    expect('lines parsed + malformed', sum('parsed') + sum('malformed'), lines);
    expect('malformed lines', sum('malformed'), expected.malformed);
    expect('commands routed', sum('commands'), expected.commands);
    expect('commands that changed nothing', sum('unchanged'), expected.unchanged);
    expect('per-zone order errors', sum('orderErrors'), 0);
    expect('device sends', sum('sent'), expected.sent);
    expect('sum of command ids sent', sum('idSum'), expected.idSum);
    expect('checksum of sends (id, device)', sum('mixSum'), expected.mixSum);
    const [parse, routeStage, execute] = stats.stages;
    expect('parse: routed', parse!.routed, lines);
    expect('route: routed (parse passed on)', routeStage!.routed, expected.commands);
    expect('execute: routed (route fanned out)', execute!.routed, expected.sent);
    for (const s of stats.stages) {
      expect(`${s.name}: delivered`, s.delivered, s.routed);
      expect(`${s.name}: refused (dropped, rejected, lost)`, s.refused, 0);
      expect(`${s.name}: handler errors`, s.handlerErrors, 0);
    }
    expect('backlog', stats.backlog, 0);
    for (const e of errors) failures.push(`engine error: ${e.message}`);

    if (options.log === true) {
      console.table(Object.fromEntries(stats.stages.map((s) => [s.name, {
        workers: s.workers.join(', '), routed: s.routed, delivered: s.delivered, errors: s.handlerErrors, refused: s.refused, 'lane high water': s.highWater,
      }])));
      console.table(reports);
      log(failures.length === 0 ? 'all checks passed' : `FAILED:\n  ${failures.join('\n  ')}`);
    }
    return { backend, workers, lines, expected, elapsedMs, linesPerSecond, waits, stats, reports, failures, ok: failures.length === 0 };
  } finally {
    await engine.close({ timeout: 5000 });
  }
}

const USAGE = 'usage: main.js [wasm|js] [--commands=N] [--zones=N] [--routeWorkers=N] [--ioMs=N] [--concurrency=N] [--malformedEvery=N] [--ringCapacity=N] [--blockTimeout=N] [--printEveryMs=N] [--seed=N]';
const NUMBER_OPTIONS = ['commands', 'zones', 'routeWorkers', 'ioMs', 'concurrency', 'malformedEvery', 'ringCapacity', 'blockTimeout', 'printEveryMs', 'seed'] as const;

/** The command line's options; a bad one throws, naming it. */
function parseOptions(argv: readonly string[]): PipelineExampleOptions {
  return { ...parseExampleArgs(argv, NUMBER_OPTIONS), log: true };
}

await runIfMain(import.meta.url, USAGE, parseOptions, runPipelineExample);
