/**
 * Shedder: load shedding by priority at publish time, per publishing thread and receiver.
 *
 * The measure is the receiver's queue as this publisher sees it: the records waiting in its
 * lanes to that consumer thread, all classes together, as a fraction of one lane's capacity
 * (a lane's depth is what a new record waits behind, so it stands for queueing delay at the
 * receiver's recent pace). For a topic declared with `shed`, each receiver has a level:
 *
 *   level 0  nothing is shed
 *   level 1  low is shed         entered at fill ≥ low (0.5),    left below low ÷ 2
 *   level 2  normal is shed too  entered at fill ≥ normal (0.8), left below normal ÷ 2 (to level 1)
 *
 * The gap between entering and leaving a level is the hysteresis: shedding does not flap with
 * every record handled. High is never shed (when its lane is full, its subscription's
 * back-pressure policy decides, as for every message): while anything of a lower class is
 * being published, that is what goes first. Each shed delivery is counted per topic and class
 * (TOPIC_STAT_SHED + class) and refused to the publisher (publish returns false).
 *
 * The levels are per publishing thread: two publishers into one receiver each judge by their own
 * lanes to it.
 */
import type { CoreOps } from '../../bindings/core-ops.ts';
import { PRIORITY_CLASSES, PRIORITY_LOW, PRIORITY_NORMAL } from './layout.ts';
import type { TopicMap } from './types.ts';

export const SHED_LOW_DEFAULT = 0.5;
export const SHED_NORMAL_DEFAULT = 0.8;

export class Shedder {
  /** Per topic id: fill at which low (index 0) and normal (1) start being shed; NaN: never. */
  private readonly lowAt: Float64Array;
  private readonly normalAt: Float64Array;
  /** Per consumer thread: its level (0, 1, 2). */
  private readonly level: Uint8Array;

  constructor(
    private readonly core: CoreOps,
    /** ringTo[key] of this thread (key = class · threads + consumer). */
    private readonly ringTo: readonly number[],
    private readonly threads: number,
    private readonly capacity: number,
    topicMap: TopicMap,
    names: readonly string[],
  ) {
    const spec = (name: string) => {
      const shed = topicMap[name]!.shed;
      return shed === undefined || shed === false ? undefined : shed === true ? {} : shed;
    };
    this.lowAt = Float64Array.from(names, (name) => { const s = spec(name); return s === undefined ? NaN : s.low ?? SHED_LOW_DEFAULT; });
    this.normalAt = Float64Array.from(names, (name) => { const s = spec(name); return s === undefined ? NaN : s.normal ?? SHED_NORMAL_DEFAULT; });
    this.level = new Uint8Array(threads);
  }

  /** Whether topic `topic` sheds at all. */
  sheds(topic: number): boolean {
    return this.lowAt[topic] === this.lowAt[topic];
  }

  /** Whether a delivery of `topic` in class `priority` to thread `consumer` is shed now (updates the receiver's level). */
  shed(topic: number, priority: number, consumer: number): boolean {
    let depth = 0;
    for (let k = 0; k < PRIORITY_CLASSES; k++) depth += this.core.ringSize(this.ringTo[k * this.threads + consumer]!);
    const fill = depth / this.capacity;
    const lowAt = this.lowAt[topic]!;
    const normalAt = this.normalAt[topic]!;
    const was = this.level[consumer]!;
    let level = 0;
    if (fill >= normalAt || (was === 2 && fill >= normalAt / 2)) level = 2;
    else if (fill >= lowAt || (was >= 1 && fill >= lowAt / 2)) level = 1;
    this.level[consumer] = level;
    return priority === PRIORITY_LOW ? level >= 1 : priority === PRIORITY_NORMAL && level >= 2;
  }

  /** The current level of receiver `consumer` (0 nothing shed, 1 low, 2 low and normal). */
  levelOf(consumer: number): number {
    return this.level[consumer]!;
  }
}
