/**
 * What player A of every ping-pong side keeps (bench/engine-pingpong.ts): the round-trip
 * histogram, an HdrHistogram (hdr-histogram-js, 3 significant digits) of RTTs recorded in integer
 * nanoseconds, read back as a spectrum of percentiles in µs (RttSpectrum: p50 … p99.99 and max),
 * and the game's score around it (GameScore).
 * Shared by the engine's handler module, the baseline workers and the main thread's request()
 * runs, so every side of the comparison, and every case of the suite, computes its percentiles
 * the same way.
 *
 *   performance.now() ms ──×1e6, round──▶ recordValue(ns) ──▶ getValueAtPercentile(p) / 1000 ──▶ µs
 */
import * as hdr from 'hdr-histogram-js';
import { CHECKSUM_SEED, checksumStep } from '../engine/checksum.ts';

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

/**
 * A histogram's round trips in µs at the percentiles a latency distribution shows: the median, the
 * body (p75, p90) and the tail (p99 … p99.99), and the largest (max). Every field is a number, so
 * the engine's 'report' reply (pingpong-topics.ts) carries it as flat f64 fields.
 */
export interface RttSpectrum { p50: number; p75: number; p90: number; p99: number; p999: number; p9999: number; max: number }

/** Each RttSpectrum field and its percentile, in increasing order; max is percentile 100. */
export const SPECTRUM_PERCENTILES: ReadonlyArray<readonly [keyof RttSpectrum, number]> = [
  ['p50', 50], ['p75', 75], ['p90', 90], ['p99', 99], ['p999', 99.9], ['p9999', 99.99], ['max', 100],
];

/**
 * The spectrum of `histogram` in µs (every field NaN when empty). max is read as percentile 100,
 * not as the histogram's exact maxValue: each percentile is the highest value of its bucket, so
 * p99.99 could otherwise sit above a max in the same bucket and the spectrum would fall at its end.
 */
export function rttSpectrumUs(histogram: RttHistogram): RttSpectrum {
  const spectrum = {} as RttSpectrum;
  for (const [field, percentile] of SPECTRUM_PERCENTILES) {
    spectrum[field] = histogram.totalCount === 0 ? NaN : histogram.getValueAtPercentile(percentile) / 1000;
  }
  return spectrum;
}

/** What A reports after a game: pongs seen, how many out of order, their checksum, and the RTT spectrum in µs. */
export interface GameReport extends RttSpectrum { count: number; checksum: number; errors: number }

/**
 * Player A's score of one game: the rounds it plays, the pongs it saw (and how many came out of
 * order), the FNV-1a checksum of their values, and the histogram of their round trips.
 */
export class GameScore {
  readonly histogram = rttHistogram();
  rounds = 0;
  count = 0;
  checksum = CHECKSUM_SEED;
  errors = 0;

  /** Starts a game of `rounds` round trips (0: clears the score). */
  start(rounds: number): void {
    this.rounds = rounds;
    this.count = 0;
    this.checksum = CHECKSUM_SEED;
    this.errors = 0;
    this.histogram.reset();
  }

  /** Scores pong `seq` carrying `value`, `rttMs` after its ping was sent; true while rounds remain. */
  pong(seq: number, value: number, rttMs: number): boolean {
    recordRttMs(this.histogram, rttMs);
    if (seq !== this.count) this.errors++;
    this.checksum = checksumStep(this.checksum, value);
    this.count++;
    return this.count < this.rounds;
  }

  report(): GameReport {
    return { count: this.count, checksum: this.checksum, errors: this.errors, ...rttSpectrumUs(this.histogram) };
  }
}
