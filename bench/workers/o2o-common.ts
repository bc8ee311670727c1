/**
 * What the one-to-one suite (bench/one-to-one.ts) and its peer workers (o2o-sab-ring.ts,
 * o2o-ringbuf.ts) agree on: the message, the control block, the spin policy and the report.
 *
 * Message (MESSAGE_WORDS u32 words = 24 bytes, the same fields as the engine's `msg` topic):
 * | word | field | value for message `seq`                          | read by the consumer |
 * |------|-------|--------------------------------------------------|----------------------|
 * | 0    | seq   | 0, 1, 2 … within a run                           | order check          |
 * | 1    | value | valueOf(seq)                                     | FNV-1a checksum      |
 * | 2    | x     | seq & 0xffff                                     | no                   |
 * | 3    | y     | value ^ Y_MASK                                   | no                   |
 * | 4–5  | stamp | f64 seq + 0.5 (8-byte aligned: 24 B per message) | summed               |
 *
 * Control block: a small SharedArrayBuffer of i32 words, one per worker pair.
 * | word     | writer      | readers | meaning                                                  |
 * |----------|-------------|---------|----------------------------------------------------------|
 * | GEN      | coordinator | workers | run number; bumping it (then notify) starts a run        |
 * | MESSAGES | coordinator | workers | messages in the run about to start (written before GEN)  |
 * | QUIT     | coordinator | workers | 1: leave instead of running (written before GEN)         |
 * | ABORT    | any         | workers | 1: a side gave up; the other stops waiting for it        |
 */
import { CHECKSUM_SEED, checksumStep, valueOf } from '../engine/checksum.ts';

export { CHECKSUM_SEED, checksumStep, valueOf };

export const MESSAGE_WORDS = 6;
export const SEQ_WORD = 0;
export const VALUE_WORD = SEQ_WORD + 1;
export const X_WORD = VALUE_WORD + 1;
export const Y_WORD = X_WORD + 1;
export const STAMP_WORD = Y_WORD + 1;
/** Index of a message's stamp in a Float64Array over the same bytes: message i → i * 3 + 2. */
export const MESSAGE_F64S = MESSAGE_WORDS >> 1;
export const STAMP_F64 = STAMP_WORD >> 1;
export const Y_MASK = 0x5a5a5a5a;

export const CTRL_GEN = 0;
export const CTRL_MESSAGES = CTRL_GEN + 1;
export const CTRL_QUIT = CTRL_MESSAGES + 1;
export const CTRL_ABORT = CTRL_QUIT + 1;
export const CTRL_WORDS = CTRL_ABORT + 1;

/** Ring capacity of both peers, in messages, and the producer's batch, in messages. */
export const RING_MESSAGES = 4096;
export const BATCH = 256;
/** Polls of a full/empty ring before a short sleep; the deadline and ABORT are checked every SPIN_CHECK polls. */
export const SPIN_POLLS = 1 << 16;
export const SPIN_CHECK = 1 << 12;
/** One sleep of a waiting side (ms): no notify is needed, the sleeper re-polls afterwards. */
export const SLEEP_MS = 0.1;
/** A run gives up after this long. */
export const RUN_TIMEOUT_MS = 60_000;

export type PeerKind = 'ringbuf.js' | 'sab-ring';
export type Role = 'producer' | 'consumer';

export interface PeerWorkerData {
  role: Role;
  control: SharedArrayBuffer;
  ring: SharedArrayBuffer;
}

/** What a worker posts after each run (and `{ ready: true }` once at start). */
export interface PeerReport {
  role: Role;
  count: number;
  checksum: number;
  orderErrors: number;
  stampSum: number;
  error: string | null;
}

/** The stamp of message `seq` (a real double, exact in sums up to 2^52). */
export function stampOf(seq: number): number {
  return seq + 0.5;
}

/** Sum of stampOf(0..count-1): what a consumer of a complete stream computes (exact). */
export function stampSum(count: number): number {
  return (count * (count - 1)) / 2 + count * 0.5;
}

/**
 * A side found the ring full/empty `polls` times in a row: every SPIN_CHECK polls, gives up (false)
 * on ABORT or past the deadline; past SPIN_POLLS, sleeps SLEEP_MS (the other side may be
 * descheduled on this 2-core VM, and nobody notifies: the sleep is bounded instead).
 */
export function keepWaiting(control: Int32Array, polls: number, deadline: number): boolean {
  if ((polls & (SPIN_CHECK - 1)) !== 0) return true;
  if (Atomics.load(control, CTRL_ABORT) !== 0 || Date.now() > deadline) return false;
  if (polls >= SPIN_POLLS) Atomics.wait(control, CTRL_ABORT, 0, SLEEP_MS);
  return true;
}

/**
 * The worker's run loop: posts `{ ready: true }`, then waits for GEN to move, runs `run(messages,
 * deadline)` and posts its report, until QUIT. A failed run sets ABORT so the other side stops.
 */
export function serveRuns(control: Int32Array, post: (report: unknown) => void, role: Role, run: (messages: number, deadline: number) => PeerReport): void {
  post({ ready: true });
  let seen = Atomics.load(control, CTRL_GEN);
  for (;;) {
    // Parked between runs: the coordinator bumps GEN and notifies (it measures from that moment).
    Atomics.wait(control, CTRL_GEN, seen);
    seen = Atomics.load(control, CTRL_GEN);
    if (Atomics.load(control, CTRL_QUIT) !== 0) return;
    const report = run(Atomics.load(control, CTRL_MESSAGES), Date.now() + RUN_TIMEOUT_MS);
    if (report.error !== null) Atomics.store(control, CTRL_ABORT, 1);
    report.role = role;
    post(report);
  }
}

/**
 * 'sab-ring' layout (the hand-written baseline): an index block, then the messages.
 * | offset (bytes)    | size                      | field | writer   | reader   | access  |
 * |-------------------|---------------------------|-------|----------|----------|---------|
 * | SAB_HEAD_OFFSET   | 4                         | head  | producer | consumer | Atomics |
 * | SAB_TAIL_OFFSET   | 4                         | tail  | consumer | producer | Atomics |
 * | SAB_DATA_OFFSET   | RING_MESSAGES × 24        | slots | producer | consumer | plain   |
 * head and tail are free-running i32 message counters (slot = counter & SAB_MASK), two cache
 * lines apart so the producer's and the consumer's stores do not share a line.
 */
export const CACHE_LINE = 64;
export const SAB_HEAD_OFFSET = 0;
export const SAB_TAIL_OFFSET = SAB_HEAD_OFFSET + CACHE_LINE * 2;
export const SAB_DATA_OFFSET = SAB_TAIL_OFFSET + CACHE_LINE * 2;
export const SAB_HEAD_WORD = SAB_HEAD_OFFSET >> 2;
export const SAB_TAIL_WORD = SAB_TAIL_OFFSET >> 2;
export const SAB_MASK = RING_MESSAGES - 1;
export const SAB_RING_BYTES = SAB_DATA_OFFSET + RING_MESSAGES * MESSAGE_WORDS * 4;
