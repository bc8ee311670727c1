/**
 * The queue-promotion example (examples/queue-promotion): three cluster nodes (processes) against
 * a real redis-server, one SIGKILLed midway; promote/leave ticks run as atomic, deduplicated Lua
 * scripts. At the end, for every event: entry never above capacity, waiting/entry/done disjoint
 * and exactly the seeded users, every tick applied once.
 */
import { expect, test } from '@jest/globals';
import { runQueuePromotion } from '../examples/queue-promotion/main.ts';

test('queue promotion over 3 nodes, one killed: capacity kept, nobody lost or duplicated, every tick applied once', async () => {
  const summary = await runQueuePromotion({ events: 6, users: 300, ms: 4000 });
  expect(summary.failures).toEqual([]);
  expect(summary.ok).toBe(true);
  expect(summary.killed).toBe('node1');
  const published = summary.published.promote + summary.published.leave;
  expect(published).toBeGreaterThan(0);
  expect(summary.applied).toBe(published);
  expect(summary.duplicates).toBeLessThanOrEqual(summary.redelivered);
  expect(summary.perEvent).toHaveLength(6);
  for (const e of summary.perEvent) {
    expect(e.entry).toBeLessThanOrEqual(e.capacity);
    expect(e.maxEntry).toBeLessThanOrEqual(e.capacity);
    expect(e.waiting + e.entry + e.done).toBe(e.seeded);
    expect(e.promoted).toBe(e.entry + e.done);
    expect(e.promoted).toBeGreaterThan(0);
  }
}, 60_000);
