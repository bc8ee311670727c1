/**
 * A log-linear histogram of non-negative values with a fixed relative error, after Gil Tene's
 * HdrHistogram (hdrhistogram.org): each power of two is split into SUB_BUCKETS equal buckets, so a
 * bucket is never wider than 1/SUB_BUCKETS (0.78 %) of the values it holds, at any magnitude.
 *
 * Values are integers in the caller's unit (fractions are truncated): record nanoseconds for
 * durations (the default range, 0 .. 2^42 - 1, is 0 .. 73 minutes in ns), keys per call for batch
 * sizes. Choose a unit in which one unit is finer than the resolution you need: below 256 every
 * integer has a bucket of its own (exact), above it the error is at most 1/128.
 *
 * Bucket index of an integer v (m = floor(log2 v), SUB_BITS = 7, SUB_BUCKETS = 2^SUB_BITS = 128):
 *
 *   shift = max(0, m - SUB_BITS)           v < 256: shift 0, one bucket per integer
 *   index = shift · SUB_BUCKETS + (v >> shift)
 *
 *   v      0 .. 255      256 .. 511    512 .. 1023   …   2^(b-1) .. 2^b - 1
 *   index  0 .. 255      256 .. 383    384 .. 511    …   (b - 7) · 128 .. (b - 6) · 128 - 1
 *   width  1             2             4                 2^(b - 8)
 *
 * A histogram of range 0 .. 2^bits - 1 has (bits - 6) · 128 buckets (bits = 42: 4608).
 *
 * Storage: one Float64Array region of histogramWords(bits) words, the caller's (a view of a
 * SharedArrayBuffer, say, at a word offset) or one the histogram allocates. All float64, so counts
 * and sums stay exact to 2^53 and one region holds everything:
 *
 *   word                 field         meaning
 *   COUNT_WORD           count         values recorded, clamped ones included
 *   SUM_WORD             sum           sum of the values as recorded (clamped, truncated)
 *   MIN_WORD             min           smallest value; meaningless while count is 0
 *   MAX_WORD             max           largest value; meaningless while count is 0
 *   CLAMPED_LOW_WORD     clampedLow    values below 0 (or NaN), counted in bucket 0 as 0
 *   CLAMPED_HIGH_WORD    clampedHigh   values ≥ 2^bits, counted in the last bucket as 2^bits - 1
 *   BUCKETS_WORD + i     bucket i      values whose index is i
 *
 * A zero-filled region is an empty histogram (min and max are taken from the first value, not
 * compared with 0), so fresh shared memory needs no initialisation. Every word has one writer:
 * the thread that records. Today that is the thread that reads too; a reader on another thread
 * would read plain float64 words, which the memory model does not promise untorn, so placing a
 * histogram in shared memory will need a publishing word (a sequence count) beside these.
 *
 * record() allocates nothing and throws nothing: out-of-range values clamp and are counted.
 */
import { ConfigError } from './errors.ts';

/** log2 of the buckets per power of two. */
export const SUB_BITS = 7;
/** Buckets per power of two: a bucket is at most 1/SUB_BUCKETS of its values wide. */
export const SUB_BUCKETS = 1 << SUB_BITS;
/** Values below this have a bucket each (2 · SUB_BUCKETS): the linear part. */
const LINEAR_LIMIT = SUB_BUCKETS * 2;

export const COUNT_WORD = 0;
export const SUM_WORD = COUNT_WORD + 1;
export const MIN_WORD = SUM_WORD + 1;
export const MAX_WORD = MIN_WORD + 1;
export const CLAMPED_LOW_WORD = MAX_WORD + 1;
export const CLAMPED_HIGH_WORD = CLAMPED_LOW_WORD + 1;
/** The first bucket's word; the header words above come first. */
export const BUCKETS_WORD = CLAMPED_HIGH_WORD + 1;

/** The default range: values 0 .. 2^42 - 1 (73 minutes in ns). */
export const DEFAULT_BITS = 42;
/** Narrowest range: the linear part and one power of two beyond it. */
export const MIN_BITS = SUB_BITS + 2;
/** Widest range: every integer a float64 holds exactly. */
export const MAX_BITS = 53;

/** 2^31: values below it take int32 arithmetic. */
const TWO_31 = 2147483648;
/** 2^32: values at or above it are split into two words for Math.clz32. */
const TWO_32 = 4294967296;
/** 2^-shift for every shift a value below 2^MAX_BITS needs. */
const INVERSE_POWERS = Float64Array.from({ length: MAX_BITS + 1 }, (_, shift) => 2 ** -shift);

/** Buckets of a histogram of range 0 .. 2^bits - 1. */
export function histogramBuckets(bits: number): number {
  return (bits - SUB_BITS + 1) * SUB_BUCKETS;
}

/** Float64 words a histogram of range 0 .. 2^bits - 1 occupies. */
export function histogramWords(bits: number = DEFAULT_BITS): number {
  return BUCKETS_WORD + histogramBuckets(bits);
}

/**
 * The bucket of integer `v` (0 ≤ v < 2^53): the formula in the header. Exported for tests and for
 * a later reader in another language; record() inlines the same arithmetic.
 */
export function bucketIndex(v: number): number {
  if (v < TWO_31) {
    const x = v | 0;
    let shift = 32 - SUB_BITS - 1 - Math.clz32(x);        // m - SUB_BITS, m = 31 - clz32(v)
    if (shift < 0) shift = 0;
    return (shift << SUB_BITS) + (x >>> shift);
  }
  return wideBucketIndex(v);
}

/**
 * bucketIndex of v ≥ 2^31, beyond int32 arithmetic: m = 63 - clz32(v's high word) above 2^32
 * (clz32 truncates v / 2^32 to that word), 31 below. v · 2^-shift is exact in float64, so floor()
 * of it is v >> shift; the factor comes from a table because `2 ** shift` is a slow Math.pow call.
 */
function wideBucketIndex(v: number): number {
  const shift = v < TWO_32 ? 31 - SUB_BITS : 64 - SUB_BITS - 1 - Math.clz32(v / TWO_32);
  return shift * SUB_BUCKETS + Math.floor(v * INVERSE_POWERS[shift]!);
}

/** The smallest integer in bucket `index`. */
export function bucketLowest(index: number): number {
  if (index < LINEAR_LIMIT) return index;
  const shift = (index >> SUB_BITS) - 1;
  return (index - shift * SUB_BUCKETS) * 2 ** shift;
}

/** The largest integer in bucket `index`: what percentiles report, and a bucket's Prometheus `le`. */
export function bucketHighest(index: number): number {
  if (index < LINEAR_LIMIT) return index;
  const shift = (index >> SUB_BITS) - 1;
  return (index - shift * SUB_BUCKETS + 1) * 2 ** shift - 1;
}

export interface HistogramOptions {
  /** Range 0 .. 2^bits - 1, integer in [MIN_BITS, MAX_BITS]; default DEFAULT_BITS (42). */
  readonly bits?: number;
  /**
   * The region to keep the histogram in: histogramWords(bits) float64 words of `words` from
   * `offset` (a word index, default 0). Used as it is: a zero-filled region is empty, a region
   * another Histogram wrote holds its values. Default: a zero-filled region of its own.
   */
  readonly words?: Float64Array;
  readonly offset?: number;
}

/** A log-linear histogram over a Float64Array region: see the header for the layout. */
export class Histogram {
  /** Range 0 .. 2^bits - 1. */
  readonly bits: number;
  /** The region's array; the histogram's words are words[offset .. offset + histogramWords(bits)). */
  readonly words: Float64Array;
  /** Word index of COUNT_WORD in `words`. */
  readonly offset: number;
  /** Bucket count: histogramBuckets(bits). */
  readonly buckets: number;
  /** 2^bits: the first value that clamps high. */
  private readonly limit: number;

  constructor(options: HistogramOptions = {}) {
    const bits = options.bits ?? DEFAULT_BITS;
    if (!Number.isInteger(bits) || bits < MIN_BITS || bits > MAX_BITS) {
      throw new ConfigError('bits', bits, `must be an integer in [${MIN_BITS}, ${MAX_BITS}]`);
    }
    const size = histogramWords(bits);
    const offset = options.offset ?? 0;
    const words = options.words ?? new Float64Array(offset + size);
    if (!(words instanceof Float64Array)) throw new ConfigError('words', words, 'must be a Float64Array');
    if (!Number.isInteger(offset) || offset < 0 || offset + size > words.length) {
      throw new ConfigError('offset', offset, `must leave ${size} words (bits=${bits}) inside words (length ${words.length})`);
    }
    this.bits = bits;
    this.words = words;
    this.offset = offset;
    this.buckets = histogramBuckets(bits);
    this.limit = 2 ** bits;
  }

  /**
   * Counts `value` (truncated to an integer). Never throws, never allocates: a value below 0 or NaN
   * counts as 0 and in clampedLow; one at or above 2^bits counts as 2^bits - 1 and in clampedHigh.
   */
  record(value: number): void {
    const w = this.words;
    const o = this.offset;
    let v: number;
    if (!(value >= 0)) {
      v = 0;
      w[o + CLAMPED_LOW_WORD] += 1;
    } else if (value >= this.limit) {
      v = this.limit - 1;
      w[o + CLAMPED_HIGH_WORD] += 1;
    } else {
      v = Math.floor(value);
    }
    // bucketIndex, spelled out so that this stays one small function for TurboFan to inline.
    let index: number;
    if (v < TWO_31) {
      const x = v | 0;
      let shift = 32 - SUB_BITS - 1 - Math.clz32(x);
      if (shift < 0) shift = 0;
      index = (shift << SUB_BITS) + (x >>> shift);
    } else {
      index = wideBucketIndex(v);
    }
    w[o + BUCKETS_WORD + index] += 1;
    const count = w[o + COUNT_WORD];
    if (count === 0 || v < w[o + MIN_WORD]) w[o + MIN_WORD] = v;
    if (count === 0 || v > w[o + MAX_WORD]) w[o + MAX_WORD] = v;
    w[o + COUNT_WORD] = count + 1;
    w[o + SUM_WORD] += v;
  }

  /** Values recorded (clamped ones included). */
  get count(): number {
    return this.words[this.offset + COUNT_WORD];
  }

  /** Sum of the values as recorded (truncated, clamped). */
  get sum(): number {
    return this.words[this.offset + SUM_WORD];
  }

  /** Smallest value recorded; NaN when empty. */
  get min(): number {
    return this.count === 0 ? NaN : this.words[this.offset + MIN_WORD];
  }

  /** Largest value recorded (a clamped one reads 2^bits - 1); NaN when empty. */
  get max(): number {
    return this.count === 0 ? NaN : this.words[this.offset + MAX_WORD];
  }

  /** sum / count; NaN when empty. */
  get mean(): number {
    return this.count === 0 ? NaN : this.sum / this.count;
  }

  /** Values below 0 (or NaN) that were counted as 0. */
  get clampedLow(): number {
    return this.words[this.offset + CLAMPED_LOW_WORD];
  }

  /** Values at or above 2^bits that were counted as 2^bits - 1. */
  get clampedHigh(): number {
    return this.words[this.offset + CLAMPED_HIGH_WORD];
  }

  /** Values counted in bucket `index`. */
  bucketCount(index: number): number {
    return this.words[this.offset + BUCKETS_WORD + index];
  }

  /**
   * The value at percentile `p` (0 .. 100; outside clamps): the largest integer of the bucket that
   * holds the ⌈p/100 · count⌉-th smallest value, kept within [min, max]. So it is never below the
   * exact value and above it by at most 1/128 of it (exact below 256); p = 100 is max exactly.
   * NaN when empty or p is NaN.
   */
  percentile(p: number): number {
    const count = this.count;
    if (count === 0 || Number.isNaN(p)) return NaN;
    const fraction = p <= 0 ? 0 : p >= 100 ? 1 : p / 100;
    const rank = Math.max(1, Math.ceil(fraction * count));
    const w = this.words;
    const first = this.offset + BUCKETS_WORD;
    let seen = 0;
    for (let i = 0; i < this.buckets; i++) {
      seen += w[first + i];
      if (seen >= rank) return Math.min(Math.max(bucketHighest(i), this.min), this.max);
    }
    return this.max; // unreachable while the buckets add up to count
  }

  /**
   * Visits the non-empty buckets in ascending order with `le`, the largest integer the bucket holds,
   * and `cumulative`, the values at or below it: a Prometheus `_bucket{le="…"}` series (the `+Inf`
   * bucket is `count`). Returns the number of buckets visited.
   */
  forEachBucket(visit: (le: number, cumulative: number) => void): number {
    const w = this.words;
    const first = this.offset + BUCKETS_WORD;
    let cumulative = 0;
    let visited = 0;
    for (let i = 0; i < this.buckets; i++) {
      const n = w[first + i];
      if (n === 0) continue;
      cumulative += n;
      visited++;
      visit(bucketHighest(i), cumulative);
    }
    return visited;
  }

  /** Adds `other`'s values to this one (same `bits`, else a ConfigError). */
  merge(other: Histogram): this {
    if (other.bits !== this.bits) throw new ConfigError('other.bits', other.bits, `must equal this histogram's bits (${this.bits})`);
    const otherCount = other.count;
    if (otherCount === 0) return this;
    const w = this.words;
    const o = this.offset;
    const ow = other.words;
    const oo = other.offset;
    if (this.count === 0 || ow[oo + MIN_WORD] < w[o + MIN_WORD]) w[o + MIN_WORD] = ow[oo + MIN_WORD];
    if (this.count === 0 || ow[oo + MAX_WORD] > w[o + MAX_WORD]) w[o + MAX_WORD] = ow[oo + MAX_WORD];
    w[o + COUNT_WORD] += otherCount;
    w[o + SUM_WORD] += ow[oo + SUM_WORD];
    w[o + CLAMPED_LOW_WORD] += ow[oo + CLAMPED_LOW_WORD];
    w[o + CLAMPED_HIGH_WORD] += ow[oo + CLAMPED_HIGH_WORD];
    for (let i = 0; i < this.buckets; i++) w[o + BUCKETS_WORD + i] += ow[oo + BUCKETS_WORD + i];
    return this;
  }

  /** Empties the histogram (zero-fills its region). */
  reset(): this {
    this.words.fill(0, this.offset, this.offset + histogramWords(this.bits));
    return this;
  }

  /** A copy with a region of its own: a snapshot that later records do not change. */
  copy(): Histogram {
    const size = histogramWords(this.bits);
    return new Histogram({ bits: this.bits, words: this.words.slice(this.offset, this.offset + size) });
  }
}
