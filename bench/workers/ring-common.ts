/**
 * What the one-to-one ring benchmark's coordinator (bench/ring-threads.ts) and its two workers
 * (ring-producer.ts, ring-consumer.ts) agree on: the control block, the record, the checksum.
 *
 * Control block: a small SharedArrayBuffer of i32 words next to (not inside) the arena.
 * | word        | writer       | readers  | meaning                                                 |
 * |-------------|--------------|----------|---------------------------------------------------------|
 * | GEN         | coordinator  | workers  | run number; bumping it (then notify) starts a run       |
 * | MESSAGES    | coordinator  | workers  | records in the run about to start (written before GEN)  |
 * | TIMEOUT_MS  | coordinator  | workers  | the run's deadline, relative to when a worker starts it |
 * | QUIT        | coordinator  | workers  | 1: leave instead of running (written before GEN)        |
 * | ABORT       | any          | workers  | 1: a side gave up; the other stops waiting for it       |
 * | STAGE + r   | worker r     | coord.   | where worker r (ROLE_*) is: STAGE_*, for timeout reports |
 * | SEEN + r    | worker r     | coord.   | the last GEN worker r started                            |
 *
 * Record (RECORD_SIZE bytes): seq u32 (0, 1, 2 … within a run) | gen u32 (the run's GEN) | unused.
 * The consumer checks seq === records received so far and gen === this run, and both sides fold
 * every seq into an order-sensitive checksum (FNV-1a over u32 words) that must agree.
 */
import type { Backend } from '../../bindings/core-ops.ts';

export const CTRL_GEN = 0;
export const CTRL_MESSAGES = CTRL_GEN + 1;
export const CTRL_TIMEOUT_MS = CTRL_MESSAGES + 1;
export const CTRL_QUIT = CTRL_TIMEOUT_MS + 1;
export const CTRL_ABORT = CTRL_QUIT + 1;
export const CTRL_STAGE = CTRL_ABORT + 1;
export const CTRL_SEEN = CTRL_STAGE + 2;
export const CTRL_WORDS = CTRL_SEEN + 2;

/** Index of a worker's STAGE/SEEN word. */
export const ROLE_PRODUCER = 0;
export const ROLE_CONSUMER = 1;
/** What a worker is doing; written only on transitions (never per record). */
export const STAGE_STARTING = 0;
export const STAGE_IDLE = 1;
export const STAGE_RUNNING = 2;
export const STAGE_PARKED = 3;
export const STAGE_REPORTING = 4;
export const STAGE_NAMES = ['starting', 'idle (waiting for GEN)', 'running', 'parked', 'reporting'] as const;

export const RING_CAPACITY = 4096;
export const RECORD_SIZE = 16;
export const RECORD_WORDS = RECORD_SIZE >> 2;
export const RECORD_SEQ_WORD = 0;
export const RECORD_GEN_WORD = RECORD_SEQ_WORD + 1;

/** Records per ringTryPushBatch / ringTryPopBatch call in batch mode. */
export const BATCH = 256;
/** Single mode: the producer flushes (and the consumer commits) once per this many records. */
export const FLUSH_EVERY = 32;
export const FLUSH_MASK = FLUSH_EVERY - 1;
/** Polls of a full/empty ring before parking: ~10–30 µs, about the cost of one wake-up here. */
export const SPIN_POLLS = 1024;
/** One park lasts at most this long; then the worker re-checks its deadline and ABORT. */
export const PARK_TIMEOUT_MS = 10;
/** Thread indices in the arena: 0 is the coordinator (main thread). */
export const PRODUCER_THREAD = 1;
export const CONSUMER_THREAD = 2;
export const THREADS = 3;

export type Mode = 'single' | 'batch';

export interface RingWorkerData {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  backend: Backend;
  control: SharedArrayBuffer;
  mode: Mode;
}

/** What each worker posts after each run (and `{ ready: true }` once at start). */
export interface RunReport {
  role: 'producer' | 'consumer';
  gen: number;
  /** process.hrtime in ns (one clock for every thread of the process): when it saw GEN move … */
  start: number;
  /** … and when its last record was written (producer) or read (consumer). */
  end: number;
  /** Records produced / consumed. */
  records: number;
  checksum: number;
  /** Consumer: records out of sequence or from another run; producer: always 0. */
  badRecords: number;
  /** Consumer: index, seq and gen of the first bad record, -1 if none. */
  firstBadIndex: number;
  firstBadSeq: number;
  firstBadGen: number;
  /** Times this side parked (ring empty or full past SPIN_POLLS). */
  parks: number;
  /** Set when the run did not finish (deadline, ABORT, ring closed). */
  failure: string | null;
}

export const CHECKSUM_SEED = 0x811c9dc5 | 0;

/** One FNV-1a step over a u32 word: order-sensitive, so a reordered stream fails as well. */
export function checksumStep(hash: number, word: number): number {
  return Math.imul(hash ^ word, 0x01000193);
}

/** Now on a clock shared by all threads of the process, in ns. */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}
