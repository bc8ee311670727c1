/**
 * Admission: per-topic limits on deliveries in flight, shared by every thread, exact.
 *
 * A topic declared with `admission: { maxInFlight }` has one i32 word in thread 0's control block
 * (layout.ts, ADMISSION): deliveries admitted and not yet handled, summed over every publisher
 * and every receiver. A publisher takes a place per delivery (one per receiving subscription
 * member) before it pushes, unless the limit was reached
 * (the delivery is refused, counted TOPIC_STAT_ADMISSION_REFUSED) or the push refused it. The
 * record carries RECORD_FLAG_ADMITTED, so whoever completes it gives its place back: the consumer
 * once its handler returned (or it became a dead letter), drop-oldest when it drops it, and the
 * write-offs of a worker that stays down. A place is taken with a compare-exchange below the
 * limit, so the count is exact under any number of publishers and never exceeds maxInFlight.
 *
 * What is not given back: records a crashed worker held in a backlog that had outgrown its spill
 * region (counted `lost`); each such record keeps one place until the engine closes.
 */
import type { TopicMap } from './types.ts';

export class Admission {
  private readonly i32: Int32Array;
  /** maxInFlight per topic id; 0: no limit. */
  readonly limits: Int32Array;
  /** i32 index of topic 0's in-flight word. */
  private readonly base: number;

  constructor(buffer: ArrayBufferLike, address: number, topicMap: TopicMap, names: readonly string[]) {
    this.i32 = new Int32Array(buffer);
    this.base = address >> 2;
    this.limits = Int32Array.from(names, (name) => topicMap[name]!.admission?.maxInFlight ?? 0);
  }

  /** Whether topic `topic` has a limit. */
  limited(topic: number): boolean {
    return this.limits[topic] !== 0;
  }

  /**
   * Takes one place of `topic`; false (and nothing taken) if maxInFlight are in flight. A
   * compare-exchange loop, not add-then-undo: the word never reads above the limit (stats'
   * inFlight), and a refusal always means the limit was reached.
   */
  reserve(topic: number): boolean {
    const word = this.base + topic;
    const limit = this.limits[topic]!;
    for (;;) {
      const seen = Atomics.load(this.i32, word);
      if (seen >= limit) return false;
      if (Atomics.compareExchange(this.i32, word, seen, seen + 1) === seen) return true;
    }
  }

  /** Gives one place of `topic` back. */
  release(topic: number): void {
    Atomics.sub(this.i32, this.base + topic, 1);
  }

  /** Deliveries of `topic` in flight now. */
  inFlight(topic: number): number {
    return Atomics.load(this.i32, this.base + topic);
  }

  /** Whether `topic` has room for one more delivery now (a hint: another publisher may take it first). */
  hasRoom(topic: number): boolean {
    return Atomics.load(this.i32, this.base + topic) < this.limits[topic]!;
  }
}
