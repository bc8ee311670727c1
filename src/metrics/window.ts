/**
 * Windows over the engine's counters: each read() takes a stats() snapshot, compares it with the
 * previous one and returns what happened in between — per-topic counts and rates, per-worker busy
 * fraction — plus the event-loop utilization of the thread that reads (the engine's own thread),
 * where the host measures it. Nothing is sampled in the background: the window is the interval
 * between two reads (the first from createMetricsWindow), so a scraper that reads every 15 s gets
 * 15-second rates. Reading is stats() (shared memory, no message to any worker) plus arithmetic.
 *
 * Worker busy fraction. Each worker keeps, in its control block, IDLE_MS (closed idle episodes) and
 * IDLE_SINCE_MS (the start of the open one, 0 while busy); stats() gives idleMs including the open
 * episode. Over a window of Δt, busy = 1 − ΔidleMs / Δt. Idle is spinning with nothing to do past
 * the first 1024 empty polls (worker.ts IDLE_TIMING_POLLS, a few µs), parked, or waiting for async
 * handlers to settle; busy is everything else: handlers, draining lanes, pumping backlogs. It is
 * computed from idle rather than from stats().busyMs because busyMs is `now − START_MS − idleMs`,
 * and a successor thread rewrites START_MS while IDLE_MS carries on across restarts: after a
 * restart busyMs reads 0 until the successor's run time exceeds every earlier incarnation's idle
 * time. A window in which the worker restarted, or was not running at both ends, has no busy
 * fraction (undefined): IDLE_MS does not say what the dead thread was doing between its last idle
 * episode and its death, nor how long the successor took to start. An exact figure across restarts
 * would need a per-worker BUSY_MS word in the control block, accumulated by the owner at every
 * busy → idle transition as IDLE_MS is at idle → busy, and never rewritten by a successor.
 *
 * A caveat of the engine's idle clock, measured: a worker closes an idle episode only once the
 * drain pass that ended it returns (worker.ts), so the handlers of the first pass after idling
 * (up to `batch` records per lane) count as idle. One 400 ms handler call after an idle spell reads
 * 0 % busy; 400 calls of 1 ms read 35 % at the default batch (256) and 97 % at batch 1. Under a
 * steady stream only the first pass of each busy period is misattributed. The fix belongs in the
 * worker loop (close the episode when a pass finds its first record), not here.
 *
 * Event-loop utilization: Node's performance.eventLoopUtilization() (active ÷ (active + idle) of
 * the reading thread's loop). Browsers have no equivalent; there `eventLoop` is undefined. The
 * workers' own loops are not measured: a worker parks in Atomics.wait, which blocks its loop, so
 * its loop would read busy while the thread sleeps — the busy fraction above is the figure for them.
 */
import type { EngineStats, TopicStats, WorkerStats } from '../engine/types.ts';
import { ConfigError } from '../errors.ts';
import { PRIORITIES, readStats, TOPIC_COUNTERS, type StatsSource, type TopicCounter } from './instruments.ts';

/** A value per TopicStats counter, and per shed class. */
export type TopicCounts = { [K in TopicCounter]: number } & { shed: { high: number; normal: number; low: number } };

export interface TopicWindow {
  /** Counter increments over the window. */
  readonly delta: TopicCounts;
  /** delta ÷ window seconds (0 for an empty window). */
  readonly perSecond: TopicCounts;
}

export interface WorkerWindow {
  readonly worker: number;
  /** State at the end of the window. */
  readonly state: WorkerStats['state'];
  /** Whether its restarts count changed during the window. */
  readonly restarted: boolean;
  /**
   * Fraction of the window the thread was busy (0..1); undefined when it restarted during the
   * window or was not running at both ends (see the file header).
   */
  readonly busyFraction: number | undefined;
  /** Seconds of idle time in the window (spinning past the first polls, parked, awaiting settles). */
  readonly idleSeconds: number;
}

/** The reading thread's event loop over the window (Node only). */
export interface EventLoopWindow {
  /** active ÷ (active + idle), 0..1. */
  readonly utilization: number;
  readonly activeMs: number;
  readonly idleMs: number;
}

export interface WindowReading {
  /** The window's name (options.name): the `window` label in formatPrometheus. */
  readonly name: string;
  /** Length of the window, seconds. */
  readonly seconds: number;
  /** The snapshot that ends the window (formatPrometheus(reading.stats) reads no counter twice). */
  readonly stats: EngineStats;
  /** Per topic; a topic absent from the previous snapshot counts from 0. */
  readonly topics: Readonly<Record<string, TopicWindow>>;
  readonly workers: readonly WorkerWindow[];
  /** The reading thread's event-loop utilization; undefined where the host lacks it (browsers). */
  readonly eventLoop: EventLoopWindow | undefined;
}

export interface MetricsWindowOptions {
  /** Its name in readings (the `window` label); default 'default'. */
  readonly name?: string;
  /** Clock in ms (monotonic); default performance.now(). Tests pass their own. */
  readonly now?: () => number;
  /** Measure the reading thread's event-loop utilization where the host can; default true. */
  readonly eventLoop?: boolean;
}

export interface MetricsWindow {
  readonly name: string;
  /** Reads stats, returns the window since the previous read (or since creation), starts the next. */
  read(): WindowReading;
}

interface EventLoopSample { idle: number; active: number; utilization: number }
type EventLoopUtilization = (current?: EventLoopSample, previous?: EventLoopSample) => EventLoopSample;

/** Node's performance.eventLoopUtilization, bound; undefined on hosts without it. */
function hostEventLoopUtilization(): EventLoopUtilization | undefined {
  const perf = (globalThis as { performance?: { eventLoopUtilization?: EventLoopUtilization } }).performance;
  const elu = perf?.eventLoopUtilization;
  return typeof elu === 'function' ? elu.bind(perf) : undefined;
}

function counts(stats: TopicStats | undefined): TopicCounts {
  const out = { shed: { high: stats?.shed.high ?? 0, normal: stats?.shed.normal ?? 0, low: stats?.shed.low ?? 0 } } as TopicCounts;
  for (const { field } of TOPIC_COUNTERS) out[field] = stats?.[field] ?? 0;
  return out;
}

/** Starts a window over `source` (an engine, or a function returning stats) now. */
export function createMetricsWindow(source: StatsSource, options: MetricsWindowOptions = {}): MetricsWindow {
  if (source === null || (typeof source !== 'function' && typeof (source as { stats?: unknown }).stats !== 'function')) {
    throw new ConfigError('source', source, 'must be an engine (anything with stats()) or a function returning EngineStats');
  }
  const name = options.name ?? 'default';
  if (typeof name !== 'string') throw new ConfigError('name', name, 'must be a string');
  const now = options.now ?? (() => performance.now());
  const elu = options.eventLoop === false ? undefined : hostEventLoopUtilization();
  let previous = readStats(source);
  let previousAt = now();
  let previousLoop = elu?.();

  return {
    name,
    read(): WindowReading {
      const stats = readStats(source);
      const at = now();
      const loop = elu?.();
      const ms = Math.max(0, at - previousAt);
      const seconds = ms / 1000;
      const topics: Record<string, TopicWindow> = {};
      for (const [topic, current] of Object.entries(stats.topics)) {
        const before = previous.topics[topic];
        const delta = counts(current);
        const perSecond = counts(undefined);
        for (const { field } of TOPIC_COUNTERS) {
          delta[field] = Math.max(0, delta[field] - (before?.[field] ?? 0));
          perSecond[field] = seconds > 0 ? delta[field] / seconds : 0;
        }
        for (const k of PRIORITIES) {
          delta.shed[k] = Math.max(0, delta.shed[k] - (before?.shed[k] ?? 0));
          perSecond.shed[k] = seconds > 0 ? delta.shed[k] / seconds : 0;
        }
        topics[topic] = { delta, perSecond };
      }
      const workers: WorkerWindow[] = stats.workers.map((current) => {
        const before = previous.workers.find((w) => w.worker === current.worker);
        const restarted = before !== undefined && before.restarts !== current.restarts;
        const idle = before === undefined ? 0 : Math.max(0, current.idleMs - before.idleMs);
        const known = before !== undefined && !restarted && before.state === 'running' && current.state === 'running' && ms > 0;
        return {
          worker: current.worker, state: current.state, restarted,
          busyFraction: known ? Math.min(1, Math.max(0, 1 - idle / ms)) : undefined,
          idleSeconds: idle / 1000,
        };
      });
      let eventLoop: EventLoopWindow | undefined;
      if (elu !== undefined && loop !== undefined && previousLoop !== undefined) {
        const d = elu(loop, previousLoop);
        eventLoop = { utilization: d.utilization, activeMs: d.active, idleMs: d.idle };
      }
      previous = stats;
      previousAt = at;
      previousLoop = loop;
      return { name, seconds, stats, topics, workers, eventLoop };
    },
  };
}
