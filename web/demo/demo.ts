/**
 * The live demo page (web/demo/index.html, served by `npm run demo:web`): the page's thread
 * publishes ticks to N workers for a few seconds on each selected contender in turn, and shows
 * live throughput on a chart, then latency and a verified checksum in a table.
 *
 *   page (producer)                                        N workers
 *   Wasm / JS engine:  publish() or publishBatch(batch) ─▶ lanes 0→w (SPSC rings, laneCapacity)
 *                      await whenWritable() when a lane  │ tick handler: count++, sum += value
 *                      is full (back-pressure)           │ (a group: one worker each)        
 *   postMessage:       worker.postMessage(tick or array) ─▶ plain module Web Workers, round-robin,
 *                      at most windowPosts posts per     │ same count and sum; an ack every
 *                      worker unacknowledged             │ windowPosts / ACK_FRACTION posts
 *
 * What is measured, per contender:
 * - throughput: messages HANDLED by the workers per second (not merely accepted by the page),
 *   sampled every SAMPLE_MS. For the engines that is the growth of stats().topics.tick.delivered
 *   (handler calls, summed over the workers' counters in shared memory; may be late by one
 *   worker batch, which evens out over samples); for postMessage, the growth of the counts the
 *   workers report in their acks. The table shows the median sample.
 * - latency: after the throughput phase and a drain (so the pings do not queue behind ticks),
 *   sequential round trips of one ping each (engine.request('ping'), or a postMessage ping and
 *   pong), recorded in an hdr-histogram: p50 and p99 in µs.
 * - correctness: after draining, every worker reports its count and value sum (requestAll
 *   'report', or a postMessage report), and the totals must equal what the page sent.
 *
 * The postMessage baseline is bounded: each worker may have at most `windowPosts` posts in flight
 * (unacknowledged), 64 batches or 1024 single messages; otherwise it would measure how fast the
 * page can fill an unbounded queue rather than how fast workers get messages. The engines are
 * bounded by their lanes (back-pressure), sized to hold as many messages (laneCapacity), so both
 * sides buffer alike.
 *
 * For the automated test: window.demo.run(options) sets the controls and runs what Start runs;
 * document.body.dataset.state is 'ready', 'running', 'done' or 'error' (dataset.error: message).
 * Every wait has a timeout, so a run ends (in an error) rather than hangs.
 */
import { createEngine, EngineError, type Engine, type Histogram as EngineHistogram, type TopicLatency } from '../../src/browser.ts';
import { formatCount, formatMicros, formatRate } from '../../bench/format.ts';
import { topics, type DemoTopics } from './topics.ts';

// ── settings ────────────────────────────────────────────────────────────────────────────────

type Contender = 'wasm' | 'js' | 'postMessage';
const CONTENDERS: readonly Contender[] = ['wasm', 'js', 'postMessage'];
const LABELS: Readonly<Record<Contender, string>> = { wasm: 'Wasm engine', js: 'JS engine', postMessage: 'postMessage' };
const COLORS: Readonly<Record<Contender, string>> = { wasm: '#4f46e5', js: '#d97706', postMessage: '#0f9d8a' };
const BATCH_SIZES: readonly number[] = [1, 16, 64, 256, 1024];
const MAX_WORKERS = 8;
const MIN_SECONDS = 1;
const MAX_SECONDS = 10;

/** Throughput is sampled (and the chart redrawn) this often, in ms. */
const SAMPLE_MS = 200;
/** The producer yields to the event loop after this much work (ms): replies, acks and drawing run then. */
const SLICE_MS = 8;
/** The producer looks at the clock after this many messages (performance.now() per message would cost more than the message). */
const CLOCK_EVERY = 1024;
/** Latency phase: at most this many sequential pings, within at most this many ms, after WARMUP unrecorded ones. */
const LATENCY_PINGS = 2000;
/**
 * The first ~100 round trips on a fresh ping path are slow (up to ~9 ms each measured here, while
 * the code on both sides is being compiled): left out of the histogram, on every contender alike.
 */
const LATENCY_WARMUP_PINGS = 100;
const LATENCY_MS = 600;
/** postMessage: unacknowledged posts allowed per worker: 64 batches, or 1024 messages; engine lanes hold as many (laneCapacity). */
const WINDOW_POSTS = 64;
const WINDOW_MESSAGES = 1024;
/** postMessage: posts a worker may have unacknowledged (at least WINDOW_MESSAGES messages). */
function postWindow(batchSize: number): number {
  return Math.max(WINDOW_POSTS, Math.ceil(WINDOW_MESSAGES / batchSize));
}

/**
 * Records per engine lane: as many messages as the postMessage baseline may have in flight per
 * worker (a power of two, at most 2^16), so both buffer the same amount. With more threads than
 * cores a worker loses its core for whole time slices (milliseconds); a lane that holds less
 * than that then stalls the producer, which the bigger postMessage window would absorb.
 */
function laneCapacity(batchSize: number): number {
  const messages = postWindow(batchSize) * batchSize;
  return Math.min(1 << 16, 2 ** Math.ceil(Math.log2(Math.max(1024, messages))));
}

/** postMessage: a worker acknowledges after every windowPosts / ACK_FRACTION posts. */
const ACK_FRACTION = 4;
/**
 * How the engines' tick group picks its worker (the Balance control): 'round-robin' (the engine's
 * default) or 'least-loaded', which evens out the workers' shares when one is slowed (another tab,
 * a busy core) at the cost of reading each member's ring cursors per record. publishBatch routes
 * and enqueues either with one dispatchBatch call per chunk.
 */
type Balance = 'round-robin' | 'least-loaded';
const BALANCES: readonly Balance[] = ['round-robin', 'least-loaded'];
/** Keys 0..63 (the tick's key field; the group subscription ignores it). */
const KEY_MASK = 63;

/** Time limits (ms): every wait in the page has one. */
const START_TIMEOUT_MS = 15_000;
const STALL_TIMEOUT_MS = 10_000;
const DRAIN_TIMEOUT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 5_000;
const CLOSE_TIMEOUT_MS = 10_000;

export interface DemoOptions {
  workers?: number;
  batch?: number;
  /** The engines' tick group: 'round-robin' (default) or 'least-loaded'. */
  balance?: Balance;
  seconds?: number;
  contenders?: Contender[];
}

/** One row of the results table. */
export interface DemoResult {
  contender: Contender;
  label: string;
  workers: number;
  batch: number;
  /** Length of the throughput phase, s. */
  seconds: number;
  /** Median of the throughput samples, million messages handled per second. */
  medianMps: number;
  /** Ping round trips, µs (NaN if none were measured). */
  p50Us: number;
  p99Us: number;
  /** The engines' sampled queue wait (publish → handler start) of the throughput phase, µs: p50, p99, p99.9 (NaN for postMessage). */
  queueWaitUs: readonly [number, number, number];
  /** Their sampled handler time, µs: p50, p99, p99.9. */
  handlerUs: readonly [number, number, number];
  /** The workers' reported count and value sum equal what the page sent. */
  checksumOk: boolean;
  /** Messages sent (and, if checksumOk, handled). */
  messages: number;
  /** What the check found, in words. */
  checksum: string;
  /** Set when the contender failed (its numbers are then NaN). */
  error?: string;
  /** The failure's code, for an EngineError (e.g. 'ERR_NOT_ISOLATED'). */
  errorCode?: string;
}

interface Settings { workers: number; batch: number; balance: Balance; seconds: number; contenders: Contender[] }

/** The value of tick `seq`: a multiplicative hash, < 2^16 (see topics.ts), so the sum is exact. */
function valueOf(seq: number): number {
  return Math.imul(seq, 0x9e3779b1) >>> 16;
}

// ── small helpers ───────────────────────────────────────────────────────────────────────────

class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/** Resolves or rejects as `promise` does, or rejects with a TimeoutError after `ms`. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what}: no progress within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Yields to the event loop through a MessageChannel: a macrotask (so replies, acks, timers and
 * rendering get their turn) without setTimeout's 4 ms clamp on nested timers.
 */
const yieldChannel = new MessageChannel();
const yieldWaiters: (() => void)[] = [];
yieldChannel.port1.onmessage = () => yieldWaiters.shift()?.();
function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((resolve) => {
    yieldWaiters.push(resolve);
    yieldChannel.port2.postMessage(null);
  });
}

function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The parts of hdr-histogram-js's browser build (global `hdr`, from the classic script) used here. */
interface Histogram {
  recordValue(value: number): void;
  getValueAtPercentile(percentile: number): number;
  readonly totalCount: number;
  destroy(): void;
}
interface HdrGlobal {
  build(request?: { lowestDiscernibleValue?: number; highestTrackableValue?: number; numberOfSignificantValueDigits?: 1 | 2 | 3 | 4 | 5 }): Histogram;
}
function hdrBuild(): Histogram {
  const hdr = (globalThis as { hdr?: HdrGlobal }).hdr;
  if (hdr === undefined) throw new Error('hdr-histogram-js did not load (/vendor/hdr-histogram-js/hdrhistogram.umd.js)');
  // µs, 1 µs to 60 s, 3 significant digits.
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

// ── contenders ──────────────────────────────────────────────────────────────────────────────

/** What the run driver needs from a contender; start-up happens before, in its factory. */
interface Contestant {
  /** Publishes ticks (seq = sent count) until performance.now() ≥ until, honouring back-pressure. */
  produce(until: number): Promise<void>;
  /** Ticks sent so far and the sum of their values. */
  readonly sent: number;
  readonly sentSum: number;
  /** Ticks the workers have handled so far (may be late: see the file header). */
  handled(): number;
  /** Waits until every tick sent was handled. */
  drain(): Promise<void>;
  /** One ping round trip. */
  ping(): Promise<void>;
  /** The workers' totals: count and value sum per worker. */
  report(): Promise<{ worker: number; count: number; sum: number }[]>;
  /** Errors the contender saw on the way (handler errors, crashed workers). */
  readonly errors: readonly string[];
  /** The engine's latency histograms of `tick` so far (engine.latency(): sampled queue wait and handler time, ns); none for postMessage. */
  latency?(): TopicLatency;
  close(): Promise<void>;
}

/** The Wasm or JS engine with `workers` workers; ticks to a group (settings.balance), pings to a group. */
async function startEngine(backend: 'wasm' | 'js', settings: Settings): Promise<Contestant> {
  const errors: string[] = [];
  const creating = createEngine<DemoTopics>({
    topics, handlers: new URL('./handlers.js', import.meta.url), backend, workers: settings.workers,
    ringCapacity: laneCapacity(settings.batch), startTimeout: START_TIMEOUT_MS, onError: (error) => errors.push(error.message),
  });
  let engine: Engine<DemoTopics>;
  try {
    // startTimeout bounds the workers' start; this also bounds fetching the core and the handlers.
    engine = await within(START_TIMEOUT_MS + 5_000, `${backend} engine start`, creating);
  } catch (error) {
    // An engine that starts after all is closed, not left running.
    creating.then((late) => late.close({ timeout: CLOSE_TIMEOUT_MS }), () => undefined);
    throw error;
  }
  try {
    await within(START_TIMEOUT_MS, 'subscribe', (async () => {
      await engine.subscribe('tick', { handler: 'tick', mode: 'group', balance: settings.balance });
      await engine.subscribe('ping', { handler: 'ping', mode: 'group' });
      await engine.subscribe('report', { handler: 'report', mode: 'broadcast' });
    })());
  } catch (error) {
    await engine.close({ timeout: CLOSE_TIMEOUT_MS });
    throw error;
  }
  const batchSize = settings.batch;
  // Reused for every publish: the engine copies the fields into shared memory before returning.
  const message = { seq: 0, value: 0, key: 0 };
  const batch = Array.from({ length: batchSize }, () => ({ seq: 0, value: 0, key: 0 }));
  const ping = { stamp: 0 };
  let sent = 0;
  let sentSum = 0;
  return {
    get sent() { return sent; },
    get sentSum() { return sentSum; },
    errors,
    async produce(until) {
      if (batchSize === 1) {
        for (;;) {
          for (let i = 0; i < CLOCK_EVERY; i++) {
            const value = valueOf(sent);
            message.seq = sent;
            message.value = value;
            message.key = sent & KEY_MASK;
            sent++;
            sentSum += value;
            // false: a lane is full and the tick waits, kept in order, in the page's backlog.
            if (!engine.publish('tick', message)) await engine.whenWritable();
          }
          if (performance.now() >= until) return;
        }
      }
      let sinceClock = 0;
      for (;;) {
        for (let i = 0; i < batchSize; i++) {
          const tick = batch[i]!;
          const value = valueOf(sent + i);
          tick.seq = sent + i;
          tick.value = value;
          tick.key = (sent + i) & KEY_MASK;
          sentSum += value;
        }
        const taken = engine.publishBatch('tick', batch);
        sent += batchSize;
        // Under 'block' nothing is refused: fewer taken means a worker is gone (a crash).
        if (taken !== batchSize) throw new Error(`publishBatch took ${taken} of ${batchSize} ticks (a worker crashed?)`);
        // Resolved at once unless part of the batch waits in a backlog for a full lane.
        await engine.whenWritable();
        sinceClock += batchSize;
        if (sinceClock >= CLOCK_EVERY) {
          sinceClock = 0;
          if (performance.now() >= until) return;
        }
      }
    },
    handled: () => engine.stats().topics.tick!.delivered,
    latency: () => engine.latency('tick').topics.tick!,
    drain: () => engine.drain({ timeout: DRAIN_TIMEOUT_MS }),
    async ping() {
      ping.stamp = performance.now();
      await engine.request('ping', ping, { timeout: REQUEST_TIMEOUT_MS });
    },
    async report() {
      const replies = await engine.requestAll('report', { reset: false }, { timeout: REQUEST_TIMEOUT_MS });
      if (replies.length !== settings.workers) throw new Error(`report: ${replies.length} of ${settings.workers} workers answered`);
      return replies;
    },
    close: () => within(CLOSE_TIMEOUT_MS + 1000, 'close', engine.close({ timeout: CLOSE_TIMEOUT_MS })),
  };
}

/** Plain module Web Workers fed with postMessage, round-robin, at most `windowPosts` unacknowledged posts each. */
async function startPostMessage(settings: Settings): Promise<Contestant> {
  const n = settings.workers;
  const batchSize = settings.batch;
  const windowPosts = postWindow(batchSize);
  const ackEvery = Math.max(1, Math.floor(windowPosts / ACK_FRACTION));
  const workers: Worker[] = [];
  const posted = new Float64Array(n);  // posts sent to worker w
  const acked = new Float64Array(n);   // posts worker w has acknowledged
  const counted = new Float64Array(n); // ticks worker w reported handled (at its last ack)
  const errors: string[] = [];
  let failure: Error | undefined;
  // One waiter per kind at a time: the page waits for one thing from the workers at once.
  let ackWaiter: (() => void) | undefined;
  let pongWaiter: (() => void) | undefined;
  const readyWaiters = new Map<number, () => void>();
  const reportWaiters = new Map<number, (report: { worker: number; count: number; sum: number }) => void>();
  const failWaiters = new Set<(error: Error) => void>();
  const fail = (error: Error): void => {
    failure ??= error;
    errors.push(error.message);
    for (const reject of failWaiters) reject(error);
    failWaiters.clear();
  };
  /** A promise that `register` hands its resolve to; a worker failure rejects it instead. */
  const wait = <T>(register: (resolve: (value: T) => void) => void): Promise<T> => {
    if (failure !== undefined) return Promise.reject(failure);
    return new Promise<T>((resolve, reject) => {
      failWaiters.add(reject);
      register((value) => {
        failWaiters.delete(reject);
        resolve(value);
      });
    });
  };

  for (let w = 0; w < n; w++) {
    const worker = new Worker(new URL('./postmessage-worker.js', import.meta.url), { type: 'module', name: `postMessage worker ${w}` });
    worker.onmessage = (event: MessageEvent) => {
      const data = event.data as { kind: string; posts: number; count: number; sum: number };
      switch (data.kind) {
        case 'ack': {
          acked[w] = data.posts;
          counted[w] = data.count;
          const wake = ackWaiter;
          ackWaiter = undefined;
          wake?.();
          break;
        }
        case 'pong': {
          const wake = pongWaiter;
          pongWaiter = undefined;
          wake?.();
          break;
        }
        case 'report':
          counted[w] = data.count;
          reportWaiters.get(w)?.({ worker: w, count: data.count, sum: data.sum });
          reportWaiters.delete(w);
          break;
        case 'ready':
          readyWaiters.get(w)?.();
          readyWaiters.delete(w);
          break;
      }
    };
    worker.onerror = (event: ErrorEvent) => fail(new Error(`postMessage worker ${w}: ${event.message || 'failed to load'}`));
    worker.onmessageerror = () => fail(new Error(`postMessage worker ${w}: a message could not be deserialized`));
    workers.push(worker);
  }
  const close = async (): Promise<void> => {
    for (const worker of workers) worker.terminate();
  };
  try {
    await within(START_TIMEOUT_MS, 'postMessage workers start', Promise.all(workers.map((worker, w) =>
      wait<void>((resolve) => {
        readyWaiters.set(w, resolve);
        worker.postMessage({ kind: 'start', ackEvery });
      }))));
  } catch (error) {
    await close();
    throw error;
  }

  const report = () => within(DRAIN_TIMEOUT_MS, 'postMessage report', Promise.all(workers.map((worker, w) =>
    wait<{ worker: number; count: number; sum: number }>((resolve) => {
      reportWaiters.set(w, resolve);
      worker.postMessage({ kind: 'report' });
    }))));

  // Reused: postMessage clones its argument, so one object (or array) serves every post.
  const message = { seq: 0, value: 0, key: 0 };
  const batch = Array.from({ length: batchSize }, () => ({ seq: 0, value: 0, key: 0 }));
  const ping = { kind: 'ping', stamp: 0 };
  let sent = 0;
  let sentSum = 0;
  let next = 0;
  let pingNext = 0;
  return {
    get sent() { return sent; },
    get sentSum() { return sentSum; },
    errors,
    async produce(until) {
      let sinceClock = 0;
      for (;;) {
        if (failure !== undefined) throw failure;
        const worker = next;
        next = next + 1 === n ? 0 : next + 1;
        // The window. Strict round-robin: wait for this worker's acks rather than skip it.
        while (posted[worker]! - acked[worker]! >= windowPosts) await wait<void>((resolve) => { ackWaiter = resolve; });
        if (batchSize === 1) {
          const value = valueOf(sent);
          message.seq = sent;
          message.value = value;
          message.key = sent & KEY_MASK;
          sentSum += value;
          workers[worker]!.postMessage(message);
        } else {
          for (let i = 0; i < batchSize; i++) {
            const tick = batch[i]!;
            const value = valueOf(sent + i);
            tick.seq = sent + i;
            tick.value = value;
            tick.key = (sent + i) & KEY_MASK;
            sentSum += value;
          }
          workers[worker]!.postMessage(batch);
        }
        sent += batchSize;
        posted[worker]!++;
        sinceClock += batchSize;
        if (sinceClock >= CLOCK_EVERY) {
          sinceClock = 0;
          if (performance.now() >= until) return;
        }
      }
    },
    handled() {
      let total = 0;
      for (let w = 0; w < n; w++) total += counted[w]!;
      return total;
    },
    async drain() {
      // Each worker's report comes after every tick posted to it (a worker's queue is FIFO).
      await report();
    },
    async ping() {
      const worker = workers[pingNext]!;
      pingNext = pingNext + 1 === n ? 0 : pingNext + 1;
      ping.stamp = performance.now();
      const pong = wait<void>((resolve) => { pongWaiter = resolve; });
      worker.postMessage(ping);
      await within(REQUEST_TIMEOUT_MS, 'postMessage ping', pong);
    },
    report,
    close,
  };
}

// ── the run ─────────────────────────────────────────────────────────────────────────────────

/** One contender's line on the chart. */
interface Series { contender: Contender; points: { t: number; mps: number }[]; medianMps?: number }

const ui = {
  workers: document.getElementById('workers') as HTMLSelectElement,
  batch: document.getElementById('batch') as HTMLSelectElement,
  balance: document.getElementById('balance') as HTMLSelectElement,
  seconds: document.getElementById('seconds') as HTMLInputElement,
  secondsOut: document.getElementById('seconds-out') as HTMLOutputElement,
  contenders: CONTENDERS.map((c) => document.getElementById(`use-${c}`) as HTMLInputElement),
  start: document.getElementById('start') as HTMLButtonElement,
  stop: document.getElementById('stop') as HTMLButtonElement,
  status: document.getElementById('status') as HTMLElement,
  progress: document.getElementById('progress') as HTMLProgressElement,
  error: document.getElementById('error') as HTMLElement,
  errorText: document.getElementById('error-text') as HTMLElement,
  environment: document.getElementById('environment') as HTMLElement,
  canvas: document.getElementById('chart') as HTMLCanvasElement,
  results: document.getElementById('results') as HTMLTableSectionElement,
  liveLatency: document.getElementById('live-latency') as HTMLElement,
};

let series: Series[] = [];
/** The legend's entries: the contenders of the current (or last) run, else the selected ones. */
let legendContenders: readonly Contender[] | undefined;
let chartSeconds = 3;
let running = false;
let stopRequested = false;

function setState(state: 'ready' | 'running' | 'done' | 'error', error?: string): void {
  document.body.dataset.state = state;
  if (error !== undefined) document.body.dataset.error = error;
  else delete document.body.dataset.error;
}

function describe(error: unknown): string {
  if (error instanceof EngineError) return `${error.name} ${error.code}: ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** Errors shown in the red box: message → who ran into it (a page without isolation fails both engines alike). */
const shownErrors = new Map<string, string[]>();

function showError(message: string, who?: string): void {
  const names = shownErrors.get(message) ?? [];
  if (who !== undefined) names.push(who);
  shownErrors.set(message, names);
  ui.errorText.replaceChildren(...[...shownErrors].map(([text, by]) => {
    const line = document.createElement('p');
    line.textContent = by.length > 0 ? `${by.join(', ')}: ${text}` : text;
    return line;
  }));
  ui.error.hidden = false;
}

function clearErrors(): void {
  shownErrors.clear();
  ui.errorText.replaceChildren();
  ui.error.hidden = true;
}

function setStatus(text: string, fraction?: number): void {
  ui.status.textContent = text;
  if (fraction === undefined) ui.progress.removeAttribute('value');
  else ui.progress.value = Math.max(0, Math.min(1, fraction));
}

/**
 * Runs one contender: start, throughput phase (live samples), drain, latency phase, report and
 * check, close. Errors propagate after the contender is closed.
 */
async function runContender(contender: Contender, settings: Settings, index: number, total: number): Promise<DemoResult> {
  const label = LABELS[contender];
  const step = `${label} (${index + 1} of ${total})`;
  setStatus(`${step}: starting ${settings.workers} worker${settings.workers === 1 ? '' : 's'}…`);
  const histogram = hdrBuild();
  let contestant: Contestant | undefined;
  try {
    contestant = contender === 'postMessage' ? await startPostMessage(settings) : await startEngine(contender, settings);
    const active = contestant;
    const line: Series = { contender, points: [] };
    series.push(line);
    // Throughput phase: produce in slices, yielding between them; a timer samples and redraws.
    const began = performance.now();
    const end = began + settings.seconds * 1000;
    let lastT = began;
    let lastHandled = active.handled();
    const samples: number[] = [];
    const sample = (now: number): void => {
      const handled = active.handled();
      const mps = (handled - lastHandled) / ((now - lastT) * 1000); // messages per ms / 1000 = M msg/s
      samples.push(mps);
      line.points.push({ t: (now - began) / 1000, mps });
      lastT = now;
      lastHandled = handled;
      setStatus(`${step}: ${((now - began) / 1000).toFixed(1)} s of ${settings.seconds} s, ${formatMps(mps)} msg/s`, (now - began) / (end - began));
      showLiveLatency(label, active.latency?.());
      drawChart();
    };
    const sampler = setInterval(() => sample(performance.now()), SAMPLE_MS);
    try {
      while (!stopRequested) {
        const now = performance.now();
        if (now >= end) break;
        // A slice that makes no progress for STALL_TIMEOUT_MS (back-pressure that never clears,
        // acks that never come) ends the run with an error instead of hanging the page.
        await within(STALL_TIMEOUT_MS, `${label}: publishing`, active.produce(Math.min(end, now + SLICE_MS)));
        await yieldToEventLoop();
      }
    } finally {
      clearInterval(sampler);
    }
    const stopped = performance.now();
    // The last, partial interval counts if it is long enough to mean something.
    if (stopped - lastT >= SAMPLE_MS / 2) sample(stopped);
    const seconds = (stopped - began) / 1000;

    setStatus(`${step}: draining…`);
    await within(DRAIN_TIMEOUT_MS + 1000, `${label}: drain`, active.drain());
    // The throughput phase's latency (before the pings add their own samples).
    const tick = active.latency?.();
    showLiveLatency(label, tick);

    if (!stopRequested) {
      setStatus(`${step}: measuring latency (ping round trips)…`);
      for (let i = 0; i < LATENCY_WARMUP_PINGS && !stopRequested; i++) await active.ping();
      const latencyEnd = performance.now() + LATENCY_MS;
      for (let i = 0; i < LATENCY_PINGS && performance.now() < latencyEnd && !stopRequested; i++) {
        const t0 = performance.now();
        await active.ping();
        histogram.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
        // Keep the page responsive during the phase, without adding the yield to a round trip.
        if ((i & 63) === 63) await yieldToEventLoop();
      }
    }

    setStatus(`${step}: checking…`);
    const reports = await active.report();
    let count = 0;
    let sum = 0;
    for (const r of reports) {
      count += r.count;
      sum += r.sum;
    }
    const problems: string[] = [];
    if (count !== active.sent) problems.push(`workers handled ${count} of ${active.sent} messages`);
    if (sum !== active.sentSum) problems.push(`value sum ${sum} ≠ ${active.sentSum} sent`);
    if (active.errors.length > 0) problems.push(`errors: ${active.errors.join('; ')}`);
    const checksumOk = problems.length === 0;
    const shares = reports.sort((a, b) => a.worker - b.worker).map((r) => `${Math.round((100 * r.count) / Math.max(1, count))}%`).join(' / ');
    line.medianMps = median(samples);
    drawChart();
    return {
      contender, label, workers: settings.workers, batch: settings.batch, seconds,
      medianMps: line.medianMps, p50Us: percentile(histogram, 50), p99Us: percentile(histogram, 99),
      queueWaitUs: spreadUs(tick?.queueWait), handlerUs: spreadUs(tick?.handler),
      checksumOk, messages: active.sent,
      checksum: checksumOk ? `ok: ${formatCount(count)} messages, per worker ${shares}` : `mismatch: ${problems.join('; ')}`,
    };
  } finally {
    histogram.destroy();
    await contestant?.close();
  }
}

function percentile(histogram: Histogram, p: number): number {
  return histogram.totalCount === 0 ? NaN : histogram.getValueAtPercentile(p);
}

/** p50, p99 and p99.9 of one of the engine's latency histograms (ns) in µs; NaN without samples. */
function spreadUs(histogram: EngineHistogram | undefined): [number, number, number] {
  if (histogram === undefined || histogram.count === 0) return [NaN, NaN, NaN];
  return [histogram.percentile(50) / 1000, histogram.percentile(99) / 1000, histogram.percentile(99.9) / 1000];
}

/** The live latency lines below the chart, one per contender of the run: the engine's sampled queue wait and handler time so far. */
const liveLatency = new Map<string, string>();

function showLiveLatency(label: string, tick: TopicLatency | undefined): void {
  const spread = (h: EngineHistogram): string => {
    const [p50, p99, p999] = spreadUs(h);
    return `p50 ${formatMicros(p50)} · p99 ${formatMicros(p99)} · p99.9 ${formatMicros(p999)} µs`;
  };
  liveLatency.set(label, tick === undefined
    ? `${label}: no latency histograms (postMessage has none)`
    : `${label} · queue wait ${spread(tick.queueWait)} · handler ${spread(tick.handler)} · ${formatCount(tick.queueWait.count)} samples`);
  ui.liveLatency.replaceChildren(...[...liveLatency.values()].map((text) => {
    const line = document.createElement('div');
    line.textContent = text;
    return line;
  }));
}

/** The controls' current values, checked. */
function readSettings(): Settings {
  return {
    workers: Number(ui.workers.value),
    batch: Number(ui.batch.value),
    balance: ui.balance.value as Balance,
    seconds: Number(ui.seconds.value),
    contenders: CONTENDERS.filter((_, i) => ui.contenders[i]!.checked),
  };
}

/** What Start runs (and window.demo.run): every selected contender in turn. */
async function runAll(): Promise<DemoResult[]> {
  if (running) throw new Error('a run is already in progress');
  const settings = readSettings();
  if (settings.contenders.length === 0) throw new Error('select at least one contender');
  running = true;
  stopRequested = false;
  setControlsEnabled(false);
  setState('running');
  clearErrors();
  series = [];
  legendContenders = settings.contenders;
  chartSeconds = settings.seconds;
  ui.results.replaceChildren();
  liveLatency.clear();
  drawChart();
  const results: DemoResult[] = [];
  let firstError: string | undefined;
  try {
    for (let i = 0; i < settings.contenders.length && !stopRequested; i++) {
      const contender = settings.contenders[i]!;
      let result: DemoResult;
      try {
        result = await runContender(contender, settings, i, settings.contenders.length);
      } catch (error) {
        // Shown, and the next contender still runs (e.g. postMessage works on a page that is not isolated).
        const message = describe(error);
        firstError ??= message;
        showError(message, LABELS[contender]);
        result = {
          contender, label: LABELS[contender], workers: settings.workers, batch: settings.batch, seconds: 0,
          medianMps: NaN, p50Us: NaN, p99Us: NaN, queueWaitUs: [NaN, NaN, NaN], handlerUs: [NaN, NaN, NaN], checksumOk: false, messages: 0, checksum: 'not run', error: message,
          ...(error instanceof EngineError ? { errorCode: error.code } : {}),
        };
      }
      results.push(result);
      addRow(result);
    }
  } finally {
    running = false;
    setControlsEnabled(true);
  }
  if (firstError !== undefined) {
    setStatus('Failed: see the error above.', 0);
    setState('error', firstError);
    throw new Error(firstError);
  }
  setStatus(stopRequested ? 'Stopped.' : `Done: ${results.length} run${results.length === 1 ? '' : 's'}, every checksum ${results.every((r) => r.checksumOk) ? 'ok' : 'checked (see the table)'}.`, 1);
  setState('done');
  return results;
}

// ── the table ───────────────────────────────────────────────────────────────────────────────

/** Million messages per second as a rate: 10.4 → '10.4M'. */
function formatMps(value: number): string {
  return formatRate(value * 1e6);
}

function addRow(result: DemoResult): void {
  const row = document.createElement('tr');
  const cell = (text: string, className?: string): HTMLTableCellElement => {
    const td = document.createElement('td');
    td.textContent = text;
    if (className !== undefined) td.className = className;
    row.append(td);
    return td;
  };
  const name = cell('', 'name');
  const swatch = document.createElement('span');
  swatch.className = 'swatch';
  swatch.style.background = COLORS[result.contender];
  name.append(swatch, result.label);
  cell(String(result.workers), 'num');
  cell(String(result.batch), 'num');
  cell(formatMps(result.medianMps), 'num strong');
  cell(formatMicros(result.p50Us), 'num');
  cell(formatMicros(result.p99Us), 'num');
  cell(result.queueWaitUs.map(formatMicros).join(' / '), 'num lat');
  cell(result.handlerUs.map(formatMicros).join(' / '), 'num lat');
  const check = cell(result.error !== undefined ? 'failed' : result.checksumOk ? '✓ ok' : '✗ mismatch', result.checksumOk ? 'ok' : 'bad');
  check.title = result.error ?? result.checksum;
  // A failure's whole message is in the red box; the row names it briefly.
  const detail = cell(result.error !== undefined ? `${result.errorCode ?? 'error'}: see the error above` : result.checksum.replace(/^(ok|mismatch): /, ''), 'detail');
  if (result.error !== undefined) detail.title = result.error;
  ui.results.append(row);
}

// ── the chart ───────────────────────────────────────────────────────────────────────────────

/** A "nice" axis maximum (1, 2, 2.5 or 5 × 10^k) at or above `value`, and its tick step. */
function niceScale(value: number): { max: number; step: number } {
  const target = Math.max(value, 0.1) * 1.1;
  const magnitude = 10 ** Math.floor(Math.log10(target / 5));
  for (const m of [1, 2, 2.5, 5, 10]) {
    const step = m * magnitude;
    if (step * 5 >= target) return { max: Math.ceil(target / step) * step, step };
  }
  return { max: target, step: target / 5 };
}

/** Redraws the whole chart (a few lines of at most ~50 points each: cheap). */
function drawChart(): void {
  const canvas = ui.canvas;
  const dpr = window.devicePixelRatio || 1;
  const cssWidth = canvas.clientWidth;
  const cssHeight = canvas.clientHeight;
  if (cssWidth === 0 || cssHeight === 0) return;
  // Backing store at device pixels, drawing in CSS pixels: crisp lines on high-DPI screens.
  if (canvas.width !== Math.round(cssWidth * dpr) || canvas.height !== Math.round(cssHeight * dpr)) {
    canvas.width = Math.round(cssWidth * dpr);
    canvas.height = Math.round(cssHeight * dpr);
  }
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, cssWidth, cssHeight);
  const font = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
  const left = 56;
  const right = 16;
  const top = 40;
  const bottom = 44;
  const width = cssWidth - left - right;
  const height = cssHeight - top - bottom;

  let peak = 0;
  for (const s of series) for (const p of s.points) peak = Math.max(peak, p.mps);
  const y = niceScale(peak);
  const xMax = Math.max(chartSeconds, ...series.flatMap((s) => s.points.map((p) => p.t)));
  const xStep = xMax <= 5 ? 0.5 : 1;
  const px = (t: number): number => left + (t / xMax) * width;
  const py = (mps: number): number => top + height - (mps / y.max) * height;

  // Grid and tick labels.
  ctx.font = font;
  ctx.lineWidth = 1;
  ctx.strokeStyle = '#e5e7eb';
  ctx.fillStyle = '#6b7280';
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (let v = 0; v <= y.max + y.step / 1000; v += y.step) {
    const yy = Math.round(py(v)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(left, yy);
    ctx.lineTo(left + width, yy);
    ctx.stroke();
    ctx.fillText(Number(v.toPrecision(6)).toString(), left - 8, yy);
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (let t = 0; t <= xMax + 1e-9; t += xStep) {
    const xx = Math.round(px(t)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(xx, top);
    ctx.lineTo(xx, top + height);
    ctx.stroke();
    if (Number.isInteger(t) || xMax <= 3) ctx.fillText(`${Number(t.toFixed(1))}`, xx, top + height + 6);
  }
  // Axes.
  ctx.strokeStyle = '#9ca3af';
  ctx.beginPath();
  ctx.moveTo(left + 0.5, top);
  ctx.lineTo(left + 0.5, top + height + 0.5);
  ctx.lineTo(left + width, top + height + 0.5);
  ctx.stroke();
  // Axis titles.
  ctx.fillStyle = '#374151';
  ctx.fillText('seconds since the run started', left + width / 2, top + height + 24);
  ctx.save();
  ctx.translate(14, top + height / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textBaseline = 'middle';
  ctx.fillText('million messages handled / s', 0, 0);
  ctx.restore();

  // One line per contender, clipped to the plot area.
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top - 2, width + 2, height + 4);
  ctx.clip();
  ctx.lineJoin = 'round';
  ctx.lineCap = 'round';
  for (const s of series) {
    ctx.strokeStyle = COLORS[s.contender];
    ctx.fillStyle = COLORS[s.contender];
    ctx.lineWidth = 2.25;
    ctx.beginPath();
    s.points.forEach((p, i) => (i === 0 ? ctx.moveTo(px(p.t), py(p.mps)) : ctx.lineTo(px(p.t), py(p.mps))));
    ctx.stroke();
    for (const p of s.points) {
      ctx.beginPath();
      ctx.arc(px(p.t), py(p.mps), 2.5, 0, Math.PI * 2);
      ctx.fill();
    }
    if (s.medianMps !== undefined && s.points.length > 0) {
      // The median as a dashed line across the run: the number in the table.
      ctx.setLineDash([5, 4]);
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(px(0), Math.round(py(s.medianMps)) + 0.5);
      ctx.lineTo(px(s.points[s.points.length - 1]!.t), Math.round(py(s.medianMps)) + 0.5);
      ctx.stroke();
      ctx.setLineDash([]);
    }
  }
  ctx.restore();

  // Legend, above the plot: every selected contender (those not run yet, dimmed).
  const shown = legendContenders ?? readSettings().contenders;
  ctx.textAlign = 'left';
  ctx.textBaseline = 'middle';
  ctx.font = font;
  let x = left;
  const ly = 16;
  for (const c of shown) {
    const s = series.find((v) => v.contender === c);
    const text = s?.medianMps !== undefined ? `${LABELS[c]}  ${formatMps(s.medianMps)} msg/s median` : LABELS[c];
    ctx.globalAlpha = s === undefined ? 0.4 : 1;
    ctx.strokeStyle = COLORS[c];
    ctx.lineWidth = 3;
    ctx.beginPath();
    ctx.moveTo(x, ly);
    ctx.lineTo(x + 20, ly);
    ctx.stroke();
    ctx.fillStyle = '#111827';
    ctx.fillText(text, x + 26, ly);
    x += 26 + ctx.measureText(text).width + 24;
  }
  ctx.globalAlpha = 1;
  if (series.length === 0) {
    ctx.fillStyle = '#9ca3af';
    ctx.textAlign = 'center';
    ctx.fillText('Press Start: each selected contender runs in turn, and its throughput is drawn here live.', left + width / 2, top + height / 2);
  }
}

// ── controls and start-up ───────────────────────────────────────────────────────────────────

function setControlsEnabled(enabled: boolean): void {
  for (const control of [ui.workers, ui.batch, ui.balance, ui.seconds, ...ui.contenders]) control.disabled = !enabled;
  ui.start.disabled = !enabled;
  ui.stop.disabled = enabled;
}

/** Sets the controls from `options` (clamped to what they offer), as a person would. */
function applyOptions(options: DemoOptions): void {
  if (options.workers !== undefined) {
    const max = ui.workers.options.length;
    ui.workers.value = String(Math.min(max, Math.max(1, Math.round(options.workers))));
  }
  if (options.batch !== undefined) {
    if (!BATCH_SIZES.includes(options.batch)) throw new Error(`batch=${options.batch}: must be one of ${BATCH_SIZES.join(', ')}`);
    ui.batch.value = String(options.batch);
  }
  if (options.balance !== undefined) {
    if (!BALANCES.includes(options.balance)) throw new Error(`balance=${String(options.balance)}: must be one of ${BALANCES.join(', ')}`);
    ui.balance.value = options.balance;
  }
  if (options.seconds !== undefined) {
    ui.seconds.value = String(Math.min(MAX_SECONDS, Math.max(MIN_SECONDS, Math.round(options.seconds))));
    ui.secondsOut.value = `${ui.seconds.value} s`;
  }
  if (options.contenders !== undefined) {
    for (const c of options.contenders) if (!CONTENDERS.includes(c)) throw new Error(`contenders: ${String(c)} is not one of ${CONTENDERS.join(', ')}`);
    CONTENDERS.forEach((c, i) => { ui.contenders[i]!.checked = options.contenders!.includes(c); });
  }
}

function setUp(): void {
  const cores = navigator.hardwareConcurrency > 0 ? navigator.hardwareConcurrency : 1;
  const maxWorkers = Math.max(1, Math.min(MAX_WORKERS, cores));
  for (let w = 1; w <= maxWorkers; w++) ui.workers.append(new Option(String(w), String(w)));
  // One core stays for this page's thread, the producer (engine workers poll briefly before they sleep).
  ui.workers.value = String(Math.max(1, Math.min(2, cores - 1, maxWorkers)));
  for (const b of BATCH_SIZES) ui.batch.append(new Option(b === 1 ? '1 (publish)' : String(b), String(b)));
  ui.batch.value = '256';
  for (const b of BALANCES) ui.balance.append(new Option(b, b));
  ui.balance.value = 'round-robin';
  ui.seconds.min = String(MIN_SECONDS);
  ui.seconds.max = String(MAX_SECONDS);
  ui.seconds.value = '3';
  ui.secondsOut.value = '3 s';
  ui.seconds.addEventListener('input', () => { ui.secondsOut.value = `${ui.seconds.value} s`; });
  for (const box of ui.contenders) box.addEventListener('change', () => { if (!running) drawChart(); });
  ui.start.addEventListener('click', () => { runAll().catch(() => { /* shown on the page */ }); });
  ui.stop.addEventListener('click', () => {
    stopRequested = true;
    ui.stop.disabled = true;
    setStatus('Stopping after the current contender’s check…');
  });
  setControlsEnabled(true);
  new ResizeObserver(() => drawChart()).observe(ui.canvas);

  const isolated = globalThis.crossOriginIsolated === true;
  const waitAsync = typeof (Atomics as { waitAsync?: unknown }).waitAsync === 'function';
  ui.environment.textContent = `${isolated ? 'cross-origin isolated' : 'NOT cross-origin isolated'} · ${cores} logical core${cores === 1 ? '' : 's'} · Atomics.waitAsync ${waitAsync ? 'yes' : 'no (polling fallback)'}`;
  ui.environment.classList.toggle('bad', !isolated);

  const demo = {
    run(options: DemoOptions = {}): Promise<DemoResult[]> {
      if (running) return Promise.reject(new Error('a run is already in progress'));
      try {
        applyOptions(options);
      } catch (error) {
        return Promise.reject(error);
      }
      return runAll();
    },
  };
  (globalThis as { demo?: typeof demo }).demo = demo;
  drawChart();
  setStatus('Ready. Choose the settings and press Start.', 0);

  if (!isolated) {
    // Without the isolation headers createEngine refuses: ask it now, so the page shows its
    // typed error (which names the headers) before anyone presses Start. It throws before
    // starting any worker.
    createEngine<DemoTopics>({ topics, handlers: new URL('./handlers.js', import.meta.url), workers: 1 }).then(
      (engine) => { void engine.close(); setState('ready'); },
      (error: unknown) => {
        const message = describe(error);
        showError(message);
        setStatus('The engines cannot run on this page; the postMessage baseline can.', 0);
        setState('error', message);
      },
    );
    return;
  }
  setState('ready');
}

try {
  setUp();
} catch (error) {
  const message = describe(error);
  showError(message);
  setState('error', message);
}
