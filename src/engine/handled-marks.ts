/**
 * HandledMarks: tells the engine's own thread (thread 0) when everything it published up to a
 * moment has been handled — the cluster bridge acknowledges a batch read from Redis only then
 * (src/cluster/). Cheaper and narrower than drain(): it waits for this thread's lanes only, and
 * for nothing published after the mark.
 *
 * A mark is, per outbound lane of thread 0 (every consumer, every priority class), the lane's
 * CLAIM (records pushed so far, flushed or not) plus the records still in that lane's backlog,
 * which enter the ring behind them in order. A lane's TAIL moves only past handled records (an
 * async delivery holds it until it settles; a crashed worker's successor handles what it left),
 * so a lane has passed its mark when TAIL − mark ≥ 0 (u32 arithmetic: the counters wrap). A lane
 * that is empty (TAIL = CLAIM) with no backlog has passed any mark too: a backlog record dropped
 * after the mark (drop-oldest) makes the mark count one record that never comes, and without
 * this rule the mark would wait for later traffic.
 *
 * A mark never passes early: records pushed before it hold positions at or below it. It may pass
 * late (it waits for other topics' records ahead of it in the same lane), which only delays an
 * acknowledgement. What a worker that stays down held (lost, see supervision) never passes.
 *
 * Marks live in a caller's Uint32Array, `width` words per mark, so taking one allocates nothing.
 */
import { RING_CLAIM_OFFSET, RING_TAIL_OFFSET } from '../../assembly/layout/ring.ts';
import type { Arena } from '../arena.ts';
import type { Backpressure } from './backpressure.ts';
import { PRIORITY_CLASSES, outboundLane } from './layout.ts';
import type { Producer } from './producer.ts';

export class HandledMarks {
  /** Words per mark: one per outbound lane of thread 0. */
  readonly width: number;
  private readonly i32: Int32Array;
  /** i32 index of each lane's CLAIM and TAIL words. */
  private readonly claims: Int32Array;
  private readonly tails: Int32Array;

  constructor(arena: Arena, threads: number, private readonly producer: Producer, private readonly backpressure: Backpressure) {
    this.i32 = new Int32Array(arena.memory.buffer);
    this.width = threads * PRIORITY_CLASSES;
    this.claims = new Int32Array(this.width);
    this.tails = new Int32Array(this.width);
    for (let key = 0; key < this.width; key++) {
      const ring = arena.ring(outboundLane(0, key, threads)).address;
      this.claims[key] = (ring + RING_CLAIM_OFFSET) >> 2;
      this.tails[key] = (ring + RING_TAIL_OFFSET) >> 2;
    }
  }

  /** Writes a mark of everything published so far at marks[at .. at + width) (flushing first: a mark waits for visible records only). */
  mark(marks: Uint32Array, at: number): void {
    this.producer.flushAll();
    const i32 = this.i32;
    for (let key = 0; key < this.width; key++) {
      marks[at + key] = (i32[this.claims[key]!]! + this.backpressure.backlogLength(key)) >>> 0;
    }
  }

  /** Whether every record published before the mark at marks[at ..] has been handled. */
  passed(marks: Uint32Array, at: number): boolean {
    const i32 = this.i32;
    for (let key = 0; key < this.width; key++) {
      const tail = Atomics.load(i32, this.tails[key]!);
      if (((tail - marks[at + key]!) | 0) >= 0) continue;
      if (tail === i32[this.claims[key]!] && this.backpressure.backlogLength(key) === 0) continue;
      return false;
    }
    return true;
  }
}
