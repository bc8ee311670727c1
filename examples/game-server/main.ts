/**
 * Game-server example: the main thread publishes players' moves (keyed by player: one worker owns
 * each player) and world events (storms, broadcast to every worker), workers publish knockouts to
 * a scoreboard, and `where` queries are answered by the worker that owns the player.
 *
 * The main thread keeps a model of the world (positions, sequence numbers, health) and checks
 * that the workers' answers match it exactly: moves and storms travel through the same lane
 * (main → worker), so each worker sees them in publish order and computes the same health.
 *
 *   node build/examples/game-server/main.js [wasm|js] [--players=N] [--moves=N] [--workers=N]
 */
import { parseExampleArgs, runIfMain } from '../cli.ts';
import { random } from '../random.ts';
import { createEngine, type LatencyReport, type TopicLatency, type TopicReply, type TopicStats } from 'wasm-dispatch';
import { replayJournal } from 'wasm-dispatch/journal';
import { FULL_HEALTH, topics, type Topics } from './topics.ts';

export interface GameServerOptions {
  /** 'wasm' (default) or 'js'. */
  readonly backend?: 'wasm' | 'js';
  /** Player ids 0..players-1; default 1000. */
  readonly players?: number;
  /** Moves to publish; default 200 000. */
  readonly moves?: number;
  /** Worker threads; default 2. */
  readonly workers?: number;
  /** A storm after every this many moves; default moves / 100 (at least 1). */
  readonly stormEvery?: number;
  /** Players to ask `where` about (plus one that never moved); default 8. */
  readonly queries?: number;
  /** Seed of the deterministic random walk; default 1. */
  readonly seed?: number;
  /** Records per lane; default the engine's (1024). Small values exercise back-pressure. */
  readonly ringCapacity?: number;
  /** Prints progress and the summary. Default false. */
  readonly log?: boolean;
  /**
   * Called every 4096 moves and at the end with (moves published, moves in all, the `move` topic's
   * latency histograms so far: engine.latency('move'), a live view).
   */
  readonly onProgress?: (done: number, total: number, move: TopicLatency) => void;
  /**
   * Records the moves and storms in a journal in this directory (Node), in deterministic mode, so
   * that replayGameServer(dir) reproduces every worker's state. Default: no journal.
   */
  readonly journal?: string;
}

type WhereReply = TopicReply<Topics, 'where'>;
type WorkerReport = TopicReply<Topics, 'report'>;

export interface QueryCheck {
  readonly player: number;
  /** What the main thread's model says (found false: the player never moved). */
  readonly expected: Omit<WhereReply, 'worker'>;
  readonly got: WhereReply;
  readonly ok: boolean;
}

export interface GameServerSummary {
  readonly backend: 'wasm' | 'js';
  readonly workers: number;
  readonly players: number;
  readonly moves: number;
  readonly storms: number;
  /** Expected by the main thread's model. */
  readonly hits: number;
  readonly knockouts: number;
  /** Publishing all moves and storms, then drain(). */
  readonly elapsedMs: number;
  readonly movesPerSecond: number;
  /** How often publishing had to wait for whenWritable() (back-pressure on the main thread). */
  readonly waits: number;
  readonly queries: readonly QueryCheck[];
  readonly reports: readonly WorkerReport[];
  readonly topics: Record<string, TopicStats>;
  /** The engine's latency histograms after the run (queue wait, handler time and `where` round trips, sampled: options.latency). */
  readonly latency: LatencyReport;
  /** Human-readable failed checks; empty when everything matched. */
  readonly failures: readonly string[];
  readonly ok: boolean;
}

const WORLD = 1000;

export async function runGameServer(options: GameServerOptions = {}): Promise<GameServerSummary> {
  const backend = options.backend ?? 'wasm';
  const players = options.players ?? 1000;
  const moves = options.moves ?? 200_000;
  const workers = options.workers ?? 2;
  const stormEvery = options.stormEvery ?? Math.max(1, Math.floor(moves / 100));
  const queryCount = Math.min(options.queries ?? 8, players);
  const log = options.log === true ? console.log : () => {};
  const rand = random(options.seed ?? 1);
  const errors: Error[] = [];

  const engine = await createGameEngine({ ...options, backend, workers, onError: (error) => errors.push(error) });
  // With a journal, each move and storm has one more receiver: the journal.
  const copies = options.journal !== undefined ? 1 : 0;
  try {

    // The main thread's model of the world: what every worker should end up with.
    const seq = new Int32Array(players).fill(-1);
    const x = new Float32Array(players);
    const y = new Float32Array(players);
    const health = new Float64Array(players).fill(FULL_HEALTH);
    for (let p = 0; p < players; p++) {
      x[p] = rand() * WORLD;
      y[p] = rand() * WORLD;
    }
    let storms = 0;
    let hits = 0;
    let knockouts = 0;
    let waits = 0;

    log(`game server: ${backend}, ${workers} workers, ${players} players, ${moves} moves, a storm every ${stormEvery} moves`);
    const started = performance.now();
    const move = engine.writer('move'); // allocation-free: set the fields, then send
    for (let i = 0; i < moves; i++) {
      const p = Math.floor(rand() * players);
      const nx = Math.min(WORLD, Math.max(0, x[p]! + (rand() - 0.5) * 20));
      const ny = Math.min(WORLD, Math.max(0, y[p]! + (rand() - 0.5) * 20));
      seq[p] = seq[p]! + 1;
      x[p] = nx; // stored as f32, exactly as the worker will read it
      y[p] = ny;
      move.player = p;
      move.seq = seq[p]!;
      move.x = x[p]!;
      move.y = y[p]!;
      // false: a lane is full and the message waits in the main thread's backlog (kept, in order).
      if (!engine.send('move')) {
        waits++;
        await engine.whenWritable();
      }
      if (options.onProgress !== undefined && (i & 4095) === 4095) options.onProgress(i + 1, moves, engine.latency('move').topics.move!);
      if ((i + 1) % stormEvery === 0) {
        const storm = {
          id: storms++, x: Math.fround(rand() * WORLD), y: Math.fround(rand() * WORLD),
          radius: Math.fround(50 + rand() * 100), damage: Math.fround(10 + rand() * 30),
        };
        // The same arithmetic as the storm handler, on the players that moved (the ones workers own).
        const r2 = storm.radius * storm.radius;
        for (let q = 0; q < players; q++) {
          if (seq[q]! < 0) continue;
          const dx = x[q]! - storm.x;
          const dy = y[q]! - storm.y;
          if (dx * dx + dy * dy > r2) continue;
          hits++;
          health[q] = health[q]! - storm.damage;
          if (health[q]! <= 0) {
            health[q] = FULL_HEALTH;
            knockouts++;
          }
        }
        if (!engine.publish('storm', storm)) {
          waits++;
          await engine.whenWritable();
        }
      }
    }
    await engine.drain({ timeout: 60_000 });
    options.onProgress?.(moves, moves, engine.latency('move').topics.move!);
    const elapsedMs = performance.now() - started;
    const movesPerSecond = Math.round(moves / (elapsedMs / 1000));
    log(`published and handled ${moves} moves and ${storms} storms in ${elapsedMs.toFixed(0)} ms: ${movesPerSecond.toLocaleString('en-US')} moves/s (${waits} waits for back-pressure)`);

    // Queries: spread over the id range, plus one id that never moved.
    const asked: number[] = [];
    for (let k = 0; k < queryCount; k++) asked.push(Math.floor((k * players) / queryCount + (players / queryCount) / 2));
    asked.push(players); // unknown player: its owner (by hash) answers found = false
    const replies = await Promise.all(asked.map((player) => engine.request('where', { player }, { timeout: 10_000 })));
    const queries: QueryCheck[] = asked.map((player, k) => {
      const got = replies[k]!;
      const known = player < players && seq[player]! >= 0;
      const expected = known
        ? { found: true, x: x[player]!, y: y[player]!, seq: seq[player]!, health: health[player]! }
        : { found: false, x: 0, y: 0, seq: 0, health: 0 };
      const ok = got.found === expected.found && got.x === expected.x && got.y === expected.y
        && got.seq === expected.seq && got.health === expected.health && got.worker >= 0 && got.worker < workers;
      return { player, expected, got, ok };
    });
    for (const q of queries) {
      log(`  where is player ${q.player}? ${q.got.found ? `(${q.got.x.toFixed(2)}, ${q.got.y.toFixed(2)}) seq ${q.got.seq} health ${q.got.health.toFixed(1)}` : 'never moved'}, owned by worker ${q.got.worker} ${q.ok ? 'ok' : `MISMATCH, expected ${JSON.stringify(q.expected)}`}`);
    }

    const reports = (await engine.requestAll('report', { reset: false }, { timeout: 10_000 })).sort((a, b) => a.worker - b.worker);
    const stats = engine.stats();
    const sum = (field: keyof WorkerReport): number => reports.reduce((t, r) => t + (r[field] as number), 0);
    const moved = seq.reduce((t, s) => t + (s >= 0 ? 1 : 0), 0);
    const failures: string[] = [];
    const expect = (what: string, got: unknown, want: unknown): void => {
      if (got !== want) failures.push(`${what}: got ${String(got)}, expected ${String(want)}`);
    };
    for (const q of queries) if (!q.ok) failures.push(`where ${q.player}: got ${JSON.stringify(q.got)}, expected ${JSON.stringify(q.expected)}`);
    expect('reports', reports.length, workers);
    expect('moves handled', sum('moves'), moves);
    expect('order errors', sum('orderErrors'), 0);
    expect('players owned', sum('players'), moved);
    for (const r of reports) expect(`storms seen by worker ${r.worker}`, r.storms, storms);
    expect('storm hits', sum('hits'), hits);
    expect('knockouts sent', sum('knockoutsSent'), knockouts);
    expect('knockouts counted', sum('knockoutsCounted'), knockouts);
    const t = stats.topics;
    expect('move routed', t.move!.routed, moves * (1 + copies));
    expect('move delivered', t.move!.delivered, t.move!.routed);
    expect('storm delivered', t.storm!.delivered, storms * (workers + copies));
    expect('knockout delivered', t.knockout!.delivered, knockouts);
    for (const [name, s] of Object.entries(t)) {
      expect(`${name} lost (dropped/rejected/unrouted)`, s.droppedNewest + s.droppedOldest + s.rejected + s.unrouted, 0);
      expect(`${name} handler errors`, s.handlerErrors, 0);
    }
    expect('backlog', stats.backlog, 0);
    for (const e of errors) failures.push(`engine error: ${e.message}`);

    if (options.log === true) {
      console.table(Object.fromEntries(Object.entries(t).map(([name, s]) => [name, {
        published: s.published, routed: s.routed, delivered: s.delivered, callerRuns: s.callerRuns,
        dropped: s.droppedNewest + s.droppedOldest, rejected: s.rejected, errors: s.handlerErrors,
      }])));
      console.table(reports);
      log(failures.length === 0 ? 'all checks passed' : `FAILED:\n  ${failures.join('\n  ')}`);
    }
    return {
      backend, workers, players, moves, storms, hits, knockouts, elapsedMs, movesPerSecond, waits,
      queries, reports, topics: t, latency: engine.latency(), failures, ok: failures.length === 0,
    };
  } finally {
    await engine.close({ timeout: 5000 });
  }
}

/**
 * The game's engine with its subscriptions made: what runGameServer plays on, and what a replay
 * of its journal (replayGameServer, or `npx wasm-dispatch replay <dir> --engine replica.js`) needs.
 * Subscriptions are made in the same order every time: replay reproduces the workers' states only
 * into an engine made the same way (deterministic mode, README).
 */
export async function createGameEngine(options: Pick<GameServerOptions, 'backend' | 'workers' | 'ringCapacity' | 'journal'> & { onError?: (error: Error) => void; deterministic?: boolean } = {}) {
  const engine = await createEngine({
    topics,
    handlers: new URL('./handlers.js', import.meta.url),
    workers: options.workers ?? 2,
    backend: options.backend ?? 'wasm',
    ...(options.ringCapacity !== undefined ? { ringCapacity: options.ringCapacity } : {}),
    ...(options.journal !== undefined ? { journal: { dir: options.journal, topics: ['move', 'storm'] } } : {}),
    deterministic: options.deterministic ?? options.journal !== undefined,
    ...(options.onError !== undefined ? { onError: options.onError } : {}),
  });
  await engine.subscribe('move', { handler: 'move', mode: 'keyed' });
  await engine.subscribe('storm', { handler: 'storm', mode: 'broadcast' });
  await engine.subscribe('knockout', { handler: 'scoreboard', mode: 'group' });
  // Same key field and same workers as `move`: a player's query reaches the worker that owns it.
  await engine.subscribe('where', { handler: 'where', mode: 'keyed' });
  await engine.subscribe('report', { handler: 'report', mode: 'broadcast' });
  return engine;
}

/**
 * Replays a game's journal (runGameServer({ journal })) into a fresh deterministic engine with
 * `workers` workers and returns every worker's report: the same as the recorded run's, checksums included.
 */
export async function replayGameServer(dir: string, options: Pick<GameServerOptions, 'backend' | 'workers'> = {}): Promise<WorkerReport[]> {
  const engine = await createGameEngine({ ...options, deterministic: true });
  try {
    await replayJournal(engine, dir);
    await engine.drain({ timeout: 60_000 });
    return (await engine.requestAll('report', { reset: false }, { timeout: 10_000 })).sort((a, b) => a.worker - b.worker);
  } finally {
    await engine.close({ timeout: 5000 });
  }
}

const USAGE = 'usage: main.js [wasm|js] [--players=N] [--moves=N] [--workers=N] [--stormEvery=N] [--queries=N] [--seed=N] [--ringCapacity=N]';
const NUMBER_OPTIONS = ['players', 'moves', 'workers', 'stormEvery', 'queries', 'seed', 'ringCapacity'] as const;

/** The command line's options; a bad one throws, naming it. */
function parseOptions(argv: readonly string[]): GameServerOptions {
  return { ...parseExampleArgs(argv, NUMBER_OPTIONS), log: true };
}

await runIfMain(import.meta.url, USAGE, parseOptions, runGameServer);
