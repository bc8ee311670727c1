/**
 * Writer of the cross-thread router test: holds the writer lock and, for each version v = 2 …
 * versions + 1, replaces the whole subscription list with version v's (router-common.ts) and
 * retries routerTryPublish until it succeeds (BUSY while a reader still holds version v - 2's
 * buffer). Every HANDSHAKE_EVERY versions it waits until every reader has entered the newest
 * version, so readers and writer provably overlap. Every wait gives up at the deadline; any
 * failure raises STATE_ABORT so the readers stop too.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ROUTER_FIRST_VERSION } from '../../assembly/layout/router.ts';
import { STATUS_BUSY, STATUS_OK } from '../../assembly/layout/status.ts';
import { attach, type WorkerBase } from './attach.ts';
import {
  CONTROL_READY_OFFSET, CONTROL_SEEN_OFFSET, CONTROL_STATE_OFFSET, CONTROL_STRIDE, HANDSHAKE_EVERY, READER_THREADS,
  ROUTER_SUBSCRIPTIONS, STATE_ABORT, STATE_DONE, STATE_RUNNING, WRITER_THREAD, subscriptionsOf, type RouterThreadData,
  type RouterWriterReport,
} from './router-common.ts';

const data = workerData as WorkerBase & RouterThreadData;
const { core, i32 } = attach(data);
const { router, control, deadline, versions } = data;
const stateAt = (control + CONTROL_STATE_OFFSET) >> 2;
/** Spins before a short sleep while waiting: the VM has 2 cores for 3 busy threads. */
const SPINS_BEFORE_SLEEP = 1024;
const SLEEP_MS = 0.05;

const errors: string[] = [];
let busy = 0;
let published = 0;

/** Waits (bounded) until `ready()`; false on deadline or abort. */
function waitUntil(ready: () => boolean, what: string): boolean {
  for (let spins = 0; !ready(); spins++) {
    if (Atomics.load(i32, stateAt) === STATE_ABORT) return false;
    if (Date.now() > deadline) {
      errors.push(`writer: gave up waiting for ${what}`);
      return false;
    }
    if (spins % SPINS_BEFORE_SLEEP === SPINS_BEFORE_SLEEP - 1) Atomics.wait(i32, stateAt, Atomics.load(i32, stateAt), SLEEP_MS);
  }
  return true;
}

function run(): void {
  if (!waitUntil(() => Atomics.load(i32, (control + CONTROL_READY_OFFSET) >> 2) === READER_THREADS.length, 'the readers to start')) return;
  if (core.routerTryLock(router, WRITER_THREAD) !== STATUS_OK) {
    errors.push('writer: lock not free');
    return;
  }
  const ids: number[] = [];
  for (let k = 1; k <= versions; k++) {
    const version = ROUTER_FIRST_VERSION + k;
    for (const id of ids) {
      if (core.routerRemoveSubscription(router, id) !== STATUS_OK) errors.push(`writer: remove ${id} failed at version ${version}`);
    }
    ids.length = 0;
    for (const [topic, lane, mode, group] of subscriptionsOf(version)) {
      const id = core.routerAddSubscription(router, topic, lane, mode, group);
      if (id < 0 || id >= ROUTER_SUBSCRIPTIONS) errors.push(`writer: add returned ${id} at version ${version}`);
      ids.push(id);
    }
    if (errors.length > 0) return;
    let status = core.routerTryPublish(router);
    if (status === STATUS_BUSY) {
      // Readers move on by themselves; a refused publish changed nothing, so just try again.
      const ok = waitUntil(() => {
        busy++;
        status = core.routerTryPublish(router);
        return status !== STATUS_BUSY;
      }, `publish of version ${version} (BUSY)`);
      if (!ok) return;
    }
    if (status !== STATUS_OK) {
      errors.push(`writer: publish of version ${version} returned ${status}`);
      return;
    }
    published++;
    if (core.routerVersion(router) !== version) {
      errors.push(`writer: VERSION ${core.routerVersion(router)} after publishing ${version}`);
      return;
    }
    if (k % HANDSHAKE_EVERY === 0) {
      const caughtUp = (): boolean => READER_THREADS.every((_, r) => Atomics.load(i32, (control + CONTROL_SEEN_OFFSET + r * CONTROL_STRIDE) >> 2) >= version);
      if (!waitUntil(caughtUp, `the readers to enter version ${version}`)) return;
    }
  }
  if (core.routerUnlock(router, WRITER_THREAD) !== STATUS_OK) errors.push('writer: unlock failed');
}

run();
// Pairs with the readers' Atomics.load of CONTROL_STATE: after DONE they make one last pass. A CAS,
// so a reader's ABORT is never overwritten.
Atomics.compareExchange(i32, stateAt, STATE_RUNNING, errors.length === 0 && published === versions ? STATE_DONE : STATE_ABORT);
Atomics.notify(i32, stateAt);
const report: RouterWriterReport = { errors, published, busy, finalVersion: core.routerVersion(router) };
parentPort!.postMessage(report);
