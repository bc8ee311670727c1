/**
 * The game-server example (examples/game-server) on both backends, at small sizes: every `where`
 * answer equals the last move the main thread sent for that player, no move is lost or reordered
 * (per-player sequences checked by the owning worker; stats: delivered == routed == moves), storms
 * reach every worker and knockouts published by workers are all counted. A second run with tiny
 * lanes and three workers keeps the main thread under back-pressure the whole time.
 */
import { describe, expect, test } from '@jest/globals';
import { runGameServer, type GameServerSummary } from '../examples/game-server/main.ts';
import { BACKENDS, STRESS } from './harness.ts';

const MOVES = Math.round(20_000 * STRESS);
const PLAYERS = 200;

function expectClean(summary: GameServerSummary, moves: number, workers: number): void {
  expect(summary.failures).toEqual([]);
  expect(summary.ok).toBe(true);
  expect(summary.queries.length).toBeGreaterThan(1);
  for (const q of summary.queries) {
    expect({ player: q.player, ...q.got, worker: undefined }).toEqual({ player: q.player, ...q.expected, worker: undefined });
    expect(q.got.worker).toBeGreaterThanOrEqual(0);
    expect(q.got.worker).toBeLessThan(workers);
  }
  const move = summary.topics.move!;
  expect(move.routed).toBe(moves);
  expect(move.delivered).toBe(move.routed);
  expect(move.droppedNewest + move.droppedOldest + move.rejected + move.unrouted).toBe(0);
  expect(summary.reports.map((r) => r.worker)).toEqual(Array.from({ length: workers }, (_, w) => w));
  expect(summary.reports.reduce((t, r) => t + r.moves, 0)).toBe(moves);
  for (const r of summary.reports) {
    expect(r.orderErrors).toBe(0);
    expect(r.storms).toBe(summary.storms);
  }
  expect(summary.storms).toBeGreaterThan(0);
  expect(summary.topics.knockout!.delivered).toBe(summary.knockouts);
}

describe.each(BACKENDS)('game-server example (%s)', (backend) => {
  test(`${MOVES} moves of ${PLAYERS} players on 2 workers: queries match, nothing lost or reordered`, async () => {
    const summary = await runGameServer({ backend, players: PLAYERS, moves: MOVES, workers: 2, stormEvery: 100 });
    expectClean(summary, MOVES, 2);
    expect(summary.knockouts).toBeGreaterThan(0); // workers published to the scoreboard
  });

  test('tiny lanes (16 records) on 3 workers: the main thread waits for whenWritable() and still loses nothing', async () => {
    const summary = await runGameServer({ backend, players: PLAYERS, moves: MOVES, workers: 3, stormEvery: 50, ringCapacity: 16, seed: 7 });
    expectClean(summary, MOVES, 3);
    expect(summary.waits).toBeGreaterThan(0);
  });
});
