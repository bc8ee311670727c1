/**
 * One cluster node for the failover suite: an engine (2 workers) with `order` subscribed keyed,
 * joined to the cluster argv[2] names ({ url, name, node, leaseMs, partitions, build }), its
 * handlers logging under WD_CLUSTER_LOG. Every ownership change is written synchronously to
 * <WD_CLUSTER_LOG>/<node>-own.log as `<change> <partition> <token> <ms since epoch>`. Prints
 * "ready" once joined; on the line "stats" on stdin prints its stats as one JSON line; on
 * SIGTERM leaves the cluster, closes the engine and exits.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createEngine } from '../../src/index.ts';
import { createCluster } from '../../src/cluster/index.ts';
import { clusterTopics } from '../cluster/cluster-topics.ts';

const config = JSON.parse(process.argv[2]!) as { url: string; name: string; node: string; leaseMs: number; partitions: number; build: 'release' | 'debug' };
const log = process.env.WD_CLUSTER_LOG!;
const engine = await createEngine({ topics: clusterTopics, handlers: new URL('../cluster/cluster-handlers.js', import.meta.url), workers: 2, coreBuild: config.build });
await engine.subscribe('order', { handler: 'order', mode: 'keyed' });
const cluster = await createCluster(engine, {
  redis: { url: config.url }, name: config.name, node: config.node, leaseMs: config.leaseMs,
  topics: { order: { partitions: config.partitions } },
  onOwnership: (c) => appendFileSync(join(log, `${config.node}-own.log`), `${c.change} ${c.partition} ${c.token} ${Date.now()}\n`),
  onError: () => undefined, // connection errors while Redis restarts are expected here
});
console.log('ready');
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'stats') console.log(JSON.stringify(cluster.stats()));
});
process.once('SIGTERM', () => {
  void (async () => {
    await cluster.close();
    await engine.close();
    process.exit(0);
  })();
});
