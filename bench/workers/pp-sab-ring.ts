/**
 * Raw two-ring baseline of the spinning ping-pong benchmark: two workers hand the ball back and
 * forth through two hand-written single-producer single-consumer rings on one SharedArrayBuffer,
 * one ring per direction, both sides busy-spinning on the other's index (no parking in a game).
 * The floor of the engine's spinning worker↔worker game: the same 8-byte ball (seq u32, value
 * u32), the same GameScore (pp-histogram.ts), none of the routing, handlers or accounting.
 *
 *   A ── ping ring (A writes head, B writes tail) ──▶ B
 *   A ◀── pong ring (B writes head, A writes tail) ── B
 *
 *   SharedArrayBuffer, byte offsets (the *_OFFSET constants below; CL = 64-byte cache line)
 *   ┌──────────────────────┬───────────┬──────────────────────────────┬──────────────────────────────┐
 *   │ GEN, ROUNDS, QUIT    │ B_READY   │ ping ring                    │ pong ring                    │
 *   │ (A; main at QUIT)    │ (B)       │ HEAD │ TAIL │ RING_CAPACITY  │ HEAD │ TAIL │ RING_CAPACITY  │
 *   │                      │           │ (A)  │ (B)  │ × 8 B records  │ (B)  │ (A)  │ × 8 B records  │
 *   └──────────────────────┴───────────┴──────────────────────────────┴──────────────────────────────┘
 *   0                      2 CL        4 CL   +2 CL  +4 CL             PONG_RING_OFFSET
 *
 *   | offset                        | size | field    | writer  | reader | access                              |
 *   |-------------------------------|------|----------|---------|--------|-------------------------------------|
 *   | GEN_OFFSET                    | 4    | GEN      | A *     | B      | Atomics store/load, B waits on it   |
 *   | ROUNDS_OFFSET                 | 4    | ROUNDS   | A       | B      | Atomics, written before GEN         |
 *   | QUIT_OFFSET                   | 4    | QUIT     | main    | B      | Atomics, written before GEN         |
 *   | B_READY_OFFSET                | 4    | B_READY  | B       | A      | Atomics: the GEN B is spinning for  |
 *   | ring + RING_HEAD_OFFSET       | 4    | HEAD     | sender  | other  | Atomics store/load (publishes)      |
 *   | ring + RING_TAIL_OFFSET       | 4    | TAIL     | other   | sender | Atomics store/load (frees)          |
 *   | ring + RING_DATA_OFFSET + 8 i | 8    | record i | sender  | other  | plain: seq u32, value u32           |
 *
 *   * and the main thread, once, at shutdown (stopPpSabRing): after A's last game has ended, so
 *     the two never write it at the same time.
 *
 * HEAD and TAIL are free-running i32 record counters (slot = counter & RING_MASK); each side keeps
 * its own counter and caches the other's, reloading it only when its ring looks full (sender) or
 * empty (receiver). A game: A writes ROUNDS, bumps GEN and notifies; B wakes from Atomics.wait,
 * stores B_READY and spins for exactly ROUNDS pings, then parks on GEN again (so neither burns a
 * core between games, while the other sides of the case run). A spins until B_READY says B is
 * spinning, then for each round stamps performance.now(), pushes the ping, spins until the pong
 * arrives and scores the round trip at once, as the engine's pong handler does. A spinning side
 * checks the time every SPIN_CHECK polls and gives up after RUN_TIMEOUT_MS; a game it gave up on
 * reports fewer pongs than rounds and fails verification.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { valueOf } from '../engine/checksum.ts';
import { pongValue } from '../engine/pingpong-handlers.ts';
import { GameScore } from './pp-histogram.ts';

const CACHE_LINE = 64;
/** Records per ring: one ball is in flight, but it is a real ring that wraps (20,000 rounds lap it 300 times). */
export const RING_CAPACITY = 64;
const RING_MASK = RING_CAPACITY - 1;
/** A record: the ball's seq and value, as the engine's ping and pong topics carry them. */
const RECORD_BYTES = 8;
const RECORD_SEQ = 0;
const RECORD_VALUE = RECORD_SEQ + 1;

/** Byte offsets of the control words (PpSabRingLayout): A's (and main's) on one line pair, B's two lines on. */
export const GEN_OFFSET = 0;
export const ROUNDS_OFFSET = GEN_OFFSET + 4;
export const QUIT_OFFSET = ROUNDS_OFFSET + 4;
export const B_READY_OFFSET = GEN_OFFSET + CACHE_LINE * 2;
/** Offsets inside a ring: the sender's HEAD and the receiver's TAIL two cache lines apart, then the records. */
const RING_HEAD_OFFSET = 0;
const RING_TAIL_OFFSET = RING_HEAD_OFFSET + CACHE_LINE * 2;
const RING_DATA_OFFSET = RING_TAIL_OFFSET + CACHE_LINE * 2;
const RING_BYTES = RING_DATA_OFFSET + RING_CAPACITY * RECORD_BYTES;
export const PING_RING_OFFSET = B_READY_OFFSET + CACHE_LINE * 2;
export const PONG_RING_OFFSET = PING_RING_OFFSET + RING_BYTES;
export const PP_SAB_RING_BYTES = PONG_RING_OFFSET + RING_BYTES;

const GEN = GEN_OFFSET >> 2;
const ROUNDS = ROUNDS_OFFSET >> 2;
const QUIT = QUIT_OFFSET >> 2;
const B_READY = B_READY_OFFSET >> 2;

/** Polls between checks of the clock while spinning. */
const SPIN_CHECK = 1 << 12;
/** A side spinning this long for the other gives the game up. */
const RUN_TIMEOUT_MS = 60_000;

/**
 * One direction's ring as one side sees it (the sender pushes, the receiver pops): its own counter,
 * its cached copy of the other side's, and the last record popped (seq, value), so nothing allocates.
 */
class BallRing {
  private readonly headWord: number;
  private readonly tailWord: number;
  private readonly dataWord: number;
  /** The sender's HEAD or the receiver's TAIL: this side's own counter. */
  private own: number;
  /** The other side's counter as last loaded. */
  private other: number;
  seq = 0;
  value = 0;

  constructor(private readonly i32: Int32Array, ringOffset: number, sender: boolean) {
    this.headWord = (ringOffset + RING_HEAD_OFFSET) >> 2;
    this.tailWord = (ringOffset + RING_TAIL_OFFSET) >> 2;
    this.dataWord = (ringOffset + RING_DATA_OFFSET) >> 2;
    this.own = Atomics.load(i32, sender ? this.headWord : this.tailWord);
    this.other = Atomics.load(i32, sender ? this.tailWord : this.headWord);
  }

  /** Sender: writes a record and publishes it; false when the ring is full. */
  tryPush(seq: number, value: number): boolean {
    if (((this.own - this.other) | 0) === RING_CAPACITY) {
      this.other = Atomics.load(this.i32, this.tailWord); // pairs with the receiver's store of TAIL in tryPop
      if (((this.own - this.other) | 0) === RING_CAPACITY) return false;
    }
    const w = this.dataWord + (this.own & RING_MASK) * (RECORD_BYTES >> 2);
    this.i32[w + RECORD_SEQ] = seq;
    this.i32[w + RECORD_VALUE] = value;
    this.own = (this.own + 1) | 0;
    // The record first, then HEAD: pairs with the receiver's Atomics.load of HEAD in tryPop.
    Atomics.store(this.i32, this.headWord, this.own);
    return true;
  }

  /** Receiver: reads the next record into seq and value and frees its slot; false when the ring is empty. */
  tryPop(): boolean {
    if (this.other === this.own) {
      this.other = Atomics.load(this.i32, this.headWord); // pairs with the sender's store of HEAD in tryPush
      if (this.other === this.own) return false;
    }
    const w = this.dataWord + (this.own & RING_MASK) * (RECORD_BYTES >> 2);
    this.seq = this.i32[w + RECORD_SEQ]! >>> 0;
    this.value = this.i32[w + RECORD_VALUE]! >>> 0;
    this.own = (this.own + 1) | 0;
    // The record is read: TAIL gives its slot back; pairs with the sender's Atomics.load of TAIL in tryPush.
    Atomics.store(this.i32, this.tailWord, this.own);
    return true;
  }
}

/** Ends B from the main thread once A's last game is over: QUIT, then GEN moved and notified. */
export function stopPpSabRing(sab: SharedArrayBuffer): void {
  const i32 = new Int32Array(sab);
  Atomics.store(i32, QUIT, 1);
  Atomics.add(i32, GEN, 1); // QUIT first; pairs with B's Atomics.load of GEN
  Atomics.notify(i32, GEN);
}

/** B: parked on GEN between games; in a game, spins for exactly ROUNDS pings and answers each. */
function serveB(i32: Int32Array, parent: NonNullable<typeof parentPort>): void {
  const ping = new BallRing(i32, PING_RING_OFFSET, false);
  const pong = new BallRing(i32, PONG_RING_OFFSET, true);
  parent.postMessage({ ready: true });
  let seen = Atomics.load(i32, GEN);
  for (;;) {
    // Parked between games: A (or main, with QUIT) moves GEN and notifies. The load pairs with
    // A's Atomics.store of GEN, which follows its store of ROUNDS.
    while (Atomics.load(i32, GEN) === seen) Atomics.wait(i32, GEN, seen);
    seen = Atomics.load(i32, GEN);
    if (Atomics.load(i32, QUIT) !== 0) return;
    const rounds = Atomics.load(i32, ROUNDS);
    // Tells A that B is spinning now, so B's wake-up falls in no round trip; pairs with A's load of B_READY.
    Atomics.store(i32, B_READY, seen);
    const deadline = Date.now() + RUN_TIMEOUT_MS;
    let polls = 0;
    for (let answered = 0; answered < rounds;) {
      if (!ping.tryPop()) {
        if ((++polls & (SPIN_CHECK - 1)) === 0 && Date.now() > deadline) break;
        continue;
      }
      // One ball in flight: A popped the last pong before it sent this ping, so the pong ring has room.
      if (!pong.tryPush(ping.seq, pongValue(ping.value))) break;
      answered++;
    }
  }
}

/** A: plays a game per `{ rounds }` from the main thread and answers with its GameReport. */
function serveA(i32: Int32Array, parent: NonNullable<typeof parentPort>): void {
  const ping = new BallRing(i32, PING_RING_OFFSET, true);
  const pong = new BallRing(i32, PONG_RING_OFFSET, false);
  const score = new GameScore();
  let gen = Atomics.load(i32, GEN);
  parent.on('message', (start: { rounds: number }) => {
    score.start(start.rounds);
    Atomics.store(i32, ROUNDS, start.rounds);
    gen = (gen + 1) | 0;
    Atomics.store(i32, GEN, gen); // ROUNDS first; pairs with B's Atomics.load of GEN
    Atomics.notify(i32, GEN);
    const deadline = Date.now() + RUN_TIMEOUT_MS;
    let polls = 0;
    let late = false;
    // Spins until B is awake and spinning too (its wake-up is no part of a round trip).
    while (Atomics.load(i32, B_READY) !== gen) {
      if ((++polls & (SPIN_CHECK - 1)) === 0 && Date.now() > deadline) { late = true; break; }
    }
    for (let seq = 0; seq < start.rounds && !late; seq++) {
      const sentAt = performance.now();
      if (!ping.tryPush(seq, valueOf(seq))) break; // never: the last pong freed the ping's slot long ago
      while (!pong.tryPop()) {
        if ((++polls & (SPIN_CHECK - 1)) === 0 && Date.now() > deadline) { late = true; break; }
      }
      if (late) break;
      score.pong(pong.seq, pong.value, performance.now() - sentAt);
    }
    parent.postMessage(score.report());
  });
  parent.postMessage({ ready: true });
}

if (parentPort !== null) {
  const { role, sab } = workerData as { role: 'A' | 'B'; sab: SharedArrayBuffer };
  const i32 = new Int32Array(sab);
  if (role === 'B') serveB(i32, parentPort);
  else serveA(i32, parentPort);
}
