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
import { ownerOf } from '../src/cluster/placement.ts';
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

describe('subscriptions decide membership', () => {
  test('a node without a subscription holds nothing; subscribing joins, unsubscribing hands over; nothing lost', async () => {
    const name = freshName();
    const a = await createEngine({ topics: clusterTopics, handlers: HANDLERS, workers: 1, coreBuild: CORE_BUILD });
    const b = await createEngine({ topics: clusterTopics, handlers: HANDLERS, workers: 1, coreBuild: CORE_BUILD });
    const subA = await a.subscribe('order', { handler: 'order', mode: 'keyed' });
    // Fixed node names: rendezvous placement is then fixed too, and b must win some partitions
    // (with random names, b wins none of 6 one time in 64).
    const partitions = 16;
    expect(Array.from({ length: partitions }, (_, p) => ownerOf(['a', 'b'], 'order', p)).filter((o) => o === 'b').length).toBeGreaterThan(0);
    const options = { redis: { url: redis.url }, name, topics: { order: { partitions } }, leaseMs: 400 };
    const ca = await createCluster(a, { ...options, node: 'a' });
    const cb = await createCluster(b, { ...options, node: 'b' });
    let seq = 0;
    const publish = async (n: number): Promise<void> => {
      for (const end = seq + n; seq < end; seq++) cb.publish('order', { producer: 0, seq, key: seq % 53, sent: Date.now() });
      await cb.flush();
    };
    const handled = (): number => account(readHandled(handledDir()), [seq]).distinct;
    await publish(2000);
    await until(() => handled() === seq, 30_000, 'a to handle the first orders');
    expect(ca.stats().partitions).toHaveLength(partitions);
    expect(cb.stats().partitions).toHaveLength(0);
    expect(cb.stats().members.order).toEqual([ca.node]);

    const subB = await b.subscribe('order', { handler: 'order', mode: 'keyed' });
    await until(() => cb.stats().partitions.length > 0 && ca.stats().partitions.length + cb.stats().partitions.length === partitions, 10_000, 'b to take a share');
    await publish(2000);
    // a leaves the topic while orders keep coming: its partitions go to b, with what was pending in them.
    await subA.unsubscribe();
    for (let i = 0; i < 10; i++) {
      await publish(200);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await until(() => handled() === seq, 30_000, 'every order handled');
    await until(() => cb.stats().partitions.length === partitions && ca.stats().partitions.length === 0, 10_000, 'b to hold every partition');
    await subB.unsubscribe();
    await Promise.all([ca.close(), cb.close()]);
    await Promise.all([a.close(), b.close()]);
    const result = account(readHandled(handledDir()), [seq]);
    expect({ missing: result.missing, unknown: result.unknown, unflagged: result.unflagged }).toEqual({ missing: 0, unknown: 0, unflagged: 0 });
  });

  test('refused by admission control: left pending, claimed again, handled; a full lane under reject refuses nothing', async () => {
    const name = freshName();
    const engine = await createEngine({ topics: clusterTopics, handlers: HANDLERS, workers: 1, ringCapacity: 16, coreBuild: CORE_BUILD });
    await engine.subscribe('limited', { handler: 'limited' });
    // A cluster entry is never dropped by a full lane: it waits in the engine thread's backlog.
    await engine.subscribe('order', { handler: 'order', backpressure: 'reject' });
    const cluster = await createCluster(engine, { redis: { url: redis.url }, name, topics: { limited: { partitions: 2 }, order: { partitions: 2 } }, onError: () => undefined });
    const n = 2000;
    for (let seq = 0; seq < n; seq++) cluster.publish('limited', { producer: 0, seq, key: seq % 7, sent: Date.now() });
    for (let seq = 0; seq < n; seq++) cluster.publish('order', { producer: 1, seq, key: seq % 7, sent: Date.now() });
    await cluster.flush();
    await until(() => account(readHandled(handledDir()), [n, n]).distinct === 2 * n, 60_000, 'every message handled');
    const stats = cluster.stats();
    expect(stats.refused).toBeGreaterThan(0);
    expect(engine.stats().topics.order!.rejected).toBe(0);
    await cluster.close();
    await engine.close();
    const result = account(readHandled(handledDir()), [n, n]);
    expect({ missing: result.missing, unknown: result.unknown, duplicates: result.duplicates }).toEqual({ missing: 0, unknown: 0, duplicates: 0 });
  });
});

describe('Redis restarted mid-stream', () => {
  test('the bridge reconnects; every order acknowledged to the publisher is handled; duplicates flagged', async () => {
    const name = freshName();
    const engine = await nodeEngine();
    const cluster = await createCluster(engine, { redis: { url: redis.url }, name, topics: { order: { partitions: 4 } }, onError: () => undefined });
    const n = 10_000 * STRESS;
    let restarted = false;
    for (let seq = 0; seq < n; seq++) {
      cluster.publish('order', { producer: 0, seq, key: seq % 31, sent: Date.now() });
      if (seq % 500 === 499) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (!restarted && seq >= n / 2) {
          restarted = true;
          await redis.restart();
        }
      }
    }
    await cluster.flush();
    expect(restarted).toBe(true);
    await until(() => account(readHandled(handledDir()), [n]).distinct === n, 60_000, 'every order handled');
    await until(() => cluster.stats().inFlight === 0, 30_000, 'acknowledgements');
    await cluster.close();
    await engine.close();
    const result = account(readHandled(handledDir()), [n]);
    expect({ missing: result.missing, unknown: result.unknown, unflagged: result.unflagged, outOfOrder: result.outOfOrder }).toEqual({ missing: 0, unknown: 0, unflagged: 0, outOfOrder: 0 });
    expect(result.duplicates).toBeLessThanOrEqual(result.redelivered);
  });
});

describe('Redis killed mid-stream (SIGKILL), appendfsync always', () => {
  test('after its restart every order flush() acknowledged is handled; nothing invented', async () => {
    const server = await startRedis({ appendfsync: 'always' });
    try {
      rmSync(handledDir(), { recursive: true, force: true });
      const engine = await nodeEngine();
      const cluster = await createCluster(engine, { redis: { url: server.url }, name: `k${process.pid}`, topics: { order: { partitions: 4 } }, onError: () => undefined });
      const n = 6_000 * STRESS;
      let acknowledged = 0;
      let crashed = false;
      for (let seq = 0; seq < n; seq++) {
        cluster.publish('order', { producer: 0, seq, key: seq % 29, sent: Date.now() });
        if (seq % 300 === 299) {
          await cluster.flush();
          acknowledged = seq + 1;
          if (!crashed && seq >= n / 2) {
            crashed = true;
            await server.kill();
            await server.restart();
          }
        }
      }
      await cluster.flush();
      acknowledged = n;
      expect(crashed).toBe(true);
      await until(() => account(readHandled(handledDir()), [n]).distinct === acknowledged, 60_000, 'every acknowledged order handled');
      await until(() => cluster.stats().inFlight === 0, 30_000, 'acknowledgements');
      await cluster.close();
      await engine.close();
      const result = account(readHandled(handledDir()), [n]);
      expect({ missing: result.missing, unknown: result.unknown, unflagged: result.unflagged }).toEqual({ missing: 0, unknown: 0, unflagged: 0 });
    } finally {
      await server.stop();
    }
  });
});

describe('Redis gone for good', () => {
  test('flush() rejects with ERR_CLUSTER_APPEND after appendTimeout; close() still ends within its timeout', async () => {
    const server = await startRedis();
    const engine = await nodeEngine(1);
    const errors: Error[] = [];
    try {
      const cluster = await createCluster(engine, { redis: { url: server.url }, name: `g${process.pid}`, topics: { order: { partitions: 2 } }, appendTimeout: 500, onError: (e) => errors.push(e) });
      await server.kill();
      for (let seq = 0; seq < 10; seq++) cluster.publish('order', { producer: 0, seq, key: seq, sent: Date.now() });
      const started = performance.now();
      await expect(cluster.flush()).rejects.toMatchObject({ name: 'ClusterError', code: 'ERR_CLUSTER_APPEND' });
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(cluster.stats().appendFailed).toBe(10);
      const closing = performance.now();
      await cluster.close({ timeout: 500 });
      expect(performance.now() - closing).toBeLessThan(5_000);
      expect(errors.some((e) => (e as ClusterError).code === 'ERR_CLUSTER_APPEND')).toBe(true);
    } finally {
      await engine.close();
      await server.stop();
    }
  });
});

describe('typed errors', () => {
  test('bad options and input name the field; an unreachable Redis is ERR_CLUSTER_CONNECT within connectTimeout', async () => {
    const engine = await nodeEngine(1);
    try {
      const url = redis.url;
      await expect(createCluster(engine, { redis: { url }, topics: {} })).rejects.toMatchObject({ name: 'ConfigError', field: 'topics' });
      await expect(createCluster(engine, { redis: { url }, topics: { nope: {} } as never })).rejects.toMatchObject({ name: 'ConfigError', field: 'topics.nope' });
      await expect(createCluster(engine, { redis: { url }, topics: { order: { partitions: 0 } } })).rejects.toMatchObject({ name: 'ConfigError', field: 'topics.order.partitions' });
      await expect(createCluster(engine, { redis: { url }, topics: { order: {} }, leaseMs: 10 })).rejects.toMatchObject({ name: 'ConfigError', field: 'leaseMs' });
      await expect(createCluster(engine, { redis: { url }, name: 'a b', topics: { order: {} } })).rejects.toMatchObject({ name: 'ConfigError', field: 'name' });

      // Nothing listens on a port just freed by a stopped server.
      const dead = await startRedis();
      const deadUrl = dead.url;
      await dead.stop();
      const started = performance.now();
      const refused = await createCluster(engine, { redis: { url: deadUrl, connectTimeout: 500 }, topics: { order: {} } }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ClusterError);
      expect(refused).toMatchObject({ code: 'ERR_CLUSTER_CONNECT', field: 'redis.url', value: deadUrl });
      expect(performance.now() - started).toBeLessThan(5_000);

      const name = freshName();
      const cluster = await createCluster(engine, { redis: { url }, name, consume: false, topics: { order: { partitions: 4 } } });
      // Another node declaring other partitions for the same topic is refused.
      await expect(createCluster(engine, { redis: { url }, name, consume: false, topics: { order: { partitions: 5 } } })).rejects.toMatchObject({ name: 'ConfigError', field: 'topics.order' });
      expect(() => cluster.publish('order', { producer: 0, seq: -1, key: 1, sent: 0 })).toThrow(ConfigError);
      expect(() => cluster.publish('order', { producer: 0, seq: 1, key: 1 } as never)).toThrow(expect.objectContaining({ field: 'sent' }));
      expect(() => cluster.publish('tick' as never, { n: 1 } as never)).toThrow(expect.objectContaining({ field: 'topic', value: 'tick' }));
      await cluster.flush();
      expect(cluster.stats().appended).toBe(0);
      await cluster.close();
      expect(() => cluster.publish('order', { producer: 0, seq: 1, key: 1, sent: 0 })).toThrow(expect.objectContaining({ code: 'ERR_CLUSTER_CLOSED' }));
    } finally {
      await engine.close();
    }
  });
});
