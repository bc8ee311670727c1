/**
 * Test helper: real `redis-server` processes for the cluster tests. startRedis() starts one on a
 * free loopback port with a fresh temp dir, append-only persistence and no RDB snapshots, and
 * resolves once it answers PING. The returned handle restarts it gracefully on the same port and
 * dir (the AOF carries the data across), SIGKILLs it (a crash: restart() afterwards recovers from
 * the AOF), or stops it and removes its dir. redisCommand() sends one command over a raw socket,
 * for tests that want to look at the server without a client library.
 *
 * The binary is WD_REDIS_SERVER, else `redis-server` on PATH, else /usr/bin/redis-server (as in
 * web/ensure-redis.mjs, which `npm test` runs first). Every wait is bounded. A server never
 * outlives the test process: each child is SIGKILLed on process exit (and its dir removed), though
 * a SIGKILLed test process cannot clean up. Only node: builtins.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface RedisServer {
  readonly port: number;
  /** 'redis://127.0.0.1:PORT'. */
  readonly url: string;
  /** The server's working dir (AOF files, redis.log): a fresh temp dir, removed by stop(). */
  readonly dir: string;
  /** Graceful shutdown (SIGTERM: flushes the AOF), then starts again on the same port and dir. Starts it if it is down (e.g. after kill()). */
  restart(): Promise<void>;
  /** SIGKILL (a crash), and waits for the exit. The dir stays: restart() recovers from it. */
  kill(): Promise<void>;
  /** Graceful shutdown if running, waits for the exit, removes the dir. */
  stop(): Promise<void>;
}

export interface RedisOptions {
  /** The AOF's fsync policy (default 'everysec'). */
  appendfsync?: 'always' | 'everysec';
}

/** Bound on waiting for a server to answer PING after spawning it. */
const READY_MS = 10_000;
/** Bound on waiting for a server to exit after SIGTERM / SIGKILL. */
const EXIT_MS = 10_000;
/** Attempts at a free port (another process may take the probed port before redis binds it). */
const PORT_ATTEMPTS = 5;

function runnable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function redisBinary(): string {
  if (process.env.WD_REDIS_SERVER !== undefined) return process.env.WD_REDIS_SERVER;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && runnable(join(dir, 'redis-server'))) return join(dir, 'redis-server');
  }
  return '/usr/bin/redis-server';
}

/** A loopback port that was free a moment ago (listen on 0, read it, close). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port from listen(0)'))));
    });
  });
}

function readLog(dir: string): string {
  try {
    return readFileSync(join(dir, 'redis.log'), 'utf8');
  } catch {
    return '';
  }
}

function logTail(dir: string, lines = 20): string {
  const log = readLog(dir).trimEnd();
  return log === '' ? '(redis.log is empty or missing)' : log.split('\n').slice(-lines).join('\n');
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves when `child` has exited; after `ms`, SIGKILLs it and rejects. */
function waitExit(child: ChildProcess, ms: number, what: string): Promise<void> {
  if (exited(child)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-server (pid ${child.pid}) did not exit within ${ms} ms of ${what}; SIGKILLed`));
    }, ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

// ---- a minimal RESP2 reader, for PING and redisCommand -----------------------------------------

export type RespReply = string | number | null | Error | RespReply[];

/** Parses one reply at `at`: [reply, next offset], or null if `data` does not hold all of it yet. */
function parseReply(data: Buffer, at: number): [RespReply, number] | null {
  const lineEnd = data.indexOf('\r\n', at);
  if (lineEnd < 0) return null;
  const line = data.toString('utf8', at + 1, lineEnd);
  const next = lineEnd + 2;
  switch (String.fromCharCode(data[at]!)) {
    case '+': return [line, next];
    case '-': return [new Error(line), next];
    case ':': return [Number(line), next];
    case '$': {
      const length = Number(line);
      if (length < 0) return [null, next];
      if (data.length < next + length + 2) return null;
      return [data.toString('utf8', next, next + length), next + length + 2];
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return [null, next];
      const items: RespReply[] = [];
      let offset = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(data, offset);
        if (item === null) return null;
        items.push(item[0]);
        offset = item[1];
      }
      return [items, offset];
    }
    default: throw new Error(`unexpected RESP reply: ${JSON.stringify(data.toString('utf8', at, Math.min(data.length, at + 80)))}`);
  }
}

function encodeCommand(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg) : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/**
 * Sends one command on a fresh raw connection to 127.0.0.1:port and resolves with its reply
 * (bulk strings decoded as UTF-8, error replies as Error values, not rejections). Rejects on a
 * connection error or after `timeoutMs`.
 */
export function redisCommand(port: number, args: readonly (string | Buffer)[], timeoutMs = 2000): Promise<RespReply> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    const finish = (error: Error | null, reply?: RespReply): void => {
      clearTimeout(timer);
      socket.destroy();
      if (error === null) resolve(reply!);
      else reject(error);
    };
    const timer = setTimeout(() => finish(new Error(`no reply from 127.0.0.1:${port} within ${timeoutMs} ms to ${String(args[0])}`)), timeoutMs);
    socket.on('error', (error) => finish(error));
    socket.on('close', () => finish(new Error(`127.0.0.1:${port} closed the connection before replying to ${String(args[0])}`)));
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      let parsed: [RespReply, number] | null;
      try {
        parsed = parseReply(data, 0);
      } catch (error) {
        finish(error as Error);
        return;
      }
      if (parsed !== null) finish(null, parsed[0]);
    });
    socket.write(encodeCommand(args));
  });
}

// ---- the server --------------------------------------------------------------------------------

/** The pid of the server on `port` (from INFO server), or null if it does not say. */
async function serverPid(port: number): Promise<number | null> {
  const info = await redisCommand(port, ['INFO', 'server'], 1000).catch(() => null);
  const match = typeof info === 'string' ? /^process_id:(\d+)/m.exec(info) : null;
  return match === null ? null : Number(match[1]);
}

/**
 * Spawns redis-server on `port` and waits until it answers PING. Resolves with the child, or with
 * 'bind-failed' if it exited because the port was taken; rejects on any other failure.
 */
async function spawnServer(port: number, dir: string, appendfsync: string): Promise<ChildProcess | 'bind-failed'> {
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
    '--appendonly', 'yes', '--appendfsync', appendfsync, '--save', '',
    '--daemonize', 'no', '--protected-mode', 'no', '--logfile', join(dir, 'redis.log'),
  ];
  const logBefore = readLog(dir).length;
  const child = spawn(redisBinary(), args, { stdio: 'ignore' });
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  const failed: { error?: Error } = {};
  child.once('error', (error) => (failed.error = error));

  const deadline = Date.now() + READY_MS;
  for (;;) {
    if (failed.error !== undefined) {
      throw new Error(`cannot run ${redisBinary()} (set WD_REDIS_SERVER, or run node web/ensure-redis.mjs): ${failed.error.message}`);
    }
    if (exited(child)) {
      // Only this run's lines: the log is appended to across restarts and port attempts.
      if (/address already in use/i.test(readLog(dir).slice(logBefore))) return 'bind-failed';
      throw new Error(`redis-server on port ${port} exited (code ${child.exitCode}, signal ${child.signalCode}) before answering PING; redis.log:\n${logTail(dir)}`);
    }
    // -LOADING while it replays the AOF, connection refused before it listens: try again.
    const reply = await redisCommand(port, ['PING'], 1000).catch((error: Error) => error);
    // Another test's server may have taken the port first (ours then exits): check it is ours.
    if (reply === 'PONG' && (await serverPid(port)) === child.pid) return child;
    if (Date.now() >= deadline) {
      child.kill('SIGKILL');
      await waitExit(child, EXIT_MS, 'SIGKILL').catch(() => undefined);
      throw new Error(`redis-server on port ${port} did not answer PING within ${READY_MS} ms (last: ${String(reply)}); redis.log:\n${logTail(dir)}`);
    }
    await sleep(25);
  }
}

/** Starts a redis-server for a test; see RedisServer. Call stop() when done (e.g. in afterAll). */
export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const appendfsync = options.appendfsync ?? 'everysec';
  const dir = mkdtempSync(join(tmpdir(), 'wd-redis-'));
  let port = 0;
  let child: ChildProcess | null = null;
  try {
    for (let attempt = 1; child === null; attempt++) {
      port = await freePort();
      const started = await spawnServer(port, dir, appendfsync);
      if (started !== 'bind-failed') child = started;
      else if (attempt === PORT_ATTEMPTS) throw new Error(`redis-server could not bind a free port in ${PORT_ATTEMPTS} attempts; redis.log:\n${logTail(dir)}`);
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  const shutdown = async (signal: 'SIGTERM' | 'SIGKILL'): Promise<void> => {
    if (child === null || exited(child)) return;
    child.kill(signal);
    await waitExit(child, EXIT_MS, signal);
  };
  // If the test process exits without stop() (a failed test, a crash), the child is SIGKILLed by
  // its own exit hook; this one also removes the dir (best effort).
  const removeOnExit = (): void => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', removeOnExit);
  const fixedPort = port;
  return {
    port: fixedPort,
    url: `redis://127.0.0.1:${fixedPort}`,
    dir,
    async restart() {
      await shutdown('SIGTERM');
      // Same port: it was ours a moment ago (redis sets SO_REUSEADDR); retry briefly if not yet free.
      for (let attempt = 1; ; attempt++) {
        const started = await spawnServer(fixedPort, dir, appendfsync);
        if (started !== 'bind-failed') {
          child = started;
          return;
        }
        if (attempt === PORT_ATTEMPTS) throw new Error(`redis-server could not bind port ${fixedPort} again on restart; redis.log:\n${logTail(dir)}`);
        await sleep(100 * attempt);
      }
    },
    kill: () => shutdown('SIGKILL'),
    async stop() {
      try {
        await shutdown('SIGTERM');
      } finally {
        process.off('exit', removeOnExit);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
