/** The Node platform: worker_threads, file paths, setImmediate. */
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { durablePositions } from '../journal/positions.ts';
import { waitAsyncOrPoll, type Platform, type WorkerEvents, type WorkerHandle, type WorkerStartData } from './platform.ts';

const WORKER_ENTRY = new URL('./worker-node.js', import.meta.url);

export const nodePlatform: Platform = {
  name: 'node',
  exitIsFinal: true,
  defaultWorkers: () => availableParallelism(),
  cores: () => availableParallelism(),
  checkSupport() {},
  resolveModule(spec) {
    if (spec instanceof URL) return spec.href;
    return /^[a-z][a-z0-9+.-]*:/i.test(spec) && !/^[a-z]:[\\/]/i.test(spec) ? new URL(spec).href : pathToFileURL(spec).href;
  },
  startWorker(data: WorkerStartData, events: WorkerEvents): WorkerHandle {
    const worker = new Worker(WORKER_ENTRY, { workerData: data, name: `wasm-dispatch worker ${data.thread - 1}` });
    worker.on('message', events.message);
    worker.on('error', events.error);
    worker.on('exit', events.exit);
    return {
      terminate: async () => { await worker.terminate(); },
      setKeepAlive: (keep) => { if (keep) worker.ref(); else worker.unref(); },
    };
  },
  waitAsync: (i32, index, value, timeoutMs) => waitAsyncOrPoll(i32, index, value, timeoutMs, nodePlatform.yield),
  yield: () => new Promise<void>((resolve) => setImmediate(resolve)),
  durablePositions,
};
