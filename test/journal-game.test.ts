/**
 * Deterministic replay (issue 17): the game-server example recorded in a journal (moves and
 * storms, deterministic mode), then the journal replayed into a fresh engine — every worker ends
 * with the same state checksum, the same players, moves, storms, hits and knockouts sent and
 * counted as in the recorded run. Both backends; WD_STRESS scales the moves.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replayGameServer, runGameServer } from '../examples/game-server/main.ts';
import { BACKENDS, STRESS } from './harness.ts';

const MOVES = Math.round(30_000 * STRESS);
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe.each(BACKENDS)('game server recorded and replayed (%s)', (backend) => {
  test('every worker ends in the same state', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wd-game-journal-'));
    dirs.push(dir);
    const recorded = await runGameServer({ backend, moves: MOVES, players: 500, stormEvery: 100, journal: dir });
    expect(recorded.failures).toEqual([]);
    expect(recorded.reports.reduce((n, r) => n + r.knockoutsSent, 0)).toBeGreaterThan(0);
    const replayed = await replayGameServer(dir, { backend });
    expect(replayed).toEqual(recorded.reports);
  }, 120_000);
});
