/**
 * The public types of what an engine reports: stats() (per topic, lane, worker and circuit
 * breaker) and latency() (per-topic histograms). types.ts re-exports every public type.
 */
import type { Histogram } from '../histogram.ts';
import type { Priority } from './topic-types.ts';

/** One topic's latency histograms (snapshots, nanoseconds): engine.latency(). */
export interface TopicLatency {
  /** Publish (push into the lane) → its handler starts: sampled deliveries (options.latency). */
  readonly queueWait: Histogram;
  /** Handler start → return (async: → settle; a batch handler: its call): the same samples. */
  readonly handler: Histogram;
  /** request()/requestAll() → the reply that settles it, on the engine's thread: sampled requests (options.latency). */
  readonly roundTrip: Histogram;
}

/** engine.latency(): per topic, and the sampling identity's two sides (latency.ts). */
export interface LatencyReport {
  readonly topics: Readonly<Record<string, TopicLatency>>;
  /** Epoch ms the histograms count from: the engine's creation. */
  readonly since: number;
  /** Records stamped for sampling, over every publishing thread. */
  readonly stamped: number;
  /** Stamped records not measured (replies, dead letters, records inside a batch run, stolen ones); after drain, stamped = Σ queueWait.count + skipped. */
  readonly skipped: number;
}

/**
 * Counters of one topic, summed over threads; each may be late by a batch. After drain() they obey,
 * crash or no crash, the accounting identity
 *
 *   routed = delivered + deadLettered + droppedOldest + droppedNewest + rejected + lost
 *            + admissionRefused + shed.high + shed.normal + shed.low
 *
 * (every lane copy made is handled once, given up on, refused or lost), with `crashed` and
 * `redelivered` counting the extra delivery attempts of messages whose handling killed a worker.
 */
export interface TopicStats {
  /** publish() calls accepted by at least one lane or handled inline. */
  published: number;
  /** publish() calls that found no subscription. */
  unrouted: number;
  /** Lane copies made by routing (one per receiving member). */
  routed: number;
  /** Handler calls (including caller-runs and calls that threw). */
  delivered: number;
  droppedOldest: number;
  droppedNewest: number;
  rejected: number;
  callerRuns: number;
  handlerErrors: number;
  /** Of delivered, calls of a message whose earlier deliveries crashed or hung a worker (ctx.deliveries > 1). */
  redelivered: number;
  /** Deliveries that crashed or hung their worker (not in delivered: the handler never returned). */
  crashed: number;
  /** Messages given up on: poison messages (maxDeliveries reached) and circuit-open rejections. */
  deadLettered: number;
  /** Of deadLettered, those whose subscription's circuit was open. */
  circuitOpen: number;
  /**
   * Accepted messages no handler will run: held by a worker that stays down (restart limit, or
   * restart: false) or waiting in the own backlog of a worker that crashed.
   */
  lost: number;
  /** Deliveries refused because maxInFlight of the topic were in flight (TopicSpec.admission). */
  admissionRefused: number;
  /** Of delivered, deliveries run by an idle member that took them from another member's lane (steal). */
  stolen: number;
  /** Publishes refused because the topic's rate (admission.rate) had no token left; not routed, so not in the identity. */
  rateLimited: number;
  /** Publishes whose message reached its receivers through one fan-out pool slot instead of a copy per receiver (options.pool). */
  pooled: number;
  /** Publishes that would have used the fan-out pool but found every slot taken: copied per receiver. */
  poolExhausted: number;
  /** Deliveries in flight now (admitted, not yet handled): only for a topic with an admission limit, else 0. */
  inFlight: number;
  /** Deliveries shed at publish time, per priority class (TopicSpec.shed; high is never shed). */
  shed: { high: number; normal: number; low: number };
  /** The first handler error seen for this topic, if any. */
  firstError?: Error;
}

/** One lane: the ring from thread `from` to thread `to` (0 = the engine's own thread, w + 1 = worker w) for one priority class. */
export interface LaneStats {
  from: number;
  to: number;
  priority: Priority;
  /** Records made visible on it. */
  published: number;
  /** Records visible and not yet handled. */
  depth: number;
  /** Highest depth its producer saw at a flush. */
  highWater: number;
}

export interface WorkerStats {
  worker: number;
  /** 'restarting': crashed or hung, a successor is on its way; 'crashed': down for good (restart limit, or restart: false). */
  state: 'starting' | 'running' | 'restarting' | 'stopped' | 'crashed';
  /** Times it was restarted. */
  restarts: number;
  busyMs: number;
  idleMs: number;
}

/** One worker's circuit breaker of one subscription (slot). */
export interface CircuitStats {
  /** The subscription slot (Subscription.id for a topic; a pattern has one slot per topic). */
  subscription: number;
  topic: string;
  handler: string;
  worker: number;
  state: 'closed' | 'open' | 'half-open';
  /** Times it opened. */
  opened: number;
}

export interface EngineStats {
  topics: Record<string, TopicStats>;
  lanes: LaneStats[];
  workers: WorkerStats[];
  /** Replies that arrived after their request timed out, was aborted or already answered. */
  lateReplies: number;
  /** Records waiting in publishers' backlogs (a full lane under block on the engine's thread, or drop-oldest). */
  backlog: number;
  /** Sum of every topic's `lost`. */
  lostToCrashes: number;
  /** The fan-out pool's slots (options.pool), and how many hold a message now; both 0 without a pool. */
  poolSlots: number;
  poolInUse: number;
  /** The circuit breakers of subscriptions that have one, per member worker. */
  circuits: CircuitStats[];
  /** Empty polls a worker spins before it parks (options.spin, or the default). */
  spin: number;
  /** Whether spin is the default, spent only while the awake engine threads fit the cores. */
  adaptiveSpin: boolean;
  /** The journal's extent and its active durable subscriptions, by name; absent without a journal. */
  journal?: JournalStats;
}

export interface JournalStats {
  /** Index of the oldest record kept, and the index the next record gets. */
  first: number;
  next: number;
  durable: Record<string, DurableStats>;
}

export interface DurableStats {
  topic: string;
  /** Every message before this journal index was handled (what a restart resumes from, once saved). */
  acked: number;
  /** The next journal index it forwards. */
  forwarded: number;
  /** Records of the journal not yet forwarded (all topics' records count). */
  behind: number;
  /** Records retention removed before they reached it. */
  dropped: number;
}
