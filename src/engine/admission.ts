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
 * token per publish (not per delivery), taken by compare-exchange. Every take first refills: the
 * thread that moves LAST on (compare-exchange, so each elapsed ms is credited once) adds what the
 * rate earned over the span, capped at `burst`. Refilling at every take, not only when the bucket
 * is found empty, is what keeps the bound: a bucket left half full and idle would otherwise credit
 * its idle time after the takes that followed it, an extra burst. Over any interval the topic
 * accepts at most burst + rate × its length (+ 1 ms: the clock is read in whole ms). What is
 * earned is counted on absolute time (floor(t × rate) − floor(t' × rate)), so no fraction of a
 * thousandth is lost between refills however low the rate. The price: a rated topic reads the
 * clock once per publish (Date.now(), ~45 ns, and a 16-byte heap number in Node 20, so a rated
 * publish is not allocation-free); unrated topics never read it.
 *
 * Words per topic (ADMISSION_WORDS, i32): 0 IN_FLIGHT, 1 TOKENS, 2 LAST, 3 unused.
 */
import type { TopicMap } from './types.ts';

export const ADMISSION_WORDS = 4;
const TOKENS = 1;
const LAST = 2;
/** A token is TOKEN_UNITS units of TOKENS: a rate of r messages per second earns r units per ms. */
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

  /** Takes one token of `topic`'s bucket, refilled first; false if it is empty. */
  takeToken(topic: number): boolean {
    this.refill(topic);
    const at = this.base + topic * ADMISSION_WORDS + TOKENS;
    for (;;) {
      const tokens = Atomics.load(this.i32, at);
      if (tokens < TOKEN_UNITS) return false;
      if (Atomics.compareExchange(this.i32, at, tokens, tokens - TOKEN_UNITS) === tokens) return true;
    }
  }

  /** Adds what `topic`'s rate earned since the last refill (capped at burst); nothing within the same ms. */
  private refill(topic: number): void {
    const at = this.base + topic * ADMISSION_WORDS;
    const now = Date.now() - this.epochMs;
    const seen = Atomics.load(this.i32, at + LAST);
    // ms since the last refill; LAST is an i32 of ms (wraps after 24 days, so the difference wraps too).
    const span = ((now | 0) - seen) | 0;
    if (span <= 0) return;
    // One refill per elapsed span: the thread that moves LAST adds, a loser finds its tokens.
    if (Atomics.compareExchange(this.i32, at + LAST, seen, now | 0) !== seen) return;
    const rate = this.rates[topic]!;
    const add = Math.floor(now * rate) - Math.floor((now - span) * rate);
    if (add <= 0) return;
    const burst = this.bursts[topic]!;
    for (;;) {
      const tokens = Atomics.load(this.i32, at + TOKENS);
      if (Atomics.compareExchange(this.i32, at + TOKENS, tokens, Math.min(burst, tokens + add)) === tokens) return;
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
    if (this.rates[topic] === 0) return true;
    this.refill(topic);
    return Atomics.load(this.i32, at + TOKENS) >= TOKEN_UNITS;
  }
}

/** A rate's default burst: a tenth of a second's worth, at least 1. */
export function defaultBurst(rate: number): number {
  return Math.max(1, Math.ceil(rate / 10));
}
