/**
 * What player A of every ping-pong side keeps (bench/engine-pingpong.ts): the round-trip
 * histogram, an HdrHistogram (hdr-histogram-js, 3 significant digits) of RTTs recorded in integer
 * nanoseconds, read back as p50/p99/p99.9 in µs, and the game's score around it (GameScore).
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

/** p50/p99/p99.9 in µs (NaN when empty). */
export function rttPercentilesUs(histogram: RttHistogram): { p50: number; p99: number; p999: number } {
  if (histogram.totalCount === 0) return { p50: NaN, p99: NaN, p999: NaN };
  return {
    p50: histogram.getValueAtPercentile(50) / 1000,
    p99: histogram.getValueAtPercentile(99) / 1000,
    p999: histogram.getValueAtPercentile(99.9) / 1000,
  };
}

/** What A reports after a game: pongs seen, how many out of order, their checksum, RTT percentiles in µs. */
export interface GameReport { count: number; checksum: number; errors: number; p50: number; p99: number; p999: number }

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
    return { count: this.count, checksum: this.checksum, errors: this.errors, ...rttPercentilesUs(this.histogram) };
  }
}
