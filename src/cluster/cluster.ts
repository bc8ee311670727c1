/**
 * createCluster: cluster topics over Redis Streams (the `wasm-dispatch/cluster` entry point).
 *
 * A cluster topic is an engine topic whose messages go through Redis: `cluster.publish` appends
 * them to one of the topic's N stream partitions (by the key's hash, so one key stays in one
 * partition, in order), and every node of the cluster — a process with an engine and this bridge —
 * owns some of the partitions, reads them and hands their messages to its own workers, which run
 * the subscriptions it made with engine.subscribe as for any message. An entry is acknowledged
 * only after the local handlers finished it; a node that dies or stalls loses its partitions to
 * the others, which take over what it had read and not acknowledged. So the aggregate is bounded
 * by Redis, and a message accepted by flush() is handled at least once, by some node.
 *
 *   appender.ts   publishing: batched, idempotent appends
 *   ownership.ts  membership, leases (fencing tokens), rendezvous placement, rebalancing
 *   reader.ts     reading, claiming, dispatching into the engine, acknowledging
 *   scripts.ts    the Lua scripts; placement.ts the key layout; redis.ts the connection
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Engine } from '../engine/engine.ts';
import type { TopicMap, TopicMessage, TopicName } from '../engine/types.ts';
import type { TopicRuntime } from '../engine/topic-runtime.ts';
import { KEY_NONE } from '../../assembly/layout/dispatch.ts';
import { ConfigError } from '../errors.ts';
import { Appender } from './appender.ts';
import { ClusterError } from './errors.ts';
import { Ownership, type OwnershipChange } from './ownership.ts';
import { GROUP, partitionOf, streamKey } from './placement.ts';
import { Reader } from './reader.ts';
import { connectRedis, type RedisConnection, type RedisOptions } from './redis.ts';
import { newCounters, type ClusterStatsCounters } from './stats.ts';

export interface ClusterTopicOptions {
  /** Stream partitions (1..1024, default 16): the most nodes that can share the topic's work. Every node must say the same. */
  readonly partitions?: number;
}

export interface ClusterOptions<T extends TopicMap> {
  /** Where Redis is; default redis://127.0.0.1:6379. */
  readonly redis?: RedisOptions;
  /** The cluster's name: the prefix of every Redis key it uses (default 'wd'). */
  readonly name?: string;
  /** This node's name, unique in the cluster (default host-pid-random). */
  readonly node?: string;
  /** The engine topics that are cluster topics, with their partition counts. */
  readonly topics: { readonly [K in TopicName<T>]?: ClusterTopicOptions };
  /** false: publish only, own no partitions (default true). */
  readonly consume?: boolean;
  /** ms a partition's lease lasts without renewal: how long a dead node's partitions wait (default 2000, 100..600000). */
  readonly leaseMs?: number;
  /** ms between heartbeats (renewals, rebalancing); default leaseMs / 4. */
  readonly heartbeatMs?: number;
  /** Entries read per partition per read (default 256, 1..10000). */
  readonly batch?: number;
  /** Entries per partition dispatched and not yet acknowledged before reading pauses (default 2048). */
  readonly maxInFlight?: number;
  /** Longest sleep between reads while some partition cannot be watched (waits for acknowledgements or a renewal), ms (default 10, 1..1000); empty partitions are watched with XREAD BLOCK instead. */
  readonly pollMs?: number;
  /** Messages per append script (default 512, 1..5000). */
  readonly appendBatch?: number;
  /** ms an append may keep failing before its messages are given up (default 10000). */
  readonly appendTimeout?: number;
  /** Messages queued for appending above which publish returns false (default 100000). */
  readonly highWaterMark?: number;
  /** Called at every change of the partitions this node holds (acquired, lost, released): for logs. */
  readonly onOwnership?: (change: OwnershipChange) => void;
  /** Run-time trouble (Redis errors, give-ups, malformed entries); default console.error. */
  readonly onError?: (error: Error) => void;
}

export interface ClusterStats extends ClusterStatsCounters {
  readonly node: string;
  /** Live members of each cluster topic (nodes with a subscription of it) as of the last heartbeat. */
  readonly members: { readonly [topic: string]: readonly string[] };
  /** Partitions this node holds, as `topic:partition`. */
  readonly partitions: readonly string[];
  /** Messages appended, batches, given up, retried batches; queued to append. */
  readonly appended: number;
  readonly appendBatches: number;
  readonly appendFailed: number;
  readonly appendRetries: number;
  readonly appendQueued: number;
  /** Entries dispatched to the engine and not yet acknowledged. */
  readonly inFlight: number;
}

function integer(field: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(field, value, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

const NAME = /^[A-Za-z0-9_.\-]{1,64}$/;

export class Cluster<T extends TopicMap> {
  private readonly counters: ClusterStatsCounters = newCounters();
  private readonly appender: Appender;
  private readonly ownership: Ownership | undefined;
  private readonly reader: Reader | undefined;
  private readonly topicIndex = new Map<string, number>();
  private readonly runtimes: TopicRuntime[] = [];
  private readonly partitions: number[] = [];
  private readonly spread: number[] = [];
  private closing: Promise<void> | undefined;

  /** @internal use createCluster */
  constructor(
    private readonly engine: Engine<T, any>,
    private readonly redis: RedisConnection,
    readonly node: string,
    readonly name: string,
    topics: readonly { readonly name: string; readonly partitions: number }[],
    options: Required<Pick<ClusterOptions<T>, 'leaseMs' | 'heartbeatMs' | 'batch' | 'maxInFlight' | 'pollMs' | 'appendBatch' | 'appendTimeout' | 'highWaterMark' | 'consume'>>,
    private readonly onError: (error: Error) => void,
    onOwnership: ((change: OwnershipChange) => void) | undefined,
    /** The second connection (consuming nodes): XREAD BLOCK while every partition is empty. */
    private readonly watch: RedisConnection | undefined,
  ) {
    const port = engine.clusterPort();
    for (let t = 0; t < topics.length; t++) {
      this.topicIndex.set(topics[t]!.name, t);
      this.runtimes.push(port.topic(topics[t]!.name));
      this.partitions.push(topics[t]!.partitions);
      this.spread.push(0);
    }
    const producer = `${node}-${randomBytes(4).toString('hex')}`;
    this.appender = new Appender(redis, name, producer, topics, { maxBatch: options.appendBatch, appendTimeout: options.appendTimeout, highWaterMark: options.highWaterMark }, onError);
    if (options.consume) {
      const subscribed = (t: number): boolean => port.subscribed(this.runtimes[t]!);
      const ownership = new Ownership(redis, { name, node, leaseMs: options.leaseMs, heartbeatMs: options.heartbeatMs, topics, subscribed }, this.counters, onError, (change) => {
        if (change.change === 'acquired') this.reader?.poke();
        if (onOwnership !== undefined) {
          try {
            onOwnership(change);
          } catch (error) {
            onError(error as Error);
          }
        }
      });
      this.ownership = ownership;
      this.reader = new Reader(redis, port, () => engine.whenWritable(), ownership, this.runtimes, { node, batch: options.batch, maxInFlight: options.maxInFlight, pollMs: options.pollMs }, this.counters, onError, watch);
    }
  }

  /** @internal */
  async start(): Promise<void> {
    if (this.ownership === undefined) return;
    this.reader!.start();
    await this.ownership.start();
  }

  /**
   * Appends a message to its topic's partition (the key's hash picks it; unkeyed topics take
   * partitions in turn). Validates every field first (ConfigError naming it). Returns false when
   * more than highWaterMark messages wait to be appended — it is queued all the same; await
   * whenWritable() before publishing more. Not yet acknowledged: await flush().
   */
  publish<K extends TopicName<T>>(topic: K, fields: TopicMessage<T, K>): boolean {
    if (this.closing !== undefined) throw new ClusterError('ERR_CLUSTER_CLOSED', 'topic', topic, 'the cluster is closed');
    const t = this.topicIndex.get(topic);
    if (t === undefined) throw new ConfigError('topic', topic, `is not a cluster topic (cluster topics: ${[...this.topicIndex.keys()].join(', ')})`);
    const port = this.engine.clusterPort();
    const runtime = this.runtimes[t]!;
    port.stage(runtime, fields as Record<string, unknown>);
    const partitions = this.partitions[t]!;
    const partition = runtime.keyKind === KEY_NONE ? this.spread[t]!++ % partitions : partitionOf(port.stagedKeyHash(runtime), partitions);
    return this.appender.add(t, partition, Buffer.from(port.stagedBytes(runtime)));
  }

  /** The partition `fields` go to (validated as publish does). */
  partitionOf<K extends TopicName<T>>(topic: K, fields: TopicMessage<T, K>): number {
    const t = this.topicIndex.get(topic);
    if (t === undefined) throw new ConfigError('topic', topic, 'is not a cluster topic');
    const port = this.engine.clusterPort();
    const runtime = this.runtimes[t]!;
    if (runtime.keyKind === KEY_NONE) throw new ConfigError('topic', topic, 'has no key: its messages take partitions in turn');
    port.stage(runtime, fields as Record<string, unknown>);
    return partitionOf(port.stagedKeyHash(runtime), this.partitions[t]!);
  }

  /** Resolves when every message published before the call is in Redis; rejects with ERR_CLUSTER_APPEND if some could not be appended. */
  flush(): Promise<void> {
    return this.appender.flush();
  }

  /** Resolves when the append queue is down to half of highWaterMark. */
  whenWritable(): Promise<void> {
    return this.appender.whenWritable();
  }

  stats(): ClusterStats {
    const held = this.ownership === undefined ? [] : [...this.ownership.held.values()].filter((p) => p.reading);
    return {
      ...this.counters,
      node: this.node,
      members: Object.fromEntries(this.runtimes.map((r, t) => [r.name, this.ownership?.members[t] ?? []])),
      partitions: held.map((p) => `${p.topicName}:${p.partition}`).sort(),
      appended: this.appender.appended,
      appendBatches: this.appender.batches,
      appendFailed: this.appender.failed,
      appendRetries: this.appender.retries,
      appendQueued: this.appender.pending,
      inFlight: this.reader?.inFlight ?? 0,
    };
  }

  /**
   * Leaves the cluster: appends what was published (flush, up to `timeout` ms), stops reading,
   * waits until what was dispatched is handled and acknowledged, gives the partitions back (the
   * other nodes take them at their next heartbeat, with nothing to claim) and disconnects. Close
   * the engine after this. Idempotent.
   */
  close(options: { timeout?: number } = {}): Promise<void> {
    const timeout = integer('timeout', options.timeout, 10_000, 0, 2 ** 31 - 1);
    this.closing ??= (async () => {
      // Every step gets what is left of `timeout`: with Redis unreachable, commands wait in the
      // client's offline queue for ever, and close must still end (the connections are destroyed).
      const deadline = performance.now() + timeout;
      const within = async (step: Promise<unknown>): Promise<boolean> => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, deadline - performance.now()))));
        try {
          return await Promise.race([step.then(() => true, () => true), timedOut]);
        } finally {
          clearTimeout(timer);
        }
      };
      await within(this.appender.flush());
      this.appender.close();
      let clean = (await within(this.reader?.stop(Math.max(0, deadline - performance.now())) ?? Promise.resolve()))
        && (await within(this.ownership?.stop() ?? Promise.resolve()));
      clean = clean && (await within(Promise.all([this.redis.close(), this.watch?.close()])));
      if (!clean) {
        this.reader?.abandon();
        this.ownership?.abandon();
        this.redis.destroy();
        this.watch?.destroy();
        this.onError(new ClusterError('ERR_CLUSTER_REDIS', 'close', timeout, 'Redis did not answer in time: disconnected without giving the partitions back (their leases run out)'));
      }
    })();
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Joins `engine` to the cluster: connects to Redis, checks that every node declares the same
 * cluster topics (partitions, schema, key), creates the consumer groups, and — unless consume is
 * false — takes a share of the partitions of every cluster topic the engine has a subscription
 * of (checked at every heartbeat: subscribe before or after, unsubscribe to leave the topic).
 */
export async function createCluster<T extends TopicMap>(engine: Engine<T, any>, options: ClusterOptions<T>): Promise<Cluster<T>> {
  if (options === null || typeof options !== 'object') throw new ConfigError('options', options, 'must be an object');
  const name = options.name ?? 'wd';
  if (typeof name !== 'string' || !NAME.test(name)) throw new ConfigError('name', name, 'must be 1-64 letters, digits, _ . or -');
  const node = options.node ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  if (typeof node !== 'string' || !NAME.test(node)) throw new ConfigError('node', node, 'must be 1-64 letters, digits, _ . or -');
  if (options.topics === null || typeof options.topics !== 'object') throw new ConfigError('topics', options.topics, 'must map cluster topic names to { partitions }');
  const port = engine.clusterPort();
  const topics: { name: string; partitions: number }[] = [];
  for (const [topic, spec] of Object.entries(options.topics as Record<string, ClusterTopicOptions | undefined>)) {
    let runtime: TopicRuntime;
    try {
      runtime = port.topic(topic);
    } catch {
      throw new ConfigError(`topics.${topic}`, topic, 'is not a topic of the engine');
    }
    if (runtime.reply !== undefined) throw new ConfigError(`topics.${topic}`, topic, 'has a reply schema: requests are not cluster topics');
    if (spec !== undefined && (spec === null || typeof spec !== 'object')) throw new ConfigError(`topics.${topic}`, spec, 'must be { partitions? }');
    topics.push({ name: topic, partitions: integer(`topics.${topic}.partitions`, spec?.partitions, 16, 1, 1024) });
  }
  if (topics.length === 0) throw new ConfigError('topics', options.topics, 'must name at least one cluster topic');
  const leaseMs = integer('leaseMs', options.leaseMs, 2000, 100, 600_000);
  const heartbeatMs = integer('heartbeatMs', options.heartbeatMs, Math.max(10, Math.floor(leaseMs / 4)), 10, leaseMs - 1);
  const settings = {
    leaseMs,
    heartbeatMs,
    batch: integer('batch', options.batch, 256, 1, 10_000),
    maxInFlight: integer('maxInFlight', options.maxInFlight, 2048, 1, 1_000_000),
    pollMs: integer('pollMs', options.pollMs, 10, 1, 1000),
    appendBatch: integer('appendBatch', options.appendBatch, 512, 1, 5000),
    appendTimeout: integer('appendTimeout', options.appendTimeout, 10_000, 0, 2 ** 31 - 1),
    highWaterMark: integer('highWaterMark', options.highWaterMark, 100_000, 1, 100_000_000),
    consume: options.consume ?? true,
  };
  if (typeof settings.consume !== 'boolean') throw new ConfigError('consume', settings.consume, 'must be a boolean');
  if (options.onOwnership !== undefined && typeof options.onOwnership !== 'function') throw new ConfigError('onOwnership', options.onOwnership, 'must be a function');
  if (options.onError !== undefined && typeof options.onError !== 'function') throw new ConfigError('onError', options.onError, 'must be a function');
  const onError = (error: Error): void => {
    try {
      if (options.onError !== undefined) options.onError(error);
      else console.error(error);
    } catch (thrown) {
      console.error(thrown);
    }
  };
  if (options.redis !== undefined && (options.redis === null || typeof options.redis !== 'object')) throw new ConfigError('redis', options.redis, 'must be { url?, connectTimeout? }');
  if (options.redis?.url !== undefined && typeof options.redis.url !== 'string') throw new ConfigError('redis.url', options.redis.url, 'must be a redis:// URL');
  integer('redis.connectTimeout', options.redis?.connectTimeout, 5000, 1, 2 ** 31 - 1);
  const redis = await connectRedis(options.redis ?? {}, onError);
  let watch: RedisConnection | undefined;
  try {
    await declareTopics(redis, name, topics, port);
    if (settings.consume) {
      watch = await connectRedis(options.redis ?? {}, onError);
    }
    const cluster = new Cluster(engine, redis, node, name, topics, settings, onError, options.onOwnership, watch);
    await cluster.start();
    return cluster;
  } catch (error) {
    await redis.close();
    await watch?.close();
    throw error;
  }
}

/**
 * Records each cluster topic's declaration in `name:topics` (first node wins) and refuses a node
 * whose declaration differs — two nodes with different partition counts would send one key to two
 * partitions, different schemas would misread each other's bytes. Then creates the consumer group
 * of every partition (from the stream's start: the group may be created after the first appends).
 */
async function declareTopics(redis: RedisConnection, name: string, topics: readonly { name: string; partitions: number }[], port: ReturnType<Engine<any, any>['clusterPort']>): Promise<void> {
  for (const topic of topics) {
    const runtime = port.topic(topic.name);
    const declaration = JSON.stringify({ partitions: topic.partitions, schema: runtime.schema.spec, size: runtime.schema.size, key: runtime.keyKind === KEY_NONE ? null : runtime.keyOffset });
    await redis.sendCommand(['HSETNX', `${name}:topics`, topic.name, declaration]);
    const stored = String(await redis.sendCommand(['HGET', `${name}:topics`, topic.name]));
    if (stored !== declaration) {
      throw new ConfigError(`topics.${topic.name}`, declaration, `differs from what the cluster '${name}' declared for it: ${stored} (delete the key ${name}:topics to start over)`);
    }
    const creations: Promise<unknown>[] = [];
    for (let p = 0; p < topic.partitions; p++) {
      creations.push(redis.sendCommand(['XGROUP', 'CREATE', streamKey(name, topic.name, p), GROUP, '0', 'MKSTREAM']).catch((error: Error) => {
        if (!error.message.startsWith('BUSYGROUP')) throw error;
      }));
    }
    await Promise.all(creations);
  }
}
