/**
 * Many-to-many across real worker threads: 2 producers × 2 consumers, a ring per (producer,
 * consumer) lane, the router choosing lanes (keyed, broadcast, group) and a pool carrying the group
 * topic's payloads (allocated by producers, released by consumers).
 *
 *   producer 0 ──┬── ring(0,0) ──▶ consumer 0
 *                └── ring(0,1) ──▶ consumer 1
 *   producer 1 ──┬── ring(1,0) ──▶ consumer 0
 *                └── ring(1,1) ──▶ consumer 1
 *
 * Checked: every record intact; keyed: each key on exactly one consumer and in order per
 * (producer, key); broadcast: every consumer gets every message, in sequence; group: exactly one
 * consumer per message, FIFO per producer, round-robin balance; counts and seq checksums exact
 * (0 lost, 0 duplicated); the pool ends with 0 slots outstanding. Runs wasm-only, js-only and
 * mixed (producers on one backend, consumers on the other). Size: WD_STRESS × 60 000 messages per
 * producer (WD_STRESS=500 sends ~100 M records through the rings).
 */
import { describe, expect, test } from '@jest/globals';
import { MODE_BROADCAST, MODE_GROUP, MODE_KEYED } from '../assembly/layout/router.ts';
import { STATUS_OK } from '../assembly/layout/status.ts';
import {
  CONSUMERS, KEYS, MESH_RECORD_SIZE, PRODUCERS, TOPICS, TOPIC_BROADCAST, TOPIC_GROUP, TOPIC_KEYED,
  consumerThread, keyOf, producerThread, ringIndex, topicOf, type ConsumerReport,
} from './workers/mesh-common.ts';
import { PAIRS, STRESS, newArena, pairName, runWorker } from './harness.ts';

const MESSAGES = Math.round(60_000 * STRESS);
const TIMEOUT_MS = 60_000 + MESSAGES / 20;

describe.each(PAIRS)('mesh 2 producers × 2 consumers, producers on %s, consumers on %s', (producerBackend, consumerBackend) => {
  test(`${pairName([producerBackend, consumerBackend])}: ${MESSAGES} messages per producer, exactly once, in order`, async () => {
    const t = await newArena({
      threads: 1 + PRODUCERS + CONSUMERS,
      rings: Array.from({ length: PRODUCERS * CONSUMERS }, (_, i) => ({
        capacity: 256, recordSize: MESH_RECORD_SIZE, producer: producerThread(Math.floor(i / CONSUMERS)), consumer: consumerThread(i % CONSUMERS),
      })),
      pools: [{ slotCount: 128, slotSize: 64 }],
      routers: [{ maxTopics: TOPICS, maxSubscriptions: 8 }],
      scratchBytes: 4096,
    });
    expect(t.arena.rings.map((r, i) => r.address === t.arena.ring(ringIndex(Math.floor(i / 2), i % 2)).address)).toEqual([true, true, true, true]);
    const writer = t.cores.wasm;
    const router = t.arena.router(0).address;
    expect(writer.routerTryLock(router, 0)).toBe(STATUS_OK);
    for (let c = 0; c < CONSUMERS; c++) {
      expect(writer.routerAddSubscription(router, TOPIC_KEYED, c, MODE_KEYED, 1)).toBeGreaterThanOrEqual(0);
      expect(writer.routerAddSubscription(router, TOPIC_BROADCAST, c, MODE_BROADCAST, 0)).toBeGreaterThanOrEqual(0);
      expect(writer.routerAddSubscription(router, TOPIC_GROUP, c, MODE_GROUP, 2)).toBeGreaterThanOrEqual(0);
    }
    expect(writer.routerTryPublish(router)).toBe(STATUS_OK);
    expect(writer.routerUnlock(router, 0)).toBe(STATUS_OK);

    const deadline = Date.now() + TIMEOUT_MS - 5_000;
    const base = { module: t.module, memory: t.memory };
    const consumers = Array.from({ length: CONSUMERS }, (_, consumer) =>
      runWorker<ConsumerReport>('mesh-consumer', { ...base, backend: consumerBackend, consumer, deadline }, TIMEOUT_MS));
    const producers = Array.from({ length: PRODUCERS }, (_, producer) =>
      runWorker<{ error: string | null }>('mesh-producer', { ...base, backend: producerBackend, producer, messages: MESSAGES, deadline }, TIMEOUT_MS));
    const producerResults = await Promise.all(producers);
    const reports = await Promise.all(consumers);
    expect(producerResults.map((r) => r.error)).toEqual([null, null]);
    expect(reports.map((r) => r.errors)).toEqual([[], []]);

    const expectedCount = [0, 0, 0];
    const expectedSum = [0, 0, 0];
    const keyCounts = new Array<number>(KEYS).fill(0);
    for (let seq = 0; seq < MESSAGES; seq++) {
      expectedCount[topicOf(seq)]! += 1;
      expectedSum[topicOf(seq)] = (expectedSum[topicOf(seq)]! + seq) >>> 0;
      if (topicOf(seq) === TOPIC_KEYED) keyCounts[keyOf(seq)]! += 1;
    }
    for (let p = 0; p < PRODUCERS; p++) {
      // Broadcast: every consumer saw every message (the in-order check covered each seq).
      for (const report of reports) {
        expect(report.counts[p]![TOPIC_BROADCAST]).toBe(expectedCount[TOPIC_BROADCAST]);
        expect(report.sums[p]![TOPIC_BROADCAST]).toBe(expectedSum[TOPIC_BROADCAST]);
      }
      // Keyed and group: every message on exactly one consumer.
      for (const topic of [TOPIC_KEYED, TOPIC_GROUP]) {
        expect(reports[0]!.counts[p]![topic]! + reports[1]!.counts[p]![topic]!).toBe(expectedCount[topic]);
        expect((reports[0]!.sums[p]![topic]! + reports[1]!.sums[p]![topic]!) >>> 0).toBe(expectedSum[topic]);
      }
      // Group round-robin from one producer alternates: the split differs by at most one.
      expect(Math.abs(reports[0]!.counts[p]![TOPIC_GROUP]! - reports[1]!.counts[p]![TOPIC_GROUP]!)).toBeLessThanOrEqual(1);
      // Keyed: the consumers' key sets are disjoint and together cover every key that was sent.
      const [a, b] = [reports[0]!.keys[p]!, reports[1]!.keys[p]!];
      expect([(a[0]! & b[0]!) >>> 0, (a[1]! & b[1]!) >>> 0]).toEqual([0, 0]);
      let sent = [0, 0];
      keyCounts.forEach((count, key) => { if (count > 0) sent[key >> 5] = (sent[key >> 5]! | (1 << (key & 31))) >>> 0; });
      expect([(a[0]! | b[0]!) >>> 0, (a[1]! | b[1]!) >>> 0]).toEqual(sent);
    }
    expect(t.cores.js.poolOutstanding(t.arena.pool(0).address)).toBe(0);
    for (const ring of t.arena.rings) expect(t.cores.js.ringSize(ring.address)).toBe(0);
  });
});
