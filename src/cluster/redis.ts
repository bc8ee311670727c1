/**
 * The Redis connection: node-redis's core client (`@redis/client`, an optional peer dependency,
 * loaded only when a cluster is created), set up for the bridge:
 *
 * - Bulk strings come back as Buffers (type mapping), so message bytes round-trip unchanged.
 * - The first connection fails within connectTimeout with ERR_CLUSTER_CONNECT (a Redis that
 *   refuses connections is a configuration error, not something to wait for forever); once
 *   connected, a lost connection is retried without end (backoff up to 1 s) and commands issued
 *   meanwhile wait in the client's offline queue. A command in flight when the connection drops
 *   rejects: every caller in the bridge retries.
 *
 * Why node-redis: it is the client Redis itself maintains and recommends for new code, with
 * TypeScript types, automatic pipelining of commands issued in the same tick (the bridge issues
 * one script per partition at once), and RESP3; its core package carries no module commands the
 * bridge does not use.
 */
import { ClusterError } from './errors.ts';

/** Options of one command: `timeout` ms it may wait to be sent (then it rejects, never sent). */
export interface SendOptions {
  readonly timeout?: number;
}

/** What the bridge uses of a client: raw commands. */
export interface RedisCommands {
  sendCommand(args: readonly (string | Buffer | Uint8Array)[], options?: SendOptions): Promise<unknown>;
}

export interface RedisConnection extends RedisCommands {
  /** Waits for commands sent, then disconnects. */
  close(): Promise<void>;
  /** Disconnects now: whatever waits rejects. */
  destroy(): void;
}

export interface RedisOptions {
  /** `redis://[user:password@]host:port[/db]`; default `redis://127.0.0.1:6379`. */
  readonly url?: string;
  /** ms the first connection may take (refused connections are retried meanwhile); default 5000. */
  readonly connectTimeout?: number;
}

interface ClientModule {
  createClient(options: unknown): NodeRedisClient;
  RESP_TYPES: { BLOB_STRING: number };
}

interface NodeRedisClient {
  on(event: 'error', listener: (error: Error) => void): unknown;
  connect(): Promise<unknown>;
  withTypeMapping(mapping: Record<number, unknown>): { sendCommand(args: unknown[], options?: SendOptions): Promise<unknown> };
  close(): Promise<void>;
  destroy(): void;
}

/** Connects; ERR_CLUSTER_CLIENT_MISSING without `@redis/client`, ERR_CLUSTER_CONNECT when Redis does not answer in time. */
export async function connectRedis(options: RedisOptions, onConnectionError: (error: Error) => void): Promise<RedisConnection> {
  let mod: ClientModule;
  try {
    mod = (await import('@redis/client')) as unknown as ClientModule;
  } catch (cause) {
    throw new ClusterError('ERR_CLUSTER_CLIENT_MISSING', 'redis', '@redis/client', 'the cluster module needs the Redis client: npm install @redis/client', { cause });
  }
  const url = options.url ?? 'redis://127.0.0.1:6379';
  const connectTimeout = options.connectTimeout ?? 5000;
  const started = performance.now();
  let connected = false;
  let lastError: Error | undefined;
  const client = mod.createClient({
    url,
    socket: {
      connectTimeout,
      reconnectStrategy: (retries: number, cause: Error) => {
        lastError = cause;
        if (!connected && performance.now() - started >= connectTimeout) {
          return new ClusterError('ERR_CLUSTER_CONNECT', 'redis.url', url, `no connection within ${connectTimeout} ms: ${cause.message}`, { cause });
        }
        return Math.min(20 * 2 ** Math.min(retries, 6), 1000);
      },
    },
  });
  // Without a listener an 'error' event would crash the process; connection errors are retried,
  // and reported at most once a second (a restarting Redis refuses every reconnection attempt).
  let reported = -Infinity;
  client.on('error', (error) => {
    lastError = error;
    if (!connected || performance.now() - reported < 1000) return;
    reported = performance.now();
    onConnectionError(new ClusterError('ERR_CLUSTER_REDIS', 'redis.url', url, `connection: ${error.message} (reconnecting)`, { cause: error }));
  });
  // connectTimeout bounds the TCP connect only; a server that accepts and never answers is bounded here.
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      client.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new ClusterError('ERR_CLUSTER_CONNECT', 'redis.url', url, `no answer within ${connectTimeout} ms${lastError === undefined ? '' : `: ${lastError.message}`}`)), connectTimeout);
      }),
    ]);
  } catch (cause) {
    try {
      client.destroy();
    } catch {
      // already closed
    }
    if (cause instanceof ClusterError) throw cause;
    const reason = (cause as Error)?.message ?? lastError?.message;
    throw new ClusterError('ERR_CLUSTER_CONNECT', 'redis.url', url, `cannot connect: ${reason}`, { cause });
  } finally {
    clearTimeout(timer);
  }
  connected = true;
  const typed = client.withTypeMapping({ [mod.RESP_TYPES.BLOB_STRING]: Buffer });
  return {
    sendCommand: (args, options) => typed.sendCommand(args.map((a) => (a instanceof Uint8Array && !Buffer.isBuffer(a) ? Buffer.from(a.buffer, a.byteOffset, a.byteLength) : a)), options),
    close: async () => {
      try {
        await client.close();
      } catch {
        client.destroy();
      }
    },
    destroy: () => {
      try {
        client.destroy();
      } catch {
        // already closed
      }
    },
  };
}
