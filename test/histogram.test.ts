/**
 * The log-linear histogram (src/histogram.ts): the bucket formula against its inverse over every
 * bucket; percentiles, min, max, sum and cumulative buckets against an exact sort of seeded random
 * values (the seed is printed; WD_SEED=… repeats a run, WD_STRESS scales the sample); clamping;
 * a caller's region with canaries either side; merge, reset, copy; bad options.
 */
import { describe, expect, test } from '@jest/globals';
import { ConfigError } from '../src/errors.ts';
import {
  BUCKETS_WORD, DEFAULT_BITS, Histogram, MAX_BITS, MIN_BITS, SUB_BUCKETS,
  bucketHighest, bucketIndex, bucketLowest, histogramBuckets, histogramWords,
} from '../src/histogram.ts';
import { STRESS } from './harness.ts';

const SEED = Number(process.env.WD_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`histogram.test: WD_SEED=${SEED}`);

/** mulberry32: a small seeded generator of floats in [0, 1). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Integers spread evenly over magnitudes: 2^(u · bits), so every power of two gets its share. */
function logUniform(next: () => number, bits: number): number {
  return Math.floor(2 ** (next() * bits));
}

/** The exact p-th percentile as the histogram defines it: the ⌈p/100 · n⌉-th smallest. */
function exactPercentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

const PERCENTILES = [0, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100];

describe('bucket formula', () => {
  test.each([MIN_BITS, 20, DEFAULT_BITS, MAX_BITS])('bits=%i: every bucket maps its lowest and highest value back to itself, buckets tile the range, each at most 1/128 wide', (bits) => {
    const buckets = histogramBuckets(bits);
    expect(bucketLowest(0)).toBe(0);
    expect(bucketHighest(buckets - 1)).toBe(2 ** bits - 1);
    for (let i = 0; i < buckets; i++) {
      const low = bucketLowest(i);
      const high = bucketHighest(i);
      expect(bucketIndex(low)).toBe(i);
      expect(bucketIndex(high)).toBe(i);
      if (i + 1 < buckets) expect(bucketLowest(i + 1)).toBe(high + 1);
      if (low >= 2 * SUB_BUCKETS) expect((high + 1 - low) / low).toBeLessThanOrEqual(1 / SUB_BUCKETS);
      else expect(high).toBe(low);
    }
  });

  test('values around powers of two, on both sides of 2^32', () => {
    for (const k of [8, 9, 31, 32, 33, 41, 52]) {
      const p = 2 ** k;
      expect(bucketIndex(p)).toBe(bucketIndex(p - 1) + 1);
      expect(bucketLowest(bucketIndex(p))).toBe(p);
      expect(bucketHighest(bucketIndex(p - 1))).toBe(p - 1);
    }
    expect(histogramWords(DEFAULT_BITS)).toBe(BUCKETS_WORD + 4608);
  });
});

describe('against an exact sort (seeded)', () => {
  const n = Math.round(100_000 * STRESS);

  test.each([DEFAULT_BITS, 24])(`bits=%i: ${n} log-uniform values: percentiles within 1/128 above the exact value, never below; count, sum, min, max exact (sum to 10^-12)`, (bits) => {
    const next = random(SEED + bits);
    const h = new Histogram({ bits });
    const values: number[] = [];
    for (let i = 0; i < n; i++) {
      const v = logUniform(next, bits);
      values.push(v);
      h.record(v);
    }
    values.sort((a, b) => a - b);
    expect(h.count).toBe(n);
    expect(h.min).toBe(values[0]);
    expect(h.max).toBe(values[n - 1]);
    // Above 2^53 a float64 sum depends on the order of the additions: compare to 1 part in 10^12.
    const sum = values.reduce((a, b) => a + b, 0);
    expect(Math.abs(h.sum - sum) / sum).toBeLessThan(1e-12);
    expect(h.clampedLow + h.clampedHigh).toBe(0);
    for (const p of PERCENTILES) {
      const exact = exactPercentile(values, p);
      const got = h.percentile(p);
      expect(got).toBeGreaterThanOrEqual(exact);
      expect(got - exact).toBeLessThanOrEqual(exact / SUB_BUCKETS);
    }
    expect(h.percentile(100)).toBe(values[n - 1]);
    expect(h.percentile(0)).toBe(values[0]);
  });

  test('durations in ns (0.1 µs .. 10 s, recorded as fractions and truncated): every percentile within 1 %', () => {
    const next = random(SEED ^ 0x5bd1e995);
    const h = new Histogram();
    const values: number[] = [];
    for (let i = 0; i < n; i++) {
      const ns = 100 * 10 ** (next() * 8);
      values.push(Math.floor(ns));
      h.record(ns);
    }
    values.sort((a, b) => a - b);
    for (let p = 0; p <= 100; p += 0.5) {
      const exact = exactPercentile(values, p);
      expect(Math.abs(h.percentile(p) - exact) / exact).toBeLessThanOrEqual(0.01);
    }
  });

  test('small integers (below 256) are exact', () => {
    const next = random(SEED + 1);
    const h = new Histogram({ bits: MIN_BITS });
    const values: number[] = [];
    for (let i = 0; i < 5000; i++) {
      const v = Math.floor(next() * 256);
      values.push(v);
      h.record(v);
    }
    values.sort((a, b) => a - b);
    for (const p of PERCENTILES) expect(h.percentile(p)).toBe(exactPercentile(values, p));
  });

  test('cumulative buckets: le ascending, each cumulative count = values ≤ le exactly, the last = count', () => {
    const next = random(SEED + 2);
    const h = new Histogram({ bits: 30 });
    const values: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const v = logUniform(next, 30);
      values.push(v);
      h.record(v);
    }
    values.sort((a, b) => a - b);
    let previous = -1;
    let last = 0;
    let j = 0;
    const visited = h.forEachBucket((le, cumulative) => {
      expect(le).toBeGreaterThan(previous);
      while (j < values.length && values[j]! <= le) j++;
      expect(cumulative).toBe(j);
      previous = le;
      last = cumulative;
    });
    expect(visited).toBeGreaterThan(100);
    expect(last).toBe(h.count);
  });
});

describe('clamping, region, merge', () => {
  test('out of range values clamp to the first and last bucket, are counted, and never throw', () => {
    const h = new Histogram({ bits: 20 });
    for (const v of [-1, -Infinity, NaN, -0.5]) h.record(v);
    for (const v of [2 ** 20, 2 ** 60, Infinity]) h.record(v);
    h.record(7);
    expect(h.count).toBe(8);
    expect(h.clampedLow).toBe(4);
    expect(h.clampedHigh).toBe(3);
    expect(h.bucketCount(0)).toBe(4);
    expect(h.bucketCount(h.buckets - 1)).toBe(3);
    expect(h.min).toBe(0);
    expect(h.max).toBe(2 ** 20 - 1);
    expect(h.percentile(50)).toBe(0);   // the 4th of 8: the clamped-low ones come first
    expect(h.percentile(55)).toBe(7);
    expect(Number.isFinite(h.sum)).toBe(true);
  });

  test('empty: NaN figures, no buckets; percentile arguments outside 0..100 clamp', () => {
    const h = new Histogram();
    expect(h.count).toBe(0);
    expect(h.min).toBeNaN();
    expect(h.max).toBeNaN();
    expect(h.mean).toBeNaN();
    expect(h.percentile(50)).toBeNaN();
    expect(h.forEachBucket(() => { throw new Error('no bucket expected'); })).toBe(0);
    h.record(300);
    h.record(5);
    expect(h.percentile(-10)).toBe(5);
    expect(h.percentile(1000)).toBe(300);
    expect(h.percentile(NaN)).toBeNaN();
  });

  test("a caller's region: two histograms side by side between canaries; a zero-filled region is empty; a second view reads the first's values", () => {
    const size = histogramWords(MIN_BITS);
    const CANARY = 12345.5;
    const words = new Float64Array(new SharedArrayBuffer((1 + 2 * size + 1) * 8)).fill(0);
    words[0] = CANARY;
    words[1 + 2 * size] = CANARY;
    const a = new Histogram({ bits: MIN_BITS, words, offset: 1 });
    const b = new Histogram({ bits: MIN_BITS, words, offset: 1 + size });
    expect(a.count).toBe(0);
    for (let v = 0; v < 2 ** MIN_BITS + 10; v++) { a.record(v); b.record(v * 3); }
    expect(words[0]).toBe(CANARY);
    expect(words[1 + 2 * size]).toBe(CANARY);
    expect(a.max).toBe(2 ** MIN_BITS - 1);
    expect(b.max).toBe(2 ** MIN_BITS - 1);
    const view = new Histogram({ bits: MIN_BITS, words, offset: 1 });
    expect(view.count).toBe(a.count);
    expect(view.percentile(50)).toBe(a.percentile(50));
    b.reset();
    expect(b.count).toBe(0);
    expect(a.count).toBe(2 ** MIN_BITS + 10);
    expect(words[1 + 2 * size]).toBe(CANARY);
  });

  test('merge equals recording both sets into one; reset empties; copy is a snapshot', () => {
    const next = random(SEED + 3);
    const a = new Histogram();
    const b = new Histogram();
    const both = new Histogram();
    for (let i = 0; i < 10_000; i++) {
      const v = logUniform(next, 36);
      (i % 3 === 0 ? a : b).record(v);
      both.record(v);
    }
    a.record(-1);
    both.record(-1);
    const snapshot = a.copy();
    a.merge(b);
    expect(Array.from(a.words)).toEqual(Array.from(both.words));
    expect(snapshot.count).toBe(Math.ceil(10_000 / 3) + 1);
    expect(new Histogram().merge(both).percentile(99)).toBe(both.percentile(99));
    expect(() => a.merge(new Histogram({ bits: 20 }))).toThrow(ConfigError);
    a.reset();
    expect(a.count).toBe(0);
    expect(a.clampedLow).toBe(0);
    a.record(3);
    expect(a.min).toBe(3);
    expect(a.max).toBe(3);
  });

  test('bad options are ConfigErrors naming the field', () => {
    expect(() => new Histogram({ bits: MIN_BITS - 1 })).toThrow(/bits=8/);
    expect(() => new Histogram({ bits: 54 })).toThrow(ConfigError);
    expect(() => new Histogram({ bits: 20.5 })).toThrow(ConfigError);
    expect(() => new Histogram({ bits: MIN_BITS, words: new Float64Array(10) })).toThrow(/offset=0/);
    expect(() => new Histogram({ bits: MIN_BITS, words: new Float64Array(histogramWords(MIN_BITS)), offset: 1 })).toThrow(ConfigError);
    expect(() => new Histogram({ words: new Uint32Array(histogramWords()) as unknown as Float64Array })).toThrow(/words=Uint32Array/);
  });
});
