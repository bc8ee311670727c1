/**
 * Admission: per-topic limits shared by every thread — deliveries in flight (exact) and a rate
 * (a token bucket).
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
 *
 * The rate: `admission: { rate, burst }` is a token bucket per topic in the same block (TOKENS in
 * thousandths of a message, LAST: ms since the engine's epoch when it was last refilled), one
 * token per publish (not per delivery), taken by compare-exchange. A publisher refills the bucket
 * only when it finds it empty, and a take from a full bucket restarts its clock first (a full
 * bucket earns nothing); LAST only moves forward, always by compare-exchange. Only these two read
 * the clock (Date.now(), which allocates a number in
 * Node 20: once per bucketful, never per message). Whoever wins the compare-exchange on LAST
 * adds rate × elapsed ms, capped at `burst`. Over any interval the topic accepts at most
 * burst + rate × its length (in whole ms).
 *
 * Words per topic (ADMISSION_WORDS, i32): 0 IN_FLIGHT, 1 TOKENS, 2 LAST, 3 unused.
 */
import type { TopicMap } from './types.ts';

export const ADMISSION_WORDS = 4;
const TOKENS = 1;
const LAST = 2;
/** A token is TOKEN_UNITS units of TOKENS (so rates below 1000/s refill by whole units per ms). */
const TOKEN_UNITS = 1000;

export class Admission {
  private readonly i32: Int32Array;
  /** maxInFlight per topic id; 0: no limit. */
  readonly limits: Int32Array;
  /** rate per topic id, in messages per second (= TOKEN_UNITS per ms); 0: no rate. */
  readonly rates: Float64Array;
  /** burst per topic id, in TOKEN_UNITS. */
  private readonly bursts: Float64Array;
  /** i32 index of topic 0's words. */
  private readonly base: number;

  constructor(buffer: ArrayBufferLike, address: number, topicMap: TopicMap, names: readonly string[], private readonly epochMs: number) {
    this.i32 = new Int32Array(buffer);
    this.base = address >> 2;
    this.limits = Int32Array.from(names, (name) => topicMap[name]!.admission?.maxInFlight ?? 0);
    this.rates = Float64Array.from(names, (name) => topicMap[name]!.admission?.rate ?? 0);
    this.bursts = Float64Array.from(names, (name, id) => TOKEN_UNITS * (topicMap[name]!.admission?.burst ?? defaultBurst(this.rates[id]!)));
  }

  /** Thread 0, once, before any worker starts: every bucket full. */
  initialize(): void {
    const now = (Date.now() - this.epochMs) | 0;
    for (let topic = 0; topic < this.rates.length; topic++) {
      if (this.rates[topic] === 0) continue;
      const at = this.base + topic * ADMISSION_WORDS;
      Atomics.store(this.i32, at + TOKENS, this.bursts[topic]!);
      Atomics.store(this.i32, at + LAST, now);
    }
  }

  /** Whether topic `topic` has a rate. */
  rated(topic: number): boolean {
    return this.rates[topic] !== 0;
  }

  /** Takes one token of `topic`'s bucket; false if it is empty (refilled first if time has passed). */
  takeToken(topic: number): boolean {
    const at = this.base + topic * ADMISSION_WORDS;
    for (;;) {
      const seen = Atomics.load(this.i32, at + LAST);
      const tokens = Atomics.load(this.i32, at + TOKENS);
      if (tokens >= TOKEN_UNITS) {
        if (tokens >= this.bursts[topic]!) {
          // A full bucket earns nothing: its clock restarts before the first take from it, else
          // the next refill would add the time it sat full (an extra burst after every idle
          // spell). Before the take and by compare-exchange from the LAST read before TOKENS:
          // whoever empties and refills the bucket meanwhile has moved LAST on, and this fails.
          const now = (Date.now() - this.epochMs) | 0;
          if (now > seen) Atomics.compareExchange(this.i32, at + LAST, seen, now);
        }
        if (Atomics.compareExchange(this.i32, at + TOKENS, tokens, tokens - TOKEN_UNITS) === tokens) return true;
        continue;
      }
      if (!this.refill(topic)) return false;
    }
  }

  /** Adds what `topic`'s rate earned since the last refill (capped at burst); false if no time passed. */
  private refill(topic: number): boolean {
    const at = this.base + topic * ADMISSION_WORDS;
    const now = (Date.now() - this.epochMs) | 0;
    const seen = Atomics.load(this.i32, at + LAST);
    if (now <= seen) return false;
    // One refill per elapsed span: the thread that moves LAST adds; a loser looks at TOKENS again.
    if (Atomics.compareExchange(this.i32, at + LAST, seen, now) !== seen) return true;
    const burst = this.bursts[topic]!;
    const add = Math.min(burst, (now - seen) * this.rates[topic]!);
    for (;;) {
      const tokens = Atomics.load(this.i32, at + TOKENS);
      if (Atomics.compareExchange(this.i32, at + TOKENS, tokens, Math.min(burst, tokens + add)) === tokens) return true;
    }
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
    const word = this.base + topic * ADMISSION_WORDS;
    const limit = this.limits[topic]!;
    for (;;) {
      const seen = Atomics.load(this.i32, word);
      if (seen >= limit) return false;
      if (Atomics.compareExchange(this.i32, word, seen, seen + 1) === seen) return true;
    }
  }

  /** Gives one place of `topic` back. */
  release(topic: number): void {
    Atomics.sub(this.i32, this.base + topic * ADMISSION_WORDS, 1);
  }

  /** Deliveries of `topic` in flight now. */
  inFlight(topic: number): number {
    return Atomics.load(this.i32, this.base + topic * ADMISSION_WORDS);
  }

  /**
   * Whether `topic` has room for one more publish now: below maxInFlight, and a token in the
   * bucket (refilled if due). A hint: another publisher may take it first.
   */
  hasRoom(topic: number): boolean {
    const at = this.base + topic * ADMISSION_WORDS;
    if (this.limits[topic] !== 0 && Atomics.load(this.i32, at) >= this.limits[topic]!) return false;
    if (this.rates[topic] === 0 || Atomics.load(this.i32, at + TOKENS) >= TOKEN_UNITS) return true;
    this.refill(topic);
    return Atomics.load(this.i32, at + TOKENS) >= TOKEN_UNITS;
  }
}

/** A rate's default burst: a tenth of a second's worth, at least 1. */
export function defaultBurst(rate: number): number {
  return Math.max(1, Math.ceil(rate / 10));
}
