/**
 * Topics of the I/O part of bench/async.ts: one 16-byte message under four topic names, one per
 * way of reaching the simulated resource (bench/io-resource.ts) from an async handler, and a
 * `stats` request that pages out what each worker measured.
 *
 * Each worker keeps three histograms (µs, HISTOGRAM_BITS) in one Float64Array region of
 * STATS_WORDS words: LATENCY (publish → the handler's promise settles), OUTSIDE (that latency
 * minus the duration of the resource call that answered the message: the time spent outside the
 * resource) and CALL (each resource call's duration). A reply carries the worker's counters and
 * one page of PAGE_WORDS words of that region; the main thread asks for every page and merges the
 * workers' histograms, so the percentiles are of all messages, not of per-worker percentiles. A
 * page is small on purpose: every record of every lane is as large as the largest message.
 */
import { histogramWords } from '../../src/histogram.ts';
import { defineSchema } from '../../src/schema.ts';
import { defineTopics } from '../../src/engine/types.ts';

/** Histogram range: 0 .. 2^24 − 1 µs (16.7 s). */
export const HISTOGRAM_BITS = 24;
/** Words of one histogram. */
export const HISTOGRAM_WORDS = histogramWords(HISTOGRAM_BITS);
/** Word offsets of the three histograms in a worker's region. */
export const LATENCY_WORD = 0;
export const OUTSIDE_WORD = LATENCY_WORD + HISTOGRAM_WORDS;
export const CALL_WORD = OUTSIDE_WORD + HISTOGRAM_WORDS;
/** Float64 words per reply page. */
export const PAGE_WORDS = 32;
export const PAGE_BYTES = PAGE_WORDS * Float64Array.BYTES_PER_ELEMENT;
/** Pages of a worker's region, and its words (whole pages, so the last page is a full view). */
export const STATS_PAGES = Math.ceil((CALL_WORD + HISTOGRAM_WORDS) / PAGE_WORDS);
export const STATS_WORDS = STATS_PAGES * PAGE_WORDS;

/** Most keys per resource call, for DataLoader and createBatcher alike. */
export const MAX_BATCH = 256;

/** seq: 0, 1, 2 … per run; key: what the handler loads; stamp: ms since the epoch at publish. */
const message = defineSchema({ seq: 'u32', key: 'u32', stamp: 'f64' });

export const asyncIoTopics = defineTopics({
  /** (a) the handler calls the resource once per message. */
  'io.call': { schema: message },
  /** (b) the handler loads through its worker's DataLoader. */
  'io.loader': { schema: message },
  /** (c) the handler loads through its worker's createBatcher (its defaults: 4 calls in flight). */
  'io.batcher': { schema: message },
  /** (c') the same through a createBatcher with no limit on calls in flight, as DataLoader has none. */
  'io.unlimited': { schema: message },
  /** A page of the worker's histograms with its counters; reset empties them after the reply. */
  stats: {
    schema: defineSchema({ page: 'u32', reset: 'bool' }),
    reply: defineSchema({
      worker: 'u32', count: 'u32', stale: 'u32', wrong: 'u32', calls: 'u32', keys: 'f64', sum: 'f64',
      words: { type: 'bytes', length: PAGE_BYTES },
    }),
  },
});
export type AsyncIoTopics = typeof asyncIoTopics;
