/**
 * Atomics.wait/notify baseline of the ping-pong benchmark: two workers hand one ball back and
 * forth through a SharedArrayBuffer, each sleeping in Atomics.wait until the other notifies.
 *
 *   Int32Array over the SAB (offsets: the *_OFFSET constants below)
 *   ┌──────────────┬──────────────┬─ … ─┬──────────────┬──────────────┐
 *   │ PING_SEQ (A) │ PING_VALUE(A)│     │ PONG_SEQ (B) │ PONG_VALUE(B)│
 *   └──────────────┴──────────────┴─ … ─┴──────────────┴──────────────┘
 *   byte 0          4                   PONG_SEQ_OFFSET = 2 cache lines on
 *
 *   | offset | size | field      | writer | reader | access                                |
 *   |--------|------|------------|--------|--------|---------------------------------------|
 *   | 0      | 4    | PING_SEQ   | A *    | B      | Atomics store/load (publishes VALUE)  |
 *   | 4      | 4    | PING_VALUE | A      | B      | plain, written before PING_SEQ        |
 *   | 128    | 4    | PONG_SEQ   | B      | A      | Atomics store/load (publishes VALUE)  |
 *   | 132    | 4    | PONG_VALUE | B      | A      | plain, written before PONG_SEQ        |
 *
 *   * and the main thread, once, at shutdown: it stores STOP after A's last game has ended, so
 *     the two never write it at the same time.
 *
 * PING_SEQ counts pings sent since the workers started (it never resets between games, so B
 * needs no per-game set-up); PONG_SEQ echoes it. A game: for each round A writes the value,
 * stamps performance.now(), stores PING_SEQ and notifies; B wakes, answers; A wakes at PONG_SEQ
 * and scores the round trip (GameScore, pp-histogram.ts). No spinning: both sides park on every
 * message, which is what the engine's `spin: 0` case is compared with.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { valueOf } from '../engine/checksum.ts';
import { pongValue } from '../engine/pingpong-handlers.ts';
import { GameScore } from './pp-histogram.ts';

const CACHE_LINE = 64;
/** Byte offsets of PpAtomicsLayout: the ping words, and the pong words two cache lines further. */
export const PING_SEQ_OFFSET = 0;
export const PING_VALUE_OFFSET = PING_SEQ_OFFSET + 4;
export const PONG_SEQ_OFFSET = PING_SEQ_OFFSET + CACHE_LINE * 2;
export const PONG_VALUE_OFFSET = PONG_SEQ_OFFSET + 4;
export const PP_ATOMICS_BYTES = PONG_SEQ_OFFSET + CACHE_LINE * 2;
/** PING_SEQ value that tells B to exit (stored by the main thread at shutdown). */
export const STOP = -1;

const PING_SEQ = PING_SEQ_OFFSET >> 2;
const PING_VALUE = PING_VALUE_OFFSET >> 2;
const PONG_SEQ = PONG_SEQ_OFFSET >> 2;
const PONG_VALUE = PONG_VALUE_OFFSET >> 2;

if (parentPort !== null) {
  const { role, sab } = workerData as { role: 'A' | 'B'; sab: SharedArrayBuffer };
  const i32 = new Int32Array(sab);
  const parent = parentPort;
  if (role === 'B') {
    parent.postMessage({ ready: true });
    let seen = 0;
    for (;;) {
      let seq: number;
      // Sleep until A (or main, with STOP) moves PING_SEQ past the last ping answered. The
      // Atomics.load pairs with A's Atomics.store of PING_SEQ, which follows its PING_VALUE write.
      while ((seq = Atomics.load(i32, PING_SEQ)) === seen) Atomics.wait(i32, PING_SEQ, seen);
      if (seq === STOP) break;
      seen = seq;
      i32[PONG_VALUE] = pongValue(i32[PING_VALUE]! >>> 0) | 0;
      // Publishes PONG_VALUE; pairs with A's Atomics.load of PONG_SEQ.
      Atomics.store(i32, PONG_SEQ, seq);
      Atomics.notify(i32, PONG_SEQ);
    }
  } else {
    const score = new GameScore();
    let sent = 0;
    parent.on('message', (start: { rounds: number }) => {
      score.start(start.rounds);
      for (let seq = 0; seq < start.rounds; seq++) {
        i32[PING_VALUE] = valueOf(seq) | 0;
        const sentAt = performance.now();
        sent++;
        // Publishes PING_VALUE; pairs with B's Atomics.load of PING_SEQ.
        Atomics.store(i32, PING_SEQ, sent);
        Atomics.notify(i32, PING_SEQ);
        // Sleep until B echoes this ping's number; the load pairs with B's store of PONG_SEQ.
        let echoed: number;
        while ((echoed = Atomics.load(i32, PONG_SEQ)) !== sent) Atomics.wait(i32, PONG_SEQ, echoed);
        score.pong(seq, i32[PONG_VALUE]! >>> 0, performance.now() - sentAt);
      }
      if (Atomics.load(i32, PONG_SEQ) !== sent) score.errors++;
      parent.postMessage(score.report());
    });
    parent.postMessage({ ready: true });
  }
}
