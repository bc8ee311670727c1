/**
 * Request/response throughput: a trivial task (sum two u32) answered by 2 workers, many requests
 * in flight, the engine on both backends beside the two usual worker pools.
 *
 *   main thread ── request('add', {a, b}) × WINDOW in flight ──▶ group 'add' ─┬─▶ worker 0 ─┐
 *        ▲         (sliding window: each reply sends the next request)        └─▶ worker 1 ─┤
 *        └──────────────────── reply {sum, worker} (lanes w→0) ◀────────────────────────────┘
 *
 *   Piscina / tinypool: main ── pool.run({a, b}) × WINDOW in flight ──▶ 2 pool threads
 *                            (concurrentTasksPerWorker, atomics; see POOL_* below) ──▶ a + b
 *
 * A run completes N requests with at most WINDOW outstanding (a sliding window: every reply's
 * continuation verifies it and issues the next request, so the workers never see the pipeline
 * run dry between windows) and reports requests completed per second, from the first request to
 * the last reply. Verified on every timed run: every reply equals (a + b) mod 2^32 of its own
 * request, N replies arrived, their sum mod 2^32 equals the sum computed independently on the main
 * thread, and (engine) both workers of the group answered some.
 *
 * The engine (one per backend, 2 workers, group round-robin) answers through its shared-memory
 * lanes; each request() still allocates a promise and a pending-table entry on the main thread.
 * The pools use their best settings measured on this VM for trivial tasks (2 threads, several
 * tasks in flight per worker: see POOL_CONCURRENCY, POOL_ATOMICS). One extra entry, metric
 * 'speedup' (who 'wasm', case 'engine ÷ best pool'), is the wasm median over the faster pool's
 * median; its min/max pair the extremes (wasm min ÷ that pool's max, wasm max ÷ its min).
 */
import { Piscina } from 'piscina';
import { Tinypool } from 'tinypool';
import { valueOf } from './engine/checksum.ts';
import { rrTopics, type RRTopics } from './engine/rr-topics.ts';
import { BACKENDS, SuiteEngines, measureSides, runSize, runTimeoutMs, verify, within, type RunSizes, type Side } from './engine-common.ts';
import { makeEntry, selected, type BenchOptions, type EngineBenchEntry, type EngineWho } from './results.ts';

const SUITE = 'request-response';
const CASE = 'add a+b, 2 workers';
const SPEEDUP_CASE = 'engine ÷ best pool';
/** Requests per requestBatch call, and calls in flight (BATCH × BATCHES_IN_FLIGHT = WINDOW). */
const BATCH = 256;
const BATCHES_IN_FLIGHT = 2;
const BATCH_CASE = `add a+b, 2 workers, requestBatch ${BATCH}`;
const BATCH_SPEEDUP_CASE = 'requestBatch ÷ best pool';
const HANDLERS = new URL('./engine/rr-handlers.js', import.meta.url);
const TASK_FILE = new URL('./workers/rr-add.js', import.meta.url).href;
const WORKERS = 2;
/** Requests outstanding at once, for every side. */
const WINDOW = 512;
/** Ring records per lane: a window split over 2 workers (and their replies) never fills a lane. */
const RING_CAPACITY = 1024;
/** Tasks each pool thread runs at once (they are synchronous: this only keeps its queue fed). */
const POOL_CONCURRENCY = 16;
/** Piscina's atomics mode: 'sync' lets an idle pool thread pick its next task without an event-loop turn. */
const POOL_ATOMICS = 'sync' as const;

const POOLS = ['piscina', 'tinypool'] as const;
type PoolWho = typeof POOLS[number];

const ENGINE_REQUESTS: RunSizes = { quick: 30_000, normal: 60_000, full: 500_000 };
/** The pools run at ~10^4–10^5 tasks/s here: fewer tasks, runs of a similar length. */
const POOL_REQUESTS: RunSizes = { quick: 8_000, normal: 15_000, full: 100_000 };
/** Requests per second below which a run times out: far below what any side does. */
const MIN_RATE = 5_000;

function operandB(i: number): number {
  return valueOf(i + 0x10000);
}

/** Sum mod 2^32 of every request's answer: what the replies must add up to. */
function expectedTotal(n: number): number {
  let total = 0;
  for (let i = 0; i < n; i++) total = (total + ((valueOf(i) + operandB(i)) >>> 0)) >>> 0;
  return total;
}

interface WindowResult { count: number; mismatches: number; firstMismatch: string; total: number; perWorker: number[] }

/**
 * Completes `n` calls of `call(a, b)` with at most `window` outstanding; `sumOf` and `workerOf`
 * read a reply. Rejects with the first call that fails.
 */
function slidingWindow<R>(
  n: number, window: number, call: (a: number, b: number) => Promise<R>,
  sumOf: (reply: R) => number, workerOf: (reply: R) => number,
): Promise<WindowResult> {
  return new Promise<WindowResult>((resolve, reject) => {
    const result: WindowResult = { count: 0, mismatches: 0, firstMismatch: '', total: 0, perWorker: new Array<number>(WORKERS).fill(0) };
    let issued = 0;
    let failed = false;
    const issue = (): void => {
      const i = issued++;
      const a = valueOf(i);
      const b = operandB(i);
      call(a, b).then((reply) => {
        const sum = sumOf(reply);
        if (sum !== ((a + b) >>> 0)) {
          if (result.mismatches++ === 0) result.firstMismatch = `request ${i}: ${a} + ${b} answered ${sum}`;
        }
        result.total = (result.total + sum) >>> 0;
        const worker = workerOf(reply);
        if (worker >= 0 && worker < WORKERS) result.perWorker[worker]!++;
        result.count++;
        if (issued < n) issue();
        else if (result.count === n) resolve(result);
      }, (error: unknown) => {
        if (failed) return;
        failed = true;
        reject(error as Error);
      });
    };
    for (let k = 0; k < Math.min(window, n); k++) issue();
    if (n === 0) resolve(result);
  });
}

function checkResult(result: WindowResult, n: number, expected: number, checkWorkers: boolean): void {
  const problems: string[] = [];
  if (result.count !== n) problems.push(`${result.count} of ${n} replies`);
  if (result.mismatches !== 0) problems.push(`${result.mismatches} wrong replies (first: ${result.firstMismatch})`);
  if (result.total !== expected) problems.push(`reply total ${result.total} != expected ${expected}`);
  if (checkWorkers && result.perWorker.some((count) => count === 0)) problems.push(`replies per worker ${result.perWorker.join('/')}: a worker answered none`);
  verify(problems);
}

interface Pool { run(task: { a: number; b: number }): Promise<number>; destroy(): Promise<void> }

function createPool(who: PoolWho): Pool {
  if (who === 'piscina') {
    const pool = new Piscina<{ a: number; b: number }, number>({
      filename: TASK_FILE, minThreads: WORKERS, maxThreads: WORKERS,
      concurrentTasksPerWorker: POOL_CONCURRENCY, atomics: POOL_ATOMICS, idleTimeout: 60_000,
    });
    return { run: (task) => pool.run(task), destroy: () => pool.destroy() };
  }
  const pool = new Tinypool({
    filename: TASK_FILE, minThreads: WORKERS, maxThreads: WORKERS,
    concurrentTasksPerWorker: POOL_CONCURRENCY, useAtomics: true, isolateWorkers: false, idleTimeout: 60_000,
  });
  return { run: (task) => pool.run(task) as Promise<number>, destroy: () => pool.destroy() };
}

/**
 * Completes `n` requests through `callBatch` in batches of `batch` with `inFlight` batches
 * outstanding (a sliding window of batches: each batch's continuation verifies it and sends the
 * next). `inFlight` message arrays of reused objects: requestBatch stages a batch before it
 * returns, so an array is free again at once.
 */
function batchWindow<R>(
  n: number, batch: number, inFlight: number, callBatch: (messages: readonly { a: number; b: number }[]) => Promise<readonly R[]>,
  sumOf: (reply: R) => number, workerOf: (reply: R) => number,
): Promise<WindowResult> {
  return new Promise<WindowResult>((resolve, reject) => {
    const result: WindowResult = { count: 0, mismatches: 0, firstMismatch: '', total: 0, perWorker: new Array<number>(WORKERS).fill(0) };
    const arrays = Array.from({ length: inFlight }, () => Array.from({ length: batch }, () => ({ a: 0, b: 0 })));
    let issued = 0;
    let failed = false;
    const issue = (slot: number): void => {
      const first = issued;
      const size = Math.min(batch, n - first);
      issued += size;
      const messages = size === batch ? arrays[slot]! : arrays[slot]!.slice(0, size);
      for (let k = 0; k < size; k++) {
        messages[k]!.a = valueOf(first + k);
        messages[k]!.b = operandB(first + k);
      }
      callBatch(messages).then((replies) => {
        for (let k = 0; k < size; k++) {
          const i = first + k;
          const sum = sumOf(replies[k]!);
          const expected = (valueOf(i) + operandB(i)) >>> 0;
          if (sum !== expected && result.mismatches++ === 0) result.firstMismatch = `request ${i}: expected ${expected}, answered ${sum}`;
          result.total = (result.total + sum) >>> 0;
          const worker = workerOf(replies[k]!);
          if (worker >= 0 && worker < WORKERS) result.perWorker[worker]!++;
        }
        result.count += size;
        if (issued < n) issue(slot);
        else if (result.count === n) resolve(result);
      }, (error: unknown) => {
        if (failed) return;
        failed = true;
        reject(error as Error);
      });
    };
    for (let slot = 0; slot < inFlight && issued < n; slot++) issue(slot);
    if (n === 0) resolve(result);
  });
}

/**
 * The speedup entry: wasm's median over the faster pool's median; min/max pair the extremes. Made
 * only when wasm and both pools were selected; unverified (no value) if any of them failed.
 */
function speedupEntry(entries: readonly EngineBenchEntry[], runs: number, engineCase: string, speedupCase: string): EngineBenchEntry {
  const find = (who: EngineWho): EngineBenchEntry | undefined => entries.find((e) => e.case === (who === 'wasm' ? engineCase : CASE) && e.metric === 'msgs_per_s' && e.who === who);
  const sides = (['wasm', ...POOLS] as const).map((who) => ({ who, entry: find(who) }));
  const failed = sides.find(({ entry }) => entry === undefined || !entry.verified || entry.runs === 0);
  if (failed !== undefined) {
    return makeEntry(SUITE, speedupCase, 'wasm', 'speedup', [], runs, `${failed.who}: ${failed.entry?.error ?? 'no verified timed runs'}`);
  }
  const [wasm, ...pools] = sides.map(({ entry }) => entry!) as [EngineBenchEntry, ...EngineBenchEntry[]];
  const best = pools.reduce((a, b) => (b.median > a.median ? b : a));
  const entry = makeEntry(SUITE, speedupCase, 'wasm', 'speedup', [wasm.median / best.median], 1, undefined);
  entry.min = wasm.min / best.max;
  entry.max = wasm.max / best.min;
  entry.runs = Math.min(wasm.runs, best.runs);
  return entry;
}

/** Runs the request/response case (both engine backends, Piscina, tinypool) selected by `options`. */
export async function runRequestResponse(options: BenchOptions, log: (line: string) => void): Promise<EngineBenchEntry[]> {
  const picked = (who: EngineWho): boolean => selected(options, SUITE, CASE, who);
  const backends = BACKENDS.filter(picked);
  const batchBackends = BACKENDS.filter((who) => selected(options, SUITE, BATCH_CASE, who));
  const pools = POOLS.filter(picked);
  if (backends.length === 0 && batchBackends.length === 0 && pools.length === 0) return [];
  const n = runSize(options, ENGINE_REQUESTS);
  const pn = runSize(options, POOL_REQUESTS);
  const expected = expectedTotal(n);
  const pexpected = expectedTotal(pn);
  const engines = new SuiteEngines<RRTopics>();
  const poolByWho = new Map<PoolWho, Pool>();
  const entries: EngineBenchEntry[] = [];
  try {
    await engines.startEach([...new Set([...backends, ...batchBackends])], { topics: rrTopics, handlers: HANDLERS, workers: WORKERS, ringCapacity: RING_CAPACITY }, [
      ['add', { handler: 'add', mode: 'group', workers: [0, 1] }],
    ]);
    for (const who of pools) poolByWho.set(who, createPool(who));
    log(`${SUITE} ${CASE}: ${options.runs} timed runs after warm-ups, ${WINDOW} requests in flight; `
      + `engine ${n.toLocaleString('en')} request() per run (${backends.join(' and ') || 'none'}), `
      + `pools ${pn.toLocaleString('en')} run() per run (${pools.map((p) => `${p} ${WORKERS} threads × ${POOL_CONCURRENCY} tasks`).join(', ') || 'none'})`);
    const sides: Side[] = [
      ...backends.map((who): Side => ({
        who,
        run: async () => {
          const { result, seconds } = await engines.timed(who, `${who} ${CASE}`, runTimeoutMs(n, MIN_RATE), (engine) => slidingWindow(
            n, WINDOW, (a, b) => engine.request('add', { a, b }), (r) => r.sum, (r) => r.worker,
          ));
          checkResult(result, n, expected, true);
          return { msgs_per_s: n / seconds };
        },
      })),
      ...pools.map((who): Side => ({
        who,
        run: async () => {
          const pool = poolByWho.get(who)!;
          const started = performance.now();
          const result = await within(runTimeoutMs(pn, MIN_RATE), `${who} ${CASE}`, slidingWindow(
            pn, WINDOW, (a, b) => pool.run({ a, b }), (sum) => sum, () => -1,
          ));
          const seconds = (performance.now() - started) / 1000;
          checkResult(result, pn, pexpected, false);
          return { msgs_per_s: pn / seconds };
        },
      })),
    ];
    if (sides.length > 0) entries.push(...await measureSides(SUITE, CASE, sides, ['msgs_per_s'], options, log));
    if (batchBackends.length > 0) {
      log(`${SUITE} ${BATCH_CASE}: ${BATCHES_IN_FLIGHT} requestBatch calls of ${BATCH} in flight, ${n.toLocaleString('en')} requests per run`);
      const batchSides = batchBackends.map((who): Side => ({
        who,
        run: async () => {
          const { result, seconds } = await engines.timed(who, `${who} ${BATCH_CASE}`, runTimeoutMs(n, MIN_RATE), (engine) => batchWindow(
            n, BATCH, BATCHES_IN_FLIGHT, (messages) => engine.requestBatch('add', messages), (r) => r.sum, (r) => r.worker,
          ));
          checkResult(result, n, expected, true);
          return { msgs_per_s: n / seconds };
        },
      }));
      entries.push(...await measureSides(SUITE, BATCH_CASE, batchSides, ['msgs_per_s'], options, log));
    }
    for (const [engineCase, speedupCase, engineSides] of [[CASE, SPEEDUP_CASE, backends], [BATCH_CASE, BATCH_SPEEDUP_CASE, batchBackends]] as const) {
      if (!engineSides.includes('wasm') || pools.length !== POOLS.length) continue;
      const speedup = speedupEntry(entries, options.runs, engineCase, speedupCase);
      entries.push(speedup);
      log(`  ${speedupCase} (wasm): ${speedup.verified ? `${speedup.median.toFixed(2)}× [${speedup.min.toFixed(2)}–${speedup.max.toFixed(2)}]` : `not computed (${speedup.error})`}`);
    }
  } finally {
    await Promise.all([engines.close(), ...[...poolByWho.values()].map((pool) => pool.destroy())]);
  }
  return entries;
}
