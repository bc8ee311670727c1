/**
 * One node of the cluster bench (bench/cluster.ts): an engine with one worker, `order` subscribed
 * keyed and `report` on worker 0, joined to the cluster argv[2] names ({ url, name, node,
 * partitions, leaseMs }). Spawned with an IPC channel; sends { type: 'ready' } once joined, then
 * answers { id, cmd: 'stats' } with the cluster's stats and { id, cmd: 'report', reset, since }
 * with the worker's report reply; { cmd: 'close' } leaves the cluster, closes the engine and exits.
 */
import { createEngine } from '../src/index.ts';
import { createCluster } from '../src/cluster/index.ts';
import { clusterBenchTopics } from './engine/cluster-topics.ts';

interface NodeConfig { url: string; name: string; node: string; partitions: number; leaseMs: number }
interface Command { id?: number; cmd: 'stats' | 'report' | 'close'; reset?: boolean; since?: number }

const config = JSON.parse(process.argv[2]!) as NodeConfig;
const engine = await createEngine({ topics: clusterBenchTopics, handlers: new URL('./engine/cluster-handlers.js', import.meta.url), workers: 1 });
await engine.subscribe('order', { handler: 'order', mode: 'keyed' });
await engine.subscribe('report', { handler: 'report', mode: 'group', workers: [0] });
const cluster = await createCluster(engine, {
  redis: { url: config.url }, name: config.name, node: config.node, leaseMs: config.leaseMs,
  topics: { order: { partitions: config.partitions } },
  onError: (error) => console.error(`[${config.node}] ${error.message}`),
});

let closing = false;
async function close(): Promise<void> {
  if (closing) return;
  closing = true;
  await cluster.close();
  await engine.close();
  process.disconnect?.();
  process.exit(0);
}

process.on('message', (message: Command) => {
  void (async () => {
    try {
      switch (message.cmd) {
        case 'stats':
          process.send!({ id: message.id, stats: cluster.stats() });
          break;
        case 'report':
          process.send!({ id: message.id, report: await engine.request('report', { reset: message.reset ?? false, since: message.since ?? 0 }, { timeout: 60_000 }) });
          break;
        case 'close':
          await close();
          break;
      }
    } catch (error) {
      process.send!({ id: message.id, error: (error as Error).message });
    }
  })();
});
// The parent went away (it exited or was killed): leave too.
process.on('disconnect', () => void close());
process.send!({ type: 'ready' });
