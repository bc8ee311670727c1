/**
 * What the engine's figures are called outside it: for every field of `engine.stats()` its
 * Prometheus family (prometheus.ts) and its OpenTelemetry instrument (otel.ts), with the help text
 * and unit both share. One table, so the two expositions and the README's table cannot drift apart.
 *
 * Names follow each system's conventions: Prometheus families are `<prefix>_<thing>_<unit>`, with
 * `_total` on counters and base units (seconds, not milliseconds); OpenTelemetry instruments are
 * dotted (`<prefix>.topic.dropped_oldest`) with UCUM units (`s`, `{message}`), so that an
 * OpenTelemetry-to-Prometheus exporter turns each into the same family name formatPrometheus
 * writes. Published and delivered are the exceptions on the OpenTelemetry side: they take the
 * messaging semantic conventions' names (messaging.client.sent.messages and
 * messaging.client.consumed.messages).
 */
import type { EngineStats, TopicStats } from '../engine/types.ts';

/** The numeric counters of TopicStats that only grow (shed is per class, inFlight a gauge). */
export type TopicCounter =
  | 'published' | 'unrouted' | 'routed' | 'delivered' | 'droppedOldest' | 'droppedNewest' | 'rejected'
  | 'callerRuns' | 'handlerErrors' | 'redelivered' | 'crashed' | 'deadLettered' | 'circuitOpen' | 'lost'
  | 'admissionRefused' | 'stolen' | 'rateLimited' | 'pooled' | 'poolExhausted';

/** One TopicStats counter: `<prefix>_topic_<snake>_total{topic}` in Prometheus. */
export interface TopicCounterSpec {
  readonly field: TopicCounter;
  /** snake_case of the field: the family is `<prefix>_topic_<snake>_total`. */
  readonly snake: string;
  readonly help: string;
  /**
   * The OpenTelemetry instrument's full name when a semantic convention names it, with the
   * `messaging.operation.name` it reports; otherwise `<prefix>.topic.<snake>`.
   */
  readonly convention?: { readonly name: string; readonly operation: string };
}

/** Every counter of TopicStats, in the order of its declaration (src/engine/types.ts). */
export const TOPIC_COUNTERS: readonly TopicCounterSpec[] = [
  { field: 'published', snake: 'published', help: 'publish() calls accepted by at least one lane or handled inline.', convention: { name: 'messaging.client.sent.messages', operation: 'publish' } },
  { field: 'unrouted', snake: 'unrouted', help: 'publish() calls that found no subscription.' },
  { field: 'routed', snake: 'routed', help: 'Lane copies made by routing (one per receiving subscription member).' },
  { field: 'delivered', snake: 'delivered', help: 'Handler calls, including caller-runs and calls that threw.', convention: { name: 'messaging.client.consumed.messages', operation: 'process' } },
  { field: 'droppedOldest', snake: 'dropped_oldest', help: 'Deliveries dropped from a full lane to make room (drop-oldest).' },
  { field: 'droppedNewest', snake: 'dropped_newest', help: 'Deliveries dropped because their lane was full (drop-newest).' },
  { field: 'rejected', snake: 'rejected', help: 'Deliveries refused because their lane was full (reject).' },
  { field: 'callerRuns', snake: 'caller_runs', help: 'Deliveries run on the publishing thread because their lane was full (caller-runs).' },
  { field: 'handlerErrors', snake: 'handler_errors', help: 'Handler calls that threw or rejected.' },
  { field: 'redelivered', snake: 'redelivered', help: 'Handler calls of a message whose earlier deliveries crashed or hung a worker.' },
  { field: 'crashed', snake: 'crashed', help: 'Deliveries that crashed or hung their worker.' },
  { field: 'deadLettered', snake: 'dead_lettered', help: 'Messages given up on: poison messages and circuit-open rejections.' },
  { field: 'circuitOpen', snake: 'circuit_open', help: 'Dead-lettered messages whose subscription circuit was open.' },
  { field: 'lost', snake: 'lost', help: 'Accepted messages no handler will run (held by a worker that stays down).' },
  { field: 'admissionRefused', snake: 'admission_refused', help: 'Deliveries refused because the topic had maxInFlight deliveries in flight.' },
  { field: 'stolen', snake: 'stolen', help: "Deliveries run by an idle member that took them from another member's lane." },
  { field: 'rateLimited', snake: 'rate_limited', help: "Publishes refused because the topic's rate limit had no token left." },
  { field: 'pooled', snake: 'pooled', help: 'Publishes whose message reached its receivers through one fan-out pool slot.' },
  { field: 'poolExhausted', snake: 'pool_exhausted', help: 'Publishes that found every fan-out pool slot taken and were copied per receiver.' },
];

/** Help texts of the families that are not one TopicStats counter each, by family (after the prefix). */
export const HELP = {
  topic_shed_total: 'Deliveries shed at publish time, by priority class.',
  topic_in_flight: 'Deliveries admitted and not yet handled (topics with an admission limit; 0 otherwise).',
  lane_published_total: 'Records made visible on the lane (from thread -> to thread; 0 is the engine thread, w + 1 worker w).',
  lane_depth: 'Records visible on the lane and not yet handled.',
  lane_high_water: 'Highest lane depth its producer saw at a flush.',
  worker_state: 'Worker state: 1 for the state the worker is in, 0 for the others.',
  worker_restarts_total: 'Times the worker was restarted.',
  worker_busy_seconds_total: 'Seconds the worker thread spent in loop passes (handling, polling) since it started.',
  worker_idle_seconds_total: 'Seconds the worker thread spent spinning idle or parked since it first started.',
  circuit_state: "A subscription circuit breaker's state on one worker: 1 for its state, 0 for the others.",
  circuit_opened_total: 'Times the circuit breaker opened.',
  late_replies_total: 'Replies that arrived after their request timed out, was aborted or was already answered.',
  backlog: "Records waiting in publishers' backlogs.",
  lost_to_crashes_total: "Sum of every topic's lost messages.",
  pool_slots: 'Slots of the fan-out pool (0: no pool).',
  pool_in_use: 'Fan-out pool slots holding a message now.',
  spin_polls: 'Empty polls a worker spins before it parks (adaptive: spent only while the awake threads fit the cores).',
  topic_published_per_second: 'Publishes per second over the window.',
  topic_delivered_per_second: 'Handler calls per second over the window.',
  worker_utilization_ratio: 'Busy fraction of the worker thread over the window (1 - idle time / window).',
  event_loop_utilization_ratio: "Event-loop utilization of the engine's own thread over the window.",
  window_seconds: 'Length of the window the rates and ratios cover.',
} as const;

/** Every state a worker reports, in a fixed order (WorkerStats.state). */
export const WORKER_STATES = ['starting', 'running', 'restarting', 'stopped', 'crashed'] as const satisfies readonly EngineStats['workers'][number]['state'][];
/** Every state a circuit breaker reports (CircuitStats.state). */
export const CIRCUIT_STATES = ['closed', 'open', 'half-open'] as const satisfies readonly EngineStats['circuits'][number]['state'][];
/** The priority classes, highest first (TopicStats.shed, LaneStats.priority). */
export const PRIORITIES = ['high', 'normal', 'low'] as const satisfies readonly (keyof TopicStats['shed'])[];

/** Where stats come from: an engine (anything with `stats()`) or a function returning them. */
export type StatsSource = { stats(): EngineStats } | (() => EngineStats);

/** Reads `source` once. */
export function readStats(source: StatsSource): EngineStats {
  return typeof source === 'function' ? source() : source.stats();
}
