/**
 * In-thread dispatch: one thread publishes small messages to one listener on the same thread, no
 * worker crossing. The engine (both backends) through a worker's own lane, beside Node's
 * EventEmitter, eventemitter3 and mitt, all timed inside the same worker.
 *
 *   main ── request kick{mode, n} ──▶ worker 0 (engine thread 1)
 *                                      ENGINE:  kick ─ writer+send item × 256, next ─▶ lane 1→1 ─┐
 *                                               ▲         (its own SPSC ring)                   │
 *                                               └── next: the following chunk ◀── sink(item) ◀───┘
 *                                      EVENTS / EVENTEMITTER3 / MITT:
 *                                               emit('item', { seq, value }) × n ──▶ listener
 *   main ◀── reply (emitters: tally + ms) / drain, then request report (engine: tally + ms) ── 0
 *
 * Every side runs the same tally per message (count, seq order check, FNV-1a of `value`) and is
 * timed with performance.now() on the worker: the emitters around their loop; the engine from the
 * kick handler's first publish to the sink handling the n-th item (encode into the staging
 * record, route, push, flush, the worker loop's poll, decode through the flyweight, commit).
 * The engine has no pure in-thread mode, so its worker publishes to a subscription on itself
 * (`workers: [0]`), in chunks of 256 items and a `next` marker, so the 1024-record lane never
 * spills into the backlog (a run that spills fails). The emitters get a fresh `{ seq, value }`
 * object per emit (what an event payload usually is); the engine allocates nothing per message.
 * Verified on every timed run: n items seen, in order, with the FNV-1a checksum computed
 * independently on the main thread. The emitters run in the first engine's worker (the wasm one
 * unless filtered out), so every side is measured on a worker thread of the same kind.
 */
import type { Backend } from '../bindings/core-ops.ts';
import { streamChecksum } from './engine/checksum.ts';
import {
  MODE_ENGINE, MODE_EVENTEMITTER3, MODE_EVENTS, MODE_MITT, inThreadTopics, type InThreadTopics,
} from './engine/inthread-topics.ts';
import { BACKENDS, SuiteEngines, measureSides, runSize, runTimeoutMs, streamProblems, verify, type RunSizes, type Side, type StreamTally } from './engine-common.ts';
import { selected, type BenchOptions, type EngineBenchEntry, type EngineWho } from './results.ts';

const SUITE = 'in-thread';
const CASE = 'emit → 1 listener, 1 thread';
const HANDLERS = new URL('./engine/inthread-handlers.js', import.meta.url);

const EMITTERS = ['events', 'eventemitter3', 'mitt'] as const;
type EmitterWho = typeof EMITTERS[number];
const EMITTER_MODES: Readonly<Record<EmitterWho, number>> = { events: MODE_EVENTS, eventemitter3: MODE_EVENTEMITTER3, mitt: MODE_MITT };

const MESSAGES: RunSizes = { quick: 1_000_000, normal: 2_000_000, full: 10_000_000 };
/** Messages per second below which a run times out: far below what any side does. */
const MIN_RATE = 200_000;

interface Tally extends StreamTally { spills: number; ms: number }

function checkTally(tally: Tally, n: number, expected: number): number {
  const problems = streamProblems(tally, n, expected);
  if (tally.spills !== 0) problems.push(`${tally.spills} publishes spilled into the backlog (the self lane filled)`);
  if (!(tally.ms > 0)) problems.push(`elapsed ${tally.ms} ms`);
  verify(problems);
  return n / (tally.ms / 1000);
}

/** Runs the in-thread case (both engine backends, events, eventemitter3, mitt) selected by `options`. */
export async function runInThread(options: BenchOptions, log: (line: string) => void): Promise<EngineBenchEntry[]> {
  const picked = (who: EngineWho): boolean => selected(options, SUITE, CASE, who);
  const backends = BACKENDS.filter(picked);
  const emitters = EMITTERS.filter(picked);
  if (backends.length === 0 && emitters.length === 0) return [];
  const host: Backend = backends[0] ?? 'wasm';
  const needed = backends.includes(host) ? backends : [host, ...backends];
  const n = runSize(options, MESSAGES);
  const expected = streamChecksum(n);
  const timeout = runTimeoutMs(n, MIN_RATE);
  const engines = new SuiteEngines<InThreadTopics>();
  const entries: EngineBenchEntry[] = [];
  try {
    await engines.startEach(needed, { topics: inThreadTopics, handlers: HANDLERS, workers: 1 }, [
      ['kick', { handler: 'kick', mode: 'group', workers: [0] }],
      ['item', { handler: 'sink', mode: 'group', workers: [0] }],
      ['next', { handler: 'next', mode: 'group', workers: [0] }],
      ['report', { handler: 'report', mode: 'group', workers: [0] }],
    ]);
    log(`${SUITE} ${CASE}: ${options.runs} timed runs of ${n.toLocaleString('en')} messages after warm-ups, timed inside one worker: `
      + `${[...backends.map((b) => `engine ${b} (own lane)`), ...emitters].join(', ')}${emitters.length > 0 ? ` (emitters on the ${host} engine's worker)` : ''}`);
    const sides: Side[] = [
      ...backends.map((who): Side => ({
        who,
        run: async () => {
          const report = await engines.run(who, `${who} ${CASE}`, timeout + 5_000, async (engine) => {
            await engine.request('kick', { mode: MODE_ENGINE, n }, { timeout });
            // drain: the whole chain of chunks and markers the kick started has been handled.
            await engine.drain({ timeout });
            return engine.request('report', { reset: true }, { timeout });
          });
          return { msgs_per_s: checkTally(report, n, expected) };
        },
      })),
      ...emitters.map((who): Side => ({
        who,
        run: async () => {
          const tally = await engines.run(host, `${who} ${CASE}`, timeout + 5_000, (engine) => engine.request('kick', { mode: EMITTER_MODES[who], n }, { timeout }));
          return { msgs_per_s: checkTally(tally, n, expected) };
        },
      })),
    ];
    entries.push(...await measureSides(SUITE, CASE, sides, ['msgs_per_s'], options, log));
  } finally {
    await engines.close();
  }
  return entries;
}
