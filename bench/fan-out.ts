/**
 * Fan-out throughput: the main thread broadcasts, every worker's handler gets every message.
 *
 *   main thread (engine thread 0)          ┌──▶ lane 0→1 ──▶ worker 0: sink (count, seq order, FNV-1a)
 *   publishBatch(256) of 'item' ──────────┤
 *     whenWritable() between batches      └──▶ lane 0→2 ──▶ worker 1: sink (count, seq order, FNV-1a)
 *   requestAll('report') after the items ◀── one reply per worker, after all of its items
 *
 *   baseline: main ──postMessage({ seq, value, stamp }) × 2 per message──▶ two worker_threads
 *
 * One `item` subscription in 'broadcast' mode over both workers (N = FANOUT = 2): each publish is
 * routed into both lanes. Topics and handler module are the one-to-one benchmark's
 * (bench/engine/throughput-*.ts): 16-byte messages, a sink that checks seq rises by exactly 1
 * and folds values into an order-sensitive checksum, a `report` request answered after the items
 * on the same lane. A run publishes M messages and then requestAll('report'); its time runs from
 * the first publish to the last reply, and every worker's count, order and checksum must equal
 * what was sent (computed on the main thread). The postMessage baseline posts every message to
 * each of its two workers (bench/workers/engine-postmessage.ts), then a report request to both.
 *
 * Metrics: msgs_per_s in case `…` counts messages published per second; the same runs appear
 * again in case `…, deliveries` as handler deliveries per second (published × N). All sides take
 * turns in one measureSides call, so the baseline sees the same machine load as the backends.
 */
import { streamChecksum } from './engine/checksum.ts';
import { throughputTopics, type ThroughputTopics } from './engine/throughput-topics.ts';
import {
  BACKENDS, SuiteEngines, measureSides, runSize, runTimeoutMs, streamProblems, verify, within, type RunSizes, type Side,
} from './engine-common.ts';
import { ITEM_BATCH, PostMessageSinks, itemBatch, publishItemBatches, type SinkReport } from './item-stream.ts';
import { selected, type BenchOptions, type EngineBenchEntry, type EngineWho } from './results.ts';

const SUITE = 'fan-out';
const HANDLERS = new URL('./engine/throughput-handlers.js', import.meta.url);
/** Workers every message is broadcast to. */
const FANOUT = 2;
const PUBLISHED_CASE = `broadcast 1→${FANOUT} publishBatch ${ITEM_BATCH}`;
const DELIVERY_CASE = `${PUBLISHED_CASE}, deliveries`;

/**
 * Messages per run: FANOUT × these are the deliveries of a run, equal to the messages of a run of
 * the one-to-one publishBatch case (engine-throughput.ts), so the two rates, which the
 * performance goals compare, come from runs of the same work and length.
 */
const MESSAGES: RunSizes = { quick: 250_000, normal: 500_000, full: 5_000_000 };
/** postMessage queues everything unbounded at well under 1 M/s per copy: fewer messages. */
const POST_MESSAGES: RunSizes = { quick: 30_000, normal: 100_000, full: 1_000_000 };
/** Deliveries per second below which a run times out: far below what any side does. */
const MIN_DELIVERY_RATE = 100_000;

/** Every one of FANOUT reports saw all n messages, in order, with the sender's checksum. */
function checkReports(reports: readonly SinkReport[], n: number, expected: number): void {
  const problems: string[] = [];
  if (reports.length !== FANOUT) problems.push(`${reports.length} of ${FANOUT} workers reported`);
  for (const report of reports) problems.push(...streamProblems(report, n, expected, `worker ${report.worker}: `));
  const workers = new Set(reports.map((report) => report.worker));
  if (workers.size !== reports.length) problems.push(`replies came from workers ${[...workers].join(', ')}`);
  verify(problems);
}

/** Runs the fan-out cases selected by `options`. */
export async function runFanOut(options: BenchOptions, log: (line: string) => void): Promise<EngineBenchEntry[]> {
  const wanted = (who: EngineWho): boolean => selected(options, SUITE, PUBLISHED_CASE, who) || selected(options, SUITE, DELIVERY_CASE, who);
  const backends = BACKENDS.filter(wanted);
  const baseline = wanted('postMessage');
  if (backends.length === 0 && !baseline) return [];
  const n = runSize(options, MESSAGES);
  const expected = streamChecksum(n);
  const pn = runSize(options, POST_MESSAGES);
  const pexpected = streamChecksum(pn);
  const engines = new SuiteEngines<ThroughputTopics>();
  let sink: PostMessageSinks | null = null;
  try {
    const all = Array.from({ length: FANOUT }, (_, w) => w);
    await engines.startEach(backends, { topics: throughputTopics, handlers: HANDLERS, workers: FANOUT }, [
      ['item', { handler: 'sink', mode: 'broadcast', workers: all }],
      ['report', { handler: 'report', mode: 'broadcast', workers: all }],
    ]);
    const batch = itemBatch();
    const sides: Side[] = backends.map((who) => ({
      who,
      run: async () => {
        const timeout = runTimeoutMs(n * FANOUT, MIN_DELIVERY_RATE);
        const { result: reports, seconds } = await engines.timed(who, `${who} ${PUBLISHED_CASE}`, timeout, async (engine) => {
          await publishItemBatches(engine, n, batch);
          return engine.requestAll('report', { reset: true }, { timeout });
        });
        checkReports(reports, n, expected);
        return { msgs_per_s: n / seconds };
      },
    }));
    if (baseline) {
      sink = new PostMessageSinks(FANOUT);
      const started = sink;
      await within(30_000, 'postMessage workers start', started.ready);
      sides.push({
        who: 'postMessage',
        run: async () => {
          const begun = performance.now();
          const reports = await within(runTimeoutMs(pn * FANOUT, MIN_DELIVERY_RATE), `postMessage ${PUBLISHED_CASE}`, started.run(pn));
          const seconds = (performance.now() - begun) / 1000;
          checkReports(reports, pn, pexpected);
          return { msgs_per_s: pn / seconds };
        },
      });
    }
    log(`${SUITE} ${PUBLISHED_CASE}: ${options.runs} timed runs of ${n.toLocaleString('en')} messages (postMessage: ${pn.toLocaleString('en')}) broadcast main → ${FANOUT} workers after warm-ups, ${sides.map((side) => side.who).join(', ')}`);
    const published = await measureSides(SUITE, PUBLISHED_CASE, sides, ['msgs_per_s'], options, log);
    // The same runs, counted per delivery: every published message reached FANOUT handlers.
    const deliveries = published.map((entry) => ({
      ...entry, case: DELIVERY_CASE, median: entry.median * FANOUT, min: entry.min * FANOUT, max: entry.max * FANOUT,
    }));
    return [
      ...published.filter((entry) => selected(options, SUITE, PUBLISHED_CASE, entry.who)),
      ...deliveries.filter((entry) => selected(options, SUITE, DELIVERY_CASE, entry.who)),
    ];
  } finally {
    await engines.close();
    await sink?.stop();
  }
}
