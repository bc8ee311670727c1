/** Entry point of an engine worker under Node: reads workerData, runs the platform-neutral loop. */
import { parentPort, workerData } from 'node:worker_threads';
import { nodePlatform } from './platform-node.ts';
import { startJournalThread } from '../journal/journal-thread.ts';
import { runWorker } from './worker.ts';
import type { WorkerMessage, WorkerStartData } from './platform.ts';

const port = parentPort!;
void runWorker(workerData as WorkerStartData, (message: WorkerMessage) => port.postMessage(message), nodePlatform.yield, undefined, startJournalThread);
