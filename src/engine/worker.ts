/**
 * The worker loop, platform-neutral: instantiate the core over the shared memory, import the
 * handler module, then drain inbound lanes until told to stop.
 *
 *   pass     drain every inbound lane (up to BATCH records each), pump backlogs
 *   steal    found nothing: take one queued record of a stealing group from another worker's
 *            lane (stealer.ts), if some subscription steals
 *   spin     found nothing: poll again, up to SPIN times (a busy producer refills within µs);
 *            with the default spin, only while the awake engine threads fit the cores
 *   park     SLEEPING = 1, re-check every lane, Atomics.wait on DOORBELL (1 s timeout)
 *   async    while async handlers' deliveries are pending (async-deliveries.ts), the loop yields
 *            to the event loop after every pass, and idles in an asynchronous wait for a settle
 *            or the doorbell instead of spinning or parking
 *
 * Why the doorbell: a worker consumes from one lane per producer thread, but Atomics.wait watches
 * one word. Producers ring this worker's DOORBELL after their HEAD store only when its SLEEPING
 * flag is set (OutboundLanes.flushLane), so a busy engine pays one atomic load per flush and an
 * idle worker sleeps in the kernel: ~0% CPU once its spin budget is spent.
 *
 * The loop is synchronous while there is work, so it yields to the event loop after a park that
 * timed out and every ~50 ms of continuous work: handlers' timers and promises still run.
 */
import { createJsCore } from '../../bindings/js/index.ts';
import { instantiateCore } from '../../bindings/wasm.ts';
import { attachArena } from '../arena.ts';
import { ModuleError } from '../errors.ts';
import { COMMAND_STOP, THREAD_RUNNING, THREAD_STOPPED } from './layout.ts';
import { topicFingerprint } from './options.ts';
import { topicsOf } from './subjects.ts';
import { serializeError, waitAsyncOrPoll, type WorkerMessage, type WorkerStartData } from './platform.ts';
import { ThreadRuntime } from './thread.ts';
import type { HandlerModule } from './types.ts';

const PARK_TIMEOUT_MS = 1000;
const YIELD_EVERY_MS = 50;
/**
 * Empty polls before an idle episode is timed, and busy passes between looks at the clock. Reading
 * the clock allocates in Node 20 (performance.now() and Date.now() return heap numbers: ~1
 * scavenge per 30 000 calls), so the hot loop must not read it per message: gaps shorter than
 * this many polls (tens of µs) count as busy time.
 */
const IDLE_TIMING_POLLS = 1024;
const CLOCK_EVERY_PASSES = 1024;
/** Empty polls between looks at how many engine threads are awake (the adaptive spin). */
const CROWD_CHECK_POLLS = 64;
/** Looks (CROWD_CHECK_POLLS apart, a few ms in all) thread 0 counts as publishing after it was seen to. */
const PUBLISHING_LOOKS = 64;

function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * What the journal thread runs besides the loop (Node: src/journal/journal-thread.ts): it sets
 * the handlers of the journal's subscriptions on `runtime` and returns what closes its files when
 * the thread stops.
 */
export type JournalRole = (runtime: ThreadRuntime, data: WorkerStartData, report: (message: string) => void) => {
  /** Work besides the lanes (durable forwarding), every pass: how much it did (0: idle). */
  pump(): number;
  /** How long the thread may park (ms), given the longest it would. */
  parkMs(longest: number): number;
  close(): void;
};

/**
 * Runs one engine worker until the engine stops it. `bundled` is the handler module when the
 * worker's own script imported it (data.handlers is '' then); otherwise it is imported by URL.
 * `journal` is given where the platform can write a journal (Node); the journal's thread runs it
 * instead of the handler module's setup().
 */
export async function runWorker(data: WorkerStartData, post: (message: WorkerMessage) => void, yieldFn: () => Promise<void>, bundled?: HandlerModule, journal?: JournalRole): Promise<void> {
  let runtime: ThreadRuntime;
  let role: ReturnType<JournalRole> | undefined;
  try {
    const core = data.backend === 'wasm' ? instantiateCore(data.module!, data.memory) : createJsCore(data.memory);
    const arena = attachArena(data.memory);
    let module: HandlerModule;
    if (data.handlers !== '') module = await importHandlers(data.handlers);
    else if (bundled !== undefined) module = checkHandlerModule(bundled, 'serveEngineWorker(handlers)');
    else throw new ModuleError('handlers', '', "this worker's script must call serveEngineWorker(handlers) with the handler module (options.handlers was an object)");
    const fingerprint = topicFingerprint(module.topics, data.shape.topicNames);
    if (fingerprint !== data.fingerprint) {
      throw new ModuleError('handlers', data.handlers, "the handler module's topics differ from the engine's (same names, schemas, reply schemas and keys are required)");
    }
    runtime = new ThreadRuntime(data.thread, core, arena, data.shape, module.topics, module, true, {
      onHandlerError(topic, error, first) {
        if (!first) return;
        // Counted before it is posted: drain() waits until thread 0 has received every report.
        const { i32, reports } = runtime.control;
        Atomics.store(i32, reports, Atomics.load(i32, reports) + 1);
        post({ kind: 'handler-error', topic, error: serializeError(error) });
      },
    });
    if (data.shape.journal?.thread === data.thread) {
      if (journal === undefined) throw new ModuleError('journal', data.shape.journal.dir, 'a journal is written under Node only');
      role = journal(runtime, data, (message) => post({ kind: 'journal', message }));
    } else module.setup?.(runtime.context);
    runtime.producer.flushAll();
  } catch (error) {
    post({ kind: 'start-failed', error: serializeError(error) });
    return;
  }
  const { producer, inbound, backpressure, control, stealer } = runtime;
  const { i32, f64, command, sleeping, doorbell, idleMs, idleSinceMs: idleSince, lease, busy } = control;
  const generation = data.generation;
  // This thread's times start now (a successor's too: busy = since START_MS − IDLE_MS).
  f64[control.startMs] = nowMs();
  f64[idleMs] = 0;
  f64[idleSince] = 0;
  Atomics.store(i32, control.state, THREAD_RUNNING);
  post({ kind: 'ready' });

  const { spin, adaptiveSpin, cores } = data.shape;
  const controls = runtime.controls;
  /**
   * Whether the engine threads that are awake, this one included, outnumber the cores: then
   * spinning takes the core a publisher needs, and an idle worker parks at once. Read when an
   * idle episode starts and every CROWD_CHECK_POLLS polls after; T atomic loads, off the path
   * that handles messages.
   */
  let seenAccepted0 = 0;
  let publishingLooks = 0;
  const crowded = (): boolean => {
    // Thread 0 runs the application, which BUSY cannot see (it waits for space, computes what to
    // publish): it counts as publishing while it is in a task that publishes, and for
    // PUBLISHING_LOOKS looks after one that saw its ACCEPTED move (its flushes come in bursts with
    // gaps of tens of µs). Then every worker it feeds is about to be awake too (a parked one is
    // rung at the next flush), so all the engine's threads count: measured, spinning even 100
    // polls then cost a publisher on 2 cores 30 % against parking at once (bench/scheduling.ts).
    const accepted0 = controls[0]!.accepted();
    if (Atomics.load(controls[0]!.i32, controls[0]!.busy) !== 0 || accepted0 !== seenAccepted0) publishingLooks = PUBLISHING_LOOKS;
    else if (publishingLooks > 0) publishingLooks--;
    seenAccepted0 = accepted0;
    if (publishingLooks > 0) return controls.length > cores;
    // Otherwise the workers feed each other: count the ones awake (BUSY: in a pass or spinning).
    let awake = 1;
    for (let t = 1; t < controls.length; t++) if (t !== data.thread && Atomics.load(controls[t]!.i32, controls[t]!.busy) !== 0) awake++;
    return awake > cores;
  };
  /** The doorbell wait of the async idle path (Inbound.awaitSettleOrRecord keeps at most one outstanding: settles come far more often than rings). */
  const waitDoorbell = (words: Int32Array, index: number, value: number): Promise<unknown> => waitAsyncOrPoll(words, index, value, parkTimeout(PARK_TIMEOUT_MS), yieldFn);
  /** How long a park may last: `longest`, or less while a batch handler's run lingers (its deadline). */
  const parkTimeout = (ceiling: number): number => {
    const longest = role === undefined ? ceiling : role.parkMs(ceiling);
    const deadline = inbound.lingerDeadline;
    return deadline === Infinity ? longest : Math.max(0, Math.min(longest, Math.ceil(deadline - performance.now())));
  };
  /** Holds the thread's event loop open while it waits for async deliveries (see the async idle path). */
  let keepAlive: ReturnType<typeof setInterval> | undefined;
  let budget = spin;
  let polls = 0;
  let passes = 0;
  let lastYield = nowMs();
  // BUSY is 1 from a pass's start until this thread parks or yields; LEASE is checked after it is
  // set (both atomic: pairs with thread 0's revoke-then-read), so a thread whose lease was revoked
  // (a browser's terminated worker that still runs) never starts another pass.
  let isBusy = false;
  for (;;) {
    if (!isBusy) {
      Atomics.store(i32, busy, 1);
      isBusy = true;
    }
    if (Atomics.load(i32, lease) !== generation) {
      Atomics.store(i32, busy, 0);
      return; // another thread is this worker now
    }
    // An idle episode ends where work starts, not after the pass that handles it (a look at the
    // lanes, only while an episode is open: the clock is read once per episode).
    if (f64[idleSince] !== 0 && inbound.lingerDeadline === Infinity && inbound.hasInbound()) {
      f64[idleMs] = f64[idleMs]! + (nowMs() - f64[idleSince]!);
      f64[idleSince] = 0;
    }
    const handled = role === undefined ? inbound.drainAll() : inbound.drainAll() + role.pump();
    if (backpressure.backlogSize > 0) backpressure.pumpBacklogs();
    if (handled > 0) {
      if (f64[idleSince] !== 0) {
        f64[idleMs] = f64[idleMs]! + (nowMs() - f64[idleSince]!);
        f64[idleSince] = 0;
      }
      polls = 0;
      if (inbound.pendingDeliveries !== 0) {
        // Async deliveries pending: their I/O and timers run in this thread's event loop, so each
        // pass gives it a turn (the passes of a synchronous load never pay for this).
        Atomics.store(i32, busy, 0);
        isBusy = false;
        await yieldFn();
        continue;
      }
      if (++passes % CLOCK_EVERY_PASSES === 0) {
        const now = nowMs();
        if (now - lastYield > YIELD_EVERY_MS) {
          lastYield = now;
          Atomics.store(i32, busy, 0);
          isBusy = false;
          await yieldFn();
        }
      }
      continue;
    }
    producer.flushAll();
    // Idle: take a queued record of a stealing group from a busy member, if there is one.
    if (stealer.enabled() && stealer.stealOne() > 0) {
      polls = 0;
      continue;
    }
    if (inbound.pendingDeliveries !== 0) {
      // Waiting for async deliveries to settle (or for new records): never in Atomics.wait, which
      // would stop the event loop their promises settle in.
      if (f64[idleSince] === 0) f64[idleSince] = nowMs();
      Atomics.store(i32, busy, 0);
      isBusy = false;
      await inbound.awaitSettleOrRecord(waitDoorbell, () => {
        // Atomics.waitAsync does not keep a Node worker's event loop alive: a handler awaiting only
        // another message (a plain promise) would let the thread exit. A ref'd timer does.
        keepAlive ??= setInterval(() => undefined, PARK_TIMEOUT_MS);
      });
      if (inbound.pendingDeliveries === 0 && keepAlive !== undefined) {
        clearInterval(keepAlive);
        keepAlive = undefined;
      }
      polls = 0;
      continue;
    }
    if (Atomics.load(i32, command) === COMMAND_STOP) {
      if (!inbound.hasInbound() && backpressure.backlogSize === 0) break;
      continue;
    }
    ++polls;
    if (adaptiveSpin && (polls === 1 || polls % CROWD_CHECK_POLLS === 0)) budget = crowded() ? 0 : spin;
    if (polls === IDLE_TIMING_POLLS && f64[idleSince] === 0) f64[idleSince] = nowMs();
    if (polls < budget) continue;
    if (f64[idleSince] === 0) f64[idleSince] = nowMs();

    Atomics.store(i32, busy, 0);
    isBusy = false;
    Atomics.store(i32, sleeping, 1);
    const rung = Atomics.load(i32, doorbell);
    // Re-check after announcing SLEEPING: pairs with the producer's HEAD store then SLEEPING load.
    // A lingering run keeps its lane non-empty: then the re-check is a pass (a new record ends the wait).
    const lingering = inbound.lingerDeadline !== Infinity;
    if ((lingering ? inbound.drainAll() > 0 : inbound.hasInbound()) || Atomics.load(i32, command) === COMMAND_STOP) {
      Atomics.store(i32, sleeping, 0);
      polls = 0;
      continue;
    }
    // With a backlog, wake often to move it on (its lane's consumer does not ring our doorbell);
    // a lingering run, when its linger ends.
    const result = Atomics.wait(i32, doorbell, rung, backpressure.backlogSize > 0 ? 1 : parkTimeout(PARK_TIMEOUT_MS));
    Atomics.store(i32, sleeping, 0);
    polls = 0;
    if (result === 'timed-out') {
      lastYield = nowMs();
      await yieldFn();
    }
  }
  if (f64[idleSince] !== 0) {
    f64[idleMs] = f64[idleMs]! + (nowMs() - f64[idleSince]!);
    f64[idleSince] = 0;
  }
  role?.close();
  Atomics.store(i32, control.state, THREAD_STOPPED);
  post({ kind: 'stopped' });
}

/** Longest linger of a batch handler, ms. */
const MAX_LINGER_MS = 60_000;

/** Imports a handler module by URL at run time (bundlers must leave this import alone). */
export async function importHandlers(href: string): Promise<HandlerModule> {
  let imported: { default?: unknown };
  try {
    imported = (await import(/* webpackIgnore: true */ /* @vite-ignore */ href)) as { default?: unknown };
  } catch (error) {
    throw new ModuleError('handlers', href, `the handler module could not be imported: ${(error as Error)?.message ?? error}`);
  }
  return checkHandlerModule(imported.default, href);
}

/** The default export of a handler module, checked: ModuleError naming what is wrong. */
export function checkHandlerModule(value: unknown, href: string): HandlerModule {
  const module = value as HandlerModule | undefined;
  if (module === null || typeof module !== 'object' || typeof module.handlers !== 'object' || module.handlers === null || typeof module.topics !== 'object') {
    throw new ModuleError('handlers', href, 'the module must `export default defineHandlers(topics, { ... })`');
  }
  const topicNames = Object.keys(module.topics);
  for (const [name, def] of Object.entries(module.handlers)) {
    const d = def as { topic?: unknown; handle?: unknown; handleBatch?: unknown; maxBatch?: unknown; linger?: unknown } | null;
    if (d === null || typeof d !== 'object' || (typeof d.handle === 'function') === (typeof d.handleBatch === 'function') || typeof d.topic !== 'string' || topicsOf(d.topic, topicNames).length === 0) {
      throw new ModuleError(`handlers.${name}`, def, 'must be { topic: <a declared topic, or a pattern matching one>, handle(message, ctx) { ... } } or { topic, handleBatch(batch, ctx) { ... }, maxBatch? }');
    }
    if (d.maxBatch !== undefined && (!Number.isInteger(d.maxBatch) || (d.maxBatch as number) < 1)) throw new ModuleError(`handlers.${name}.maxBatch`, d.maxBatch, 'must be a positive integer');
    if (d.linger !== undefined && (typeof d.handleBatch !== 'function' || typeof d.linger !== 'number' || !(d.linger >= 0) || d.linger > MAX_LINGER_MS)) {
      throw new ModuleError(`handlers.${name}.linger`, d.linger, `must be a number of milliseconds in [0, ${MAX_LINGER_MS}], on a batch handler`);
    }
  }
  return module;
}
