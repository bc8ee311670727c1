/**
 * Reader of the cross-thread router test: enter → route topics 0..2 (and a bad topic) → leave, in
 * a loop, until the writer is done; then one last pass, which must see the final version. Every
 * route must be exactly the entered version's table (router-common.ts): lanes of one version only,
 * the exact broadcast set, the right keyed member, a group member that follows the previous one
 * round-robin while the version stays the same. Versions entered never go backwards. Every 16th
 * entry holds the table for many routes, so the writer meets STATUS_BUSY. Any failure raises
 * STATE_ABORT; the loop gives up at the deadline.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { STATUS_INVALID } from '../../assembly/layout/status.ts';
import { attach, type WorkerBase } from './attach.ts';
import {
  CONTROL_READY_OFFSET, CONTROL_SEEN_OFFSET, CONTROL_STATE_OFFSET, CONTROL_STRIDE, READER_THREADS, ROUTER_TOPICS,
  STATE_ABORT, STATE_DONE, checkTopic0, checkTopic1, shapeOf, type RouterReaderReport, type RouterThreadData,
} from './router-common.ts';

const data = workerData as WorkerBase & RouterThreadData & { thread: number };
const { core, arena, i32, u32 } = attach(data);
const { router, control, deadline, thread } = data;
const reader = READER_THREADS.indexOf(thread as (typeof READER_THREADS)[number]);
const stateAt = (control + CONTROL_STATE_OFFSET) >> 2;
const seenAt = (control + CONTROL_SEEN_OFFSET + reader * CONTROL_STRIDE) >> 2;
const out = arena.scratchOf(thread).address;
const outIndex = out >> 2;
/** Routes per entry: usually a few, every 16th entry many (holding the old buffer longer). */
const ROUTES_SHORT = 2;
const ROUTES_LONG = 48;

const errors: string[] = [];
let entries = 0;
let routes = 0;
let versionsSeen = 0;
let lastVersion = 0;
/** The previous group member and the version it came from, for the round-robin check. */
let previousMember = -1;
let previousVersion = 0;

function pass(i: number): string | null {
  const version = core.routerEnter(router, thread);
  if (version < lastVersion) return `version went back from ${lastVersion} to ${version}`;
  if (version !== lastVersion) versionsSeen++;
  lastVersion = version;
  // Tells the writer's handshake that this reader has reached `version`.
  Atomics.store(i32, seenAt, version);
  const repeats = (i & 15) === 0 ? ROUTES_LONG : ROUTES_SHORT;
  for (let k = 0; k < repeats; k++) {
    const keyHash = core.hashU32(i * ROUTES_LONG + k);
    const n = core.routerRoute(router, thread, 0, keyHash, out);
    routes++;
    const member = checkTopic0(version, u32, outIndex, n, keyHash);
    if (typeof member === 'string') return member;
    if (member >= 0) {
      const members = shapeOf(version).members;
      if (previousVersion === version && member !== (previousMember + 1) % members) {
        return `version ${version}: group member ${member} after ${previousMember} (of ${members})`;
      }
      previousMember = member;
      previousVersion = version;
    }
  }
  const problem = checkTopic1(version, u32, outIndex, core.routerRoute(router, thread, 1, 0, out));
  if (problem !== null) return problem;
  for (let topic = 2; topic < ROUTER_TOPICS; topic++) {
    const n = core.routerRoute(router, thread, topic, 0, out);
    if (n !== 0) return `version ${version}: topic ${topic} gave ${n}`;
  }
  if (core.routerRoute(router, thread, ROUTER_TOPICS, 0, out) !== -STATUS_INVALID) return 'a bad topic was not -STATUS_INVALID';
  routes += ROUTER_TOPICS;
  core.routerLeave(router, thread);
  entries++;
  return null;
}

Atomics.add(i32, (control + CONTROL_READY_OFFSET) >> 2, 1);
for (let i = 0; ; i++) {
  // Pairs with the writer's final store of CONTROL_STATE: DONE means every version is published.
  const state = Atomics.load(i32, stateAt);
  if (state === STATE_ABORT) break;
  if ((i & 255) === 0 && Date.now() > deadline) {
    errors.push(`reader ${thread}: deadline passed at version ${lastVersion}`);
    break;
  }
  const problem = pass(i);
  if (problem !== null) {
    errors.push(`reader ${thread}: ${problem}`);
    core.routerLeave(router, thread);
    break;
  }
  if (state === STATE_DONE) break; // that was the last pass, on the final version
}
if (errors.length > 0) Atomics.store(i32, stateAt, STATE_ABORT);
const report: RouterReaderReport = { errors, entries, routes, versionsSeen, lastVersion };
parentPort!.postMessage(report);
