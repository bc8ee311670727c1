/**
 * Queue-promotion example: one node — a process with an engine (2 workers) whose `promote` and
 * `leave` subscriptions are keyed by event, joined to the cluster. The cluster hands it the
 * messages of the partitions it holds; its workers run the Lua scripts (handlers.ts).
 *
 * Configured by its environment (main.ts sets it; the worker threads inherit it):
 *   QP_REDIS_URL  redis://host:port          QP_RUN   the run's key prefix and cluster name
 *   QP_NODE       this node's name           QP_LEASE_MS  lease length (default 1000)
 *
 * Writes JSON lines to stdout: {"type":"ready"} once joined, {"type":"ownership",...} at each
 * change of its partitions, and on SIGTERM {"type":"stats",...} after leaving the cluster
 * (handles and acknowledges what it read, gives its partitions back), then exits.
 *
 *   QP_REDIS_URL=redis://127.0.0.1:6379 QP_RUN=demo QP_NODE=a node build/examples/queue-promotion/node.js
 */
import { createEngine } from 'wasm-dispatch';
import { createCluster } from 'wasm-dispatch/cluster';
import { PARTITIONS, topics } from './topics.ts';

const url = process.env.QP_REDIS_URL ?? 'redis://127.0.0.1:6379';
process.env.QP_REDIS_URL = url; // the workers read it (handlers.ts)
const run = process.env.QP_RUN ?? 'default';
const node = process.env.QP_NODE ?? `node-${process.pid}`;
const leaseMs = Number(process.env.QP_LEASE_MS ?? 1000);

const say = (line: object): void => {
  process.stdout.write(`${JSON.stringify({ node, ...line })}\n`);
};

const engine = await createEngine({ topics, handlers: new URL('./handlers.js', import.meta.url), workers: 2 });
// Keyed: on this node, all messages of one event go to one worker, in order. Subscribe before
// joining the cluster: entries of a topic with no local subscription are acknowledged unhandled.
await engine.subscribe('promote', { handler: 'promote', mode: 'keyed' });
await engine.subscribe('leave', { handler: 'leave', mode: 'keyed' });

const cluster = await createCluster(engine, {
  redis: { url },
  name: `qp-${run}`,
  node,
  leaseMs,
  topics: { promote: { partitions: PARTITIONS }, leave: { partitions: PARTITIONS } },
  onOwnership: (change) => say({ type: 'ownership', change: change.change, topic: change.topic, partition: change.partition }),
  onError: (error) => say({ type: 'error', message: error.message }),
});
say({ type: 'ready' });

process.once('SIGTERM', () => {
  void (async () => {
    await cluster.close({ timeout: 5000 });
    const stats = cluster.stats();
    await engine.close({ timeout: 5000 });
    say({ type: 'stats', stats });
    process.exit(0);
  })();
});
