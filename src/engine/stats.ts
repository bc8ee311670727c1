/**
 * Stats: reads the engine's counters out of shared memory on the engine's thread — per topic and
 * per lane summed over every thread's control block, per worker from its own block — without a
 * message to any worker; and the in-flight count that drain waits on.
 */
import type { CoreOps } from '../../bindings/core-ops.ts';
import type { Arena } from '../arena.ts';
import type { ControlBlock } from './control-block.ts';
import {
  CIRCUIT_HALF_OPEN, CIRCUIT_OPEN, LANE_STAT_HIGH_WATER, LANE_STAT_PUBLISHED, TOPIC_STAT_CALLER_RUNS,
  TOPIC_STAT_CIRCUIT_OPEN, TOPIC_STAT_CRASHED, TOPIC_STAT_DEAD_LETTERED, TOPIC_STAT_DELIVERED,
  TOPIC_STAT_DROPPED_NEWEST, TOPIC_STAT_DROPPED_OLDEST, TOPIC_STAT_HANDLER_ERRORS, TOPIC_STAT_LOST,
  THREAD_RUNNING, TOPIC_STAT_PUBLISHED, TOPIC_STAT_REDELIVERED, TOPIC_STAT_REJECTED, TOPIC_STAT_ROUTED, TOPIC_STAT_UNROUTED,
  PRIORITY_CLASSES, PRIORITY_HIGH, PRIORITY_LOW, PRIORITY_NAMES, PRIORITY_NORMAL, TOPIC_STAT_ADMISSION_REFUSED, TOPIC_STAT_RATE_LIMITED, TOPIC_STAT_SHED, TOPIC_STAT_STOLEN, TOPIC_STAT_POOLED, TOPIC_STAT_POOL_EXHAUSTED, outboundLane,
} from './layout.ts';
import type { EngineShape } from './options.ts';
import type { Admission } from './admission.ts';
import type { Recovery } from './recovery.ts';
import type { Reporter } from './reporter.ts';
import type { Requests } from './requests.ts';
import type { SubscriptionTable } from './subscription-table.ts';
import type { CircuitStats, EngineStats, LaneStats, TopicStats, WorkerStats } from './types.ts';
import type { Workers } from './workers.ts';

export class Stats {
  constructor(
    private readonly arena: Arena,
    private readonly core: CoreOps,
    private readonly shape: EngineShape,
    private readonly controls: readonly ControlBlock[],
    private readonly workers: Workers,
    private readonly requests: Requests,
    private readonly reporter: Reporter,
    private readonly recovery: Recovery,
    private readonly table: SubscriptionTable,
    /** Member workers of every subscribed slot. */
    private readonly members: ReadonlyMap<number, readonly number[]>,
    private readonly handlerNames: readonly string[],
    private readonly admission: Admission,
  ) {}

  /** Records waiting in the lanes of workers that stay down (per topic id into `perTopic`, if given). */
  private stranded(perTopic?: Float64Array): number {
    let total = 0;
    for (let w = 0; w < this.workers.count; w++) if (this.workers.state(w) === 'crashed') total += this.recovery.stranded(w + 1, perTopic);
    return total;
  }

  /**
   * Records accepted and not completed, minus what workers that stay down will never handle. Reads every
   * COMPLETED first, then every ACCEPTED: each thread counts a record ACCEPTED before it can be
   * COMPLETED, and children ACCEPTED before their parent COMPLETED, so 0 read in this order means
   * that at the moment between the two reads nothing was in flight.
   */
  inFlight(): number {
    let completed = 0;
    for (const control of this.controls) completed = (completed + control.completed()) | 0;
    let accepted = 0;
    for (const control of this.controls) accepted = (accepted + control.accepted()) | 0;
    return (accepted - completed - this.stranded()) | 0;
  }

  /** Counters summed over every thread (each may be late by one batch). */
  read(): EngineStats {
    const { shape, controls } = this;
    const T = shape.threads;
    const topics: Record<string, TopicStats> = {};
    const stranded = new Float64Array(shape.topicNames.length);
    this.stranded(stranded);
    let lostToCrashes = 0;
    shape.topicNames.forEach((name, id) => {
      const sum = (stat: number): number => {
        let total = 0;
        for (const control of controls) total += control.f64[control.topicStats(id) + stat]!;
        return total;
      };
      const firstError = this.reporter.firstError(name);
      const lost = sum(TOPIC_STAT_LOST) + stranded[id]!;
      lostToCrashes += lost;
      topics[name] = {
        published: sum(TOPIC_STAT_PUBLISHED), unrouted: sum(TOPIC_STAT_UNROUTED), routed: sum(TOPIC_STAT_ROUTED),
        delivered: sum(TOPIC_STAT_DELIVERED), droppedOldest: sum(TOPIC_STAT_DROPPED_OLDEST),
        droppedNewest: sum(TOPIC_STAT_DROPPED_NEWEST), rejected: sum(TOPIC_STAT_REJECTED),
        callerRuns: sum(TOPIC_STAT_CALLER_RUNS), handlerErrors: sum(TOPIC_STAT_HANDLER_ERRORS),
        redelivered: sum(TOPIC_STAT_REDELIVERED), crashed: sum(TOPIC_STAT_CRASHED), deadLettered: sum(TOPIC_STAT_DEAD_LETTERED),
        circuitOpen: sum(TOPIC_STAT_CIRCUIT_OPEN), lost,
        admissionRefused: sum(TOPIC_STAT_ADMISSION_REFUSED), rateLimited: sum(TOPIC_STAT_RATE_LIMITED), stolen: sum(TOPIC_STAT_STOLEN), pooled: sum(TOPIC_STAT_POOLED), poolExhausted: sum(TOPIC_STAT_POOL_EXHAUSTED), inFlight: this.admission.limited(id) ? this.admission.inFlight(id) : 0,
        shed: { high: sum(TOPIC_STAT_SHED + PRIORITY_HIGH), normal: sum(TOPIC_STAT_SHED + PRIORITY_NORMAL), low: sum(TOPIC_STAT_SHED + PRIORITY_LOW) },
        ...(firstError !== undefined ? { firstError } : {}),
      };
    });
    const lanes: LaneStats[] = [];
    for (let p = 0; p < T; p++) {
      const control = controls[p]!;
      for (let key = 0; key < T * PRIORITY_CLASSES; key++) {
        const lane = control.laneStat(key);
        const published = control.f64[lane + LANE_STAT_PUBLISHED]!;
        const k = (key / T) | 0;
        // A class lane nothing was ever published on is left out (most lanes of most engines).
        if (published === 0 && k !== PRIORITY_NORMAL) continue;
        lanes.push({
          from: p, to: key % T, priority: PRIORITY_NAMES[k]!, published, highWater: control.f64[lane + LANE_STAT_HIGH_WATER]!,
          depth: this.core.ringSize(this.arena.ring(outboundLane(p, key, T)).address),
        });
      }
    }
    const now = performance.timeOrigin + performance.now();
    const workers: WorkerStats[] = [];
    for (let w = 0; w < this.workers.count; w++) {
      const control = controls[w + 1]!;
      const f64 = control.f64;
      const start = f64[control.startMs]!;
      const since = f64[control.idleSinceMs]!;
      const idle = f64[control.idleMs]! + (since !== 0 ? Math.max(0, now - since) : 0);
      // A thread that runs says so in its STATE before its 'ready' message reaches this thread (and
      // may have answered requests by then): shared memory is the fresher source.
      let state = this.workers.state(w);
      if ((state === 'restarting' || state === 'starting') && Atomics.load(control.i32, control.state) === THREAD_RUNNING) state = 'running';
      workers.push({
        worker: w, state, restarts: this.workers.restarts(w),
        busyMs: start === 0 ? 0 : Math.max(0, now - start - idle), idleMs: idle,
      });
    }
    let late = this.requests.lateReplies;
    let backlog = 0;
    for (const control of controls) {
      late += control.f64[control.lateReplies]!;
      backlog += control.backlog();
    }
    const poolSlots = shape.pool?.slots ?? 0;
    const poolInUse = poolSlots === 0 ? 0 : this.core.poolOutstanding(this.arena.pool(0).address);
    return { topics, lanes, workers, lateReplies: late, backlog, lostToCrashes, poolSlots, poolInUse, circuits: this.circuits(), spin: shape.spin, adaptiveSpin: shape.adaptiveSpin };
  }

  /** Every member worker's breaker of every subscribed slot that has one. */
  private circuits(): CircuitStats[] {
    const circuits: CircuitStats[] = [];
    for (const [slot, workers] of this.members) {
      if (this.table.circuitFailures(slot) === 0) continue;
      for (const w of workers) {
        const control = this.controls[w + 1]!;
        const word = control.circuit(slot);
        const state = control.i32[word];
        circuits.push({
          subscription: slot, topic: this.shape.topicNames[this.table.topic(slot)]!, handler: this.handlerNames[this.table.handler(slot)] ?? '',
          worker: w, state: state === CIRCUIT_OPEN ? 'open' : state === CIRCUIT_HALF_OPEN ? 'half-open' : 'closed', opened: control.i32[word + 1]!,
        });
      }
    }
    return circuits;
  }
}
