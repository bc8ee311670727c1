/**
 * Deterministic replay (issue 17): the game-server example recorded in a journal (moves and
 * storms, deterministic mode), then the journal replayed into a fresh engine — every worker ends
 * with the same state checksum, the same players, moves, storms, hits and knockouts sent and
 * counted as in the recorded run. Both backends; WD_STRESS scales the moves. And deterministic
 * mode refuses, naming the field, every setting whose effect depends on load or time.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replayGameServer, runGameServer } from '../examples/game-server/main.ts';
import { createEngine } from '../src/index.ts';
import { journalTopics } from './engine/journal-topics.ts';
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

test('deterministic mode refuses what depends on load or time', async () => {
  const handlers = new URL('./engine/journal-handlers.js', import.meta.url);
  const base = { handlers, workers: 2, deterministic: true } as const;
  const topicsWith = (extra: object) => ({ ...journalTopics, order: { ...journalTopics.order, ...extra } });
  await expect(createEngine({ ...base, topics: topicsWith({ priority: 'high' }) })).rejects.toMatchObject({ field: 'topics.order.priority' });
  await expect(createEngine({ ...base, topics: topicsWith({ shed: true }) })).rejects.toMatchObject({ field: 'topics.order.shed' });
  await expect(createEngine({ ...base, topics: topicsWith({ admission: { maxInFlight: 10 } }) })).rejects.toMatchObject({ field: 'topics.order.admission' });
  await expect(createEngine({ ...base, topics: topicsWith({ backpressure: 'reject' }) })).rejects.toMatchObject({ field: 'topics.order.backpressure' });
  const engine = await createEngine({ ...base, topics: journalTopics });
  try {
    await expect(engine.subscribe('order', { handler: 'order', mode: 'group', balance: 'least-loaded' })).rejects.toMatchObject({ field: 'balance' });
    await expect(engine.subscribe('order', { handler: 'order', mode: 'group', steal: true })).rejects.toMatchObject({ field: 'steal' });
    await expect(engine.subscribe('order', { handler: 'order', circuit: { failures: 1, windowMs: 10, cooldownMs: 10 } })).rejects.toMatchObject({ field: 'circuit' });
    await expect(engine.subscribe('order', { handler: 'order', backpressure: 'drop-oldest' })).rejects.toMatchObject({ field: 'backpressure' });
    await engine.subscribe('order', { handler: 'order', mode: 'keyed' });
    expect(() => engine.publish('order', { id: 1, customer: 2, amount: 3 }, 'high')).toThrow(expect.objectContaining({ field: 'priority' }) as never);
    expect(engine.publish('order', { id: 1, customer: 2, amount: 3 }, 'normal')).toBe(true);
  } finally {
    await engine.close();
  }
}, 60_000);
