/**
 * The cluster tests' Redis helper (test/cluster/redis-server.ts) against a real redis-server: it
 * starts on a free loopback port and answers PING; a key written before a graceful restart is
 * there after it, on the same port (append-only file, appendfsync everysec); one written with
 * appendfsync always survives a SIGKILL; two servers get different ports and dirs; stop() ends the
 * process and removes the dir; binary-safe values round-trip through redisCommand().
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import { existsSync } from 'node:fs';
import { redisCommand, startRedis, type RedisServer } from './redis-server.ts';

const servers: RedisServer[] = [];
afterAll(async () => {
  for (const server of servers) await server.stop();
});

async function started(options?: Parameters<typeof startRedis>[0]): Promise<RedisServer> {
  const server = await startRedis(options);
  servers.push(server);
  return server;
}

describe('startRedis', () => {
  test('starts on a free loopback port and answers PING', async () => {
    const server = await started();
    expect(server.port).toBeGreaterThan(0);
    expect(server.port).not.toBe(6379);
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
    expect(existsSync(server.dir)).toBe(true);
    expect(await redisCommand(server.port, ['PING'])).toBe('PONG');
    expect(await redisCommand(server.port, ['CONFIG', 'GET', 'appendonly'])).toEqual(['appendonly', 'yes']);
    expect(await redisCommand(server.port, ['CONFIG', 'GET', 'appendfsync'])).toEqual(['appendfsync', 'everysec']);
    expect(await redisCommand(server.port, ['CONFIG', 'GET', 'save'])).toEqual(['save', '']);
  });

  test('restart keeps the data and the port', async () => {
    const server = await started();
    expect(await redisCommand(server.port, ['SET', 'before-restart', 'kept'])).toBe('OK');
    await server.restart();
    expect(await redisCommand(server.port, ['PING'])).toBe('PONG');
    expect(await redisCommand(server.port, ['GET', 'before-restart'])).toBe('kept');
    // And again: each restart replays the AOF written by the one before.
    expect(await redisCommand(server.port, ['INCR', 'restarts'])).toBe(1);
    await server.restart();
    expect(await redisCommand(server.port, ['INCR', 'restarts'])).toBe(2);
    expect(await redisCommand(server.port, ['GET', 'before-restart'])).toBe('kept');
  });

  test('with appendfsync always, a write survives SIGKILL; restart() brings the server back', async () => {
    const server = await started({ appendfsync: 'always' });
    expect(await redisCommand(server.port, ['CONFIG', 'GET', 'appendfsync'])).toEqual(['appendfsync', 'always']);
    expect(await redisCommand(server.port, ['SET', 'before-kill', 'kept'])).toBe('OK');
    await server.kill();
    await expect(redisCommand(server.port, ['PING'])).rejects.toThrow();
    await server.restart();
    expect(await redisCommand(server.port, ['GET', 'before-kill'])).toBe('kept');
  });

  test('binary values round-trip', async () => {
    const server = await started();
    const bytes = Buffer.from([0x00, 0xff, 0x0d, 0x0a, 0x24, 0x2a]);
    expect(await redisCommand(server.port, ['SET', 'binary', bytes])).toBe('OK');
    expect(await redisCommand(server.port, ['STRLEN', 'binary'])).toBe(bytes.length);
    expect(await redisCommand(server.port, ['EVAL', 'return redis.call("GET", KEYS[1]) == ARGV[1] and 1 or 0', '1', 'binary', bytes])).toBe(1);
  });

  test('two servers get different ports and dirs; stop() ends the process and removes the dir', async () => {
    const [a, b] = await Promise.all([startRedis(), startRedis()]);
    try {
      expect(a.port).not.toBe(b.port);
      expect(a.dir).not.toBe(b.dir);
      expect(await redisCommand(a.port, ['SET', 'k', 'a'])).toBe('OK');
      expect(await redisCommand(b.port, ['GET', 'k'])).toBeNull();
    } finally {
      await a.stop();
      await b.stop();
    }
    expect(existsSync(a.dir)).toBe(false);
    expect(existsSync(b.dir)).toBe(false);
    await expect(redisCommand(a.port, ['PING'])).rejects.toThrow();
    await a.stop(); // a second stop is harmless
  });
});
