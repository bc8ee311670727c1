/**
 * Stealer: work stealing for group subscriptions made with `steal: true`. An idle worker takes
 * one record of such a subscription, of which it is a member, from another worker's inbound lane
 * and runs it — so a member stuck on a slow message does not hold up the ones queued behind it.
 *
 * The lanes stay single-producer single-consumer: a thief never moves a ring cursor. It claims a
 * record in place through the record's CLAIM word (layout.ts: the LETTER u16, unused in lanes),
 * and the lane's owner claims every record of such a subscription before running it:
 *
 *   CLAIM_FREE   → CLAIM_OWNER    the owner, by compare-exchange, when it reaches the record
 *   CLAIM_FREE   → CLAIM_STOLEN   a thief, by compare-exchange; it runs the record in place
 *   CLAIM_STOLEN → CLAIM_DONE     the thief, once the handler returned and what it published is
 *                                 flushed (children counted ACCEPTED before the parent completes)
 *
 * Exactly one compare-exchange from FREE wins, so each record runs once. The owner commits (TAIL)
 * only past records that are OWNER (it ran them) or DONE (a thief did): when it meets a STOLEN
 * record it stops its batch before it (un-reads it) and comes back, so a record a thief is
 * running is never reused by the producer. A DONE record counts COMPLETED with the owner's batch
 * (drain's accounting is unchanged); the thief counts it delivered and `stolen`.
 *
 * A thief reads the lane's TAIL and HEAD (both atomic) and looks at published records newest
 * first, never at the oldest (the owner is about to take it), past claimed ones, trying at most
 * STEAL_SCAN free ones per lane. After
 * winning a claim it reads TAIL again: if the owner had committed past that index, the slot holds
 * a newer record (or one being written): it puts FREE back and goes on. Nothing blocks: the
 * owner's extra cost is one compare-exchange per record of a stealing subscription.
 *
 * An async handler's stolen record stays STOLEN until its promise settles, STEALING holding its
 * address + STEALING_PENDING; the thief steals nothing else meanwhile.
 *
 * Crashes: a thief writes the record's address into its STEALING word while it runs it; if it
 * dies, recovery (recovery.ts) puts the claim back to FREE and counts a crash on the record
 * (CRASHES), and the owner, or another thief, runs it again (at-least-once, as for any record a
 * dead worker held). An owner's successor treats OWNER claims as its own.
 */
import type { CoreOps } from '../../bindings/core-ops.ts';
import { RING_HEAD_OFFSET, RING_TAIL_OFFSET } from '../../assembly/layout/ring.ts';
import type { Arena } from '../arena.ts';
import type { Admission } from './admission.ts';
import type { Consumer } from './consumer.ts';
import { FROM_STOLEN } from './async-deliveries.ts';
import type { ControlBlock } from './control-block.ts';
import type { FanOutPool } from './fan-out-pool.ts';
import type { LatencyProbe } from './latency.ts';
import {
  CLAIMS_STEAL, CLAIM_DONE, CLAIM_FREE, CLAIM_OWNER, CLAIM_STOLEN, DEAD_LETTER_SUBSCRIPTION, PRIORITY_CLASSES, PRIORITY_NORMAL, RECORD_CLAIM_OFFSET, RECORD_FLAG_STAMPED,
  RECORD_FLAGS_OFFSET, RECORD_FLAG_ADMITTED, RECORD_FLAG_POOLED, RECORD_POOL_SLOT_OFFSET, RECORD_SUBSCRIPTION_OFFSET, STEALING_PENDING, RECORD_TOPIC_OFFSET, TOPIC_STAT_STOLEN, inboundLane, ringRecordAt,
} from './layout.ts';
import type { Producer } from './producer.ts';
import type { SubscriptionTable } from './subscription-table.ts';

/** Free records of stealing slots a thief tries per lane (newest first) before it moves on. */
const STEAL_SCAN = 64;

/**
 * The owner's side of a record whose CLAIM may be set: claims it for the lane's owner if it is a
 * stealing slot's (CLAIM_FREE → CLAIM_OWNER; an OWNER claim left by a predecessor is ours too), and
 * returns its claim: CLAIM_STOLEN (a thief runs it) and CLAIM_DONE (complete: pass it) are not the
 * owner's to run.
 */
export function ownerClaim(u16: Uint16Array, table: SubscriptionTable, record: number): number {
  const at = (record + RECORD_CLAIM_OFFSET) >> 1;
  const claim = Atomics.load(u16, at);
  if (claim !== CLAIM_FREE) return claim;
  const slot = u16[(record + RECORD_SUBSCRIPTION_OFFSET) >> 1]!;
  if (slot >= DEAD_LETTER_SUBSCRIPTION || !table.steals(slot)) return CLAIM_FREE;
  const old = Atomics.compareExchange(u16, at, CLAIM_FREE, CLAIM_OWNER);
  return old === CLAIM_FREE ? CLAIM_OWNER : old;
}

export class Stealer {
  private readonly u16: Uint16Array;
  private readonly i32: Int32Array;
  private readonly u32: Uint32Array;
  private readonly f64: Float64Array;
  /** Per victim thread (index = thread): its inbound lanes by inbound key. */
  private readonly lanes: (readonly number[])[];
  /** The next victim to look at first (turns, so no one worker is always robbed first). */
  private next = 1;

  constructor(
    private readonly thread: number,
    private readonly core: CoreOps,
    arena: Arena,
    private readonly threads: number,
    private readonly controls: readonly ControlBlock[],
    private readonly table: SubscriptionTable,
    private readonly consumer: Consumer,
    private readonly producer: Producer,
    private readonly admission: Admission,
    private readonly latency: LatencyProbe,
    /** The fan-out pool: a stolen pooled record's slot is released once it is DONE. */
    private readonly pool: FanOutPool,
  ) {
    const buffer = arena.memory.buffer;
    this.u16 = new Uint16Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.lanes = controls.map((_, victim) => Array.from({ length: threads * PRIORITY_CLASSES }, (__, key) => arena.ring(inboundLane(victim, key, threads)).address));
  }

  /** Whether some subscription steals (thread 0's STEAL word: one load). */
  enabled(): boolean {
    const c0 = this.controls[0]!;
    return (Atomics.load(c0.i32, c0.steal) & CLAIMS_STEAL) !== 0;
  }

  /** Looks through the other workers' lanes for one record to steal, and runs it; returns 1 if it did, else 0. */
  stealOne(): number {
    const worker = this.thread - 1;
    if (worker < 0 || worker >= 32) return 0; // members are known for workers below 32
    const own = this.controls[this.thread]!;
    if (Atomics.load(own.i32, own.stealing) !== 0) return 0; // a stolen async delivery is pending
    const T = this.threads;
    for (let turn = 1; turn < T; turn++) {
      const victim = ((this.next + turn - 1) % (T - 1)) + 1;
      if (victim === this.thread) continue;
      const peer = this.controls[victim]!;
      const classes = Atomics.load(peer.i32, peer.classes) | (1 << PRIORITY_NORMAL);
      const lanes = this.lanes[victim]!;
      for (let key = 0; key < lanes.length; key++) {
        if ((classes & (1 << ((key / T) | 0))) === 0) continue;
        if (this.tryLane(lanes[key]!, worker, victim)) {
          this.next = victim;
          return 1;
        }
      }
    }
    return 0;
  }

  /** One lane of `victim`: steals and runs the newest stealable record it can claim. */
  private tryLane(ring: number, worker: number, victim: number): boolean {
    const i32 = this.i32;
    const u16 = this.u16;
    const tailWord = (ring + RING_TAIL_OFFSET) >> 2;
    const tail = Atomics.load(i32, tailWord);
    const count = (Atomics.load(i32, (ring + RING_HEAD_OFFSET) >> 2) - tail) >>> 0;
    // The oldest record (j = 0) is the owner's next: leave it. Newest first, past what thieves
    // already claimed (they stay in the lane until the owner commits past them).
    let candidates = 0;
    for (let j = count - 1; j >= 1; j--) {
      const record = ringRecordAt(i32, ring, (tail + j) | 0);
      const slot = u16[(record + RECORD_SUBSCRIPTION_OFFSET) >> 1]!;
      if (slot >= DEAD_LETTER_SUBSCRIPTION || !this.table.steals(slot) || !this.table.isMember(slot, worker)) continue;
      const claim = (record + RECORD_CLAIM_OFFSET) >> 1;
      if (Atomics.load(u16, claim) !== CLAIM_FREE) continue;
      // Free records the owner may be reaching: give up on this lane after STEAL_SCAN of them.
      if (++candidates > STEAL_SCAN) return false;
      if (Atomics.compareExchange(u16, claim, CLAIM_FREE, CLAIM_STOLEN) !== CLAIM_FREE) continue;
      if (((Atomics.load(i32, tailWord) - tail) >>> 0) > j) {
        // The owner committed past this index meanwhile: the slot is being reused, not ours.
        Atomics.compareExchange(u16, claim, CLAIM_STOLEN, CLAIM_FREE);
        return false;
      }
      this.run(record, claim, victim);
      return true;
    }
    return false;
  }

  /** Runs the stolen record at `record` in place, then marks it DONE and wakes its owner if it sleeps. */
  private run(record: number, claim: number, victim: number): void {
    const control = this.controls[this.thread]!;
    Atomics.store(control.i32, control.stealing, record);
    const topic = this.u16[(record + RECORD_TOPIC_OFFSET) >> 1]!;
    const flags = this.u16[(record + RECORD_FLAGS_OFFSET) >> 1]!;
    if ((flags & RECORD_FLAG_STAMPED) !== 0) this.latency.skip(); // timed only in its own lane
    if (!this.consumer.handleRecord(record)) {
      // An async handler: the record stays STOLEN (its owner waits before it) until the promise
      // settles. STEALING keeps it with bit 0 set: ours for recovery, not a handler running for
      // the watchdog; no other steal until it settles.
      Atomics.store(control.i32, control.stealing, record | STEALING_PENDING);
      this.consumer.follow(record, FROM_STOLEN, flags, () => this.done(record, claim, victim, topic));
      return;
    }
    if ((flags & RECORD_FLAG_ADMITTED) !== 0) this.admission.release(topic);
    // Children first: what the handler published is ACCEPTED before the owner can complete it.
    this.producer.flushAll();
    this.done(record, claim, victim, topic);
  }

  /** A stolen record is complete (what it published flushed): DONE for its owner, who is woken if it sleeps. */
  private done(record: number, claim: number, victim: number, topic: number): void {
    const control = this.controls[this.thread]!;
    this.f64[control.topicStats(topic) + TOPIC_STAT_STOLEN]! += 1;
    // Read before DONE (then the owner may commit past it and its space be reused); released after
    // (recovery hands a stolen record that is not DONE back to its owner, who must find its message).
    const slot = (this.u16[(record + RECORD_FLAGS_OFFSET) >> 1]! & RECORD_FLAG_POOLED) !== 0 ? this.u32[(record + RECORD_POOL_SLOT_OFFSET) >> 2]! : 0;
    Atomics.store(this.u16, claim, CLAIM_DONE);
    Atomics.store(control.i32, control.stealing, 0);
    if (slot !== 0) this.pool.drop(slot);
    const owner = this.controls[victim]!;
    if (owner.isSleeping()) owner.ring();
  }
}
