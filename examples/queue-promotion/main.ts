/**
 * Queue-promotion example: a dispatcher for ticket queues, on a cluster of 3 node processes.
 *
 * Every event has a waiting queue (users in arrival order) and an entry queue with a capacity.
 * This process publishes, for a few seconds, `promote` ticks ("move up to `batch` users of event
 * E from waiting to entry, within capacity") and `leave` ticks ("`count` users of E are through")
 * through the cluster; the node holding E's partition runs them as atomic Lua scripts. Midway one
 * node is SIGKILLed: its partitions pass to the others after its leases run out (leaseMs), and
 * what it had read and not acknowledged is handled again there (deduplicated by tick, handlers.ts).
 *
 * At the end it checks, for every event: |entry| ≤ capacity (now, and the largest size the
 * scripts ever saw), waiting, entry and done are disjoint and together exactly the seeded users
 * (no one lost, duplicated or invented), and every tick published was applied exactly once.
 *
 * Redis: REDIS_URL if set, else a redis-server started for the run (the tests' helper).
 *
 *   node build/examples/queue-promotion/main.js [--events=N] [--users=N] [--ms=N] [--seed=N]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createClient } from '@redis/client';
import { createEngine } from 'wasm-dispatch';
import { createCluster } from 'wasm-dispatch/cluster';
import { parseExampleArgs, runIfMain } from '../cli.ts';
import { random } from '../random.ts';
import { startRedis, type RedisServer } from '../../test/cluster/redis-server.ts';
import { PARTITIONS, queueKey, topics } from './topics.ts';

export interface QueuePromotionOptions {
  /** Events (one waiting + one entry queue each); default 8. */
  readonly events?: number;
  /** Users seeded into each waiting queue; default 400. */
  readonly users?: number;
  /** How long ticks are published, ms; default 6000. */
  readonly ms?: number;
  /** ms between rounds of ticks (one promote per event, sometimes a leave); default 40. */
  readonly roundMs?: number;
  /** Nodes; default 3. One is SIGKILLed at 40% of the run (with at least 2). */
  readonly nodes?: number;
  /** Seed of the traffic; default 1. */
  readonly seed?: number;
  /** Redis to use; default process.env.REDIS_URL, else a redis-server started for the run. */
  readonly redisUrl?: string;
  /** Prints progress and the report. Default false. */
  readonly log?: boolean;
}

export interface EventReport {
  readonly event: number;
  readonly seeded: number;
  readonly capacity: number;
  readonly waiting: number;
  readonly entry: number;
  readonly done: number;
  /** The largest entry size the promote script saw (right after promoting). */
  readonly maxEntry: number;
  readonly promoted: number;
  readonly left: number;
  /** Promote ticks that found the entry queue full. */
  readonly full: number;
  /** Deliveries with ctx.deliveries > 1 (handed again after a failover). */
  readonly redelivered: number;
  /** Of those, ticks already applied: the scripts' deduplication kept them from applying twice. */
  readonly duplicates: number;
}

export interface QueuePromotionSummary {
  readonly events: number;
  readonly usersPerEvent: number;
  readonly nodes: number;
  readonly killed: string | null;
  readonly published: { readonly promote: number; readonly leave: number };
  /** Distinct ticks the scripts applied (== promote + leave published when nothing was lost). */
  readonly applied: number;
  readonly redelivered: number;
  readonly duplicates: number;
  /** Ownership changes the nodes reported (acquired / lost / released). */
  readonly ownershipChanges: number;
  readonly perEvent: readonly EventReport[];
  readonly elapsedMs: number;
  readonly failures: readonly string[];
  readonly ok: boolean;
}

const NODE_SCRIPT = fileURLToPath(new URL('./node.js', import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface NodeProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
  readonly lines: Record<string, unknown>[];
}

/** Spawns node.ts; `ready` resolves at its "ready" line (rejects if it exits first or in 15 s). */
function spawnNode(name: string, env: Record<string, string>, log: (line: string) => void): NodeProcess {
  const child = spawn(process.execPath, [NODE_SCRIPT], { env: { ...process.env, ...env, QP_NODE: name }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Record<string, unknown>[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node ${name} not ready within 15 s`)), 15_000);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`node ${name} exited (code ${child.exitCode}, signal ${child.signalCode}) before it was ready`));
    });
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        log(`  [${name}] ${text}`);
        return;
      }
      lines.push(line);
      if (line.type === 'ready') {
        clearTimeout(timer);
        resolve();
      } else if (line.type === 'error') log(`  [${name}] error: ${String(line.message)}`);
    });
  });
  ready.catch(() => undefined);
  return { name, child, ready, exited, lines };
}

export async function runQueuePromotion(options: QueuePromotionOptions = {}): Promise<QueuePromotionSummary> {
  const events = options.events ?? 8;
  const users = options.users ?? 400;
  const ms = options.ms ?? 6000;
  const roundMs = options.roundMs ?? 40;
  const nodeCount = options.nodes ?? 3;
  const rand = random(options.seed ?? 1);
  const log = options.log === true ? console.log : () => {};
  const run = `${process.pid}-${randomBytes(3).toString('hex')}`;
  const started = performance.now();

  let server: RedisServer | undefined;
  const url = options.redisUrl ?? process.env.REDIS_URL ?? (server = await startRedis()).url;
  log(`queue promotion: ${events} events × ${users} users, ${nodeCount} nodes, ${PARTITIONS} partitions per topic, Redis ${url}${server !== undefined ? ' (started for this run)' : ''}`);

  const redis = createClient({ url });
  redis.on('error', (error: Error) => log(`main: redis: ${error.message}`));
  await redis.connect();
  const nodes: NodeProcess[] = [];
  let engine: Awaited<ReturnType<typeof createEngine<typeof topics>>> | undefined;
  try {
    // Seed: each event's waiting queue holds users u<event>-0 .. u<event>-<users-1>, in arrival order.
    const capacities: number[] = [];
    for (let e = 0; e < events; e++) {
      capacities.push(20 + 10 * (e % 4));
      const members = Array.from({ length: users }, (_, i) => ({ score: i, value: `u${e}-${i}` }));
      await redis.zAdd(queueKey(run, e, 'waiting'), members);
      await redis.set(queueKey(run, e, 'capacity'), String(capacities[e]));
    }

    const env = { QP_REDIS_URL: url, QP_RUN: run, QP_LEASE_MS: '1000' };
    for (let n = 0; n < nodeCount; n++) nodes.push(spawnNode(`node${n}`, env, log));
    await Promise.all(nodes.map((n) => n.ready));
    log(`${nodeCount} nodes ready after ${(performance.now() - started).toFixed(0)} ms`);

    // The publisher: an engine of its own (the cluster stages messages through it) that consumes nothing.
    engine = await createEngine({ topics, handlers: new URL('./handlers.js', import.meta.url), workers: 1 });
    const cluster = await createCluster(engine, {
      redis: { url }, name: `qp-${run}`, node: 'publisher', consume: false,
      topics: { promote: { partitions: PARTITIONS }, leave: { partitions: PARTITIONS } },
    });

    let tick = 0;
    const published = { promote: 0, leave: 0 };
    let killed: NodeProcess | null = null;
    const publishStart = performance.now();
    for (let round = 0; performance.now() - publishStart < ms; round++) {
      for (let e = 0; e < events; e++) {
        cluster.publish('promote', { event: e, batch: 1 + Math.floor(rand() * 8), tick: tick++ });
        published.promote++;
        if (rand() < 0.5) {
          cluster.publish('leave', { event: e, count: 1 + Math.floor(rand() * 4), tick: tick++ });
          published.leave++;
        }
      }
      await cluster.flush();
      if (killed === null && nodeCount >= 2 && performance.now() - publishStart >= ms * 0.4) {
        killed = nodes[1]!;
        killed.child.kill('SIGKILL');
        log(`${(performance.now() - publishStart).toFixed(0)} ms: SIGKILLed ${killed.name} (its partitions move after its leases run out)`);
      }
      await sleep(roundMs);
    }
    await cluster.flush();
    await cluster.close();
    log(`published ${published.promote} promote and ${published.leave} leave ticks in ${(performance.now() - publishStart).toFixed(0)} ms`);

    // Every tick applied? Each script records its tick in its event's set (deduplicated), so the
    // sets' sizes add up to the ticks published once every message was handled somewhere.
    const total = published.promote + published.leave;
    const ticksKeys = Array.from({ length: events }, (_, e) => queueKey(run, e, 'ticks'));
    let applied = 0;
    const deadline = performance.now() + 15_000;
    for (;;) {
      applied = 0;
      for (const key of ticksKeys) applied += await redis.sCard(key);
      if (applied >= total || performance.now() > deadline) break;
      await sleep(50);
    }
    log(`${applied} of ${total} ticks applied after ${(performance.now() - publishStart).toFixed(0)} ms`);

    // The surviving nodes leave the cluster (SIGTERM: they finish and acknowledge what they read).
    const alive = nodes.filter((n) => n !== killed);
    for (const n of alive) n.child.kill('SIGTERM');
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.all(alive.map((n) => n.exited)), new Promise((resolve) => (timer = setTimeout(resolve, 10_000)))]);
    clearTimeout(timer);

    // The invariants, event by event.
    const failures: string[] = [];
    const perEvent: EventReport[] = [];
    for (let e = 0; e < events; e++) {
      const [waiting, entry, done] = await Promise.all((['waiting', 'entry', 'done'] as const).map((part) => redis.zRange(queueKey(run, e, part), 0, -1)));
      const stats = await redis.hGetAll(queueKey(run, e, 'stats'));
      const stat = (field: string): number => Number(stats[field] ?? 0);
      const report: EventReport = {
        event: e, seeded: users, capacity: capacities[e]!, waiting: waiting!.length, entry: entry!.length, done: done!.length,
        maxEntry: stat('maxEntry'), promoted: stat('promoted'), left: stat('left'), full: stat('full'),
        redelivered: stat('redelivered'), duplicates: stat('duplicates'),
      };
      perEvent.push(report);
      if (report.entry > report.capacity) failures.push(`event ${e}: ${report.entry} users in entry, capacity ${report.capacity}`);
      if (report.maxEntry > report.capacity) failures.push(`event ${e}: entry reached ${report.maxEntry} users, capacity ${report.capacity}`);
      const seen = new Map<string, string>();
      for (const [part, members] of [['waiting', waiting!], ['entry', entry!], ['done', done!]] as const) {
        for (const user of members) {
          const other = seen.get(user);
          if (other !== undefined) failures.push(`event ${e}: ${user} is in both ${other} and ${part}`);
          seen.set(user, part);
          if (!/^u\d+-\d+$/.test(user) || !user.startsWith(`u${e}-`) || Number(user.split('-')[1]) >= users) failures.push(`event ${e}: unknown user ${user} in ${part}`);
        }
      }
      if (seen.size !== users) failures.push(`event ${e}: ${seen.size} distinct users in waiting + entry + done, seeded ${users}`);
      if (report.waiting + report.entry + report.done !== users) failures.push(`event ${e}: waiting ${report.waiting} + entry ${report.entry} + done ${report.done} != seeded ${users}`);
      if (report.promoted !== report.entry + report.done) failures.push(`event ${e}: promoted ${report.promoted} != entry ${report.entry} + done ${report.done}`);
      if (report.left !== report.done) failures.push(`event ${e}: left ${report.left} != done ${report.done}`);
    }
    if (applied !== total) failures.push(`${applied} ticks applied, ${total} published (lost or not yet handled after 15 s)`);
    for (const n of alive) {
      if (n.child.exitCode !== 0) failures.push(`${n.name} exited with code ${n.child.exitCode} (signal ${n.child.signalCode}) after SIGTERM`);
    }
    const errors = nodes.flatMap((n) => n.lines.filter((l) => l.type === 'error').map((l) => `${n.name}: ${String(l.message)}`));
    failures.push(...errors.map((e) => `node error: ${e}`));

    const sum = (field: keyof EventReport): number => perEvent.reduce((t, r) => t + r[field], 0);
    const summary: QueuePromotionSummary = {
      events, usersPerEvent: users, nodes: nodeCount, killed: killed?.name ?? null, published, applied,
      redelivered: sum('redelivered'), duplicates: sum('duplicates'),
      ownershipChanges: nodes.reduce((t, n) => t + n.lines.filter((l) => l.type === 'ownership').length, 0),
      perEvent, elapsedMs: performance.now() - started, failures, ok: failures.length === 0,
    };
    if (options.log === true) {
      console.table(perEvent.map(({ event, ...rest }) => ({ event, ...rest })));
      log(`ticks: ${total} published, ${applied} applied; ${summary.redelivered} redelivered after the failover, ${summary.duplicates} of them already applied (not applied twice)`);
      log(`ownership changes: ${summary.ownershipChanges}; killed: ${summary.killed ?? 'none'}; ${summary.elapsedMs.toFixed(0)} ms in all`);
      log(failures.length === 0 ? 'all invariants hold: entry ≤ capacity, waiting/entry/done disjoint, every seeded user accounted for, every tick applied once' : `FAILED:\n  ${failures.join('\n  ')}`);
    }
    return summary;
  } finally {
    for (const n of nodes) if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGKILL');
    await engine?.close({ timeout: 5000 });
    if (server === undefined) {
      // A shared Redis: remove this run's keys (the queues and the cluster's streams and leases).
      for (const pattern of [`q:${run}:*`, `qp-${run}:*`]) {
        for await (const keys of redis.scanIterator({ MATCH: pattern, COUNT: 500 })) if (keys.length > 0) await redis.del(keys);
      }
    }
    await redis.close();
    await server?.stop();
  }
}

const USAGE = 'usage: main.js [--events=N] [--users=N] [--ms=N] [--roundMs=N] [--nodes=N] [--seed=N]   (REDIS_URL: use that Redis)';
const NUMBER_OPTIONS = ['events', 'users', 'ms', 'roundMs', 'nodes', 'seed'] as const;

function parseOptions(argv: readonly string[]): QueuePromotionOptions {
  const { backend: _backend, ...numbers } = parseExampleArgs(argv, NUMBER_OPTIONS);
  return { ...numbers, log: true };
}

await runIfMain(import.meta.url, USAGE, parseOptions, runQueuePromotion);
