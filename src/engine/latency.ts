/**
 * Latency: sampled queue-wait, handler-time and round-trip histograms, kept in shared memory by
 * the thread that measures and read by the engine's thread without a message to any worker.
 *
 * ── What is measured ──────────────────────────────────────────────────────────────────────────
 *   queue wait    publish (the push into the lane) → its handler starts, on the consumer's thread
 *   handler time  handler start → return (async: → settle; a batch handler: its whole call)
 *   round trip    request() → its reply resolves the promise, on the engine's thread (sampled the
 *                 same way: the first and then every sampleEvery-th request)
 *
 * ── How queue wait and handler time are sampled ──────────────────────────────────────────────
 * Reading the clock costs ~40 ns, more than a message on the fast paths, so deliveries are
 * sampled, not timed one by one. Each producer thread counts its pushes; every `sampleEvery`-th
 * push (publishBatch: the last record of the batch that crosses the count) is stamped: the record
 * in the lane gets FLAGS bit RECORD_FLAG_STAMPED, and the lane's STAMP TIMES entry of its ring slot
 * the time. The consumer already reads each record's FLAGS: at a stamped record it reads the clock
 * before and after the handler. So a sample costs the producer one clock read and the consumer
 * two; between samples the cost is a counter decrement per push and a bit test per record.
 *
 * With the default sampleEvery the interval stretches for a busy producer (stamp(): doubled while
 * its stamps come under STAMP_GAP_MS apart, up to MAX_STRETCHED_INTERVAL; halved back once they
 * come over 4 × STAMP_GAP_MS apart): on Node 20 a clock read allocates a 16-byte heap number, so
 * sampling then costs per second, not per message (0 minor GCs over 10 M messages). Which
 * records are stamped depends on counts and the producer's own rate, not on content or backlog,
 * so samples are spread over the stream like the messages are (every record position alike: a
 * deep backlog's long waits are sampled as often as an empty lane's short ones). Replies and dead letters are
 * never stamped (replies feed the round trip instead). A stamped record that is not timed — one
 * inside a batch handler's run after its first record, or one a thief ran — is counted `skipped`,
 * so after drain, with no record dropped (drop-oldest) or lost to a crash in between:
 *
 *     Σ stamped (producers) = Σ queueWait.count + Σ skipped (consumers)
 *
 * Clocks: every thread reads `performance.timeOrigin + performance.now() − epochMs` (ms since the
 * engine started). Node and browsers take each thread's time origin from the wall clock at its
 * start, so threads agree to a few µs; a wait that reads negative counts as 0 (the histogram's
 * clampedLow).
 *
 * ── Layout: one SharedArrayBuffer of its own (EngineShape.latency.buffer) ──────────────────────
 * Outside the arena: it is large and touched rarely, and untouched pages cost no memory. Float64
 * words, each with one writer:
 *
 *   STAMP TIMES   per lane (laneIndex order), ringCapacity entries: the time (ms since the epoch)
 *                 of the stamped record in that ring slot. Written by the lane's producer before
 *                 the flush that publishes the record (HEAD store), read by its consumer after.
 *   histograms    per thread, per topic, LATENCY_KINDS histograms of LATENCY_BITS (src/histogram.ts
 *                 has their layout), in nanoseconds, written by the thread that measured:
 *                 histogram(thread, topic, kind) at stampWords + ((thread · topics + topic) ·
 *                 LATENCY_KINDS + kind) · histogramWords, then the thread's two counters
 *                 (stamped, skipped)
 *
 * The histograms are plain words: a reader sees them "maybe late"; after drain() (whose loads of
 * COMPLETED pair with the stores that follow every handled record) they are exact.
 */
import { COUNT_WORD, Histogram, histogramWords } from '../histogram.ts';
import type { LatencyReport, TopicLatency } from './types.ts';
import { RING_CLAIM_OFFSET, RING_DATA_OFFSET } from '../../assembly/layout/ring.ts';
import {
  DEAD_LETTER_SUBSCRIPTION, PRIORITY_CLASSES, RECORD_FLAGS_OFFSET, RECORD_FLAG_STAMPED, RECORD_SUBSCRIPTION_OFFSET, RECORD_TOPIC_OFFSET,
  inboundLane, outboundLane,
} from './layout.ts';

/** Histogram range: 0 .. 2^37 - 1 ns (137 s); longer values clamp (counted clampedHigh). */
export const LATENCY_BITS = 37;
export const LATENCY_QUEUE_WAIT = 0;
export const LATENCY_HANDLER = 1;
export const LATENCY_ROUND_TRIP = 2;
export const LATENCY_KINDS = 3;
/** Default: every 128th push of a producer thread is stamped (a sample costs ~200 ns in all: about 1.5 ns a message). */
export const DEFAULT_SAMPLE_EVERY = 128;
/**
 * The default interval stretches while a producer's stamps come closer than this: a thread
 * publishing faster than DEFAULT_SAMPLE_EVERY per ms stamps about once a ms, so sampling (and the
 * clock reads that allocate on Node 20) costs per second, not per message.
 */
export const STAMP_GAP_MS = 1;
/**
 * The most the default interval stretches to: 8192 pushes (about a stamp a ms at 8 M messages/s).
 * Kept modest because the interval is only revised at a stamp: when a producer slows down, the
 * stamp after its burst still waits for this many pushes (8 s at 1000 messages/s), then the
 * interval halves stamp by stamp back towards sampleEvery.
 */
export const MAX_STRETCHED_INTERVAL = 8192;
/** Push countdown while sampling is off: it never reaches 0 in practice, and stays a small integer. */
const NEVER = 0x3fffffff;
/** Per-thread f64 counters after its histograms: stamped (as producer), skipped (as consumer). */
const COUNTER_STAMPED = 0;
const COUNTER_SKIPPED = 1;
const COUNTERS = 2;

/** The latency part of EngineShape (options.ts): undefined when the engine was made with latency: false. */
export interface LatencyShape {
  readonly buffer: SharedArrayBuffer;
  readonly sampleEvery: number;
  /** sampleEvery is the default, which stretches for a busy producer (STAMP_GAP_MS); one the user set is kept exactly. */
  readonly stretch: boolean;
}

/** Where things are in the buffer, in float64 words (see the header). */
class LatencyLayout {
  readonly stampWords: number;
  private readonly perThread: number;
  private readonly histogram = histogramWords(LATENCY_BITS);

  constructor(readonly threads: number, readonly topics: number, readonly ringCapacity: number) {
    this.stampWords = threads * threads * PRIORITY_CLASSES * ringCapacity;
    this.perThread = topics * LATENCY_KINDS * this.histogram + COUNTERS;
  }

  get words(): number {
    return this.stampWords + this.threads * this.perThread;
  }

  /** Word of lane `lane`'s STAMP TIMES entry 0. */
  stamps(lane: number): number {
    return lane * this.ringCapacity;
  }

  histogramAt(thread: number, topic: number, kind: number): number {
    return this.stampWords + thread * this.perThread + (topic * LATENCY_KINDS + kind) * this.histogram;
  }

  counters(thread: number): number {
    return this.stampWords + thread * this.perThread + this.topics * LATENCY_KINDS * this.histogram;
  }
}

/** Bytes of the latency buffer. */
export function latencyBufferBytes(threads: number, topics: number, ringCapacity: number): number {
  return new LatencyLayout(threads, topics, ringCapacity).words * 8;
}

interface ShapeView {
  readonly threads: number;
  readonly topicNames: readonly string[];
  readonly ringCapacity: number;
  readonly epochMs: number;
  readonly latency: LatencyShape | undefined;
}

/**
 * One thread's probe: stamps its pushes (as a producer), times stamped records (as a consumer)
 * and request round trips (thread 0). Inert with latency: false: `countdown` never runs out, and
 * no record is ever stamped.
 */
export class LatencyProbe {
  readonly on: boolean;
  /** The producer's first countdown: pushes before the first stamp (Producer keeps the count). */
  readonly firstCountdown: number;
  private readonly sampleEvery: number;
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  private readonly words: Float64Array;
  /** This thread's histograms: [topic · LATENCY_KINDS + kind]. */
  private readonly histograms: Histogram[] = [];
  private readonly counters: number;
  /** Word of STAMP TIMES entry 0 of each outbound key's lane, and of each inbound key's. */
  private readonly outStamps: Int32Array;
  private readonly inStamps: Int32Array;
  private readonly mask: number;
  /** performance.timeOrigin − epochMs: origin + performance.now() is ms since the engine's epoch, on every thread's clock alike (see the header). */
  private readonly origin: number;
  /**
   * Start times of the stamped records whose handlers run now (a handler may run another's
   * inline: caller-runs), by begin()'s token − 1. Kept here so no time crosses a call as a float
   * (a boxed heap number: the handle path stays allocation-free).
   */
  private readonly starts = new Float64Array(64);
  private depth = 0;
  /** Whether the interval stretches (LatencyShape.stretch), the interval now, and [0]: the time of the last stamp (a typed array: no boxed double). */
  private readonly stretch: boolean;
  private interval: number;
  private readonly lastStamp = new Float64Array(1);
  /** Requests left before the next timed one. */
  private requestCountdown: number;

  constructor(shape: ShapeView, thread: number, arenaBuffer: ArrayBufferLike) {
    this.on = shape.latency !== undefined;
    this.sampleEvery = shape.latency?.sampleEvery ?? 0;
    this.stretch = shape.latency?.stretch ?? false;
    this.interval = this.sampleEvery;
    this.lastStamp[0] = -Infinity;
    this.firstCountdown = this.on ? this.sampleEvery : NEVER;
    // The first request is timed: a few requests still give a figure.
    this.requestCountdown = this.on ? 1 : NEVER;
    this.u16 = new Uint16Array(arenaBuffer);
    this.u32 = new Uint32Array(arenaBuffer);
    this.origin = performance.timeOrigin - shape.epochMs;
    this.mask = shape.ringCapacity - 1;
    const T = shape.threads;
    const topics = shape.topicNames.length;
    const layout = new LatencyLayout(T, topics, shape.ringCapacity);
    const keys = T * PRIORITY_CLASSES;
    this.outStamps = Int32Array.from({ length: keys }, (_, key) => layout.stamps(outboundLane(thread, key, T)));
    this.inStamps = Int32Array.from({ length: keys }, (_, key) => layout.stamps(inboundLane(thread, key, T)));
    this.words = new Float64Array(shape.latency?.buffer ?? new ArrayBuffer(0));
    this.counters = layout.counters(thread);
    if (!this.on) return;
    for (let topic = 0; topic < topics; topic++) {
      for (let kind = 0; kind < LATENCY_KINDS; kind++) {
        this.histograms.push(new Histogram({ bits: LATENCY_BITS, words: this.words, offset: layout.histogramAt(thread, topic, kind) }));
      }
    }
  }

  // ── producer ────────────────────────────────────────────────────────────────────────────────

  /**
   * The countdown ran out on a push into the lane at `ring` (outbound key `key`): stamps the record
   * just claimed — not a reply or dead letter: then the next push is stamped instead. Returns the
   * next countdown: sampleEvery, or with the default, the stretched interval — doubled while
   * stamps come less than STAMP_GAP_MS apart, halved (down to sampleEvery) once they come more
   * than 4 × STAMP_GAP_MS apart. The gap is this thread's own publishing rate, read from the
   * stamp's clock read: which record is stamped still does not depend on backlog or content.
   */
  stamp(key: number, ring: number, recordSize: number): number {
    if (!this.on) return NEVER;
    const index = (this.u32[(ring + RING_CLAIM_OFFSET) >> 2]! - 1) & this.mask;
    const record = ring + RING_DATA_OFFSET + index * recordSize;
    if (this.u16[(record + RECORD_SUBSCRIPTION_OFFSET) >> 1]! >= DEAD_LETTER_SUBSCRIPTION) return 1;
    const now = this.origin + performance.now();
    this.words[this.outStamps[key]! + index] = now;
    this.u16[(record + RECORD_FLAGS_OFFSET) >> 1] |= RECORD_FLAG_STAMPED;
    this.words[this.counters + COUNTER_STAMPED] += 1;
    if (!this.stretch) return this.sampleEvery;
    const gap = now - this.lastStamp[0]!;
    this.lastStamp[0] = now;
    if (gap < STAMP_GAP_MS) {
      if (this.interval < MAX_STRETCHED_INTERVAL) this.interval *= 2;
    } else if (gap > 4 * STAMP_GAP_MS && this.interval > this.sampleEvery) {
      this.interval = Math.max(this.sampleEvery, this.interval >> 1);
    }
    return this.interval;
  }

  // ── consumer ────────────────────────────────────────────────────────────────────────────────

  /**
   * The stamped record at `record`, ring index `index` of inbound lane `key`, is about to run:
   * records its queue wait and returns a token (> 0) for handlerDone; 0 when too many handlers
   * are being timed at once (nested beyond `starts`: not timed).
   */
  begin(key: number, index: number, record: number): number {
    const now = this.origin + performance.now();
    const published = this.words[this.inStamps[key]! + (index & this.mask)]!;
    recordNs(this.histograms[this.u16[(record + RECORD_TOPIC_OFFSET) >> 1]! * LATENCY_KINDS + LATENCY_QUEUE_WAIT]!, (now - published) * 1e6);
    if (this.depth === this.starts.length) return 0;
    this.starts[this.depth] = now;
    return ++this.depth;
  }

  /** The handler of a record of `topic` whose begin() gave `token` returned. */
  handlerDone(topic: number, token: number): void {
    this.depth = token - 1;
    recordNs(this.histograms[topic * LATENCY_KINDS + LATENCY_HANDLER]!, (this.origin + performance.now() - this.starts[token - 1]!) * 1e6);
  }

  /** The handler of the record whose begin() gave `token` returned a promise: its start, for handlerSettled. */
  handlerPending(token: number): number {
    this.depth = token - 1;
    return this.starts[token - 1]!;
  }

  /** The promise of a handler of `topic` that began at `started` (handlerPending) settled. */
  handlerSettled(topic: number, started: number): void {
    recordNs(this.histograms[topic * LATENCY_KINDS + LATENCY_HANDLER]!, (this.now() - started) * 1e6);
  }

  /** A stamped record left its lane untimed (inside a batch run, run by a thief). */
  skip(): void {
    this.words[this.counters + COUNTER_SKIPPED] += 1;
  }

  /**
   * ms since the engine's epoch (see `origin`), for the paths that allocate anyway (requests,
   * settles). The sampled delivery paths spell it out: a float returned by a call that is not
   * inlined is a heap number.
   */
  now(): number {
    return this.origin + performance.now();
  }

  // ── requests (thread 0) ─────────────────────────────────────────────────────────────────────

  /** Whether the request being sent is timed: every sampleEvery-th (two clock reads are ~4 % of a round trip here). */
  sampleRequest(): boolean {
    if (--this.requestCountdown !== 0) return false;
    this.requestCountdown = this.on ? this.sampleEvery : NEVER;
    return this.on;
  }

  /** A request of `topic` sent at `sent` (this.now()) was answered now. */
  roundTrip(topic: number, sent: number): void {
    this.histograms[topic * LATENCY_KINDS + LATENCY_ROUND_TRIP]!.record((this.now() - sent) * 1e6);
  }
}

/**
 * Records `ns` into `histogram` as a small integer when it is one: a float argument to a call
 * that is not inlined is a heap number (an allocation); below 2^30 ns (1.07 s) it never is.
 */
function recordNs(histogram: Histogram, ns: number): void {
  if (ns >= 0 && ns < 1073741824) histogram.record(ns | 0);
  else histogram.record(ns);
}

/** What thread 0 reads: every thread's histograms of a topic, merged; and the sampling counters. */
export class LatencyReader {
  private readonly words: Float64Array;
  private readonly layout: LatencyLayout;

  constructor(shape: ShapeView, latency: LatencyShape) {
    this.words = new Float64Array(latency.buffer);
    this.layout = new LatencyLayout(shape.threads, shape.topicNames.length, shape.ringCapacity);
  }

  /** A snapshot of `kind` for topic `topic`: every thread's histogram merged into a new one. */
  merged(topic: number, kind: number): Histogram {
    const into = new Histogram({ bits: LATENCY_BITS });
    for (let thread = 0; thread < this.layout.threads; thread++) {
      const offset = this.layout.histogramAt(thread, topic, kind);
      if (this.words[offset + COUNT_WORD] === 0) continue; // empty
      into.merge(new Histogram({ bits: LATENCY_BITS, words: this.words, offset }));
    }
    return into;
  }

  /** engine.latency() of `topics`: each one's histograms merged over the threads, the sampling sums; `since`: the engine's creation (epoch ms). */
  report(topics: readonly { readonly name: string; readonly id: number }[], since: number): LatencyReport {
    const byName: Record<string, TopicLatency> = {};
    for (const { name, id } of topics) {
      byName[name] = { queueWait: this.merged(id, LATENCY_QUEUE_WAIT), handler: this.merged(id, LATENCY_HANDLER), roundTrip: this.merged(id, LATENCY_ROUND_TRIP) };
    }
    return { topics: byName, since, ...this.sampling() };
  }

  /** Σ stamped and Σ skipped over the threads (the sampling identity in the header). */
  sampling(): { stamped: number; skipped: number } {
    let stamped = 0;
    let skipped = 0;
    for (let thread = 0; thread < this.layout.threads; thread++) {
      const at = this.layout.counters(thread);
      stamped += this.words[at + COUNTER_STAMPED]!;
      skipped += this.words[at + COUNTER_SKIPPED]!;
    }
    return { stamped, skipped };
  }
}
