/**
 * Handler module of the supervision suite: handlers that crash, hang or throw on command (see
 * fault-topics.ts) and record every call that completes. A fan that dies midway publishes the first
 * half of its children first (flushed, except with exitNoFlush).
 *
 * A worker's memory dies with it, so counters in handler state cannot judge crash recovery. Every
 * handler call that returns (or throws an ordinary error) instead appends one line to
 * `<log directory>/w<worker>.log` with a synchronous write (durable the moment the call returns, so
 * a later crash, exit or termination cannot lose it); successors of a worker append to the same
 * file, so it lists that worker number's completed calls in the order they ran:
 *
 *   <handler code> <producer> <key> <seq> <deliveries> <value> <threadId>
 *
 * (ask and fan: producer 0, key 0 (fan: its key), seq = id; flaky: value 1 if it threw.) A call
 * that crashes or hangs writes nothing. setup() writes `S <worker> <threadId>`, and fails —
 * writing `X <worker> <threadId>` — when it can claim (delete) a marker file
 * `setup-fail-w<worker>-*` in the directory: one marker, one failing successor.
 *
 * The directory is WD_FAULT_DIR if the worker's environment has it, else the path written in
 * faultDirPointer() (a file named by the process id, which the engine's threads share): under jest,
 * a test's process.env is the sandbox's copy, which worker threads never see. Every successor reads
 * it again when it starts. Nothing here ever hurts the engine's own thread (ctx.worker -1).
 */
import { existsSync, openSync, readFileSync, readdirSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { defineHandlers, type HandlerContext } from '../../src/engine/types.ts';
import { ANY, CHILD_BASE, FAULT, HANDLER, childValue, faultDirPointer, faultTopics, type FaultTopics } from './fault-topics.ts';

type Ctx = HandlerContext<FaultTopics>;

let worker = -2;
let fd = -1;
let handled = 0;
let redelivered = 0;

function log(code: number, producer: number, key: number, seq: number, deliveries: number, value: number): void {
  handled++;
  if (deliveries > 1) redelivered++;
  if (fd >= 0) writeSync(fd, `${code} ${producer} ${key} ${seq} ${deliveries} ${value} ${threadId}\n`);
}

/** Spins (a hung handler); bounded so that an engine that never notices cannot burn a core forever. */
function spin(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) { /* hung */ }
}

/** Whether a fault of handler `code` aimed at (`target`, `victim`) hits this call. */
function hits(fault: number, target: number, victim: number, code: number, ctx: Ctx): boolean {
  if (fault === FAULT.none || ctx.worker < 0) return false;
  if (target !== ANY && target !== code) return false;
  return victim === ANY || victim === ctx.worker;
}

/** Whether this call of a hit message is one that kills the worker in the handler (exit or hang). */
function diesHere(fault: number, ctx: Ctx): boolean {
  switch (fault) {
    case FAULT.exit: case FAULT.exitNoFlush: case FAULT.exitZero: case FAULT.hang: return ctx.deliveries === 1;
    case FAULT.exitAlways: case FAULT.hangAlways: return true;
    default: return false;
  }
}

/** Does what `fault` says (for a call that `hits`). */
function strike(fault: number, ctx: Ctx): void {
  switch (fault) {
    case FAULT.exit:
    case FAULT.exitNoFlush:
      if (ctx.deliveries === 1) process.exit(70);
      break;
    case FAULT.exitZero:
      if (ctx.deliveries === 1) process.exit(0);
      break;
    case FAULT.exitAlways:
      process.exit(71);
      break;
    case FAULT.loopThrow:
      if (ctx.deliveries === 1) setTimeout(() => { throw new Error(`injected loop throw on worker ${ctx.worker}`); }, 0);
      break;
    case FAULT.hang:
      if (ctx.deliveries === 1) spin(60_000);
      break;
    case FAULT.hangAlways:
      spin(60_000);
      break;
    case FAULT.throw:
      throw new Error('injected handler error');
    default:
      break;
  }
}

function job(code: number) {
  return {
    topic: 'job' as const,
    handle(m: { producer: number; seq: number; value: number; key: number; fault: number; target: number; victim: number }, ctx: Ctx) {
      if (hits(m.fault, m.target, m.victim, code, ctx)) strike(m.fault, ctx);
      log(code, m.producer, m.key, m.seq, ctx.deliveries, m.value);
    },
  };
}

export default defineHandlers(faultTopics, {
  jobBroadcast: job(HANDLER.B),
  jobGroup: job(HANDLER.G),
  jobLeast: job(HANDLER.L),
  jobKeyed: job(HANDLER.K),
  ask: {
    topic: 'ask',
    handle(m, ctx) {
      if (hits(m.fault, HANDLER.R, m.victim, HANDLER.R, ctx)) strike(m.fault, ctx);
      log(HANDLER.R, 0, 0, m.id, ctx.deliveries, 0);
      return { id: m.id, twice: m.a * 2, worker: ctx.worker, deliveries: ctx.deliveries };
    },
  },
  fan: {
    topic: 'fan',
    handle(m, ctx) {
      const hit = hits(m.fault, HANDLER.F, m.victim, HANDLER.F, ctx);
      const dies = hit && diesHere(m.fault, ctx);
      const n = dies ? m.count >> 1 : m.count;
      const producer = CHILD_BASE + m.id * 8 + Math.min(ctx.deliveries, 7);
      for (let i = 0; i < n; i++) {
        ctx.publish('job', { producer, seq: i, value: childValue(m.id, i), key: m.key, fault: FAULT.none, target: 0, victim: 0 });
      }
      if (dies && m.fault !== FAULT.exitNoFlush) ctx.flush(); // what it published before dying stays published
      if (hit) strike(m.fault, ctx);
      log(HANDLER.F, 0, m.key, m.id, ctx.deliveries, m.count);
    },
  },
  flaky: {
    topic: 'flaky',
    handle(m, ctx) {
      if (m.busyMs > 0) spin(m.busyMs);
      log(HANDLER.C, 0, 0, m.seq, ctx.deliveries, m.fail ? 1 : 0);
      if (m.fail) throw new Error(`flaky ${m.seq} fails`);
      return { seq: m.seq, worker: ctx.worker };
    },
  },
  whoami: {
    topic: 'whoami',
    handle() {
      return { worker, threadId, handled, redelivered };
    },
  },
}, {
  setup(ctx) {
    worker = ctx.worker;
    if (worker < 0) return;
    const pointer = faultDirPointer();
    const dir = process.env.WD_FAULT_DIR || (existsSync(pointer) ? readFileSync(pointer, 'utf8') : '');
    if (dir === '') return;
    fd = openSync(join(dir, `w${worker}.log`), 'a');
    writeSync(fd, `S ${worker} ${threadId}\n`);
    const prefix = `setup-fail-w${worker}-`;
    for (const name of readdirSync(dir)) {
      if (!name.startsWith(prefix)) continue;
      try {
        unlinkSync(join(dir, name));
      } catch {
        continue; // claimed by another thread
      }
      writeSync(fd, `X ${worker} ${threadId}\n`);
      throw new Error(`injected setup failure on worker ${worker}`);
    }
  },
});
