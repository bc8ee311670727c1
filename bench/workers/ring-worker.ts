/**
 * The part of the producer and consumer workers that is not the hot loop: attach to the arena,
 * then serve runs. Between runs the worker sleeps on the control block's GEN word, so an idle
 * pair costs no CPU while the other backend's pair is being measured.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { CoreOps } from '../../bindings/core-ops.ts';
import { createJsCore } from '../../bindings/js/index.ts';
import { instantiateCore } from '../../bindings/wasm.ts';
import { attachArena } from '../../src/arena.ts';
import {
  CTRL_ABORT, CTRL_GEN, CTRL_MESSAGES, CTRL_QUIT, CTRL_SEEN, CTRL_STAGE, CTRL_TIMEOUT_MS, STAGE_IDLE,
  STAGE_REPORTING, STAGE_RUNNING, type RingWorkerData, type RunReport,
} from './ring-common.ts';

export interface RingWorker {
  data: RingWorkerData;
  core: CoreOps;
  /** Absolute address of the benchmark's ring. */
  ring: number;
  i32: Int32Array;
  u32: Uint32Array;
  control: Int32Array;
  /** Address of this thread's scratch block (batch staging). */
  scratch: number;
}

/** Leave after this long without a run: the coordinator died without saying QUIT. */
const IDLE_LIMIT_MS = 10 * 60_000;

export function attachRingWorker(thread: number): RingWorker {
  const data = workerData as RingWorkerData;
  const core = data.backend === 'wasm' ? instantiateCore(data.module, data.memory) : createJsCore(data.memory);
  const arena = attachArena(data.memory);
  return {
    data,
    core,
    ring: arena.ring(0).address,
    i32: new Int32Array(data.memory.buffer),
    u32: new Uint32Array(data.memory.buffer),
    control: new Int32Array(data.control),
    scratch: arena.scratchOf(thread).address,
  };
}

/**
 * Worker `role` (ROLE_*): posts `{ ready: true }`, then for every bump of GEN runs `run(gen, messages, deadline)` and posts
 * its report, until QUIT. `deadline` is a Date.now() value.
 */
export function serveRuns(control: Int32Array, role: number, run: (gen: number, messages: number, deadline: number) => RunReport): void {
  // Read GEN before saying ready: the coordinator bumps it as soon as both workers are ready, and
  // a worker reading it after that would take the new run for the old one and never start it.
  let gen = Atomics.load(control, CTRL_GEN);
  Atomics.store(control, CTRL_STAGE + role, STAGE_IDLE);
  parentPort!.postMessage({ ready: true });
  let idleSince = Date.now();
  for (;;) {
    // Pairs with the coordinator's Atomics.store of GEN, made after MESSAGES/TIMEOUT_MS/QUIT.
    const next = Atomics.load(control, CTRL_GEN);
    if (next === gen) {
      if (Date.now() - idleSince > IDLE_LIMIT_MS) return;
      // Sleeping here is what lets the other pair run undisturbed; the coordinator notifies GEN.
      Atomics.wait(control, CTRL_GEN, gen, 1000);
      continue;
    }
    gen = next;
    if (Atomics.load(control, CTRL_QUIT) !== 0) return;
    Atomics.store(control, CTRL_SEEN + role, gen);
    Atomics.store(control, CTRL_STAGE + role, STAGE_RUNNING);
    const messages = Atomics.load(control, CTRL_MESSAGES);
    const deadline = Date.now() + Atomics.load(control, CTRL_TIMEOUT_MS);
    const report = run(gen, messages, deadline);
    if (report.failure !== null) Atomics.store(control, CTRL_ABORT, 1);
    Atomics.store(control, CTRL_STAGE + role, STAGE_REPORTING);
    parentPort!.postMessage(report);
    Atomics.store(control, CTRL_STAGE + role, STAGE_IDLE);
    idleSince = Date.now();
  }
}
