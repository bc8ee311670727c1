/**
 * Topics of the scheduling suite (engine-scheduling.test.ts): prioritized traffic whose messages
 * say which class they were published in, an admission-limited topic, shedding topics, a hold
 * that keeps a worker busy, worker-side publishers (spray, kick) and the per-worker report.
 * Imported by the test and by the handler module (sched-handlers.ts).
 */
import { defineSchema } from '../../src/schema.ts';
import { defineTopics, type Priority } from '../../src/engine/types.ts';

/** Class names by number, as messages carry them (`cls`): the engine's own order. */
export const CLASSES: readonly Priority[] = ['high', 'normal', 'low'];
export const HIGH = 0;
export const NORMAL = 1;
export const LOW = 2;
/** spray.cls: a pseudo-random class per message (mixedClass). */
export const MIXED = 3;

/** spray.target */
export const TARGET_WORK = 0;
export const TARGET_GATED = 1;
export const TARGET_PACED = 2;
/** spray.api: ctx.publish, ctx.writer + ctx.send, or alternating per message. */
export const API_PUBLISH = 0;
export const API_SEND = 1;
export const API_ALTERNATE = 2;
/** spray.worker: every sprayer subscribed. */
export const ANY_WORKER = 255;

/** maxInFlight of `gated`, and of `gatedWide` (broadcast to two members: one place per member). */
export const GATED_MAX = 8;
export const GATED_WIDE_MAX = 5;
/** The rate (publishes per second) and burst of `paced`. */
export const PACED_RATE = 2000;
export const PACED_BURST = 20;
/** A `skewed` message with this `micros` exits its worker's thread on its first delivery. */
export const CRASH_MICROS = 7;

/**
 * A prioritized message: `cls` is the class it was published in (0 high, 1 normal, 2 low), `seq`
 * is consecutive from 0 per (producer, key, cls); the handler busy-waits `micros` µs.
 */
const Work = defineSchema({ producer: 'u32', key: 'u32', cls: 'u8', seq: 'u32', value: 'u32', micros: 'u32' });

/** One worker's state (sched-handlers.ts), as `report` returns it. */
export const SchedReport = defineSchema({
  worker: 'i32',
  /** work/shedding messages handled, per class. */
  high: 'f64', normal: 'f64', low: 'f64',
  /** Sum of their values. */
  sum: 'f64',
  /** work: seq not last + 1 per (producer, key, cls); shedding and gated: seq not rising. */
  orderErrors: 'u32',
  /** Keys (< 64) seen by the work handler. */
  keysLow: 'u32', keysHigh: 'u32',
  /** Lows handled before the last high (in handling order). */
  lowsBeforeLastHigh: 'f64',
  /** In the window where both high and low were being handled (the later first to the earlier last of the two): highs and lows. */
  windowHigh: 'f64', windowLow: 'f64',
  /** gated / gatedWide messages handled, and their values' sum. */
  gated: 'f64', gatedSum: 'f64',
  /** As a sprayer: publishes attempted, accepted (returned true), and the accepted values' sum. */
  attempted: 'f64', accepted: 'f64', acceptedSum: 'f64',
  /** Epoch ms of the last hold's start and end, and of the last spray's. */
  holdStart: 'f64', holdEnd: 'f64', sprayStart: 'f64', sprayEnd: 'f64',
  /** The last spray's start and end by Date.now() (the clock rate buckets keep: admission.ts). */
  sprayFrom: 'f64', sprayTo: 'f64',
});

export const schedTopics = defineTopics({
  /** Prioritized traffic (class: normal unless a publish says otherwise). */
  work: { schema: Work, key: 'key' },
  /** Admission control: at most GATED_MAX deliveries in flight. */
  gated: { schema: Work, admission: { maxInFlight: GATED_MAX } },
  /** The same, for a broadcast subscription (each member's delivery takes a place). */
  gatedWide: { schema: Work, admission: { maxInFlight: GATED_WIDE_MAX } },
  /** Admission control by rate: a token bucket of PACED_RATE per second, PACED_BURST deep. */
  paced: { schema: Work, admission: { rate: PACED_RATE, burst: PACED_BURST } },
  /** A group work stealing applies to (subscribed with steal: true); its handler counts into gated/gatedSum, no order check. */
  skewed: { schema: Work },
  /** Shedding with the default thresholds (low 0.5, normal 0.8). */
  shedding: { schema: Work, shed: true },
  /** Shedding with thresholds of its own. */
  shedCustom: { schema: Work, shed: { low: 0.25, normal: 0.5 } },
  /** Busy-waits `ms` on its worker; high priority by declaration. */
  hold: { schema: defineSchema({ ms: 'u32' }), priority: 'high' },
  /**
   * Never subscribed: a handler that starts holding its worker publishes one, which counts
   * `unrouted` at once, in shared memory (the test's sign that the worker is held now).
   */
  holding: { schema: defineSchema({ worker: 'i32' }) },
  /** Its worker publishes a hold of `ms` (ctx.publish, the topic's class): a hold from another thread. */
  kick: { schema: defineSchema({ ms: 'u32' }) },
  /**
   * The worker numbered `worker` (ANY_WORKER: each) publishes `count` messages to `target` from
   * its handler: class `cls` (MIXED: mixedClass), keys i % `keys`, handler cost `micros`, through
   * `api`; producer id `producer` * 8 + the worker. `flush`: ctx.flush() after every publish (else
   * what it publishes becomes visible every flushEvery records, and when the handler returns).
   */
  spray: { schema: defineSchema({ worker: 'u8', target: 'u8', producer: 'u32', count: 'u32', cls: 'u8', keys: 'u32', micros: 'u32', api: 'u8', flush: 'bool' }) },
  /** Every worker's state; `reset` clears it after the reply. */
  report: { schema: defineSchema({ reset: 'bool' }), reply: SchedReport },
  /** A handler publishes with `priority` (ctx.publish, ctx.send) and returns the error fields. */
  probe: {
    schema: defineSchema({ priority: { type: 'string', maxBytes: 16 } }),
    reply: defineSchema({ publishField: { type: 'string', maxBytes: 32 }, sendField: { type: 'string', maxBytes: 32 } }),
  },
});
export type SchedTopics = typeof schedTopics;

/** The value of a message: a mix of its identity (checksums catch a lost, doubled or corrupted one). */
export function valueOf(producer: number, key: number, cls: number, seq: number): number {
  return (Math.imul(seq + 1, 2654435761) ^ Math.imul(key + 1, 97) ^ (cls << 20) ^ Math.imul(producer + 1, 40503)) >>> 12;
}

/** A work message whose handler busy-waits this long (µs) or longer signals `holding` first. */
export const HOLDING_MICROS = 100_000;

/** spray MIXED: the class of message `i` of producer `producer` (about 1/3 each). */
export function mixedClass(producer: number, i: number): number {
  return ((Math.imul(i + 1, 2654435761) ^ Math.imul(producer, 97)) >>> 16) % 3;
}
