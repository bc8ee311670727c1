/**
 * Router writer for the RCU test: publishes `versions` tables. Table k (VERSION k + 1) routes
 * topic 0 to exactly the broadcast lanes k·4 + j for j = 0 … k % 3, so a reader can tell from any
 * route result which table it read, and whether that table was whole.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { MODE_BROADCAST } from '../../assembly/layout/router.ts';
import { STATUS_BUSY, STATUS_OK } from '../../assembly/layout/status.ts';
import { attach, type WorkerBase } from './attach.ts';

const data = workerData as WorkerBase & { versions: number; deadline: number; doneFlag: number };
const { core, arena, i32 } = attach(data);
const router = arena.router(0).address;
const THREAD = 0;
let busy = 0;
let error: string | null = null;
if (core.routerTryLock(router, THREAD) !== STATUS_OK) error = 'lock not free';
const ids: number[] = [];
for (let k = 1; k <= data.versions && !error; k++) {
  for (const id of ids.splice(0)) core.routerRemoveSubscription(router, id);
  for (let j = 0; j <= k % 3; j++) ids.push(core.routerAddSubscription(router, 0, k * 4 + j, MODE_BROADCAST, 0));
  for (;;) {
    const status = core.routerTryPublish(router);
    if (status === STATUS_OK) break;
    if (status !== STATUS_BUSY) { error = `publish returned ${status}`; break; }
    busy++;
    if (Date.now() > data.deadline) { error = `publish ${k} still BUSY at the deadline`; break; }
  }
  if (!error && core.routerVersion(router) !== k + 1) error = `version ${core.routerVersion(router)} after publish ${k}`;
}
core.routerUnlock(router, THREAD);
Atomics.store(i32, data.doneFlag >> 2, 1);
parentPort!.postMessage({ error, busy });
