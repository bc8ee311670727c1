/**
 * Router reader for the RCU test: enters, routes topic 0 several times, leaves, until the writer
 * is done. Every route result must be exactly table k = version - 1 (see rcu-writer.ts): never a
 * mix of two tables, never a half-built one, and versions never go backwards.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { attach, type WorkerBase } from './attach.ts';

const data = workerData as WorkerBase & { thread: number; deadline: number; doneFlag: number };
const { core, arena, i32, u32 } = attach(data);
const router = arena.router(0).address;
const out = arena.scratchOf(data.thread).address;
let error: string | null = null;
let routes = 0;
let lastVersion = 0;
let versionsSeen = 0;
while (!error) {
  const finished = Atomics.load(i32, data.doneFlag >> 2) === 1;
  const version = core.routerEnter(router, data.thread);
  if (version < lastVersion) error = `version went back from ${lastVersion} to ${version}`;
  if (version !== lastVersion) versionsSeen++;
  lastVersion = version;
  const k = version - 1;
  // Hold the table across several routes, as a batch would.
  for (let repeat = 0; repeat < 4 && !error; repeat++) {
    const n = core.routerRoute(router, data.thread, 0, 0, out);
    routes++;
    const expected = k === 0 ? 0 : (k % 3) + 1;
    if (n !== expected) { error = `version ${version}: ${n} lanes, expected ${expected}`; break; }
    for (let j = 0; j < n; j++) {
      if (u32[(out >> 2) + j] !== k * 4 + j) { error = `version ${version}: lane ${j} is ${u32[(out >> 2) + j]}, expected ${k * 4 + j}`; break; }
    }
  }
  core.routerLeave(router, data.thread);
  if (finished) break;
  if ((routes & 1023) === 0 && Date.now() > data.deadline) error = 'deadline passed before the writer finished';
}
parentPort!.postMessage({ error, routes, versionsSeen, lastVersion });
