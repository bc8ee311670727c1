/**
 * A pipeline's per-stage figures (src/pipeline.ts), computed from one engine.stats() reading and
 * the previous one: what entered each stage and left it, what waits in front of it, how busy its
 * workers were and at what rate it moved, over the interval since the previous reading.
 *
 * What engine.stats() can and cannot say, and so what these figures are:
 * - Topic counters are per topic, so `routed`, `delivered`, `handlerErrors`, `refused` and
 *   `inFlight` are exactly the stage's (one stage per topic). Each counter is kept by the thread
 *   that counted it and may be late by a batch while traffic flows; after engine.drain() they add
 *   up exactly (routed = delivered + refused).
 * - Lanes are per pair of threads and priority class, not per topic: `queued` is the depth of
 *   every lane into the stage's workers, whatever topic its records carry. It is the stage's own
 *   queue when only the stage's topic is subscribed on its workers (as in a pipeline whose workers
 *   do nothing else). An async handler's record stays in its lane until it settles, so `queued`
 *   counts pending deliveries too; and a worker frees lane space once per batch of records, so
 *   a worker blocked in a handler's publish (back-pressure) keeps the records it already handled
 *   in that batch in its lane: `queued` counts them, `inFlight` does not.
 * - A worker's busy time is the wall-clock time it spends in passes over its lanes: running
 *   handlers, and also waiting inside a handler's ctx.publish for space in the next stage's full
 *   lane (and being preempted, where threads outnumber cores). Under
 *   back-pressure every stage before the slow one therefore reads busy; the slow stage is the
 *   last one whose `queued` stays at its lanes' capacity (the stages after it have short queues).
 * - Backlogs are counted per engine, not per thread: `backlog` is the engine's total (the main
 *   thread's waiting publishes, and any stage that spilled because the next stage did not free
 *   space within blockTimeout).
 */
import type { PipelineStage } from './pipeline.ts';
import type { EngineStats, TopicStats } from './engine/types.ts';

/** One stage's figures. */
export interface StageStats {
  readonly name: string;
  readonly topic: string;
  readonly workers: readonly number[];
  /** Messages routed into the stage (its topic's lane copies: one per message in group and keyed mode). */
  readonly routed: number;
  /** Handler calls that returned, threw or settled. */
  readonly delivered: number;
  /** Of delivered, calls that threw or rejected. */
  readonly handlerErrors: number;
  /** Routed and never to be handled: dropped, rejected, dead-lettered, lost, refused by admission, shed. */
  readonly refused: number;
  /** routed − delivered − refused: messages in the stage now (queued, in a publisher's backlog, or running). */
  readonly inFlight: number;
  /** Records in the lanes into the stage's workers now (from every thread, every class and topic). */
  readonly queued: number;
  /** queued per worker, in the order of `workers` (a keyed stage's hot or stalled worker shows here). */
  readonly queuedByWorker: readonly number[];
  /** Highest depth any one of those lanes reached (at a producer's flush), since the engine started. */
  readonly highWater: number;
  /** Fraction of the interval the stage's workers were busy (mean over them, 0..1): handlers, and waits for downstream lane space. */
  readonly busy: number;
  /** busy per worker, in the order of `workers`. */
  readonly busyByWorker: readonly number[];
  /** Messages delivered per second over the interval. */
  readonly deliveredPerSecond: number;
  /** Messages routed into the stage per second over the interval (above deliveredPerSecond: its queue grows). */
  readonly routedPerSecond: number;
}

/** A reading of a pipeline's figures. */
export interface PipelineStats {
  /** ms since the previous reading (or since createPipeline): the interval of rates and busy. */
  readonly intervalMs: number;
  /** Records waiting in publishers' backlogs, over the whole engine (engine.stats() does not say whose). */
  readonly backlog: number;
  /** Per stage, in pipeline order. */
  readonly stages: readonly StageStats[];
}

/** Messages of a topic routed and never to be handled: the identity's terms other than delivered. */
function refusedOf(t: TopicStats): number {
  return t.droppedOldest + t.droppedNewest + t.rejected + t.deadLettered + t.lost + t.admissionRefused
    + t.shed.high + t.shed.normal + t.shed.low;
}

/** The previous reading: when, and the counters the interval figures are differences of. */
interface Mark {
  at: number;
  delivered: Float64Array;
  routed: Float64Array;
  /** Per worker number. */
  busyMs: Float64Array;
  idleMs: Float64Array;
}

export class StageCounters {
  private mark: Mark;

  constructor(private readonly stages: readonly PipelineStage[], private readonly engineStats: () => EngineStats) {
    this.mark = this.take(engineStats());
  }

  private take(stats: EngineStats): Mark {
    const n = this.stages.length;
    const mark: Mark = {
      at: performance.now(), delivered: new Float64Array(n), routed: new Float64Array(n),
      busyMs: new Float64Array(stats.workers.length), idleMs: new Float64Array(stats.workers.length),
    };
    this.stages.forEach((stage, i) => {
      const t = stats.topics[stage.topic]!;
      mark.delivered[i] = t.delivered;
      mark.routed[i] = t.routed;
    });
    for (const w of stats.workers) {
      mark.busyMs[w.worker] = w.busyMs;
      mark.idleMs[w.worker] = w.idleMs;
    }
    return mark;
  }

  /** Messages in stage `index` now (PipelineStats' inFlight), without starting a new interval. */
  inFlight(index: number): number {
    const t = this.engineStats().topics[this.stages[index]!.topic]!;
    return Math.max(0, t.routed - t.delivered - refusedOf(t));
  }

  /** The figures over the interval since the previous call; starts the next interval. */
  read(): PipelineStats {
    const stats = this.engineStats();
    const previous = this.mark;
    const next = this.take(stats);
    this.mark = next;
    const intervalMs = next.at - previous.at;
    const perSecond = (count: number): number => (intervalMs > 0 ? (count * 1000) / intervalMs : 0);
    const stages = this.stages.map((stage, i): StageStats => {
      const t = stats.topics[stage.topic]!;
      const refused = refusedOf(t);
      // Lane `to` is a thread number: worker w is thread w + 1 (0 is the engine's own thread).
      const queuedByWorker = stage.workers.map(() => 0);
      let highWater = 0;
      for (const lane of stats.lanes) {
        const member = stage.workers.indexOf(lane.to - 1);
        if (member < 0) continue;
        queuedByWorker[member] += lane.depth;
        highWater = Math.max(highWater, lane.highWater);
      }
      const busyByWorker = stage.workers.map((w) => {
        const busyMs = next.busyMs[w]! - previous.busyMs[w]!;
        const total = busyMs + (next.idleMs[w]! - previous.idleMs[w]!);
        // A restarted worker's clocks start again (a negative difference): count it idle.
        return total > 0 ? Math.min(1, Math.max(0, busyMs / total)) : 0;
      });
      return {
        name: stage.name, topic: stage.topic, workers: stage.workers,
        routed: t.routed, delivered: t.delivered, handlerErrors: t.handlerErrors, refused,
        inFlight: Math.max(0, t.routed - t.delivered - refused),
        queued: queuedByWorker.reduce((a, b) => a + b, 0), queuedByWorker, highWater,
        busy: busyByWorker.reduce((a, b) => a + b, 0) / busyByWorker.length, busyByWorker,
        deliveredPerSecond: perSecond(t.delivered - previous.delivered[i]!),
        routedPerSecond: perSecond(t.routed - previous.routed[i]!),
      };
    });
    return { intervalMs, backlog: stats.backlog, stages };
  }
}
