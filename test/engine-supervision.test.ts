/**
 * Supervision (issue 11), on both backends: workers that exit, throw out of their loop, fail in a
 * successor's setup() or hang are restarted in place and their successors handle, at least once and
 * in order, every message the dead worker held; crash loops hit the restart limit; restart: false
 * leaves a worker down; poison messages become dead letters; circuit breakers open, half-open and
 * close. After every scenario the accounting identity holds exactly for every topic:
 *
 *   routed = delivered + deadLettered + droppedOldest + droppedNewest + rejected + lost
 *
 * The handlers (engine/fault-handlers.ts) log every completed call to a file per worker number,
 * synchronously, so what dead workers did survives them; the judges (engine/supervision.ts) compare
 * those logs with what was sent. WD_STRESS scales the traffic and the number of random crashes;
 * WD_SEED picks the random run's seed.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { BACKENDS, STRESS } from './harness.ts';
import { within } from './engine/harness.ts';
import { ANY, CHILD_BASE, FAULT, HANDLER, faultTopics } from './engine/fault-topics.ts';
import {
  FAULT_HANDLERS, Traffic, childrenOf, closeFaultEngines, errorsOf, failNextSetups, identityProblems, judgeIds, judgeJobs, prng, put,
  readLogs, sleep, startFaultEngine, threadIds, unclaimedSetupFailures, waitFor, type Fan, type FaultEngine,
} from './engine/supervision.ts';
import { ConfigError, EngineError } from '../src/errors.ts';
import { createEngine } from '../src/index.ts';

const JOBS = Math.round(1200 * STRESS);
const RANDOM_CRASHES = Math.max(100, Math.round(100 * STRESS));
const SEED = Number(process.env.WD_SEED ?? 0x5eed11);
/** handlerTimeout of the hang scenarios: far above any honest handler here (µs), so no false alarm. */
const HANG_MS = 300;

type Settled<T> = PromiseSettledResult<T>;

/** What a request rejected with (fails the test if it resolved or took more than 20 s). */
async function rejection(promise: Promise<unknown>, what: string): Promise<EngineError> {
  const error = await within(20_000, what, promise.then(() => new Error(`${what}: resolved, expected a rejection`), (e: unknown) => e));
  expect(error).toBeInstanceOf(EngineError);
  return error as EngineError;
}

/** Subscribes the four job handlers (broadcast, group round-robin, group least-loaded, keyed), ask and fan. */
async function subscribeAll(engine: FaultEngine): Promise<void> {
  await engine.subscribe('job', { handler: 'jobBroadcast', mode: 'broadcast' });
  await engine.subscribe('job', { handler: 'jobGroup', mode: 'group' });
  await engine.subscribe('job', { handler: 'jobLeast', mode: 'group', balance: 'least-loaded' });
  await engine.subscribe('job', { handler: 'jobKeyed', mode: 'keyed' });
  await engine.subscribe('ask', { handler: 'ask', mode: 'group' });
  await engine.subscribe('fan', { handler: 'fan', mode: 'group' });
}

/** Judges the four job handlers; returns their problems keyed by handler (all empty when right). */
function judgeAllJobs(engine: FaultEngine, jobs: Parameters<typeof judgeJobs>[1]) {
  const { calls } = readLogs(engine);
  const verdicts = {
    broadcast: judgeJobs(calls, jobs, HANDLER.B, 'broadcast', [0, 1]),
    group: judgeJobs(calls, jobs, HANDLER.G, 'group', [0, 1]),
    least: judgeJobs(calls, jobs, HANDLER.L, 'group', [0, 1]),
    keyed: judgeJobs(calls, jobs, HANDLER.K, 'keyed', [0, 1]),
  };
  return { calls, verdicts, problems: Object.fromEntries(Object.entries(verdicts).map(([k, v]) => [k, v.problems])) };
}

const noProblems = { broadcast: [], group: [], least: [], keyed: [] };

/** Waits (bounded) until every worker runs: a successor may still be starting when drain() returns (nothing was left for it). */
async function allRunning(engine: FaultEngine): Promise<void> {
  await waitFor(10_000, 'every worker running', () => engine.stats().workers.every((w) => w.state === 'running'));
}

/**
 * Subscribing and unsubscribing still work (a dead thread must not hold the routing table's
 * epoch), and the new subscription receives on every worker.
 */
async function subscriptionsStillChange(engine: FaultEngine): Promise<void> {
  const sub = await within(10_000, 'subscribe after crashes', engine.subscribe('flaky', { handler: 'flaky', mode: 'broadcast' }));
  const replies = await within(10_000, 'requestAll after crashes', engine.requestAll('flaky', { seq: 7, fail: false, busyMs: 0 }));
  expect(replies.map((r) => r.worker).sort()).toEqual([0, 1]);
  await within(10_000, 'unsubscribe after crashes', sub.unsubscribe());
}

describe.each(BACKENDS)('engine supervision (%s)', (backend) => {
  afterEach(closeFaultEngines);

  type Kind = 'exit' | 'loopThrow' | 'setup' | 'hang';
  const kinds: [Kind, string][] = [
    ['exit', 'a handler calls process.exit'],
    ['loopThrow', 'an error thrown from a timer a handler scheduled (out of the loop)'],
    ['setup', "process.exit, then the successor's setup() throws"],
    ['hang', `a handler spins past handlerTimeout (${HANG_MS} ms)`],
  ];

  test.each(kinds)('crash kind %s (%s) under broadcast, group, least-loaded, keyed, request and worker-published traffic: restarted in place, nothing lost, order kept, identity exact', async (kind) => {
    const fault = kind === 'hang' ? FAULT.hang : kind === 'loopThrow' ? FAULT.loopThrow : FAULT.exit;
    /** Whether the worker dies inside the handler (the message it died on is redelivered). */
    const inHandler = kind !== 'loopThrow';
    const code = kind === 'hang' ? 'ERR_HANDLER_TIMEOUT' : 'ERR_WORKER_CRASHED';
    const engine = await startFaultEngine(backend, {
      restart: { minBackoffMs: 5, maxBackoffMs: 50 }, ...(kind === 'hang' ? { handlerTimeout: HANG_MS } : {}),
    });
    await subscribeAll(engine);
    const before = await threadIds(engine);
    if (kind === 'setup') failNextSetups(engine, 1, 1); // worker 1 is sure to crash (fault 2)

    const traffic = new Traffic(0);
    const fans: Fan[] = [];
    const requests: { id: number; a: number; promise: Promise<{ id: number; twice: number; worker: number; deliveries: number }> }[] = [];
    let nextId = 1;
    let faultyAsk = -1;
    const ask = (faultKind: number): number => {
      const id = nextId++;
      const a = id * 1.5;
      requests.push({ id, a, promise: engine.request('ask', { id, a, fault: faultKind, victim: ANY }, { timeout: 30_000 }) });
      return id;
    };
    // Six faults spread over the traffic, one per target; each waits for its crash before the next.
    const faults: { at: number; send: () => Promise<void> }[] = [
      { at: 1, send: () => put(engine, 'job', traffic.next(3, fault, HANDLER.K, ANY)).then(() => undefined) },
      { at: 2, send: () => put(engine, 'job', traffic.next(5, fault, HANDLER.B, 1)).then(() => undefined) },
      { at: 3, send: () => put(engine, 'job', traffic.next(7, fault, HANDLER.G, ANY)).then(() => undefined) },
      { at: 4, send: () => put(engine, 'job', traffic.next(9, fault, HANDLER.L, ANY)).then(() => undefined) },
      { at: 5, send: async () => { faultyAsk = ask(fault); } },
      {
        at: 6,
        send: async () => {
          const fan = { id: nextId++, count: 4, key: 11, diesMidway: inHandler };
          fans.push(fan);
          await put(engine, 'fan', { id: fan.id, count: fan.count, key: fan.key, fault, victim: ANY });
        },
      },
    ].map((f) => ({ ...f, at: Math.floor((f.at * JOBS) / 7) }))
      // A loop throw fires only when its worker next yields (after a 1 s park when idle): three of them
      // (broadcast on worker 1, keyed, a request) cover it at half the cost.
      .filter((_, i) => kind !== 'loopThrow' || i === 0 || i === 1 || i === 4);
    let fired = 0;
    let awaitAt = -1;
    for (let i = 0; i < JOBS; i++) {
      await put(engine, 'job', traffic.next(i % 16));
      if (i % 20 === 0) ask(FAULT.none);
      if (i % 150 === 75) {
        const fan = { id: nextId++, count: 4, key: i % 16, diesMidway: false };
        fans.push(fan);
        await put(engine, 'fan', { id: fan.id, count: fan.count, key: fan.key, fault: FAULT.none, victim: 0 });
      }
      const f = faults.find((x) => x.at === i);
      if (f !== undefined) {
        await f.send();
        fired++;
        awaitAt = i + 40; // more traffic queues behind it first: lanes and backlogs are full when it dies
      }
      if (i === awaitAt) {
        const want = fired;
        await waitFor(15_000, `crash ${want} (${code})`, () => errorsOf(engine, code).length >= want);
      }
    }
    const crashes = faults.length + (kind === 'setup' ? 1 : 0);
    await waitFor(15_000, `${crashes} crashes (${code})`, () => errorsOf(engine, code).length >= crashes);
    const settled: Settled<{ id: number; twice: number; worker: number; deliveries: number }>[] = await within(40_000, 'replies', Promise.allSettled(requests.map((r) => r.promise)));
    await within(30_000, 'drain', engine.drain());

    // Every request answered (none rejected), right, the crashed one by a later delivery.
    const rejected = settled.flatMap((s, i) => (s.status === 'rejected' ? [`ask ${requests[i]!.id}: ${(s.reason as Error).message}`] : []));
    expect(rejected).toEqual([]);
    settled.forEach((s, i) => {
      const reply = (s as PromiseFulfilledResult<{ id: number; twice: number; deliveries: number }>).value;
      expect(reply).toMatchObject({ id: requests[i]!.id, twice: requests[i]!.a * 2 });
      expect(reply.deliveries).toBe(requests[i]!.id === faultyAsk && inHandler ? 2 : 1);
    });

    // Handlers: every accepted job (and every child of a worker's fan) handled, in order, once
    // except redeliveries; the fan that died midway left its first half published.
    const jobs = [...traffic.jobs, ...childrenOf(fans)];
    const judged = judgeAllJobs(engine, jobs);
    expect(judged.problems).toEqual(noProblems);
    expect(judgeIds(judged.calls, HANDLER.R, requests.map((r) => r.id)).problems).toEqual([]);
    expect(judgeIds(judged.calls, HANDLER.F, fans.map((f) => f.id)).problems).toEqual([]);

    // The crashes: each reported once, naming the worker; no other error.
    const crashErrors = engine.errors.filter((e) => e.code === 'ERR_WORKER_CRASHED' || e.code === 'ERR_HANDLER_TIMEOUT');
    expect(engine.errors.filter((e) => !crashErrors.includes(e)).map((e) => e.message)).toEqual([]);
    expect(crashErrors.length).toBe(crashes);
    for (const e of crashErrors) {
      expect(e).toBeInstanceOf(EngineError);
      expect(e.field).toBe('worker');
      expect([0, 1]).toContain(e.value);
    }
    expect(errorsOf(engine, code).length).toBe(crashes);
    if (kind === 'setup') expect(errorsOf(engine, 'ERR_WORKER_CRASHED', 1).length).toBeGreaterThanOrEqual(2);

    // Stats: identity exact, nothing lost, no backlog; the counters agree with the logs.
    await allRunning(engine);
    const stats = engine.stats();
    expect(identityProblems(stats)).toEqual([]);
    expect(stats.backlog).toBe(0);
    expect(stats.lostToCrashes).toBe(0);
    const died = inHandler ? 1 : 0;
    const jobCalls = judged.calls.filter((c) => c.code <= HANDLER.K).length;
    const jobRedelivered = judged.calls.filter((c) => c.code <= HANDLER.K && c.deliveries > 1).length;
    expect(stats.topics.job).toMatchObject({ lost: 0, deadLettered: 0, rejected: 0, delivered: jobCalls, redelivered: jobRedelivered, crashed: 4 * died });
    expect(jobRedelivered).toBe(4 * died);
    expect(stats.topics.ask).toMatchObject({ lost: 0, deadLettered: 0, delivered: requests.length, redelivered: died, crashed: died });
    expect(stats.topics.fan).toMatchObject({ lost: 0, deadLettered: 0, delivered: fans.length, redelivered: died, crashed: died });
    expect(engine.letters).toEqual([]);

    // Workers: back to running, restarts counted per worker; a restarted worker is a new thread.
    expect(stats.workers.map((w) => w.state)).toEqual(['running', 'running']);
    for (const w of [0, 1]) {
      const mine = crashErrors.filter((e) => e.value === w).length;
      expect({ worker: w, restarts: stats.workers[w]!.restarts }).toEqual({ worker: w, restarts: mine });
    }
    expect(stats.workers[1]!.restarts).toBeGreaterThanOrEqual(1);
    // While a successor is on its way the worker is 'restarting' (never 'crashed' or 'starting').
    expect([...engine.statesSeen[1]!].sort()).toEqual(['restarting', 'running']);
    for (const state of engine.statesSeen[0]!) expect(['restarting', 'running']).toContain(state);
    const after = await threadIds(engine);
    for (const w of [0, 1]) {
      if (stats.workers[w]!.restarts > 0) expect(after.get(w)).not.toBe(before.get(w));
      else expect(after.get(w)).toBe(before.get(w));
    }
    const { setups } = readLogs(engine);
    for (const w of [0, 1]) expect(setups.filter((s) => s.worker === w).length).toBe(1 + stats.workers[w]!.restarts);
    expect(setups.filter((s) => s.failed).map((s) => s.worker)).toEqual(kind === 'setup' ? [1] : []);
    expect(unclaimedSetupFailures(engine)).toBe(0);
    await subscriptionsStillChange(engine);
  });

  test(`${RANDOM_CRASHES} random crashes (exit, exit(0), exit before flushing, hang, loop throw, failing setup) under publish and publishBatch traffic: nothing lost, order kept, identity exact (seed ${SEED})`, async () => {
    const random = prng(SEED);
    const engine = await startFaultEngine(backend, {
      restart: { maxRestarts: 1_000_000, windowMs: 60_000, minBackoffMs: 1, maxBackoffMs: 4 }, handlerTimeout: HANG_MS,
    });
    await subscribeAll(engine);
    const traffic = new Traffic(0);
    const fans: Fan[] = [];
    const requests: { id: number; a: number; fault: number; promise: Promise<{ id: number; twice: number; deliveries: number }> }[] = [];
    let nextId = 1;
    const count = { exit: 0, hang: 0, loopThrow: 0, markers: 0 };
    /** Deliveries that die in the handler, per topic (each redelivered once). */
    const dies = { job: 0, ask: 0, fan: 0 };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    while (count.exit + count.hang < RANDOM_CRASHES) {
      const burst = 5 + Math.floor(random() * 40);
      if (random() < 0.3) {
        // publishBatch takes the batch path (the core's dispatchBatch); under block every message is accepted.
        const batch = Array.from({ length: burst }, () => traffic.next(Math.floor(random() * 32)));
        expect(engine.publishBatch('job', batch)).toBe(burst);
        await within(30_000, 'whenWritable after publishBatch', engine.whenWritable());
      } else {
        for (let i = 0; i < burst; i++) await put(engine, 'job', traffic.next(Math.floor(random() * 32)));
      }
      if (random() < 0.3) {
        const id = nextId++;
        requests.push({ id, a: id, fault: FAULT.none, promise: engine.request('ask', { id, a: id, fault: FAULT.none, victim: 0 }, { timeout: 60_000 }) });
      }
      const r = random();
      const fault = r < 0.6 ? FAULT.exit : r < 0.7 ? FAULT.exitNoFlush : r < 0.8 ? FAULT.exitZero : r < 0.88 ? FAULT.hang : FAULT.loopThrow;
      if (fault !== FAULT.hang && fault !== FAULT.loopThrow) count.exit++;
      else if (fault === FAULT.hang) count.hang++;
      else count.loopThrow++;
      if (random() < 0.06) {
        failNextSetups(engine, Math.floor(random() * 2), 1);
        count.markers++;
      }
      const inHandler = fault !== FAULT.loopThrow;
      const where = random();
      if (where < 0.7) {
        const target = pick([HANDLER.B, HANDLER.G, HANDLER.L, HANDLER.K]);
        // A broadcast copy hits one worker, or (victim ANY) both at once: two threads dead together.
        const victim = target === HANDLER.B ? pick([0, 1, ANY]) : ANY;
        await put(engine, 'job', traffic.next(Math.floor(random() * 32), fault, target, victim));
        const copies = victim === ANY && target === HANDLER.B ? 2 : 1;
        if (copies === 2 && fault !== FAULT.loopThrow) {
          if (fault === FAULT.hang) count.hang++;
          else count.exit++;
        }
        if (inHandler) dies.job += copies;
      } else if (where < 0.85) {
        const id = nextId++;
        requests.push({ id, a: id, fault, promise: engine.request('ask', { id, a: id, fault, victim: ANY }, { timeout: 60_000 }) });
        if (inHandler) dies.ask++;
      } else {
        const fan = { id: nextId++, count: 2 + 2 * Math.floor(random() * 3), key: Math.floor(random() * 32), diesMidway: inHandler };
        fans.push(fan);
        await put(engine, 'fan', { id: fan.id, count: fan.count, key: fan.key, fault, victim: ANY });
        if (inHandler) dies.fan++;
      }
    }
    const settled = await within(120_000, 'replies', Promise.allSettled(requests.map((r) => r.promise)));
    await within(60_000, 'drain', engine.drain());
    // A loop throw fires when its worker next yields (up to a park timeout, 1 s, when idle).
    await sleep(1500);
    await within(30_000, 'second drain', engine.drain());

    expect(settled.flatMap((s, i) => (s.status === 'rejected' ? [`ask ${requests[i]!.id}: ${(s.reason as Error).message}`] : []))).toEqual([]);
    settled.forEach((s, i) => {
      const reply = (s as PromiseFulfilledResult<{ id: number; twice: number; deliveries: number }>).value;
      const sent = requests[i]!;
      expect(reply).toMatchObject({ id: sent.id, twice: sent.a * 2, deliveries: sent.fault === FAULT.none || sent.fault === FAULT.loopThrow ? 1 : 2 });
    });
    const jobs = [...traffic.jobs, ...childrenOf(fans)];
    const judged = judgeAllJobs(engine, jobs);
    expect(judged.problems).toEqual(noProblems);
    expect(judgeIds(judged.calls, HANDLER.R, requests.map((r) => r.id)).problems).toEqual([]);
    expect(judgeIds(judged.calls, HANDLER.F, fans.map((f) => f.id)).problems).toEqual([]);

    const { setups } = readLogs(engine);
    const setupFailures = setups.filter((s) => s.failed).length;
    const crashed = errorsOf(engine, 'ERR_WORKER_CRASHED').length;
    const timeouts = errorsOf(engine, 'ERR_HANDLER_TIMEOUT').length;
    const summary = { ...count, setupFailures, crashedErrors: crashed, timeoutErrors: timeouts, dies };
    // Every exit and failing setup is a crash; a loop throw is one unless its worker died first.
    expect(crashed).toBeGreaterThanOrEqual(count.exit + setupFailures);
    expect(crashed).toBeLessThanOrEqual(count.exit + setupFailures + count.loopThrow);
    expect({ ...summary, timeoutErrors: timeouts }).toEqual({ ...summary, timeoutErrors: count.hang });
    expect(engine.errors.filter((e) => e.code !== 'ERR_WORKER_CRASHED' && e.code !== 'ERR_HANDLER_TIMEOUT').map((e) => e.message)).toEqual([]);
    expect(count.exit + count.hang).toBeGreaterThanOrEqual(RANDOM_CRASHES);

    await allRunning(engine);
    const stats = engine.stats();
    expect(identityProblems(stats)).toEqual([]);
    expect(stats.backlog).toBe(0);
    expect(stats.lostToCrashes).toBe(0);
    const jobCalls = judged.calls.filter((c) => c.code <= HANDLER.K);
    expect(stats.topics.job).toMatchObject({
      lost: 0, deadLettered: 0, rejected: 0, delivered: jobCalls.length, crashed: dies.job,
      redelivered: jobCalls.filter((c) => c.deliveries > 1).length,
    });
    expect(jobCalls.filter((c) => c.deliveries > 1).length).toBe(dies.job);
    expect(stats.topics.ask).toMatchObject({ lost: 0, deadLettered: 0, delivered: requests.length, crashed: dies.ask, redelivered: dies.ask });
    expect(stats.topics.fan).toMatchObject({ lost: 0, deadLettered: 0, delivered: fans.length, crashed: dies.fan, redelivered: dies.fan });
    expect(engine.letters).toEqual([]);
    expect(stats.workers.map((w) => w.state)).toEqual(['running', 'running']);
    expect(stats.workers[0]!.restarts + stats.workers[1]!.restarts).toBe(crashed + timeouts);
    for (const w of [0, 1]) expect(setups.filter((s) => s.worker === w).length).toBe(1 + stats.workers[w]!.restarts);
    await subscriptionsStillChange(engine);
  });

  /**
   * Worker 1 serves a group alone and crashes on its 11th job, with 40 jobs and a request queued
   * for it: all published in one task, so the engine takes them all before it can see the crash.
   */
  async function crashWorkerOne(engine: FaultEngine, traffic: Traffic) {
    await engine.subscribe('job', { handler: 'jobBroadcast', mode: 'broadcast' });
    await engine.subscribe('job', { handler: 'jobGroup', mode: 'group', workers: [1] });
    await engine.subscribe('ask', { handler: 'ask', mode: 'group', workers: [1] });
    for (let i = 0; i < 10; i++) engine.publish('job', traffic.next(i % 4));
    engine.publish('job', traffic.next(0, FAULT.exit, HANDLER.G, 1));
    const pending = engine.request('ask', { id: 1, a: 1, fault: FAULT.none, victim: 0 }, { timeout: 30_000 });
    for (let i = 0; i < 29; i++) engine.publish('job', traffic.next(i % 4));
    engine.flush();
    return { pending }; // (not the promise itself: an async function's caller would await it)
  }

  /** After worker 1 is down for good: it refuses new messages, worker 0 serves, the identity holds. */
  async function checkWorkerOneDown(engine: FaultEngine, traffic: Traffic) {
    for (let i = 0; i < 10; i++) expect(engine.publish('job', traffic.next(i % 4))).toBe(false);
    expect(await within(10_000, 'whoami', engine.requestAll('whoami', { nonce: 1 }))).toEqual([expect.objectContaining({ worker: 0 })]);
    await within(20_000, 'drain', engine.drain());
    const stats = engine.stats();
    expect(identityProblems(stats)).toEqual([]);
    expect(stats.backlog).toBe(0);
    const { calls } = readLogs(engine);
    const onOne = calls.filter((c) => c.worker === 1 && c.code <= HANDLER.K).length;
    // 40 jobs reached worker 1 twice (broadcast and group); the 10 after it went down were refused there.
    expect(stats.topics.job.rejected).toBe(20);
    expect(stats.topics.job.lost).toBe(80 - onOne);
    expect(stats.topics.job.crashed).toBe(1);
    expect(stats.topics.job.delivered).toBe(calls.filter((c) => c.code <= HANDLER.K).length);
    expect(stats.topics.ask.lost).toBe(1);
    expect(stats.lostToCrashes).toBe(Object.values(stats.topics).reduce((s, t) => s + t.lost, 0));
    expect(stats.lostToCrashes).toBeGreaterThan(0);
    // Worker 0 got all 50 broadcast copies, in order.
    expect(judgeJobs(calls.filter((c) => c.worker === 0), traffic.jobs, HANDLER.B, 'broadcast', [0]).problems).toEqual([]);
    expect(stats.workers[0]).toMatchObject({ state: 'running', restarts: 0 });
    return stats;
  }

  test('a crash loop (successors fail in setup) backs off, then hits the restart limit: ERR_WORKER_RESTART_LIMIT, worker down, its messages lost and counted, the identity exact, the other worker serving', async () => {
    const engine = await startFaultEngine(backend, { restart: { maxRestarts: 3, windowMs: 60_000, minBackoffMs: 200, maxBackoffMs: 300 } });
    failNextSetups(engine, 1, 10);
    const traffic = new Traffic(0);
    const { pending } = await crashWorkerOne(engine, traffic);
    await waitFor(15_000, 'worker 1 down for good', () => engine.stats().workers[1]!.state === 'crashed');
    const error = await rejection(pending, 'request held by the worker that went down');
    expect(['ERR_WORKER_CRASHED', 'ERR_WORKER_RESTART_LIMIT']).toContain(error.code);
    const limit = errorsOf(engine, 'ERR_WORKER_RESTART_LIMIT');
    expect(limit.length).toBe(1);
    expect(limit[0]).toMatchObject({ field: 'worker', value: 1 });
    const stats = await checkWorkerOneDown(engine, traffic);
    expect(stats.workers[1]).toMatchObject({ state: 'crashed', restarts: 3 });
    // The exit, then three successors that failed in setup (the last one may be reported as the limit only).
    expect(errorsOf(engine, 'ERR_WORKER_CRASHED', 1).length).toBeGreaterThanOrEqual(3);
    expect(errorsOf(engine, 'ERR_WORKER_CRASHED', 1).length).toBeLessThanOrEqual(4);
    expect(errorsOf(engine, 'ERR_WORKER_CRASHED', 0)).toEqual([]);
    expect(readLogs(engine).setups.filter((s) => s.worker === 1).map((s) => s.failed)).toEqual([false, true, true, true]);
    // Successors that died at once were replaced after 200 ms, then 300 (doubled, capped): the
    // limit came at least 500 ms after the first crash.
    const firstCrash = engine.errorTimes[engine.errors.findIndex((e) => e.code === 'ERR_WORKER_CRASHED')]!;
    const limitAt = engine.errorTimes[engine.errors.findIndex((e) => e.code === 'ERR_WORKER_RESTART_LIMIT')]!;
    expect(limitAt - firstCrash).toBeGreaterThanOrEqual(500);
    expect([...engine.statesSeen[1]!]).toContain('restarting');
  });

  test('restart: false leaves a crashed worker down at once: refused publishes, lost messages, ERR_WORKER_CRASHED for its pending request', async () => {
    const engine = await startFaultEngine(backend, { restart: false });
    const traffic = new Traffic(0);
    const { pending } = await crashWorkerOne(engine, traffic);
    await waitFor(10_000, 'worker 1 crashed', () => engine.stats().workers[1]!.state === 'crashed');
    const error = await rejection(pending, 'request held by the crashed worker');
    expect(error.code).toBe('ERR_WORKER_CRASHED');
    const stats = await checkWorkerOneDown(engine, traffic);
    expect(stats.workers[1]).toMatchObject({ state: 'crashed', restarts: 0 });
    expect(engine.errors.map((e) => [e.code, e.field, e.value])).toEqual([['ERR_WORKER_CRASHED', 'worker', 1]]);
    expect(readLogs(engine).setups.filter((s) => s.worker === 1)).toHaveLength(1);
  });

  test('a poison message (exits on every delivery) becomes a dead letter after maxDeliveries: reported, counted, its request rejected, the rest delivered in key order', async () => {
    const engine = await startFaultEngine(backend, { restart: { minBackoffMs: 5, maxBackoffMs: 20 } });
    await engine.subscribe('job', { handler: 'jobKeyed', mode: 'keyed' });
    await engine.subscribe('ask', { handler: 'ask', mode: 'group' });
    const traffic = new Traffic(0);
    let poison: ReturnType<Traffic['next']> | undefined;
    let poisonAsk: Promise<unknown> | undefined;
    const asks: Promise<{ id: number; deliveries: number }>[] = [];
    for (let i = 0; i < 200; i++) {
      if (i === 50) {
        poison = traffic.next(i % 8, FAULT.exitAlways, HANDLER.K, ANY, false);
        await put(engine, 'job', poison);
        poisonAsk = engine.request('ask', { id: 1000, a: 1, fault: FAULT.exitAlways, victim: ANY }, { timeout: 30_000 });
        // It may reject while the loop still publishes (three crashes can be quicker than 150 puts): handled here, judged below.
        poisonAsk.catch(() => undefined);
      }
      await put(engine, 'job', traffic.next(i % 8));
      if (i % 40 === 0) asks.push(engine.request('ask', { id: i, a: 2, fault: FAULT.none, victim: 0 }, { timeout: 30_000 }));
    }
    const error = await rejection(poisonAsk!, 'poison request');
    expect(error.code).toBe('ERR_REQUEST_FAILED');
    const replies = await within(30_000, 'replies', Promise.all(asks));
    for (const reply of replies) expect(reply.deliveries).toBe(1);
    await waitFor(20_000, 'two dead letters', () => engine.letters.length >= 2);
    await within(20_000, 'drain', engine.drain());

    const { calls } = readLogs(engine);
    const verdict = judgeJobs(calls, traffic.jobs, HANDLER.K, 'keyed', [0, 1]);
    expect(verdict.problems).toEqual([]);
    const owner = calls.find((c) => c.code === HANDLER.K && c.key === poison!.key)!.worker;
    const jobLetter = engine.letters.find((l) => l.topic === 'job');
    expect(jobLetter).toEqual({ topic: 'job', fields: { ...poison }, reason: 'crashed', deliveries: 3, worker: owner, handler: 'jobKeyed' });
    const askLetter = engine.letters.find((l) => l.topic === 'ask');
    expect(askLetter).toMatchObject({ topic: 'ask', fields: { id: 1000, a: 1, fault: FAULT.exitAlways, victim: ANY }, reason: 'crashed', deliveries: 3, handler: 'ask' });
    expect([0, 1]).toContain(askLetter!.worker);
    expect(engine.letters).toHaveLength(2);
    expect(calls.filter((c) => c.code === HANDLER.R && c.seq === 1000)).toEqual([]);

    await allRunning(engine);
    const stats = engine.stats();
    expect(identityProblems(stats)).toEqual([]);
    expect(stats.backlog).toBe(0);
    expect(stats.topics.job).toMatchObject({ deadLettered: 1, circuitOpen: 0, crashed: 3, redelivered: 0, lost: 0, delivered: 200 });
    expect(stats.topics.ask).toMatchObject({ deadLettered: 1, crashed: 3, redelivered: 0, lost: 0, delivered: asks.length });
    expect(stats.workers.map((w) => w.state)).toEqual(['running', 'running']);
    expect(stats.workers[0]!.restarts + stats.workers[1]!.restarts).toBe(6);
    expect(errorsOf(engine, 'ERR_WORKER_CRASHED').length).toBe(6);
  });

  test('a hung poison message becomes a dead letter with reason "hung" after maxDeliveries (2)', async () => {
    const engine = await startFaultEngine(backend, { handlerTimeout: 200, maxDeliveries: 2, restart: { minBackoffMs: 5, maxBackoffMs: 20 } });
    await engine.subscribe('job', { handler: 'jobGroup', mode: 'group', workers: [0] });
    const traffic = new Traffic(0);
    let poison: ReturnType<Traffic['next']> | undefined;
    for (let i = 0; i < 20; i++) {
      if (i === 5) {
        poison = traffic.next(1, FAULT.hangAlways, HANDLER.G, ANY, false);
        await put(engine, 'job', poison);
      }
      await put(engine, 'job', traffic.next(i % 2));
    }
    await waitFor(15_000, 'dead letter', () => engine.letters.length >= 1);
    await within(20_000, 'drain', engine.drain());
    expect(engine.letters).toEqual([{ topic: 'job', fields: { ...poison }, reason: 'hung', deliveries: 2, worker: 0, handler: 'jobGroup' }]);
    const { calls } = readLogs(engine);
    expect(judgeJobs(calls, traffic.jobs, HANDLER.G, 'group', [0]).problems).toEqual([]);
    await allRunning(engine);
    const stats = engine.stats();
    expect(identityProblems(stats)).toEqual([]);
    expect(stats.topics.job).toMatchObject({ deadLettered: 1, circuitOpen: 0, crashed: 2, lost: 0, delivered: 20, redelivered: 0 });
    expect(stats.workers[0]).toMatchObject({ state: 'running', restarts: 2 });
    expect(errorsOf(engine, 'ERR_HANDLER_TIMEOUT', 0).length).toBe(2);
    expect(errorsOf(engine, 'ERR_HANDLER_TIMEOUT', 0)[0]!.field).toBe('worker');
  });

  test('backlogs: what a worker spilled for a dead worker reaches its successor, in order; a dead worker\'s own backlog is adopted by its successor (what it cannot keep is lost, counted exactly)', async () => {
    const engine = await startFaultEngine(backend, { restart: { minBackoffMs: 5, maxBackoffMs: 20 } });
    await engine.subscribe('fan', { handler: 'fan', mode: 'group', workers: [0] });
    await engine.subscribe('job', { handler: 'jobGroup', mode: 'group', workers: [1] });
    await engine.subscribe('flaky', { handler: 'flaky', mode: 'group', workers: [1] });
    const traffic = new Traffic(0);
    // A: worker 1 is busy for 500 ms, then dies on a job. Meanwhile worker 0 publishes 200 children
    // for it: 32 fill the lane, worker 0 waits blockTimeout (50 ms), the rest go to its backlog.
    expect(engine.publish('flaky', { seq: 0, fail: false, busyMs: 500 })).toBe(true);
    engine.publish('job', traffic.next(0, FAULT.exit, HANDLER.G, 1));
    engine.publish('fan', { id: 1, count: 200, key: 5, fault: FAULT.none, victim: 0 });
    engine.flush();
    await waitFor(10_000, 'worker 1 crashed', () => errorsOf(engine, 'ERR_WORKER_CRASHED', 1).length === 1);
    await within(20_000, 'drain A', engine.drain());
    let { calls } = readLogs(engine);
    expect(judgeJobs(calls, [...traffic.jobs, ...childrenOf([{ id: 1, count: 200, key: 5, diesMidway: false }])], HANDLER.G, 'broadcast', [1]).problems).toEqual([]);
    let stats = engine.stats();
    expect(identityProblems(stats)).toEqual([]);
    expect(stats.topics.job).toMatchObject({ lost: 0, delivered: 201, redelivered: 1, crashed: 1 });
    expect(stats.backlog).toBe(0);

    // B: worker 0's fan dies after publishing 200 children while worker 1 is busy again: 32 are in
    // the lane, the rest in worker 0's own backlog, which lives in shared memory: its successor
    // adopts it. The redelivered fan publishes all 400 again.
    expect(engine.publish('flaky', { seq: 1, fail: false, busyMs: 500 })).toBe(true);
    engine.publish('fan', { id: 2, count: 400, key: 6, fault: FAULT.exit, victim: ANY });
    engine.flush();
    await waitFor(10_000, 'worker 0 crashed', () => errorsOf(engine, 'ERR_WORKER_CRASHED', 0).length === 1);
    await within(20_000, 'drain B', engine.drain());
    ({ calls } = readLogs(engine));
    const children = (fan: number, g: number) => calls.filter((c) => c.code === HANDLER.G && c.producer === CHILD_BASE + fan * 8 + g).map((c) => c.seq);
    const upTo = (n: number) => Array.from({ length: n }, (_, i) => i);
    expect(children(2, 1)).toEqual(upTo(200));
    expect(children(2, 2)).toEqual(upTo(400));
    stats = engine.stats();
    expect(identityProblems(stats)).toEqual([]);
    expect(stats.topics.job.lost).toBe(0);
    expect(stats.topics.fan).toMatchObject({ delivered: 2, redelivered: 1, crashed: 1, lost: 0 });
    expect(stats.backlog).toBe(0);

    // C: the same with 20 000 children before it dies: a backlog may outgrow what shared memory
    // keeps for it (the rest lived in its heap and is lost). Whatever is lost is counted exactly, and
    // what arrives is the head of the sequence, in order.
    expect(engine.publish('flaky', { seq: 2, fail: false, busyMs: 500 })).toBe(true);
    engine.publish('fan', { id: 3, count: 40_000, key: 7, fault: FAULT.exit, victim: ANY });
    engine.flush();
    await waitFor(10_000, 'worker 0 crashed again', () => errorsOf(engine, 'ERR_WORKER_CRASHED', 0).length === 2);
    await within(30_000, 'drain C', engine.drain());
    ({ calls } = readLogs(engine));
    const first = children(3, 1);
    expect(first).toEqual(upTo(first.length));
    expect(children(3, 2)).toEqual(upTo(40_000));
    await allRunning(engine);
    stats = engine.stats();
    expect(identityProblems(stats)).toEqual([]);
    expect(stats.topics.job.lost).toBe(20_000 - first.length);
    expect(stats.lostToCrashes).toBe(20_000 - first.length);
    expect(stats.backlog).toBe(0);
    expect(stats.workers.map((w) => [w.state, w.restarts])).toEqual([['running', 2], ['running', 1]]);
  });

  test('reject, drop-oldest and drop-newest subscriptions across a hang and restart: refusals counted, the identity exact, nothing handled twice or out of order', async () => {
    const engine = await startFaultEngine(backend, { handlerTimeout: HANG_MS, restart: { minBackoffMs: 5, maxBackoffMs: 20 } });
    await engine.subscribe('job', { handler: 'jobGroup', mode: 'group', workers: [1], backpressure: 'reject' });
    await engine.subscribe('job', { handler: 'jobKeyed', mode: 'keyed', backpressure: 'drop-oldest' });
    await engine.subscribe('job', { handler: 'jobBroadcast', mode: 'broadcast', backpressure: 'drop-newest' });
    const traffic = new Traffic(0);
    engine.publish('job', traffic.next(0, FAULT.hang, HANDLER.G, 1));
    for (let i = 0; i < 600; i++) {
      engine.publish('job', traffic.next(i % 8));
      if (i % 50 === 49) await sleep(2);
      if (i === 300) await waitFor(10_000, 'hang detected', () => errorsOf(engine, 'ERR_HANDLER_TIMEOUT').length === 1);
    }
    await within(20_000, 'drain', engine.drain());
    const { calls } = readLogs(engine);
    for (const [code, mode] of [[HANDLER.G, 'group'], [HANDLER.K, 'keyed'], [HANDLER.B, 'broadcast']] as const) {
      expect({ code, problems: judgeJobs(calls, traffic.jobs, code, mode, code === HANDLER.G ? [1] : [0, 1], { partial: true }).problems }).toEqual({ code, problems: [] });
    }
    const stats = engine.stats();
    expect(identityProblems(stats)).toEqual([]);
    const job = stats.topics.job;
    expect(job.delivered).toBe(calls.filter((c) => c.code <= HANDLER.K).length);
    expect(job.rejected).toBeGreaterThan(0);
    expect(job.droppedOldest + job.droppedNewest).toBeGreaterThan(0);
    expect(job).toMatchObject({ lost: 0, crashed: 1, redelivered: 1 });
    expect(stats.backlog).toBe(0);
    expect(stats.workers[1]).toMatchObject({ state: 'running', restarts: 1 });
  });

  test('requestAll over a broadcast subscription gets every member\'s reply although one crashes on it (exit code 0 is a crash too)', async () => {
    const engine = await startFaultEngine(backend, { restart: { minBackoffMs: 5, maxBackoffMs: 20 } });
    await engine.subscribe('ask', { handler: 'ask', mode: 'broadcast' });
    const byWorker = (replies: { worker: number }[]) => [...replies].sort((a, b) => a.worker - b.worker);
    const one = await within(15_000, 'requestAll (worker 1 exits)', engine.requestAll('ask', { id: 1, a: 3, fault: FAULT.exit, victim: 1 }, { timeout: 10_000 }));
    expect(byWorker(one)).toEqual([{ id: 1, twice: 6, worker: 0, deliveries: 1 }, { id: 1, twice: 6, worker: 1, deliveries: 2 }]);
    const zero = await within(15_000, 'requestAll (worker 0 exits with code 0)', engine.requestAll('ask', { id: 2, a: 4, fault: FAULT.exitZero, victim: 0 }, { timeout: 10_000 }));
    expect(byWorker(zero)).toEqual([{ id: 2, twice: 8, worker: 0, deliveries: 2 }, { id: 2, twice: 8, worker: 1, deliveries: 1 }]);
    await within(10_000, 'drain', engine.drain());
    expect(engine.errors.map((e) => [e.code, e.value])).toEqual([['ERR_WORKER_CRASHED', 1], ['ERR_WORKER_CRASHED', 0]]);
    const stats = engine.stats();
    expect(identityProblems(stats)).toEqual([]);
    expect(stats.topics.ask).toMatchObject({ routed: 4, delivered: 4, redelivered: 2, crashed: 2, lost: 0 });
    expect(stats.workers.map((w) => [w.state, w.restarts])).toEqual([['running', 1], ['running', 1]]);
  });

  test('maxDeliveries 1: a message whose first delivery crashes or hangs is a dead letter at once, never redelivered; its request is rejected', async () => {
    const engine = await startFaultEngine(backend, { maxDeliveries: 1, handlerTimeout: 200, restart: { minBackoffMs: 5, maxBackoffMs: 20 } });
    await engine.subscribe('job', { handler: 'jobGroup', mode: 'group', workers: [0] });
    await engine.subscribe('ask', { handler: 'ask', mode: 'group', workers: [0] });
    const traffic = new Traffic(0);
    let poison: ReturnType<Traffic['next']> | undefined;
    for (let i = 0; i < 10; i++) {
      if (i === 3) engine.publish('job', (poison = traffic.next(0, FAULT.exit, HANDLER.G, ANY, false)));
      else engine.publish('job', traffic.next(0));
    }
    const exited = engine.request('ask', { id: 1, a: 1, fault: FAULT.exit, victim: ANY }, { timeout: 10_000 });
    const hung = engine.request('ask', { id: 2, a: 1, fault: FAULT.hang, victim: ANY }, { timeout: 10_000 });
    const fine = engine.request('ask', { id: 3, a: 1, fault: FAULT.none, victim: 0 }, { timeout: 10_000 });
    expect((await rejection(exited, 'exited request')).code).toBe('ERR_REQUEST_FAILED');
    expect((await rejection(hung, 'hung request')).code).toBe('ERR_REQUEST_FAILED');
    expect(await within(10_000, 'fine request', fine)).toEqual({ id: 3, twice: 2, worker: 0, deliveries: 1 });
    await within(10_000, 'drain', engine.drain());
    expect(engine.letters).toEqual([
      { topic: 'job', fields: { ...poison }, reason: 'crashed', deliveries: 1, worker: 0, handler: 'jobGroup' },
      { topic: 'ask', fields: { id: 1, a: 1, fault: FAULT.exit, victim: ANY }, reason: 'crashed', deliveries: 1, worker: 0, handler: 'ask' },
      { topic: 'ask', fields: { id: 2, a: 1, fault: FAULT.hang, victim: ANY }, reason: 'hung', deliveries: 1, worker: 0, handler: 'ask' },
    ]);
    const { calls } = readLogs(engine);
    expect(judgeJobs(calls, traffic.jobs, HANDLER.G, 'broadcast', [0]).problems).toEqual([]);
    expect(calls.filter((c) => c.code === HANDLER.R).map((c) => c.seq)).toEqual([3]);
    const stats = engine.stats();
    expect(identityProblems(stats)).toEqual([]);
    expect(stats.topics.job).toMatchObject({ delivered: 9, deadLettered: 1, crashed: 1, redelivered: 0 });
    expect(stats.topics.ask).toMatchObject({ delivered: 1, deadLettered: 2, crashed: 2, redelivered: 0 });
    // Nothing was left for the last successor: drain need not wait for it.
    await waitFor(10_000, 'worker 0 running', () => engine.stats().workers[0]!.state === 'running');
    expect(engine.stats().workers[0]).toMatchObject({ state: 'running', restarts: 3 });
  });

  test('the restart budget counts restarts within windowMs only: old ones age out, a burst past maxRestarts stops the worker', async () => {
    const engine = await startFaultEngine(backend, { restart: { maxRestarts: 2, windowMs: 700, minBackoffMs: 5, maxBackoffMs: 20 } });
    await engine.subscribe('job', { handler: 'jobGroup', mode: 'group', workers: [1] });
    const traffic = new Traffic(0);
    const crash = async (n: number): Promise<void> => {
      engine.publish('job', traffic.next(0, FAULT.exit, HANDLER.G, 1));
      engine.flush();
      await waitFor(10_000, `crash ${n}`, () => errorsOf(engine, 'ERR_WORKER_CRASHED', 1).length === n);
      await waitFor(10_000, `worker 1 back after crash ${n}`, () => engine.stats().workers[1]!.state !== 'restarting');
    };
    await crash(1);
    await crash(2);
    expect(engine.stats().workers[1]).toMatchObject({ state: 'running', restarts: 2 });
    await sleep(900); // both restarts age out of the 700 ms window
    await crash(3);
    await crash(4);
    expect(engine.stats().workers[1]).toMatchObject({ state: 'running', restarts: 4 });
    expect(errorsOf(engine, 'ERR_WORKER_RESTART_LIMIT')).toEqual([]);
    await crash(5); // a third restart within 700 ms: over the budget
    expect(engine.stats().workers[1]).toMatchObject({ state: 'crashed', restarts: 4 });
    expect(errorsOf(engine, 'ERR_WORKER_RESTART_LIMIT', 1)).toHaveLength(1);
    await within(10_000, 'drain', engine.drain());
    const stats = engine.stats();
    expect(identityProblems(stats)).toEqual([]);
    expect(stats.topics.job).toMatchObject({ routed: 5, delivered: 4, redelivered: 4, crashed: 5, lost: 1 });
  });

  test('close while a worker waits for its successor, or while a handler hangs: close completes, no successor starts afterwards', async () => {
    const engine = await startFaultEngine(backend, { restart: { minBackoffMs: 400, maxBackoffMs: 400 } });
    await engine.subscribe('job', { handler: 'jobGroup', mode: 'group', workers: [1] });
    const traffic = new Traffic(0);
    engine.publish('job', traffic.next(0, FAULT.exit, HANDLER.G, 1));
    engine.flush();
    await waitFor(10_000, 'crash', () => errorsOf(engine, 'ERR_WORKER_CRASHED', 1).length === 1);
    expect(engine.stats().workers[1]!.state).toBe('restarting'); // its successor comes after a 400 ms backoff
    await within(15_000, 'close during the backoff', engine.close({ timeout: 5000 }));
    const setupsAtClose = readLogs(engine).setups.length;
    // close drained: the successor handled the message its predecessor died on.
    expect(readLogs(engine).calls.filter((c) => c.code === HANDLER.G).map((c) => c.deliveries)).toEqual([2]);
    expect(engine.stats().workers.map((w) => w.state)).toEqual(['stopped', 'stopped']);
    await sleep(700);
    expect(readLogs(engine).setups.length).toBe(setupsAtClose);

    const hung = await startFaultEngine(backend, { restart: { minBackoffMs: 5, maxBackoffMs: 20 } });
    await hung.subscribe('job', { handler: 'jobGroup', mode: 'group', workers: [0] });
    hung.publish('job', new Traffic(0).next(0, FAULT.hangAlways, HANDLER.G, ANY));
    hung.flush();
    await sleep(100);
    await within(15_000, 'close while a handler hangs (no handlerTimeout)', hung.close({ timeout: 500 }));
    const setups = readLogs(hung).setups.length;
    await sleep(700);
    expect(readLogs(hung).setups.length).toBe(setups);
    expect(hung.stats().workers.map((w) => w.state)).not.toContain('running');
    expect(hung.stats().workers.map((w) => w.state)).not.toContain('restarting');
  });

  test('a worker publishing into the full lane of a worker being restarted waits at most half of handlerTimeout, then spills: it is never taken for hung', async () => {
    const engine = await startFaultEngine(backend, { handlerTimeout: 300, restart: { minBackoffMs: 700, maxBackoffMs: 700 } });
    await engine.subscribe('fan', { handler: 'fan', mode: 'group', workers: [0] });
    await engine.subscribe('job', { handler: 'jobGroup', mode: 'group', workers: [1] });
    const traffic = new Traffic(0);
    engine.publish('job', traffic.next(0, FAULT.exit, HANDLER.G, 1));
    engine.flush();
    await waitFor(10_000, 'worker 1 crashed', () => errorsOf(engine, 'ERR_WORKER_CRASHED', 1).length === 1);
    expect(engine.stats().workers[1]!.state).toBe('restarting'); // for 700 ms: longer than handlerTimeout
    const fans: Fan[] = [{ id: 1, count: 200, key: 3, diesMidway: false }];
    engine.publish('fan', { id: 1, count: 200, key: 3, fault: FAULT.none, victim: 0 });
    engine.flush();
    await within(20_000, 'drain', engine.drain());
    expect(errorsOf(engine, 'ERR_HANDLER_TIMEOUT')).toEqual([]);
    const { calls } = readLogs(engine);
    expect(calls.filter((c) => c.code === HANDLER.F).map((c) => [c.worker, c.deliveries])).toEqual([[0, 1]]);
    expect(judgeJobs(calls, [...traffic.jobs, ...childrenOf(fans)], HANDLER.G, 'broadcast', [1]).problems).toEqual([]);
    await allRunning(engine);
    const stats = engine.stats();
    expect(identityProblems(stats)).toEqual([]);
    expect(stats.workers.map((w) => w.restarts)).toEqual([0, 1]);
    expect(stats.topics.job).toMatchObject({ delivered: 201, lost: 0 });
  });

  test('subscribe, unsubscribe and requestAll while a worker is being restarted: the successor serves the new subscription', async () => {
    const engine = await startFaultEngine(backend, { restart: { minBackoffMs: 500, maxBackoffMs: 500 } });
    const old = await engine.subscribe('job', { handler: 'jobGroup', mode: 'group', workers: [1] });
    const traffic = new Traffic(0);
    engine.publish('job', traffic.next(0, FAULT.exit, HANDLER.G, 1));
    engine.flush();
    await waitFor(10_000, 'worker 1 crashed', () => errorsOf(engine, 'ERR_WORKER_CRASHED', 1).length === 1);
    expect(engine.stats().workers[1]!.state).toBe('restarting');
    const sub = await within(10_000, 'subscribe during the restart', engine.subscribe('flaky', { handler: 'flaky', mode: 'broadcast' }));
    await within(10_000, 'unsubscribe during the restart', old.unsubscribe());
    const replies = await within(10_000, 'requestAll across the restart', engine.requestAll('flaky', { seq: 1, fail: false, busyMs: 0 }));
    expect(replies.map((r) => r.worker).sort()).toEqual([0, 1]);
    await within(10_000, 'drain', engine.drain());
    await sub.unsubscribe();
    const stats = engine.stats();
    expect(identityProblems(stats)).toEqual([]);
    // The message the old subscription's worker died on was accepted before it unsubscribed: still delivered.
    expect(stats.topics.job).toMatchObject({ routed: 1, delivered: 1, redelivered: 1, lost: 0 });
    expect(engine.errors.map((e) => `${e.code} ${e.value}: ${e.message}`)).toEqual([expect.stringMatching(/^ERR_WORKER_CRASHED 1: /)]);
    expect(stats.workers.map((w) => [w.state, w.restarts])).toEqual([['running', 0], ['running', 1]]);
  });

  test('a poison message\'s last delivery that also exhausts the restart budget: one dead letter, the worker down, the rest lost, nothing counted twice', async () => {
    const engine = await startFaultEngine(backend, { maxDeliveries: 2, restart: { maxRestarts: 1, windowMs: 60_000, minBackoffMs: 5, maxBackoffMs: 20 } });
    await engine.subscribe('job', { handler: 'jobGroup', mode: 'group', workers: [1] });
    const traffic = new Traffic(0);
    let poison: ReturnType<Traffic['next']> | undefined;
    for (let i = 0; i < 20; i++) engine.publish('job', i === 5 ? (poison = traffic.next(0, FAULT.exitAlways, HANDLER.G, ANY, false)) : traffic.next(0));
    engine.flush();
    await waitFor(10_000, 'worker 1 down for good', () => engine.stats().workers[1]!.state === 'crashed');
    await within(10_000, 'drain', engine.drain());
    expect(engine.letters).toEqual([{ topic: 'job', fields: { ...poison }, reason: 'crashed', deliveries: 2, worker: 1, handler: 'jobGroup' }]);
    expect(errorsOf(engine, 'ERR_WORKER_RESTART_LIMIT', 1)).toHaveLength(1);
    const stats = engine.stats();
    expect(identityProblems(stats)).toEqual([]);
    // 5 handled before the poison, 14 behind it lost with the worker; the poison itself a dead letter only.
    expect(stats.topics.job).toMatchObject({ routed: 20, delivered: 5, deadLettered: 1, lost: 14, crashed: 2 });
    expect(stats.workers[1]).toMatchObject({ state: 'crashed', restarts: 1 });
  });

  test('a request that times out while its worker restarts: ERR_REQUEST_TIMEOUT, and the successor\'s reply is counted late', async () => {
    const engine = await startFaultEngine(backend, { restart: { minBackoffMs: 300, maxBackoffMs: 300 } });
    await engine.subscribe('ask', { handler: 'ask', mode: 'group', workers: [1] });
    await engine.subscribe('job', { handler: 'jobGroup', mode: 'group', workers: [1] });
    engine.publish('job', new Traffic(0).next(0, FAULT.exit, HANDLER.G, 1));
    const late = engine.request('ask', { id: 1, a: 1, fault: FAULT.none, victim: 0 }, { timeout: 100 });
    expect((await rejection(late, 'request timing out during the restart')).code).toBe('ERR_REQUEST_TIMEOUT');
    await within(10_000, 'drain', engine.drain());
    await waitFor(10_000, 'the late reply', () => engine.stats().lateReplies === 1);
    const stats = engine.stats();
    expect(identityProblems(stats)).toEqual([]);
    expect(stats.topics.ask).toMatchObject({ routed: 1, delivered: 1, lost: 0 });
  });

  /**
   * Fills worker 1's reply lane to this thread (32 requests answered while this thread is busy and
   * takes nothing), then sends 20 more requests and, with `crashAfter`, a job worker 1 dies on.
   * Returns the ms until worker 1 had handled all 52 while this thread stayed busy (at most `maxMs`),
   * and each request's outcome, kept up to date.
   */
  async function fillReplyLane(engine: FaultEngine, maxMs: number, crashAfter: boolean): Promise<{ spillMs: number; outcome: string[] }> {
    await engine.subscribe('ask', { handler: 'ask', mode: 'group', workers: [1] });
    await engine.subscribe('job', { handler: 'jobGroup', mode: 'group', workers: [1] });
    const toWorker1 = () => engine.stats().lanes.find((l) => l.from === 0 && l.to === 2)!;
    /** Busy-waits (this thread takes no replies meanwhile) up to `ms` or until `until`; returns the ms waited. */
    const busy = (ms: number, until: () => boolean = () => false): number => {
      const start = Date.now();
      while (Date.now() - start < ms && !until()) { /* the engine's thread is busy */ }
      return Date.now() - start;
    };
    const outcome: string[] = [];
    const ask = (id: number): void => {
      outcome[id] = 'pending';
      engine.request('ask', { id, a: id, fault: FAULT.none, victim: 0 }).then(() => { outcome[id] = 'answered'; }, (e: EngineError) => { outcome[id] = e.code; });
    };
    for (let id = 0; id < 32; id++) ask(id);
    engine.flush();
    busy(5000, () => toWorker1().depth === 0);
    busy(50);
    // Worker 1 should wait blockTimeout (50 ms) for space for the next reply, then spill the rest
    // into its own backlog and go on.
    for (let id = 32; id < 52; id++) ask(id);
    if (crashAfter) engine.publish('job', new Traffic(0).next(0, FAULT.exit, HANDLER.G, 1));
    engine.flush();
    const spillMs = busy(maxMs, () => engine.stats().topics.ask.delivered >= 52);
    if (crashAfter) busy(200); // it dies on the job behind them, before this thread took any reply
    return { spillMs, outcome };
  }

  test('a worker whose lane to the engine\'s thread is full waits blockTimeout, then spills (the engine\'s thread is never "being restarted")', async () => {
    const engine = await startFaultEngine(backend);
    const { spillMs, outcome } = await fillReplyLane(engine, 1500, false);
    await within(10_000, 'drain', engine.drain());
    await waitFor(10_000, 'every reply', () => outcome.every((o) => o === 'answered'));
    expect(spillMs).toBeLessThan(1000); // blockTimeout is 50 ms
  });

  test('replies in the own backlog of a worker that dies still reach their requests, and the identity holds', async () => {
    const engine = await startFaultEngine(backend, { restart: { minBackoffMs: 5, maxBackoffMs: 20 } });
    const { spillMs, outcome } = await fillReplyLane(engine, 8000, true);
    expect(spillMs).toBeLessThan(8000); // worker 1 did spill (whenever), and then died
    await waitFor(10_000, 'crash', () => errorsOf(engine, 'ERR_WORKER_CRASHED', 1).length === 1);
    await within(10_000, 'drain', engine.drain());
    await sleep(300);
    await allRunning(engine);
    expect({
      unanswered: outcome.flatMap((o, id) => (o === 'answered' ? [] : [`${id}: ${o}`])),
      identity: identityProblems(engine.stats()),
    }).toEqual({ unanswered: [], identity: [] });
  });

  test('circuit-open dead letters in the own backlog of a worker that dies still reach onDeadLetter, counted once', async () => {
    const engine = await startFaultEngine(backend, { restart: { minBackoffMs: 5, maxBackoffMs: 20 } });
    await engine.subscribe('flaky', { handler: 'flaky', mode: 'group', workers: [1], circuit: { failures: 1, windowMs: 60_000, cooldownMs: 600_000 } });
    await engine.subscribe('job', { handler: 'jobGroup', mode: 'group', workers: [1] });
    engine.publish('flaky', { seq: 0, fail: true, busyMs: 0 });
    await within(10_000, 'drain', engine.drain());
    expect(engine.stats().circuits.find((c) => c.worker === 1)?.state).toBe('open');
    const toWorker1 = () => engine.stats().lanes.find((l) => l.from === 0 && l.to === 2)!;
    const busy = (ms: number, until: () => boolean = () => false): void => {
      const start = Date.now();
      while (Date.now() - start < ms && !until()) { /* the engine's thread takes no dead letters meanwhile */ }
    };
    // 32 messages to the open circuit: their dead letters fill worker 1's lane to this thread.
    for (let seq = 1; seq <= 32; seq++) engine.publish('flaky', { seq, fail: false, busyMs: 0 });
    engine.flush();
    busy(5000, () => toWorker1().depth === 0);
    busy(50);
    // 20 more: their letters spill into worker 1's own backlog; then it dies on a job.
    for (let seq = 33; seq <= 52; seq++) engine.publish('flaky', { seq, fail: false, busyMs: 0 });
    engine.publish('job', new Traffic(0).next(0, FAULT.exit, HANDLER.G, 1));
    engine.flush();
    busy(8000, () => toWorker1().depth === 0);
    busy(200);
    await waitFor(10_000, 'crash', () => errorsOf(engine, 'ERR_WORKER_CRASHED', 1).length === 1);
    await within(10_000, 'drain', engine.drain());
    await sleep(300);
    await allRunning(engine);
    const stats = engine.stats();
    expect({
      letters: engine.letters.length,
      flaky: { routed: stats.topics.flaky.routed, delivered: stats.topics.flaky.delivered, deadLettered: stats.topics.flaky.deadLettered, lost: stats.topics.flaky.lost },
      identity: identityProblems(stats),
    }).toEqual({ letters: 52, flaky: { routed: 53, delivered: 1, deadLettered: 52, lost: 0 }, identity: [] });
  });

  test('circuits are per member worker: failures on one worker open its circuit only', async () => {
    const engine = await startFaultEngine(backend);
    const sub = await engine.subscribe('flaky', { handler: 'flaky', mode: 'group', circuit: { failures: 2, windowMs: 10_000, cooldownMs: 60_000 } });
    // Round-robin over two members: every other message goes to the same worker.
    for (let seq = 0; seq < 4; seq++) engine.publish('flaky', { seq, fail: seq % 2 === 0, busyMs: 0 });
    await within(10_000, 'drain', engine.drain());
    const failedOn = readLogs(engine).calls.filter((c) => c.code === HANDLER.C && c.value === 1).map((c) => c.worker);
    expect(failedOn).toHaveLength(2);
    expect(failedOn[0]).toBe(failedOn[1]);
    const open = failedOn[0]!;
    const circuits = engine.stats().circuits.filter((c) => c.subscription === sub.id).sort((a, b) => a.worker - b.worker);
    expect(circuits.map((c) => [c.worker, c.state, c.opened])).toEqual([0, 1].map((w) => [w, w === open ? 'open' : 'closed', w === open ? 1 : 0]));
    for (let seq = 4; seq < 8; seq++) engine.publish('flaky', { seq, fail: false, busyMs: 0 });
    await within(10_000, 'drain', engine.drain());
    expect(engine.letters.map((l) => [l.worker, l.reason])).toEqual([[open, 'circuit-open'], [open, 'circuit-open']]);
    const stats = engine.stats();
    expect(identityProblems(stats)).toEqual([]);
    expect(stats.topics.flaky).toMatchObject({ routed: 8, delivered: 6, deadLettered: 2, circuitOpen: 2 });
  });

  test('circuit breaker: failures outside the window do not open it; closed → open (circuit-open dead letters) → half-open trial → closed; a failing trial reopens it', async () => {
    const COOLDOWN = 500;
    const engine = await startFaultEngine(backend);
    const sub = await engine.subscribe('flaky', { handler: 'flaky', mode: 'group', workers: [0], circuit: { failures: 3, windowMs: 400, cooldownMs: COOLDOWN } });
    const circuit = () => engine.stats().circuits.find((c) => c.subscription === sub.id);
    let seq = 0;
    const send = (fail: boolean, busyMs = 0): number => {
      const s = seq++;
      expect(engine.publish('flaky', { seq: s, fail, busyMs })).toBe(true);
      return s;
    };
    const drain = () => within(10_000, 'drain', engine.drain());
    expect(engine.stats().circuits).toEqual([{ subscription: sub.id, topic: 'flaky', handler: 'flaky', worker: 0, state: 'closed', opened: 0 }]);

    // Two failures, a pause longer than the window, two more: never three within 400 ms.
    const failed = [send(true), send(true)];
    await drain();
    await sleep(700);
    failed.push(send(true), send(true));
    await drain();
    expect(circuit()).toMatchObject({ state: 'closed', opened: 0 });
    // A third within the window opens it.
    failed.push(send(true));
    await drain();
    expect(circuit()).toMatchObject({ state: 'open', opened: 1 });

    // Open: messages are dead-lettered, not run; a request is rejected.
    const refused = [send(false), send(false), send(false), send(false), send(false)];
    const error = await rejection(engine.request('flaky', { seq: 999, fail: false, busyMs: 0 }), 'request to an open circuit');
    expect(error.code).toBe('ERR_REQUEST_FAILED');
    await drain();
    expect(circuit()).toMatchObject({ state: 'open', opened: 1 });
    expect(engine.letters.map((l) => l.fields.seq)).toEqual([...refused, 999]);
    for (const letter of engine.letters) expect(letter).toEqual({ topic: 'flaky', fields: { seq: letter.fields.seq, fail: false, busyMs: 0 }, reason: 'circuit-open', deliveries: 0, worker: 0, handler: 'flaky' });

    // After the cooldown one trial runs (half-open, visible while it runs); its success closes the circuit.
    await sleep(COOLDOWN + 200);
    const trial = send(false, 400);
    const behind = [send(false), send(false), send(false)];
    await waitFor(2000, 'half-open during the trial', () => circuit()?.state === 'half-open');
    await drain();
    expect(circuit()).toMatchObject({ state: 'closed', opened: 1 });
    let ran = readLogs(engine).calls.filter((c) => c.code === HANDLER.C).map((c) => c.seq);
    expect(ran).toEqual([...failed, trial, ...behind]);
    expect(engine.letters).toHaveLength(6);

    // Three failures reopen it; after the cooldown a failing trial opens it again at once.
    const reopening = [send(true), send(true), send(true)];
    await drain();
    expect(circuit()).toMatchObject({ state: 'open', opened: 2 });
    await sleep(COOLDOWN + 200);
    const failingTrial = send(true, 300);
    await waitFor(2000, 'half-open during the failing trial', () => circuit()?.state === 'half-open');
    await drain();
    expect(circuit()).toMatchObject({ state: 'open', opened: 3 });
    const afterTrial = send(false);
    await drain();
    expect(engine.letters.map((l) => l.fields.seq)).toEqual([...refused, 999, afterTrial]);
    ran = readLogs(engine).calls.filter((c) => c.code === HANDLER.C).map((c) => c.seq);
    expect(ran).toEqual([...failed, trial, ...behind, ...reopening, failingTrial]);

    const stats = engine.stats();
    expect(identityProblems(stats)).toEqual([]);
    expect(stats.topics.flaky).toMatchObject({ delivered: ran.length, handlerErrors: 9, deadLettered: 7, circuitOpen: 7, crashed: 0, lost: 0 });
    expect(stats.workers.map((w) => w.restarts)).toEqual([0, 0]);
    expect(engine.errors.filter((e) => e.code === 'ERR_WORKER_CRASHED' || e.code === 'ERR_HANDLER_TIMEOUT')).toEqual([]);
  });
});

describe('supervision options (wasm)', () => {
  afterEach(closeFaultEngines);

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['restart not an object', { restart: 'always' }, /^restart/],
    ['restart true', { restart: true }, /^restart/],
    ['maxRestarts negative', { restart: { maxRestarts: -1 } }, /^restart\.maxRestarts$/],
    ['maxRestarts fractional', { restart: { maxRestarts: 1.5 } }, /^restart\.maxRestarts$/],
    ['windowMs 0', { restart: { windowMs: 0 } }, /^restart\.windowMs$/],
    ['minBackoffMs negative', { restart: { minBackoffMs: -1 } }, /^restart\.minBackoffMs$/],
    ['maxBackoffMs not a number', { restart: { maxBackoffMs: 'soon' } }, /^restart\.maxBackoffMs$/],
    ['handlerTimeout 0', { handlerTimeout: 0 }, /^handlerTimeout$/],
    ['handlerTimeout NaN', { handlerTimeout: Number.NaN }, /^handlerTimeout$/],
    ['maxDeliveries 0', { maxDeliveries: 0 }, /^maxDeliveries$/],
    ['maxDeliveries 1001', { maxDeliveries: 1001 }, /^maxDeliveries$/],
    ['onDeadLetter not a function', { onDeadLetter: 'log' }, /^onDeadLetter$/],
  ];
  test.each(bad)('createEngine: %s is a ConfigError naming it', async (_, options, field) => {
    await expect(createEngine({ topics: faultTopics, handlers: FAULT_HANDLERS, workers: 1, ...options } as never))
      .rejects.toMatchObject({ constructor: ConfigError, field: expect.stringMatching(field) });
  });

  test('subscribe: a bad circuit is a ConfigError naming it; the engine keeps working', async () => {
    const engine = await startFaultEngine('wasm', { workers: 1 });
    const circuits: unknown[] = [
      'on', { windowMs: 100, cooldownMs: 100 }, { failures: 0, windowMs: 100, cooldownMs: 100 }, { failures: 256, windowMs: 100, cooldownMs: 100 },
      { failures: 1.5, windowMs: 100, cooldownMs: 100 }, { failures: 3, windowMs: -1, cooldownMs: 100 }, { failures: 3, windowMs: 100, cooldownMs: 'later' },
    ];
    for (const circuit of circuits) {
      await expect(engine.subscribe('flaky', { handler: 'flaky', circuit } as never))
        .rejects.toMatchObject({ constructor: ConfigError, field: expect.stringMatching(/^circuit/) });
    }
    expect(engine.stats().circuits).toEqual([]);
    await engine.subscribe('flaky', { handler: 'flaky', circuit: { failures: 1, windowMs: 1000, cooldownMs: 1000 } });
    expect(await within(10_000, 'request', engine.request('flaky', { seq: 1, fail: false, busyMs: 0 }))).toEqual({ seq: 1, worker: 0 });
  });
});

describe('supervision judges (the tests of the tests)', () => {
  const jobs = [0, 1, 2, 3].map((seq) => ({ producer: 0, key: 1, seq, value: 10 + seq }));
  const call = (worker: number, seq: number, deliveries = 1, code: number = HANDLER.K) => ({ worker, code, producer: 0, key: 1, seq, deliveries, value: 10 + seq, threadId: 1 });

  test('a clean log passes; a redelivered repeat is allowed', () => {
    expect(judgeJobs([0, 1, 2, 3].map((s) => call(0, s)), jobs, HANDLER.K, 'keyed', [0, 1]).problems).toEqual([]);
    const repeat = [call(0, 0), call(0, 1), call(0, 1, 2), call(0, 2), call(0, 3)];
    expect(judgeJobs(repeat, jobs, HANDLER.K, 'keyed', [0, 1])).toEqual({ calls: 5, redelivered: 1, problems: [] });
  });

  test('missing, phantom, twice as a first delivery, out of order, split ownership, wrong value: each caught', () => {
    const judge = (calls: ReturnType<typeof call>[], mode: 'broadcast' | 'group' | 'keyed' = 'keyed') => judgeJobs(calls, jobs, HANDLER.K, mode, [0, 1]).problems.join('\n');
    expect(judge([call(0, 0), call(0, 1), call(0, 3)])).toMatch(/missing 0\/1\/2/);
    expect(judge([call(0, 0), call(0, 1), call(0, 2), call(0, 3), call(0, 4)])).toMatch(/phantom 0\/1\/4/);
    expect(judge([call(0, 0), call(0, 1), call(0, 1), call(0, 2), call(0, 3)])).toMatch(/as a first delivery/);
    expect(judge([call(0, 0), call(0, 2), call(0, 1), call(0, 3)])).toMatch(/order of stream 0\/1/);
    expect(judge([call(0, 0), call(0, 2), call(0, 1), call(0, 3)], 'group')).toMatch(/order of stream 0\/1/);
    expect(judge([call(0, 0), call(0, 1), call(1, 2), call(1, 3)])).toMatch(/handled on workers 0, 1/);
    expect(judge([call(0, 0), call(0, 1), call(0, 2), { ...call(0, 3), value: 0 }])).toMatch(/value 0, sent 13/);
    expect(judge([0, 1, 2, 3].map((s) => call(0, s)), 'broadcast')).toMatch(/missing w1:0\/1\/0/);
    expect(judgeIds([call(0, 7, 1, HANDLER.R)], HANDLER.R, [7, 8]).problems).toEqual(['missing 8']);
  });

  test('the identity check names the topic that breaks it', () => {
    const topic = { published: 0, unrouted: 0, routed: 5, delivered: 3, droppedOldest: 0, droppedNewest: 0, rejected: 0, callerRuns: 0, handlerErrors: 0, redelivered: 0, crashed: 0, deadLettered: 1, circuitOpen: 0, lost: 0, admissionRefused: 0, rateLimited: 0, stolen: 0, pooled: 0, poolExhausted: 0, inFlight: 0, shed: { high: 0, normal: 0, low: 0 } };
    const stats = { topics: { a: topic, b: { ...topic, lost: 1 } }, lanes: [], workers: [], lateReplies: 0, backlog: 0, lostToCrashes: 1, poolSlots: 0, poolInUse: 0, circuits: [], spin: 0, adaptiveSpin: false };
    expect(identityProblems(stats)).toEqual([expect.stringMatching(/^a: routed 5 ≠ .* = 4$/)]);
  });
});
