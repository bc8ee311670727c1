/**
 * Round-trip histograms of the ping-pong benchmarks (bench/engine-pingpong.ts): an HdrHistogram
 * (hdr-histogram-js, 3 significant digits) of RTTs recorded in integer nanoseconds, read back as
 * p50/p99/p99.9 in µs. Shared by the engine's handler module and the baseline workers, so every
 * side of the comparison computes its percentiles the same way.
 *
 *   performance.now() ms ──×1e6, round──▶ recordValue(ns) ──▶ getValueAtPercentile(p) / 1000 ──▶ µs
 */
import * as hdr from 'hdr-histogram-js';

/** Highest RTT the histogram tracks without resizing: 10 s in ns (it auto-resizes past that). */
const HIGHEST_TRACKABLE_NS = 10_000_000_000;

export type RttHistogram = hdr.Histogram;

/** An empty histogram of round trips in ns, 1 ns .. 10 s at 3 significant digits. */
export function rttHistogram(): RttHistogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_TRACKABLE_NS, numberOfSignificantValueDigits: 3 });
}

/** Records one round trip given as a performance.now() difference in ms. */
export function recordRttMs(histogram: RttHistogram, ms: number): void {
  histogram.recordValue(Math.max(1, Math.round(ms * 1e6)));
}

/** p50/p99/p99.9 in µs (NaN when empty). */
export function rttPercentilesUs(histogram: RttHistogram): { p50: number; p99: number; p999: number } {
  if (histogram.totalCount === 0) return { p50: NaN, p99: NaN, p999: NaN };
  return {
    p50: histogram.getValueAtPercentile(50) / 1000,
    p99: histogram.getValueAtPercentile(99) / 1000,
    p999: histogram.getValueAtPercentile(99.9) / 1000,
  };
}
