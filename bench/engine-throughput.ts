/**
 * Engine one-to-one throughput: the main thread publishes, one worker's handler consumes.
 *
 *   main thread (engine thread 0)                          worker 0
 *   publish() / writer+send() / publishBatch(256) ──▶ lane 0→1 (SPSC ring, 1024 × 32 B)
 *        ▲  whenWritable() when the lane is full              │ sink handler: count, seq order,
 *        │                                                    │ FNV-1a checksum of values
 *        └─────────────── report request (same lane, after the items) ◀── reply
 *
 *   baseline: main ──postMessage({ seq, value, stamp }) × N──▶ one worker_thread (same checks)
 *
 * Messages are 16 bytes (seq u32, value u32, stamp f64). A run publishes N messages and then a
 * `report` request on the same lane, so its reply comes after the sink handled every message; the
 * run's time is from the first publish to that reply, and the reply's count, checksum and order
 * errors must equal what was sent (computed independently on the main thread). Each backend has
 * its own engine (1 worker, default options: ringCapacity 1024, flushEvery 64, batch 256); the
 * idle engine's worker is parked while the other runs.
 *
 * `publish` reuses one fields object (no allocation per message from the benchmark itself);
 * `writer+send` sets the staging writer's fields; `publishBatch` publishes arrays of 256 reused
 * objects and awaits whenWritable() between batches. All three honour back-pressure.
 */
import type { Engine } from '../src/index.ts';
import { streamChecksum, valueOf } from './engine/checksum.ts';
import { throughputTopics, type ThroughputTopics } from './engine/throughput-topics.ts';
import {
  BACKENDS, SuiteEngines, measureSides, runSize, runTimeoutMs, streamProblems, verify, within, type RunSizes, type Side,
} from './engine-common.ts';
import { ITEM_BATCH, PostMessageSinks, itemBatch, publishItemBatches } from './item-stream.ts';
import { selected, type BenchOptions, type EngineBenchEntry } from './results.ts';

/** Suite 'one-to-one' (the name): main thread → one worker, with the postMessage baseline. */
const SUITE = 'one-to-one';
const HANDLERS = new URL('./engine/throughput-handlers.js', import.meta.url);
type Mode = 'publish' | 'writer+send' | 'publishBatch';
const MODES: readonly Mode[] = ['publish', 'writer+send', 'publishBatch'];
const CASE_NAMES: Record<Mode, string> = { publish: 'engine publish', 'writer+send': 'engine writer+send, 16 B', publishBatch: `engine publishBatch ${ITEM_BATCH}` };
const POSTMESSAGE_CASE = 'postMessage baseline';

const MESSAGES: RunSizes = { quick: 500_000, normal: 1_000_000, full: 10_000_000 };
/** postMessage queues everything unbounded and runs at ~1 M/s: fewer messages. */
const POST_MESSAGES: RunSizes = { quick: 200_000, normal: 300_000, full: 2_000_000 };
/** Messages per second below which a run times out: far below what any side does. */
const MIN_RATE = 100_000;

type ThroughputEngine = Engine<ThroughputTopics>;

async function publishRun(engine: ThroughputEngine, mode: Mode, n: number): Promise<void> {
  switch (mode) {
    case 'publish': {
      const message = { seq: 0, value: 0, stamp: 0 };
      for (let seq = 0; seq < n; seq++) {
        message.seq = seq;
        message.value = valueOf(seq);
        message.stamp = seq;
        if (!engine.publish('item', message)) await engine.whenWritable();
      }
      break;
    }
    case 'writer+send': {
      const writer = engine.writer('item');
      for (let seq = 0; seq < n; seq++) {
        writer.seq = seq;
        writer.value = valueOf(seq);
        writer.stamp = seq;
        if (!engine.send('item')) await engine.whenWritable();
      }
      break;
    }
    case 'publishBatch':
      await publishItemBatches(engine, n, itemBatch()); // flushes at the end
      return;
  }
  engine.flush();
}

/** Runs the throughput cases selected by `options`. */
export async function runEngineThroughput(options: BenchOptions, log: (line: string) => void): Promise<EngineBenchEntry[]> {
  const modes = MODES.filter((mode) => BACKENDS.some((who) => selected(options, SUITE, CASE_NAMES[mode], who)));
  const baseline = selected(options, SUITE, POSTMESSAGE_CASE, 'postMessage');
  if (modes.length === 0 && !baseline) return [];
  const entries: EngineBenchEntry[] = [];
  const n = runSize(options, MESSAGES);
  const expected = streamChecksum(n);

  if (modes.length > 0) {
    const backends = BACKENDS.filter((who) => modes.some((mode) => selected(options, SUITE, CASE_NAMES[mode], who)));
    const engines = new SuiteEngines<ThroughputTopics>();
    try {
      await engines.startEach(backends, { topics: throughputTopics, handlers: HANDLERS, workers: 1 }, [
        ['item', { handler: 'sink', mode: 'group', workers: [0] }],
        ['report', { handler: 'report', mode: 'group', workers: [0] }],
      ]);
      for (const mode of modes) {
        const name = CASE_NAMES[mode];
        log(`${SUITE} ${name}: ${options.runs} timed runs of ${n.toLocaleString('en')} messages (main → 1 worker) after warm-ups, ${backends.join(' and ')}`);
        const sides: Side[] = backends.filter((who) => selected(options, SUITE, name, who)).map((who) => ({
          who,
          run: async () => {
            const timeout = runTimeoutMs(n, MIN_RATE);
            const { result: report, seconds } = await engines.timed(who, `${who} ${name}`, timeout, async (engine) => {
              await publishRun(engine, mode, n);
              return engine.request('report', { reset: true }, { timeout });
            });
            verify(streamProblems(report, n, expected));
            return { msgs_per_s: n / seconds };
          },
        }));
        entries.push(...await measureSides(SUITE, name, sides, ['msgs_per_s'], options, log));
      }
    } finally {
      await engines.close();
    }
  }

  if (baseline) {
    const pn = runSize(options, POST_MESSAGES);
    const pexpected = streamChecksum(pn);
    log(`${SUITE} ${POSTMESSAGE_CASE}: ${options.runs} timed runs of ${pn.toLocaleString('en')} messages (main → 1 worker_thread, one postMessage each) after warm-ups`);
    const sink = new PostMessageSinks(1);
    try {
      await within(30_000, 'postMessage worker start', sink.ready);
      entries.push(...await measureSides(SUITE, POSTMESSAGE_CASE, [{
        who: 'postMessage',
        run: async () => {
          const started = performance.now();
          const [report] = await within(runTimeoutMs(pn, MIN_RATE), POSTMESSAGE_CASE, sink.run(pn));
          const seconds = (performance.now() - started) / 1000;
          verify(streamProblems(report!, pn, pexpected));
          return { msgs_per_s: pn / seconds };
        },
      }], ['msgs_per_s'], options, log));
    } finally {
      await sink.stop();
    }
  }
  return entries;
}
