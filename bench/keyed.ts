/**
 * Keyed many-to-many throughput: both workers publish player moves into one keyed subscription
 * that spans both of them, so every move goes to the worker its player's hash picks.
 *
 *   main ── start{M} (broadcast) ──▶ worker 0 ─┐ writer('move') + send, CHUNK per call,  ┌─▶ worker 0: move handler
 *                                  ▶ worker 1 ─┘ moreN to itself between chunks          └─▶ worker 1: move handler
 *                                       key = player (0..999) ─ MurmurHash3 ─▶ one receiver per player
 *   main: drain() (all moves handled) ── requestAll('report') ──▶ both workers
 *
 * Each worker produces M moves (producer = its number, player and value fixed by (producer, i),
 * seq counting per (producer, player) from 0), from a handler triggered by the `start` message,
 * via ctx.writer + ctx.send: lanes 1→1, 1→2, 2→1 and 2→2 all carry traffic at once. Each
 * receiver checks, per (producer, player), that seq rises by exactly 1 — which also fails if a
 * player's moves were split over both receivers — and sums a hash of every move. Verified per run:
 * the counts add up to 2M, no order errors, the sums add up to the sum over what was sent
 * (computed on the main thread from the same functions), and each player was seen by exactly one
 * receiver. The run's time is from publishing `start` to drain() resolving; msgs_per_s counts
 * moves delivered (2M) per second. No peer baseline: postMessage has no keyed routing to compare.
 */
import { KEYS, PRODUCERS, moveHash, moveValue, playerOf } from './engine/keyed-handlers.ts';
import { keyedTopics, type KeyedTopics } from './engine/keyed-topics.ts';
import { BACKENDS, SuiteEngines, measureSides, runSize, runTimeoutMs, verify, type RunSizes, type Side } from './engine-common.ts';
import { selected, type BenchOptions, type EngineBenchEntry } from './results.ts';

const SUITE = 'keyed';
const HANDLERS = new URL('./engine/keyed-handlers.js', import.meta.url);
const CASE = `${PRODUCERS} workers ↔ ${PRODUCERS} workers, ${KEYS} keys`;

/** Moves per producer per run. */
const MOVES: RunSizes = { quick: 500_000, normal: 1_500_000, full: 5_000_000 };
/** Moves per second below which a run times out: far below what the engine does. */
const MIN_RATE = 100_000;

/** Distinct players sent, and the sum over every move of moveHash (mod 2^32). */
function expectedRun(moves: number): { players: number; checksum: number } {
  let checksum = 0;
  const seen = new Set<number>();
  for (let producer = 0; producer < PRODUCERS; producer++) {
    const sent = new Uint32Array(KEYS);
    for (let i = 0; i < moves; i++) {
      const player = playerOf(producer, i);
      seen.add(player);
      checksum = (checksum + moveHash(producer, player, sent[player]!++, moveValue(producer, i))) >>> 0;
    }
  }
  return { players: seen.size, checksum };
}

interface KeyedReport { worker: number; count: number; checksum: number; orderErrors: number; players: number }

function checkReports(reports: readonly KeyedReport[], moves: number, expected: { players: number; checksum: number }): void {
  const problems: string[] = [];
  if (reports.length !== PRODUCERS) problems.push(`${reports.length} of ${PRODUCERS} workers reported`);
  let count = 0;
  let checksum = 0;
  let players = 0;
  for (const report of reports) {
    count += report.count;
    checksum = (checksum + report.checksum) >>> 0;
    players += report.players;
    if (report.orderErrors !== 0) problems.push(`worker ${report.worker}: ${report.orderErrors} moves out of (producer, player) order`);
  }
  if (count !== moves * PRODUCERS) problems.push(`receivers handled ${count} of ${moves * PRODUCERS} moves`);
  if (checksum !== expected.checksum) problems.push(`checksum ${checksum} != sent ${expected.checksum}`);
  if (players !== expected.players) problems.push(`${players} (receiver, player) pairs for ${expected.players} players: a player went to both`);
  verify(problems);
}

/** Runs the keyed case selected by `options`. */
export async function runKeyed(options: BenchOptions, log: (line: string) => void): Promise<EngineBenchEntry[]> {
  const backends = BACKENDS.filter((who) => selected(options, SUITE, CASE, who));
  if (backends.length === 0) return [];
  const moves = runSize(options, MOVES);
  const expected = expectedRun(moves);
  const engines = new SuiteEngines<KeyedTopics>();
  try {
    const all = Array.from({ length: PRODUCERS }, (_, w) => w);
    await engines.startEach(backends, { topics: keyedTopics, handlers: HANDLERS, workers: PRODUCERS }, [
      ['start', { handler: 'start', mode: 'broadcast', workers: all }],
      ['more0', { handler: 'more0', mode: 'group', workers: [0] }],
      ['more1', { handler: 'more1', mode: 'group', workers: [1] }],
      ['move', { handler: 'move', mode: 'keyed', workers: all }],
      ['report', { handler: 'report', mode: 'broadcast', workers: all }],
    ]);
    log(`${SUITE} ${CASE}: ${options.runs} timed runs of ${PRODUCERS} × ${moves.toLocaleString('en')} moves (each worker publishes from a handler into a keyed subscription over both) after warm-ups, ${backends.join(' and ')}`);
    const sides: Side[] = backends.map((who) => ({
      who,
      run: async () => {
        const timeout = runTimeoutMs(moves * PRODUCERS, MIN_RATE);
        const { seconds } = await engines.timed(who, `${who} ${CASE}`, timeout + 5_000, async (engine) => {
          engine.publish('start', { remaining: moves });
          engine.flush();
          await engine.drain({ timeout });
        });
        const reports = await engines.run(who, `${who} ${CASE} report`, timeout, (engine) => engine.requestAll('report', { reset: true }, { timeout }));
        checkReports(reports, moves, expected);
        return { msgs_per_s: (moves * PRODUCERS) / seconds };
      },
    }));
    return await measureSides(SUITE, CASE, sides, ['msgs_per_s'], options, log);
  } finally {
    await engines.close();
  }
}
