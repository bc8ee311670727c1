/**
 * The cluster bridge (src/cluster) against a plain Redis Streams client loop, on one machine, in
 * one run: one redis-server (a real one, append-only everysec, started by
 * test/cluster/redis-server.ts) for the whole bench; every run uses a fresh cluster name.
 *
 *   raw        @redis/client directly, one process, one connection: a producer loop doing XADD
 *              × 256 per tick (Promise.all, node-redis pipelines them) round-robin over P stream
 *              partitions, and a consumer loop doing XREADGROUP COUNT 256 on every partition at
 *              once and XACK + XDEL of what it read; until N messages were consumed
 *   bridge 1   one engine (1 worker) + createCluster in this process, publishing N messages (256
 *              per tick, whenWritable when publish says false) while the same cluster consumes;
 *              from the first publish until stats().acked counts all N
 *   nodes k    k node processes (bench/cluster-node.ts: an engine with 1 worker + createCluster
 *              consuming), this process publishing (consume: false); until the nodes' acked add
 *              up to N (polled over IPC every 5 ms)
 *   latency    1 node process, this process publishing at a fixed rate; publish → handler wall
 *              clock (performance.timeOrigin + performance.now() on both sides)
 *   failover   2 node processes, publishing at a modest rate on every partition; one node is
 *              SIGKILLed; time until the survivor holds every partition, and until a message
 *              published after the kill was handled on every partition
 *
 * Messages are 16 bytes (`order`: seq u32, key u32, sent f64; bench/engine/cluster-topics.ts) in
 * every case, P = CLUSTER_PARTITIONS partitions. Throughput cases: median of CLUSTER_RUNS timed
 * runs after a warm-up of N/4 messages, raw and bridge alternating run by run.
 *
 *   node build/bench/cluster.js
 *   env CLUSTER_MESSAGES (100000), CLUSTER_RUNS (5), CLUSTER_PARTITIONS (8), CLUSTER_RATES (200,5000),
 *       CLUSTER_LATENCY_MS (2000), CLUSTER_LEASE_MS (1000, failover), CLUSTER_FAILOVER_RUNS (3)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createClient, RESP_TYPES } from '@redis/client';
import { createEngine, type Engine } from '../src/index.ts';
import { createCluster, type Cluster, type ClusterStats } from '../src/cluster/index.ts';
import { startRedis, type RedisServer } from '../test/cluster/redis-server.ts';
import { clusterBenchTopics, type ClusterBenchTopics } from './engine/cluster-topics.ts';
import { busyWarning, collectEnv, describeEnv } from './env.ts';
import { formatRate, formatRatio } from './format.ts';
import { median } from './results.ts';

const MESSAGES = Number(process.env.CLUSTER_MESSAGES ?? 100_000);
const RUNS = Number(process.env.CLUSTER_RUNS ?? 5);
const PARTITIONS = Number(process.env.CLUSTER_PARTITIONS ?? 8);
/** Latency is measured at each of these rates: a light load (the node waits for entries between messages) and a steady one. */
const RATES = (process.env.CLUSTER_RATES ?? '200,5000').split(',').map(Number);
const LATENCY_MS = Number(process.env.CLUSTER_LATENCY_MS ?? 2000);
const LEASE_MS = Number(process.env.CLUSTER_LEASE_MS ?? 1000);
const FAILOVER_RUNS = Number(process.env.CLUSTER_FAILOVER_RUNS ?? 3);
const FAILOVER_RATE = 2000;
const TICK = 256;
const HANDLERS = new URL('./engine/cluster-handlers.js', import.meta.url);
const NODE_FILE = new URL('./cluster-node.js', import.meta.url).pathname;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const wallClock = (): number => performance.timeOrigin + performance.now();
let runCounter = 0;
const freshName = (what: string): string => `bench-${process.pid}-${what}-${++runCounter}`;

/** Polls `check` every `everyMs` until it returns true; throws after `timeoutMs`. */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000, everyMs = 1): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

// ---- raw client loop ---------------------------------------------------------------------------

type RawClient = { sendCommand(args: (string | Buffer)[]): Promise<unknown>; close(): Promise<void> };

async function rawClient(url: string): Promise<{ client: RawClient; close(): Promise<void> }> {
  const client = createClient({ url });
  client.on('error', (error: Error) => console.error(`raw client: ${error.message}`));
  await client.connect();
  const typed = client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }) as unknown as RawClient;
  return { client: typed, close: () => client.close() };
}

function message(seq: number, key: number): Buffer {
  const bytes = Buffer.allocUnsafe(16);
  bytes.writeUInt32LE(seq, 0);
  bytes.writeUInt32LE(key, 4);
  bytes.writeDoubleLE(wallClock(), 8);
  return bytes;
}

/** XREADGROUP's entries of one stream: [[id, [field, value]], …], or [] for nil. */
function entriesOf(reply: unknown): [Buffer, Buffer[]][] {
  if (reply === null || reply === undefined) return [];
  if (reply instanceof Map) {
    const first = reply.values().next().value as unknown;
    return (first ?? []) as [Buffer, Buffer[]][];
  }
  if (Array.isArray(reply)) return ((reply as [Buffer, [Buffer, Buffer[]][]][])[0]?.[1]) ?? [];
  // RESP3 (node-redis's default): a map of stream → entries, mapped to a plain object.
  return (Object.values(reply as object)[0] ?? []) as [Buffer, Buffer[]][];
}

/** One raw run of `n` messages over fresh streams; messages/s from the first XADD to the last entry consumed. */
async function rawRun(client: RawClient, n: number): Promise<number> {
  const prefix = freshName('raw');
  const keys = Array.from({ length: PARTITIONS }, (_, p) => `${prefix}:s:${p}`);
  await Promise.all(keys.map((key) => client.sendCommand(['XGROUP', 'CREATE', key, 'g', '0', 'MKSTREAM'])));
  const started = performance.now();
  const producer = (async () => {
    for (let seq = 0; seq < n;) {
      const end = Math.min(n, seq + TICK);
      const adds: Promise<unknown>[] = [];
      for (; seq < end; seq++) adds.push(client.sendCommand(['XADD', keys[seq % PARTITIONS]!, '*', 'm', message(seq, seq)]));
      await Promise.all(adds);
    }
  })();
  let consumed = 0;
  let checksum = 0;
  const acks: Promise<unknown>[] = [];
  while (consumed < n) {
    const replies = await Promise.all(keys.map((key) => client.sendCommand(['XREADGROUP', 'GROUP', 'g', 'c', 'COUNT', String(TICK), 'STREAMS', key, '>'])));
    let got = 0;
    for (let p = 0; p < PARTITIONS; p++) {
      const entries = entriesOf(replies[p]);
      if (entries.length === 0) continue;
      const ids: Buffer[] = [];
      for (const [id, fields] of entries) {
        ids.push(id);
        checksum = (checksum + fields[1]!.readUInt32LE(0)) >>> 0;
      }
      got += entries.length;
      acks.push(client.sendCommand(['XACK', keys[p]!, 'g', ...ids.map(String)]), client.sendCommand(['XDEL', keys[p]!, ...ids.map(String)]));
    }
    consumed += got;
    if (got === 0) await sleep(1);
  }
  await Promise.all(acks);
  const seconds = (performance.now() - started) / 1000;
  await producer;
  const expected = (((n - 1) * n) / 2) % 2 ** 32;
  if (consumed !== n || checksum !== expected) throw new Error(`raw: consumed ${consumed} of ${n}, checksum ${checksum} ≠ ${expected}`);
  await client.sendCommand(['DEL', ...keys]);
  return n / seconds;
}

// ---- the bridge, publishing side ----------------------------------------------------------------

/** Publishes `n` messages, TICK per tick (yielding between), keys seq % 1024; resolves once flushed. */
async function publishAll(cluster: Cluster<ClusterBenchTopics>, n: number, seq0: number): Promise<void> {
  for (let i = 0; i < n;) {
    const end = Math.min(n, i + TICK);
    let writable = true;
    for (; i < end; i++) {
      const seq = seq0 + i;
      writable = cluster.publish('order', { seq, key: seq & 1023, sent: wallClock() }) && writable;
    }
    if (!writable) await cluster.whenWritable();
    else await tick();
  }
  await cluster.flush();
}

/** One engine (1 worker) + a consuming cluster in this process: warm-up, then one timed run; messages/s. */
async function bridgeRun(url: string, n: number): Promise<{ rate: number; stats: ClusterStats }> {
  const engine = await createEngine({ topics: clusterBenchTopics, handlers: HANDLERS, workers: 1 });
  let cluster: Cluster<ClusterBenchTopics> | undefined;
  try {
    await engine.subscribe('order', { handler: 'order', mode: 'keyed' });
    await engine.subscribe('report', { handler: 'report', mode: 'group', workers: [0] });
    cluster = await createCluster(engine, { redis: { url }, name: freshName('bridge'), topics: { order: { partitions: PARTITIONS } } });
    const c = cluster;
    await until('the node to hold every partition', () => c.stats().partitions.length === PARTITIONS, 10_000, 5);
    const warmup = Math.floor(n / 4);
    await publishAll(c, warmup, 0);
    await until('the warm-up to be acknowledged', () => c.stats().acked >= warmup);
    await engine.request('report', { reset: true, since: 0 });
    const started = performance.now();
    await publishAll(c, n, warmup);
    await until('every message to be acknowledged', () => c.stats().acked >= warmup + n);
    const seconds = (performance.now() - started) / 1000;
    const report = await engine.request('report', { reset: true, since: 0 });
    if (report.count !== n) throw new Error(`bridge: handled ${report.count} of ${n}`);
    return { rate: n / seconds, stats: c.stats() };
  } finally {
    await cluster?.close();
    await engine.close();
  }
}

// ---- node processes ----------------------------------------------------------------------------

interface Report { count: number; p50: number; p99: number; max: number; recoveredKeys: number; recoveredAt: number }

class NodeProcess {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve(value: any): void; reject(error: Error): void }>();
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;

  constructor(readonly child: ChildProcess, readonly node: string) {
    this.ready = new Promise((resolve, reject) => {
      child.once('exit', (code, signal) => reject(new Error(`node ${node} exited (${code ?? signal}) before it was ready`)));
      child.on('message', (message: any) => {
        if (message?.type === 'ready') return resolve();
        const waiter = this.pending.get(message.id);
        if (waiter === undefined) return;
        this.pending.delete(message.id);
        if (message.error !== undefined) waiter.reject(new Error(`node ${node}: ${message.error}`));
        else waiter.resolve(message.stats ?? message.report);
      });
    });
    this.ready.catch(() => undefined);
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    child.once('exit', () => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`node ${node} exited`));
      this.pending.clear();
    });
  }

  static spawn(url: string, name: string, node: string, leaseMs: number): NodeProcess {
    const config = JSON.stringify({ url, name, node, partitions: PARTITIONS, leaseMs });
    const child = spawn(process.execPath, [NODE_FILE, config], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return new NodeProcess(child, node);
  }

  private call<R>(command: object): Promise<R> {
    const id = ++this.nextId;
    return new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ ...command, id });
    });
  }

  stats(): Promise<ClusterStats> {
    return this.call({ cmd: 'stats' });
  }

  report(reset: boolean, since = 0): Promise<Report> {
    return this.call({ cmd: 'report', reset, since });
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.connected) this.child.send({ cmd: 'close' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Spawns `count` nodes of cluster `name` and waits until every partition is held, each by exactly one node, with every node a member of all. */
async function startNodes(url: string, name: string, count: number, leaseMs: number): Promise<NodeProcess[]> {
  const nodes: NodeProcess[] = [];
  try {
    for (let i = 0; i < count; i++) nodes.push(NodeProcess.spawn(url, name, `n${i}`, leaseMs));
    await Promise.all(nodes.map((node) => node.ready));
    await settle(nodes, 30_000);
    return nodes;
  } catch (error) {
    await Promise.all(nodes.map((node) => node.close()));
    throw error;
  }
}

/** Waits until the nodes agree on membership and hold every partition once, stable over two polls 300 ms apart. */
async function settle(nodes: readonly NodeProcess[], timeoutMs: number): Promise<ClusterStats[]> {
  let previous = '';
  let stats: ClusterStats[] = [];
  await until('the partitions to settle', async () => {
    stats = await Promise.all(nodes.map((node) => node.stats()));
    const held = stats.flatMap((s) => s.partitions);
    const ok = held.length === PARTITIONS && new Set(held).size === PARTITIONS && stats.every((s) => (s.members.order ?? []).length === nodes.length);
    const shape = JSON.stringify(stats.map((s) => s.partitions));
    const stable = ok && shape === previous;
    previous = ok ? shape : '';
    return stable;
  }, timeoutMs, 300);
  return stats;
}

const ackedSum = async (nodes: readonly NodeProcess[]): Promise<number> => (await Promise.all(nodes.map((node) => node.stats()))).reduce((sum, s) => sum + s.acked, 0);

/** A publisher in this process: an engine (1 idle worker, to stage messages) + a non-consuming cluster. */
async function publisher(url: string, name: string): Promise<{ engine: Engine<ClusterBenchTopics>; cluster: Cluster<ClusterBenchTopics>; close(): Promise<void> }> {
  const engine = await createEngine({ topics: clusterBenchTopics, handlers: HANDLERS, workers: 1 });
  const cluster = await createCluster(engine, { redis: { url }, name, consume: false, topics: { order: { partitions: PARTITIONS } } }).catch(async (error) => {
    await engine.close();
    throw error;
  });
  return { engine, cluster, close: async () => { await cluster.close(); await engine.close(); } };
}

/** k nodes: a warm-up of n/4, then RUNS timed runs of n; messages/s per run, and the partitions each node held. */
async function aggregate(url: string, count: number, n: number): Promise<{ rates: number[]; shares: number[] }> {
  const name = freshName(`agg${count}`);
  const pub = await publisher(url, name);
  let nodes: NodeProcess[] = [];
  try {
    nodes = await startNodes(url, name, count, 2000);
    const shares = (await Promise.all(nodes.map((node) => node.stats()))).map((s) => s.partitions.length);
    let total = 0;
    const rates: number[] = [];
    for (let r = -1; r < RUNS; r++) {
      const size = r < 0 ? Math.floor(n / 4) : n;
      const started = performance.now();
      await publishAll(pub.cluster, size, total);
      total += size;
      await until('the nodes to acknowledge every message', async () => (await ackedSum(nodes)) >= total, 120_000, 5);
      if (r >= 0) rates.push(size / ((performance.now() - started) / 1000));
    }
    const handled = (await Promise.all(nodes.map((node) => node.report(true)))).reduce((sum, rep) => sum + rep.count, 0);
    if (handled < total) throw new Error(`${count} nodes: handled ${handled} of ${total}`);
    return { rates, shares };
  } finally {
    await Promise.all(nodes.map((node) => node.close()));
    await pub.close();
  }
}

// ---- latency at a fixed rate -------------------------------------------------------------------

/** Publishes at `rate` msg/s for `ms` (every 1 ms timer tick, what is due), returns messages published. */
async function publishAtRate(cluster: Cluster<ClusterBenchTopics>, rate: number, ms: number, key: (seq: number) => number, stop?: () => boolean): Promise<number> {
  const started = performance.now();
  let seq = 0;
  for (;;) {
    const elapsed = performance.now() - started;
    if (elapsed >= ms || stop?.() === true) break;
    const due = Math.floor((elapsed * rate) / 1000);
    for (; seq < due; seq++) cluster.publish('order', { seq, key: key(seq), sent: wallClock() });
    await sleep(1);
  }
  await cluster.flush();
  return seq;
}

async function latency(url: string, rate: number): Promise<Report[]> {
  const name = freshName('latency');
  const pub = await publisher(url, name);
  let nodes: NodeProcess[] = [];
  try {
    nodes = await startNodes(url, name, 1, 2000);
    const node = nodes[0]!;
    const reports: Report[] = [];
    let total = 0;
    for (let r = -1; r < RUNS; r++) {
      const ms = r < 0 ? LATENCY_MS / 4 : LATENCY_MS;
      await node.report(true);
      total += await publishAtRate(pub.cluster, rate, ms, (seq) => seq & 1023);
      await until('the node to acknowledge every message', async () => (await node.stats()).acked >= total, 60_000, 5);
      const report = await node.report(true);
      if (r >= 0) reports.push(report);
    }
    return reports;
  } finally {
    await Promise.all(nodes.map((node) => node.close()));
    await pub.close();
  }
}

// ---- failover ----------------------------------------------------------------------------------

interface Failover { held: number; handled: number; redelivered: number; victimPartitions: number }

async function failover(url: string, run: number): Promise<Failover> {
  const name = freshName('failover');
  const pub = await publisher(url, name);
  let nodes: NodeProcess[] = [];
  try {
    nodes = await startNodes(url, name, 2, LEASE_MS);
    // One key per partition: the smallest key that lands there.
    const keys: number[] = new Array(PARTITIONS).fill(-1);
    for (let key = 0, found = 0; found < PARTITIONS; key++) {
      const p = pub.cluster.partitionOf('order', { seq: 0, key, sent: 0 });
      if (keys[p] === -1) {
        keys[p] = key;
        found++;
      }
    }
    const stats = await Promise.all(nodes.map((node) => node.stats()));
    const victimIndex = run % 2;
    const victim = nodes[victimIndex]!;
    const survivor = nodes[1 - victimIndex]!;
    const victimPartitions = stats[victimIndex]!.partitions.length;
    let killedAt = 0;
    let heldAt = 0;
    let done = false;
    // Publish on every partition in turn, all along: 1 s before the kill, then until recovered (+ 200 ms).
    const publishing = publishAtRate(pub.cluster, FAILOVER_RATE, 60_000, (seq) => keys[seq % PARTITIONS]!, () => done);
    try {
      await sleep(1000);
      killedAt = wallClock();
      victim.child.kill('SIGKILL');
      await survivor.report(false, killedAt);
      let report: Report | undefined;
      await until('the survivor to handle every partition again', async () => {
        if (heldAt === 0 && (await survivor.stats()).partitions.length === PARTITIONS) heldAt = wallClock();
        report = await survivor.report(false);
        return heldAt > 0 && report.recoveredKeys >= PARTITIONS;
      }, 30_000, 5);
      await sleep(200);
      const after = await survivor.stats();
      return { held: heldAt - killedAt, handled: report!.recoveredAt - killedAt, redelivered: after.redelivered, victimPartitions };
    } finally {
      done = true;
      await publishing;
    }
  } finally {
    await Promise.all(nodes.map((node) => node.close()));
    await pub.close();
  }
}

// ---- the run -----------------------------------------------------------------------------------

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(' | ')} |`;
  return [line(header), `|${widths.map((w, c) => (c === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...rows.map(line)].join('\n');
}

const ms = (value: number): string => (Number.isFinite(value) ? value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0) : '—');
const runsOf = (rates: readonly number[]): string => rates.map(formatRate).join(', ');

const env = await collectEnv(500);
console.log(`cluster: ${MESSAGES.toLocaleString('en')} messages of 16 bytes a run over ${PARTITIONS} stream partitions; median of ${RUNS} runs after a warm-up of ${Math.floor(MESSAGES / 4).toLocaleString('en')}`);
console.log(describeEnv(env));
const warning = busyWarning(env);
if (warning !== null) console.log(warning);

// Interrupted: exit through process.exit, so startRedis's exit hooks kill the server and remove its
// dir; node processes leave when their IPC channel closes.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

let redis: RedisServer | undefined;
const started = performance.now();
try {
  redis = await startRedis();
  const url = redis.url;
  console.log(`redis-server 127.0.0.1:${redis.port} (appendonly yes, appendfsync everysec); nodes, publisher and Redis share the machine's ${env.machine.cpus} cores`);

  // 1 + 2: raw vs the bridge in one process, alternating run by run.
  const raw = await rawClient(url);
  const rawRates: number[] = [];
  const bridgeRates: number[] = [];
  let bridgeStats: ClusterStats | undefined;
  try {
    await rawRun(raw.client, Math.floor(MESSAGES / 4));
    for (let r = 0; r < RUNS; r++) {
      const raw1 = async (): Promise<void> => { rawRates.push(await rawRun(raw.client, MESSAGES)); };
      const bridge1 = async (): Promise<void> => {
        const result = await bridgeRun(url, MESSAGES);
        bridgeRates.push(result.rate);
        bridgeStats = result.stats;
      };
      if (r % 2 === 0) { await raw1(); await bridge1(); } else { await bridge1(); await raw1(); }
    }
  } finally {
    await raw.close();
  }
  const rawRate = median(rawRates);
  const bridgeRate = median(bridgeRates);

  // 3: 1, 2, 3 node processes + this process publishing.
  const aggregates: { count: number; rates: number[]; shares: number[] }[] = [];
  for (const count of [1, 2, 3]) aggregates.push({ count, ...(await aggregate(url, count, MESSAGES)) });

  const rows: string[][] = [
    ['raw @redis/client loop (XADD ×256 / XREADGROUP 256 + XACK + XDEL), 1 process, 1 connection', '—', formatRate(rawRate), '1.00×', '', runsOf(rawRates)],
    ['bridge, 1 node in-process (publish + consume, 1 worker)', String(PARTITIONS), formatRate(bridgeRate), `${formatRatio(bridgeRate / rawRate)}×`, '', runsOf(bridgeRates)],
  ];
  const one = median(aggregates[0]!.rates);
  for (const a of aggregates) {
    const rate = median(a.rates);
    rows.push([`bridge, ${a.count} node process${a.count === 1 ? '' : 'es'} (1 worker each) + publisher process`, a.shares.join('/'), formatRate(rate), `${formatRatio(rate / rawRate)}×`, `${formatRatio(rate / one)}×`, runsOf(a.rates)]);
  }
  console.log(`\nthroughput (msg/s from first publish to last acknowledged; all processes and Redis share ${env.machine.cpus} cores):\n`);
  console.log(table(['case', 'partitions held', 'msg/s', '÷ raw', '÷ 1 node', 'runs'], rows));
  const ratio = bridgeRate / rawRate;
  console.log(`bridge (1 node in-process) at ${(ratio * 100).toFixed(0)} % of the raw client loop (target ≥ 80 %: ${ratio >= 0.8 ? 'met' : 'not met'})`);
  if (bridgeStats !== undefined) {
    console.log(`last in-process bridge run's stats: appendBatches ${bridgeStats.appendBatches} for ${bridgeStats.appended} appended (${(bridgeStats.appended / Math.max(1, bridgeStats.appendBatches)).toFixed(0)} per batch), read ${bridgeStats.read}, acked ${bridgeStats.acked}`);
  }

  // 4: latency at fixed rates, 1 node process.
  const latencyRows: string[][] = [];
  for (const rate of RATES) {
    const reports = await latency(url, rate);
    latencyRows.push([
      formatRate(rate), median(reports.map((r) => r.count)).toLocaleString('en'), ms(median(reports.map((r) => r.p50))), ms(median(reports.map((r) => r.p99))), ms(median(reports.map((r) => r.max))),
      reports.map((r) => `${ms(r.p50)} / ${ms(r.p99)}`).join(', '),
    ]);
  }
  console.log(`\nend-to-end latency (publish → handler, wall clock), 1 node process, ${LATENCY_MS} ms at each rate; median of ${RUNS} runs after a ${LATENCY_MS / 4} ms warm-up:\n`);
  console.log(table(['rate msg/s', 'messages', 'p50 ms', 'p99 ms', 'max ms', 'runs p50 / p99 ms'], latencyRows));

  // 5: failover.
  const failovers: Failover[] = [];
  for (let r = 0; r < FAILOVER_RUNS; r++) failovers.push(await failover(url, r));
  const heartbeat = Math.max(10, Math.floor(LEASE_MS / 4));
  console.log(`\nfailover: 2 node processes, leaseMs ${LEASE_MS} (heartbeatMs ${heartbeat}), publishing ${formatRate(FAILOVER_RATE)} msg/s on every partition in turn; one node SIGKILLed; ${FAILOVER_RUNS} runs (\'holds all\': the survivor's stats polled over IPC every ~5 ms; \'handled\': the handler's own clock, first message sent after the kill on the last partition to recover):\n`);
  console.log(table(['run', 'victim held', 'kill → survivor holds all ms', 'kill → every partition handled ms', '÷ leaseMs', 'redelivered'], [
    ...failovers.map((f, i) => [String(i + 1), `${f.victimPartitions}/${PARTITIONS}`, ms(f.held), ms(f.handled), `${formatRatio(f.handled / LEASE_MS)}×`, String(f.redelivered)]),
    ['median', '', ms(median(failovers.map((f) => f.held))), ms(median(failovers.map((f) => f.handled))), `${formatRatio(median(failovers.map((f) => f.handled)) / LEASE_MS)}×`, ''],
  ]));
} finally {
  await redis?.stop();
}
console.log(`\ndone in ${((performance.now() - started) / 1000).toFixed(0)} s`);
