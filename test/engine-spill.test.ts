/**
 * A worker's backlog outlives it, on both backends: worker 0 relays ticks into worker 1's full
 * lane (a 16-record ring, worker 1 busy), so after blockTimeout they spill into worker 0's
 * backlog, which lives in its spill region in shared memory; then worker 0 dies (a poison message
 * behind the relay, three times). Each successor adopts the backlog and moves it on: every tick
 * is delivered once and nothing is lost. With restart: false the same backlog is written off and
 * counted lost, and drain still completes.
 */
import { describe, expect, test } from '@jest/globals';
import { BACKENDS } from './harness.ts';
import { reports, startEngine, within } from './engine/harness.ts';

const TICKS = 600;

describe.each(BACKENDS)('engine spill regions (%s)', (backend) => {
  test.each([true, false])('a dying worker keeps the ticks it spilled (restart: %s)', async (restart) => {
    const letters: unknown[] = [];
    const engine = await startEngine(backend, {
      workers: 2, ringCapacity: 16, blockTimeout: 20, ...(restart ? { restart: { maxRestarts: 10, windowMs: 60_000, minBackoffMs: 1 } } : { restart: false }),
      onDeadLetter: (letter) => letters.push(letter),
    });
    try {
      await engine.subscribe('relay', { handler: 'relay', mode: 'group', workers: [0] });
      await engine.subscribe('crash', { handler: 'crash', mode: 'group', workers: [0] });
      await engine.subscribe('load', { handler: 'load', mode: 'group', workers: [1] });
      await engine.subscribe('tick', { handler: 'tickStrict', mode: 'group', workers: [1] });
      // Worker 1 is busy for 300 ms: worker 0's relay fills its 16-record lane and spills the rest.
      engine.publish('load', { seq: 0, micros: 300_000 });
      engine.flush();
      engine.publish('relay', { count: TICKS, key: 5 });
      engine.publish('crash', { code: 3 });
      engine.flush();
      await within(20_000, 'drain', engine.drain());
      const stats = engine.stats();
      const tick = stats.topics.tick;
      expect(tick.routed).toBe(TICKS);
      expect(tick.routed).toBe(tick.delivered + tick.deadLettered + tick.droppedOldest + tick.droppedNewest + tick.rejected + tick.lost);
      expect(stats.backlog).toBe(0);
      const worker1 = (await reports(engine, 'tickStrict')).find((r) => r.worker === 1);
      if (restart) {
        // Every spilled tick reached worker 1, once and in order (one producer, one key).
        expect(tick.lost).toBe(0);
        expect(tick.delivered).toBe(TICKS);
        expect(worker1).toMatchObject({ count: TICKS, orderErrors: 0, sum: (TICKS * (TICKS - 1)) / 2 + TICKS * 100_000 });
        expect(stats.topics.crash.deadLettered).toBe(1);
        expect(letters).toHaveLength(1);
        expect(stats.workers.map((w) => w.state)).toEqual(['running', 'running']);
      } else {
        // What the dead worker held in its spill region is lost, and counted.
        expect(tick.lost).toBeGreaterThan(0);
        expect(tick.delivered).toBe(TICKS - tick.lost);
        expect(worker1!.count).toBe(TICKS - tick.lost);
        expect(stats.workers.map((w) => w.state)).toEqual(['crashed', 'running']);
      }
    } finally {
      await engine.close({ timeout: 5000 });
    }
  });
});
