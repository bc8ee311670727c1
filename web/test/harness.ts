/**
 * The browser tests' page script (test/browser.test.ts drives it with page.evaluate): runs the
 * engine in Web Workers with the Node suites' topics and handler module (test/engine/), so the
 * same per-worker checksums and order checks judge both platforms.
 *
 * window.harness.delivery(...)   publish ticks to a group and a keyed subscription, then compare
 *                                what every worker counted with what was sent
 * window.harness.requests(...)   concurrent request/response, every reply checked
 * window.harness.crash(...)      a worker dies of an uncaught error, restart: false: detected,
 *                                reported, stays down, its messages refused
 * window.harness.respawn(...)    a worker dies of an uncaught error while keyed traffic flows: it
 *                                is restarted in place and nothing accepted is lost
 * window.harness.restart(...)    a worker dies of an uncaught error with a request queued behind
 *                                the crash: the successor answers it
 * window.harness.crashes(...)    a worker dies again and again while keyed and group ticks flow:
 *                                drain completes and every topic's accounting identity holds
 * window.harness.isolation()     createEngine on this page: the error it raises, if any
 */
import { createEngine, EngineError, DispatchError, type Engine, type EngineOptions } from '../../src/browser.ts';
import handlerModule from '../../test/engine/handlers.ts';
import { topics, type Topics } from '../../test/engine/topics.ts';

export interface HarnessOptions {
  readonly backend: 'wasm' | 'js';
  readonly workers: number;
  /** Start workers with the app's own script (handlers bundled in) instead of the package's. */
  readonly ownWorker?: boolean;
  /** Remove Atomics.waitAsync first, so the main thread uses the event-loop fallback. */
  readonly noWaitAsync?: boolean;
  readonly coreBuild?: 'release' | 'debug';
  /** EngineOptions.restart (default: on). */
  readonly restart?: false;
  readonly ringCapacity?: number;
}

interface Report { worker: number; count: number; sum: number; sumSquares: number; orderErrors: number }

/**
 * The page's thread must never block: count every Atomics.wait it attempts (Chromium would also
 * throw on the main thread) and how often it waited asynchronously instead.
 */
const blocking = { waits: 0, asyncWaits: 0 };
const atomics = Atomics as unknown as Record<string, (...args: unknown[]) => unknown>;
const originalWait = atomics.wait!;
atomics.wait = (...args: unknown[]) => {
  blocking.waits++;
  return originalWait.apply(Atomics, args);
};
const originalWaitAsync = atomics.waitAsync;
if (originalWaitAsync !== undefined) {
  atomics.waitAsync = (...args: unknown[]) => {
    blocking.asyncWaits++;
    return originalWaitAsync.apply(Atomics, args);
  };
}

async function start(options: HarnessOptions): Promise<Engine<Topics> & { errors: string[] }> {
  if (options.noWaitAsync) delete (Atomics as { waitAsync?: unknown }).waitAsync;
  const errors: string[] = [];
  const engineOptions: EngineOptions<Topics> = options.ownWorker
    ? { topics, handlers: handlerModule, worker: () => new Worker(new URL('./engine-worker.js', import.meta.url), { type: 'module' }) }
    : { topics, handlers: new URL('../../test/engine/handlers.js', import.meta.url) };
  const engine = await createEngine<Topics>({
    ...engineOptions, backend: options.backend, workers: options.workers, coreBuild: options.coreBuild ?? 'release', restart: options.restart,
    ...(options.ringCapacity !== undefined ? { ringCapacity: options.ringCapacity } : {}),
    onError: (error) => errors.push(`${error.name}: ${error.message}`),
  });
  await engine.subscribe('report', { handler: 'report', mode: 'broadcast' });
  return Object.assign(engine, { errors });
}

async function reports(engine: Engine<Topics>, handler: string): Promise<Report[]> {
  const replies = (await engine.requestAll('report', { handler, reset: true }, { timeout: 20_000 })) as Report[];
  return replies.sort((a, b) => a.worker - b.worker);
}

/**
 * Publishes `messages` ticks on `keys` keys (per-key consecutive sequences) in batches, honouring
 * back-pressure, to a least-loaded group and a keyed subscription; returns what was sent and
 * what each worker counted for each.
 */
async function delivery(options: HarnessOptions & { messages: number; keys: number; batch: number }) {
  const before = { ...blocking };
  const engine = await start(options);
  try {
    const group = await engine.subscribe('tick', { handler: 'tickGroup', mode: 'group', balance: 'least-loaded' });
    const keyed = await engine.subscribe('tick', { handler: 'tickStrict', mode: 'keyed' });
    const seq = new Array<number>(options.keys).fill(0);
    let sum = 0;
    let sumSquares = 0;
    let accepted = 0;
    const batch: { producer: number; seq: number; value: number; key: number }[] = [];
    const began = performance.now();
    for (let i = 0; i < options.messages; i++) {
      const key = i % options.keys;
      const value = (i * 2654435761) >>> 16;
      batch.push({ producer: 0, seq: seq[key]!++, value, key });
      sum += value;
      sumSquares += value * value;
      if (batch.length === options.batch || i === options.messages - 1) {
        accepted += engine.publishBatch('tick', batch);
        batch.length = 0;
        await engine.whenWritable();
      }
    }
    await engine.drain({ timeout: 30_000 });
    const elapsedMs = performance.now() - began;
    const result = {
      sent: { count: options.messages, accepted, sum, sumSquares },
      group: await reports(engine, 'tickGroup'),
      keyed: await reports(engine, 'tickStrict'),
      stats: engine.stats().topics.tick,
      elapsedMs,
      waitAsync: typeof (Atomics as { waitAsync?: unknown }).waitAsync === 'function',
      mainThread: { waits: blocking.waits - before.waits, asyncWaits: blocking.asyncWaits - before.asyncWaits },
      errors: engine.errors,
    };
    await group.unsubscribe();
    await keyed.unsubscribe();
    return result;
  } finally {
    await engine.close();
  }
}

/** `count` concurrent requests of add(a, b), each reply checked; which workers answered. */
async function requests(options: HarnessOptions & { count: number }) {
  const engine = await start(options);
  try {
    await engine.subscribe('add', { handler: 'add', mode: 'group' });
    const pending: Promise<{ sum: number; worker: number }>[] = [];
    for (let i = 0; i < options.count; i++) pending.push(engine.request('add', { a: i, b: i / 4, delayMs: 0 }, { timeout: 20_000 }) as Promise<{ sum: number; worker: number }>);
    const replies = await Promise.all(pending);
    let wrong = 0;
    const workers = new Set<number>();
    replies.forEach((reply, i) => {
      if (reply.sum !== i + i / 4) wrong++;
      workers.add(reply.worker);
    });
    // A handler that throws rejects its request with a typed error, and the worker lives on.
    const failed = await engine.request('add', { a: -1, b: 0, delayMs: 0 }, { timeout: 20_000 }).then(
      () => undefined, (error: DispatchError) => ({ name: error.name, code: error.code }));
    const after = (await engine.request('add', { a: 2, b: 3, delayMs: 0 }, { timeout: 20_000 })) as { sum: number };
    return { count: replies.length, wrong, workers: [...workers].sort(), failed, after: after.sum, errors: engine.errors };
  } finally {
    await engine.close();
  }
}

/**
 * Worker 1 dies (an uncaught error: a Web Worker has no exit) in an engine that does not restart
 * workers; the engine must report ERR_WORKER_CRASHED once, mark it crashed, refuse its messages,
 * and keep worker 0 serving.
 */
async function crash(options: HarnessOptions) {
  const engine = await start({ ...options, workers: 2, restart: false });
  try {
    await engine.subscribe('crash', { handler: 'crash', mode: 'group', workers: [1] });
    await engine.subscribe('add', { handler: 'add', mode: 'group', workers: [0] });
    engine.publish('crash', { code: 9 });
    engine.flush();
    const deadline = performance.now() + 10_000;
    while (engine.stats().workers[1]!.state !== 'crashed' && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const states = engine.stats().workers.map((w) => w.state);
    const reply = (await engine.request('add', { a: 2, b: 2, delayMs: 0 }, { timeout: 10_000 })) as { sum: number; worker: number };
    await engine.subscribe('load', { handler: 'load', mode: 'group', workers: [1] });
    const refused = engine.publish('load', { seq: 1, micros: 0 }) === false;
    await engine.drain({ timeout: 10_000 });
    return { states, reply, refused, rejected: engine.stats().topics.load.rejected, errors: engine.errors };
  } finally {
    await engine.close({ timeout: 10_000 });
  }
}

/**
 * Worker 1 dies of an uncaught error (thrown from a timer after the handler returned, when the
 * worker next yields) while keyed ticks flow to both workers through a small ring: the engine must
 * restart it in place (same worker number, so keyed ownership stays), hand its successor what its
 * lanes and the main thread's backlog held, and lose nothing: routed = delivered per topic.
 */
async function respawn(options: HarnessOptions & { messages: number }) {
  const engine = await start({ ...options, workers: 2, ringCapacity: 64 });
  try {
    await engine.subscribe('crash', { handler: 'crash', mode: 'group', workers: [1] });
    await engine.subscribe('add', { handler: 'add', mode: 'group', workers: [1] });
    await engine.subscribe('tick', { handler: 'tickStrict', mode: 'keyed' });
    engine.publish('crash', { code: 9 });
    engine.flush();
    const keys = 16;
    const seq = new Array<number>(keys).fill(0);
    const deadline = performance.now() + 15_000;
    let sent = 0;
    // Keep ticks flowing until the successor runs, then as many again.
    let target = options.messages;
    while (sent < target && performance.now() < deadline) {
      const key = sent % keys;
      if (!engine.publish('tick', { producer: 0, seq: seq[key]!++, value: sent, key })) await engine.whenWritable();
      sent++;
      if (sent % 256 === 0) await new Promise((r) => setTimeout(r, 0));
      const w1 = engine.stats().workers[1]!;
      if (sent === target && (w1.restarts === 0 || w1.state !== 'running')) target += options.messages;
    }
    const reply = (await engine.request('add', { a: 2, b: 3, delayMs: 0 }, { timeout: 10_000 })) as { sum: number; worker: number };
    await engine.drain({ timeout: 10_000 });
    const stats = engine.stats();
    const tick = stats.topics.tick!;
    return {
      sent, states: stats.workers.map((w) => w.state), restarts: stats.workers.map((w) => w.restarts), reply,
      tick: { routed: tick.routed, delivered: tick.delivered, lost: tick.lost, rejected: tick.rejected }, backlog: stats.backlog, errors: engine.errors,
    };
  } finally {
    await engine.close({ timeout: 10_000 });
  }
}

/**
 * Worker 1 dies of an uncaught error (the browser's crash: a Web Worker has no exit) with a request
 * queued behind the crash and, by default supervision, is restarted in place: reported once, back
 * to running with one restart; that request and one sent afterwards are both answered by worker 1.
 */
async function restart(options: HarnessOptions) {
  const engine = await start({ ...options, workers: 2 });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const settle = (p: Promise<unknown>) => p.then((reply) => reply, (error: DispatchError) => `${error.name} ${error.code}: ${error.message}`);
  try {
    await engine.subscribe('crash', { handler: 'crash', mode: 'group', workers: [1] });
    await engine.subscribe('add', { handler: 'add', mode: 'group', workers: [1] });
    engine.publish('crash', { code: 9 });
    const queued = settle(engine.request('add', { a: 40, b: 2, delayMs: 0 }, { timeout: 10_000 }));
    engine.flush();
    const deadline = performance.now() + 10_000;
    while (engine.errors.length === 0 && performance.now() < deadline) await sleep(5);
    while (engine.stats().workers[1]!.state !== 'running' && performance.now() < deadline) await sleep(5);
    const first = await queued;
    const after = await settle(engine.request('add', { a: 2, b: 2, delayMs: 0 }, { timeout: 10_000 }));
    await engine.drain({ timeout: 10_000 });
    const stats = engine.stats();
    const identity = Object.values(stats.topics).every((t) => t.routed === t.delivered + t.deadLettered + t.droppedOldest + t.droppedNewest + t.rejected + t.lost);
    return {
      states: stats.workers.map((w) => w.state), restarts: stats.workers.map((w) => w.restarts), first, after,
      lost: stats.lostToCrashes, identity, errors: engine.errors,
    };
  } finally {
    await engine.close({ timeout: 10_000 });
  }
}

/**
 * Worker 1 dies of an uncaught error `crashes` times in a row while ticks keep flowing to a keyed
 * and a group subscription through 32-record lanes. A Web Worker keeps running after an uncaught
 * error until terminate() takes effect, so the engine must not treat its lanes as abandoned (and
 * start a successor on them) before the thread has stopped. Returns the drain outcome, crash
 * messages handled without a crash being seen (`missed`), and the counters.
 */
async function crashes(options: HarnessOptions & { crashes: number; traffic?: boolean }) {
  const engine = await start({ ...options, workers: 2, ringCapacity: 32 });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    await engine.subscribe('crash', { handler: 'crash', mode: 'group', workers: [1] });
    await engine.subscribe('tick', { handler: 'tickStrict', mode: 'keyed' });
    await engine.subscribe('tick', { handler: 'tickGroup', mode: 'group' });
    const seq = new Array<number>(16).fill(0);
    let sent = 0;
    let drained = 'drained';
    const flow = async (until: () => boolean, ms: number): Promise<boolean> => {
      const deadline = performance.now() + ms;
      while (performance.now() < deadline) {
        if (until()) return true;
        if (options.traffic === false) { await sleep(5); continue; }
        const key = sent % 16;
        if (!engine.publish('tick', { producer: 0, seq: seq[key]!++, value: sent, key })) await engine.whenWritable();
        sent++;
        if (sent % 64 === 0) await sleep(0);
      }
      return until();
    };
    let missed = 0;
    for (let c = 0; c < options.crashes; c++) {
      const before = engine.errors.length;
      engine.publish('crash', { code: c });
      engine.flush();
      // The crash handler's timer runs when worker 1 next yields to its event loop: under load, or
      // after a second idle at the latest. Ticks flow meanwhile, so it may die under load.
      const crashed = () => engine.errors.length > before;
      if (!(await flow(crashed, 2000))) {
        const deadline = performance.now() + 2500;
        while (!crashed() && performance.now() < deadline) await sleep(5);
      }
      if (!crashed()) {
        missed++; // handled, yet no crash was seen
        continue;
      }
      // Ticks flow while it restarts, until its successor has run a while.
      await flow(() => engine.stats().workers[1]!.state === 'running' && engine.stats().workers[1]!.restarts > c - missed, 5000);
      await flow(() => false, 200);
    }
    try {
      await engine.drain({ timeout: 10_000 });
    } catch (error) {
      drained = `${(error as Error).name}: ${(error as Error).message}`;
    }
    const stats = engine.stats();
    const tick = stats.topics.tick!;
    return {
      sent, drained, missed, crashMessages: stats.topics.crash!.delivered, restarts: stats.workers.map((w) => w.restarts), states: stats.workers.map((w) => w.state),
      tick: { routed: tick.routed, delivered: tick.delivered, lost: tick.lost, rejected: tick.rejected, redelivered: tick.redelivered },
      backlog: stats.backlog, errors: engine.errors,
    };
  } finally {
    await engine.close({ timeout: 10_000 });
  }
}

/** What createEngine does on this page: null if it works, else the error's typed fields. */
async function isolation() {
  try {
    const engine = await createEngine<Topics>({ topics, handlers: new URL('../../test/engine/handlers.js', import.meta.url), workers: 1 });
    await engine.close();
    return { crossOriginIsolated: globalThis.crossOriginIsolated, error: null };
  } catch (error) {
    const e = error as EngineError;
    return {
      crossOriginIsolated: globalThis.crossOriginIsolated,
      error: { name: e.name, code: e.code, field: e.field, message: e.message, isEngineError: e instanceof EngineError },
    };
  }
}

const harness = { delivery, requests, crash, respawn, restart, crashes, isolation };
(globalThis as { harness?: typeof harness }).harness = harness;
document.getElementById('log')!.textContent = `ready; crossOriginIsolated=${globalThis.crossOriginIsolated}`;
document.body.dataset.ready = 'true';
