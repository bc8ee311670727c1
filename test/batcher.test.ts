/**
 * createBatcher (src/batcher.ts): coalescing into ⌈N / maxBatch⌉ calls, de-duplication, per-key and
 * whole-call errors, a result of the wrong shape, the concurrency limit (counted inside fn), batches
 * that grow while fn is slow, the rate limit over every window of calls, maxWaitMs and end-of-turn
 * batching, flush, close, figures that add up (and saturation), bad options; and a batcher running
 * in a plain worker_thread. Real timers throughout, so the timed tests leave slack for a busy machine.
 */
import { describe, expect, test } from '@jest/globals';
import { createBatcher, type BatchFunction } from '../src/batcher.ts';
import { BatcherError, ConfigError } from '../src/errors.ts';
import { STRESS, runWorker } from './harness.ts';
import type { BatcherWorkerReport } from './workers/batcher-worker.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** The value the test resources give for key k. */
const valueOf = (k: number): string => `v${k}`;

/** A resource that answers after `ms` and logs each call's keys and start time. */
function slowResource(ms: number): { fn: BatchFunction<number, string>; calls: number[][]; startedAt: number[]; maxInFlight: () => number } {
  const calls: number[][] = [];
  const startedAt: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const fn = async (keys: readonly number[]): Promise<string[]> => {
    calls.push([...keys]);
    startedAt.push(performance.now());
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      if (ms > 0) await sleep(ms);
      return keys.map(valueOf);
    } finally {
      inFlight--;
    }
  };
  return { fn, calls, startedAt, maxInFlight: () => maxInFlight };
}

describe('batching', () => {
  test.each([[1000, 100], [1050, 100], [7, 256], [256, 256], [257, 256]])('%i loads in one turn, maxBatch %i: ⌈N / maxBatch⌉ calls, every key once, every load its own value', async (n, maxBatch) => {
    const r = slowResource(1);
    const batcher = createBatcher(r.fn, { maxBatch });
    const keys = Array.from({ length: n }, (_, i) => i);
    const values = await Promise.all(keys.map((k) => batcher.load(k)));
    expect(values).toEqual(keys.map(valueOf));
    expect(r.calls.length).toBe(Math.ceil(n / maxBatch));
    expect(r.calls.flat().sort((a, b) => a - b)).toEqual(keys);
    for (const call of r.calls) expect(call.length).toBeLessThanOrEqual(maxBatch);
    await batcher.close();
  });

  test('maxWaitMs 0: loads of one turn (microtasks and promise chains included) make one call; loads of later turns make their own', async () => {
    const r = slowResource(0);
    const batcher = createBatcher(r.fn);
    const chained = async (k: number): Promise<string> => {
      await Promise.resolve();
      await Promise.resolve();
      return batcher.load(k);
    };
    const first = Promise.all([batcher.load(1), chained(2), Promise.resolve().then(() => batcher.load(3))]);
    await sleep(5);
    const second = batcher.load(4);
    expect(await first).toEqual(['v1', 'v2', 'v3']);
    expect(await second).toBe('v4');
    expect(r.calls).toEqual([[1, 3, 2], [4]]);   // in load order: 2 came two microtasks later
    await batcher.close();
  });

  test("dispatch 'job' (default): the loads of each timer callback make a call of their own, even when the callbacks run in one phase", async () => {
    const r = slowResource(0);
    const batcher = createBatcher(r.fn);
    const loads: Promise<string>[] = [];
    for (let k = 0; k < 3; k++) {
      setTimeout(() => {
        loads.push(batcher.load(k * 2));
        void Promise.resolve().then(() => loads.push(batcher.load(k * 2 + 1))); // its microtask: the same job
      }, 2);
    }
    // All three due before the timers phase runs (as in the 'turn' test below).
    const until = performance.now() + 10;
    while (performance.now() < until);
    await sleep(30);
    expect(loads).toHaveLength(6);
    await Promise.all(loads);
    expect(r.calls).toEqual([[0, 1], [2, 3], [4, 5]]);
    await batcher.close();
  });

  test("dispatch 'turn': loads from the timer callbacks of one event-loop phase coalesce (setImmediate, not a microtask)", async () => {
    const r = slowResource(0);
    const batcher = createBatcher(r.fn, { dispatch: 'turn' });
    // Timers due together run in one timers phase, each callback followed by its microtasks:
    // a batch closed at the first callback's microtask checkpoint would make 5 calls.
    const loads = await new Promise<Promise<string>[]>((resolve) => {
      const out: Promise<string>[] = [];
      for (let k = 0; k < 5; k++) setTimeout(() => { out.push(batcher.load(k)); if (out.length === 5) resolve(out); }, 2);
      // All five due before the timers phase runs, even if creating them straddled a ms boundary
      // on a loaded machine (CI once saw the first fire a phase before the rest).
      const until = performance.now() + 10;
      while (performance.now() < until);
    });
    await Promise.all(loads);
    expect(r.calls).toEqual([[0, 1, 2, 3, 4]]);
    await batcher.close();
  });

  test('maxWaitMs lingers from the first key: keys loaded meanwhile join, the call comes after maxWaitMs', async () => {
    const r = slowResource(0);
    const batcher = createBatcher(r.fn, { maxWaitMs: 40 });
    const t0 = performance.now();
    const a = batcher.load(1);
    await sleep(10);
    const b = batcher.load(2);
    await sleep(5);
    const c = batcher.load(3);
    expect(await Promise.all([a, b, c])).toEqual(['v1', 'v2', 'v3']);
    expect(r.calls).toEqual([[1, 2, 3]]);
    // libuv counts a timer from the loop's cached time, which may be behind performance.now()
    // by what already ran in this loop iteration: a timer can fire that much early.
    expect(r.startedAt[0]! - t0).toBeGreaterThanOrEqual(30);
    await batcher.close();
  });

  test('a batch that fills while lingering goes at once; flush() sends a lingering batch now', async () => {
    const r = slowResource(0);
    const batcher = createBatcher(r.fn, { maxWaitMs: 60_000, maxBatch: 3 });
    const t0 = performance.now();
    await Promise.all([batcher.load(1), batcher.load(2), batcher.load(3)]);
    const d = batcher.load(4);
    batcher.flush();
    expect(await d).toBe('v4');
    expect(r.calls).toEqual([[1, 2, 3], [4]]);
    expect(performance.now() - t0).toBeLessThan(5000);
    await batcher.close();
  });

  test('a synchronous fn (an array, not a promise) answers as well', async () => {
    const calls: number[][] = [];
    const batcher = createBatcher<number, number>((keys) => { calls.push([...keys]); return keys.map((k) => k * 2); }, { maxBatch: 2 });
    expect(await Promise.all([1, 2, 3, 4, 5].map((k) => batcher.load(k)))).toEqual([2, 4, 6, 8, 10]);
    expect(calls).toEqual([[1, 2], [3, 4], [5]]);
    await batcher.close();
  });
});

describe('de-duplication', () => {
  test('equal keys in a batch are one key of the call and share one promise', async () => {
    const r = slowResource(1);
    const batcher = createBatcher(r.fn);
    const a = batcher.load(1);
    const b = batcher.load(2);
    const c = batcher.load(1);
    expect(c).toBe(a);
    expect(await Promise.all([a, b, c])).toEqual(['v1', 'v2', 'v1']);
    expect(r.calls).toEqual([[1, 2]]);
    const s = batcher.stats();
    expect(s.loads).toBe(3);
    expect(s.deduplicated).toBe(1);
    expect(s.keys).toBe(2);
    await batcher.close();
  });

  test('repeated keys count toward maxBatch: a batch is full at maxBatch loads, so the loads one call answers fit one batch when they load again', async () => {
    const r = slowResource(0);
    const batcher = createBatcher(r.fn, { maxBatch: 4 });
    // 6 loads of 3 keys in one job: the first 4 loads (keys 1, 2, 1, 3) fill a batch of 3 keys.
    const loads = [1, 2, 1, 3, 2, 4].map((k) => batcher.load(k));
    expect(await Promise.all(loads)).toEqual(['v1', 'v2', 'v1', 'v3', 'v2', 'v4']);
    expect(r.calls).toEqual([[1, 2, 3], [2, 4]]);
    expect(batcher.stats()).toMatchObject({ loads: 6, deduplicated: 1, keys: 5 });
    await batcher.close();
  });

  test('a key function gives the identity: objects equal by id are one key (the first one loaded)', async () => {
    const seen: { id: number; tag: string }[][] = [];
    const batcher = createBatcher<{ id: number; tag: string }, number>(
      (keys) => { seen.push([...keys]); return keys.map((k) => k.id * 10); },
      { key: (k) => k.id },
    );
    const values = await Promise.all([batcher.load({ id: 1, tag: 'a' }), batcher.load({ id: 1, tag: 'b' }), batcher.load({ id: 2, tag: 'c' })]);
    expect(values).toEqual([10, 10, 20]);
    expect(seen).toEqual([[{ id: 1, tag: 'a' }, { id: 2, tag: 'c' }]]);
    await batcher.close();
  });

  test('nothing is cached across batches: a key loaded again after its call goes to fn again', async () => {
    const r = slowResource(0);
    const batcher = createBatcher(r.fn);
    await batcher.load(1);
    await batcher.load(1);
    expect(r.calls).toEqual([[1], [1]]);
    await batcher.close();
  });
});

describe('errors', () => {
  test('an Error in place i rejects key i alone; loadMany gives values and Errors in place', async () => {
    const bad = new Error('no such key: 2');
    const batcher = createBatcher<number, string>((keys) => keys.map((k) => (k === 2 ? bad : valueOf(k))));
    const settled = await Promise.allSettled([batcher.load(1), batcher.load(2), batcher.load(3)]);
    expect(settled).toEqual([
      { status: 'fulfilled', value: 'v1' }, { status: 'rejected', reason: bad }, { status: 'fulfilled', value: 'v3' },
    ]);
    expect(await batcher.loadMany([3, 2, 1])).toEqual(['v3', bad, 'v1']);
    const s = batcher.stats();
    expect(s.failedKeys).toBe(2);
    expect(s.failedCalls).toBe(0);
    await batcher.close();
  });

  test.each(['throws', 'rejects'])('fn that %s rejects every key of its batch with that error, and only that batch', async (how) => {
    const boom = new Error('resource down');
    let call = 0;
    const batcher = createBatcher<number, string>((keys) => {
      call++;
      if (call === 1) {
        if (how === 'throws') throw boom;
        return Promise.reject(boom);
      }
      return keys.map(valueOf);
    });
    const first = await Promise.allSettled([batcher.load(1), batcher.load(2)]);
    expect(first.map((r) => (r.status === 'rejected' ? r.reason : r.value))).toEqual([boom, boom]);
    expect(await batcher.load(3)).toBe('v3');
    expect(batcher.stats()).toMatchObject({ failedCalls: 1, failedKeys: 2, callsDone: 2 });
    await batcher.close();
  });

  test('a result of the wrong length, or not an array, rejects the batch with BatcherError ERR_BATCH_RESULT naming it', async () => {
    const short = createBatcher<number, string>(() => ['only one']);
    const [a, b] = await Promise.allSettled([short.load(1), short.load(2)]);
    for (const r of [a, b]) {
      expect(r!.status).toBe('rejected');
      const error = (r as PromiseRejectedResult).reason as BatcherError;
      expect(error).toBeInstanceOf(BatcherError);
      expect(error.code).toBe('ERR_BATCH_RESULT');
      expect(error.field).toBe('result.length');
      expect(error.value).toBe(1);
      expect(error.message).toMatch(/1 results for 2 keys/);
    }
    const wrong = createBatcher<number, string>(() => Promise.resolve(null as unknown as string[]));
    await expect(wrong.load(1)).rejects.toMatchObject({ code: 'ERR_BATCH_RESULT', field: 'result' });
    const nonError = createBatcher<number, string>(() => { throw 'plain string'; });
    await expect(nonError.load(1)).rejects.toBe('plain string');
    const [item] = await nonError.loadMany([2]);
    expect(item).toMatchObject({ code: 'ERR_BATCH_FAILED', cause: 'plain string' });
    await Promise.all([short.close(), wrong.close(), nonError.close()]);
  });
});

describe('limits', () => {
  test('concurrency: never more calls in flight than the limit (counted inside fn), and every key answered', async () => {
    const calls: number[][] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const fn = async (keys: readonly number[]): Promise<string[]> => {
      calls.push([...keys]);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep(1 + (keys[0]! % 5));
      inFlight--;
      return keys.map(valueOf);
    };
    const batcher = createBatcher(fn, { concurrency: 3, maxBatch: 8 });
    const loads: Promise<string>[] = [];
    for (let wave = 0; wave < 20; wave++) {
      for (let i = 0; i < 25; i++) loads.push(batcher.load(wave * 25 + i));
      if (wave % 4 === 3) await sleep(2);
    }
    const values = await Promise.all(loads);
    expect(values).toEqual(Array.from({ length: 500 }, (_, k) => valueOf(k)));
    expect(maxInFlight).toBe(3);
    expect(batcher.stats().inFlight).toBe(0);
    await batcher.close();
  });

  test('batches grow while fn is slow: at concurrency 1 the keys that arrive during a call go together in the next', async () => {
    const r = slowResource(25);
    const batcher = createBatcher(r.fn, { concurrency: 1 });
    const loads: Promise<string>[] = [];
    const t0 = performance.now();
    for (let k = 0; performance.now() - t0 < 150; k++) {
      loads.push(batcher.load(k));
      await sleep(1);
    }
    await Promise.all(loads);
    expect(r.maxInFlight()).toBe(1);
    expect(r.calls[0]!.length).toBe(1);
    const largest = Math.max(...r.calls.map((c) => c.length));
    expect(largest).toBeGreaterThanOrEqual(5);
    expect(r.calls.length).toBeLessThan(loads.length / 3);
    const s = batcher.stats();
    expect(s.concurrencyLimitedMs).toBeGreaterThan(50);
    expect(s.batchSize.max).toBe(largest);
    await batcher.close();
  });

  test('rate: over every window of calls, at most burst + rate × window calls start', async () => {
    const rate = 100;
    const burst = 3;
    const n = Math.round(40 * STRESS);
    const r = slowResource(0);
    const batcher = createBatcher(r.fn, { rate, burst, maxBatch: 1, concurrency: Infinity });
    const t0 = performance.now();
    await Promise.all(Array.from({ length: n }, (_, k) => batcher.load(k)));
    const took = performance.now() - t0;
    expect(r.calls.length).toBe(n);
    const t = r.startedAt;
    for (let i = 0; i < n; i++) {
      for (let j = i; j < n; j++) {
        // 0.2 ms of slack: fn stamps its start a little after the bucket's own clock read.
        expect(j - i + 1).toBeLessThanOrEqual(burst + (rate * (t[j]! - t[i]! + 0.2)) / 1000);
      }
    }
    expect(took).toBeGreaterThanOrEqual(((n - burst) / rate) * 1000 - 2);
    expect(batcher.stats().rateLimitedMs).toBeGreaterThan(((n - burst) / rate) * 1000 * 0.8);
    await batcher.close();
  });

  test('a rate-limited batch keeps coalescing: loads that arrive while it waits for a token join it', async () => {
    const r = slowResource(0);
    const batcher = createBatcher(r.fn, { rate: 20 });   // burst 1: a call every 50 ms
    const first = batcher.load(0);
    await sleep(5);
    const rest: Promise<string>[] = [];
    for (let k = 1; k <= 10; k++) { rest.push(batcher.load(k)); await sleep(2); }
    await Promise.all([first, ...rest]);
    expect(r.calls[0]).toEqual([0]);
    expect(r.calls.length).toBeLessThanOrEqual(2);
    await batcher.close();
  });
});

describe('figures, close, options', () => {
  test('figures add up: sum of batch sizes = keys called, one wait per key, one call time per call, loads = keys + de-duplicated', async () => {
    const r = slowResource(2);
    const batcher = createBatcher(r.fn, { concurrency: 2, maxBatch: 16 });
    const loads: Promise<string>[] = [];
    for (let round = 0; round < 30; round++) {
      for (let i = 0; i < 20; i++) loads.push(batcher.load((round * 7 + i) % 15));
      await sleep(round % 3);
    }
    await Promise.all(loads);
    const s = batcher.stats();
    expect(s.loads).toBe(600);
    expect(s.loads).toBe(s.keys + s.deduplicated);
    expect(s.deduplicated).toBeGreaterThan(0);
    expect(s.batchSize.sum).toBe(s.keys);
    expect(s.batchSize.count).toBe(s.calls);
    expect(s.calls).toBe(r.calls.length);
    expect(s.keys).toBe(r.calls.flat().length);
    expect(s.waitNs.count).toBe(s.keys);
    expect(s.callNs.count).toBe(s.callsDone);
    expect(s.callsDone).toBe(s.calls);
    // Each call sleeps 2 ms, as libuv counts it: from the loop's cached time, which may be a
    // millisecond behind performance.now(), so a 2 ms timer can fire 1.1 ms after it was set.
    expect(s.callNs.min).toBeGreaterThanOrEqual(0.5e6);
    expect(s).toMatchObject({ inFlight: 0, queuedKeys: 0, queuedBatches: 0, concurrency: 2, saturated: false, failedKeys: 0 });
    expect(s.saturatedMs).toBe(s.concurrencyLimitedMs + s.rateLimitedMs);
    expect(s.elapsedMs).toBeGreaterThan(0);
    // A snapshot: later loads do not change it.
    await batcher.load(999);
    expect(s.batchSize.count).toBe(s.calls);
    expect(batcher.stats().calls).toBe(s.calls + 1);
    await batcher.close();
  });

  test('lingering is not saturation; waiting for a slot is, and shows as saturated while it lasts', async () => {
    const lingering = createBatcher(slowResource(0).fn, { maxWaitMs: 30 });
    await lingering.load(1);
    expect(lingering.stats().saturatedMs).toBe(0);
    await lingering.close();

    const r = slowResource(40);
    const busy = createBatcher(r.fn, { concurrency: 1 });
    const a = busy.load(1);
    await sleep(1);
    const b = busy.load(2);
    await sleep(15);
    const during = busy.stats();
    expect(during).toMatchObject({ inFlight: 1, queuedKeys: 1, queuedBatches: 1, saturated: true });
    expect(during.concurrencyLimitedMs).toBeGreaterThan(5);
    await Promise.all([a, b]);
    const after = busy.stats();
    expect(after.saturated).toBe(false);
    expect(after.concurrencyLimitedMs).toBeGreaterThan(20);
    await busy.close();
  });

  test('close() rejects the loads still waiting with ERR_BATCHER_CLOSED, lets the calls in flight answer, then resolves; later loads reject', async () => {
    const r = slowResource(30);
    const batcher = createBatcher(r.fn, { concurrency: 1, maxWaitMs: 5 });
    const inFlight = batcher.load(1);
    await sleep(15);                                  // the first call is in flight
    const queued = [batcher.load(2), batcher.load(3)];
    let closed = false;
    const closing = batcher.close().then(() => { closed = true; });
    for (const q of queued) {
      await expect(q).rejects.toMatchObject({ name: 'BatcherError', code: 'ERR_BATCHER_CLOSED' });
    }
    expect(closed).toBe(false);
    expect(await inFlight).toBe('v1');
    await closing;
    expect(closed).toBe(true);
    await expect(batcher.load(4)).rejects.toBeInstanceOf(BatcherError);
    expect(r.calls).toEqual([[1]]);
    expect(batcher.stats().queuedKeys).toBe(0);
    await batcher.close();                            // twice is fine
  });

  test('await using closes it', async () => {
    const r = slowResource(0);
    let held: Promise<string> | undefined;
    {
      await using batcher = createBatcher(r.fn, { maxWaitMs: 60_000 });
      held = batcher.load(1);
    }
    await expect(held).rejects.toMatchObject({ code: 'ERR_BATCHER_CLOSED' });
  });

  test('bad options are ConfigErrors naming the field', () => {
    const fn = slowResource(0).fn;
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ maxBatch: 0 }, /^maxBatch=0/], [{ maxBatch: 1.5 }, /^maxBatch=/], [{ maxWaitMs: -1 }, /^maxWaitMs=-1/],
      [{ maxWaitMs: NaN }, /^maxWaitMs=/], [{ concurrency: 0 }, /^concurrency=0/], [{ concurrency: 2.5 }, /^concurrency=/],
      [{ rate: 0 }, /^rate=0/], [{ rate: Infinity }, /^rate=/], [{ burst: 2 }, /^burst=2: needs a rate/],
      [{ rate: 10, burst: 0 }, /^burst=0/], [{ key: 'id' }, /^key="id"/], [{ dispatch: 'tick' }, /^dispatch="tick"/],
    ];
    for (const [options, message] of bad) {
      expect(() => createBatcher(fn, options)).toThrow(ConfigError);
      expect(() => createBatcher(fn, options)).toThrow(message);
    }
    expect(() => createBatcher(null as unknown as typeof fn)).toThrow(/^fn=null/);
  });
});

test('runs in a plain worker_thread: the same batching there, no main-thread dependency', async () => {
  const report = await runWorker<BatcherWorkerReport>('batcher-worker', { loads: 2000, maxBatch: 64 });
  expect(report.ok).toBe(true);
  expect(report.calls).toBe(Math.ceil(2000 / 64));
  expect(report.keys).toBe(2000);
  expect(report.batchSizeSum).toBe(2000);
});
