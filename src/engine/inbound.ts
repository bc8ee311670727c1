/**
 * Inbound: one thread's inbound lanes as a whole — the pass over them class by class (overtaking,
 * the starvation guard), whether any holds a record, and the wait for a record or a settle while
 * async deliveries are pending. Each lane's drain is the consumer's (Consumer.drainLane).
 */
import type { CoreOps } from '../../bindings/core-ops.ts';
import type { Consumer } from './consumer.ts';
import type { ControlBlock } from './control-block.ts';
import { PRIORITY_CLASSES, PRIORITY_NORMAL } from './layout.ts';
import type { EngineShape } from './options.ts';

/** The normal class is always polled (CLASSES has bits for the others once used). */
const NORMAL_BIT = 1 << PRIORITY_NORMAL;

export class Inbound {
  /** The starvation guard, by class: records earned per record of a higher class (weight_k ÷ weight_high), and earned so far. */
  private readonly guardShare: Float64Array;
  private readonly credit: Float64Array;
  /** drainAll's first producer lane while async deliveries are pending (turns). */
  private rotation = 0;
  /** The doorbell wait awaitSettleOrRecord keeps outstanding across calls (each waitAsync stays pending until it ends: one at a time). */
  private doorbellWait: Promise<void> | undefined;
  private readonly i32: Int32Array;

  constructor(
    private readonly core: CoreOps,
    private readonly shape: EngineShape,
    /** This thread's control block. */
    private readonly control: ControlBlock,
    private readonly consumer: Consumer,
  ) {
    this.i32 = control.i32;
    this.guardShare = Float64Array.from(shape.priorityWeights, (w) => w / shape.priorityWeights[0]!);
    this.credit = new Float64Array(PRIORITY_CLASSES);
  }

  /** This thread's deliveries whose promise is pending (async handlers). */
  get pendingDeliveries(): number {
    return this.consumer.pending.count;
  }

  /** The earliest performance.now() at which a lingering batch run is due (Infinity: none lingers); the worker parks no longer. */
  get lingerDeadline(): number {
    return this.consumer.runs.lingerDeadline;
  }

  /**
   * With deliveries pending: waits until one settles or a producer rings the doorbell, never
   * blocking the event loop the promises settle in. Announces SLEEPING, re-checks the lanes
   * (pairs with a producer's HEAD store then SLEEPING load: either it sees SLEEPING and rings,
   * or the re-check finds its record), and only if they are empty calls `beforeWait` and waits
   * on `waitDoorbell(i32, index, value)`. SLEEPING is cleared on return.
   */
  async awaitSettleOrRecord(waitDoorbell: (i32: Int32Array, index: number, value: number) => Promise<unknown>, beforeWait?: () => void): Promise<void> {
    const { i32, sleeping, doorbell } = this.control;
    Atomics.store(i32, sleeping, 1);
    const rung = Atomics.load(i32, doorbell);
    if (this.drainAll() === 0) {
      this.doorbellWait ??= waitDoorbell(i32, doorbell, rung).then(() => {
        this.doorbellWait = undefined;
      });
      beforeWait?.();
      await Promise.race([this.consumer.pending.whenSettled(), this.doorbellWait]);
    }
    Atomics.store(i32, sleeping, 0);
  }

  /**
   * One pass over every inbound lane, class by class from high to low; returns records handled.
   *
   * Overtaking: the pass clears URGENT, drains the high lanes, then the lower classes, each lane
   * up to `batch` records; a producer that flushes a high record to this thread sets URGENT, and a
   * lower class's drain stops at its next record: the rest of the pass serves only what the guard
   * owes, and the next pass starts with high. A high record therefore waits for the handler that is running and the high records ahead of
   * it, plus what the starvation guard owes the lower classes.
   *
   * The starvation guard (deficit round robin): while a higher class is backlogged (a lane of it
   * still holds records after its drain), a lower class k earns weight_k ÷ weight_high of a record
   * per record the classes above it handled, and handles what it earned, one record at a time,
   * before anything else may stop it. Under saturation the classes share the thread about in
   * proportion to their weights; without contention nothing is owed and a class runs full batches.
   */
  drainAll(): number {
    const T = this.shape.threads;
    const batch = this.shape.batch;
    const i32 = this.i32;
    const urgent = this.control.urgent;
    const credit = this.credit;
    const consumer = this.consumer;
    consumer.runs.newPass(); // a lingering run found by this pass sets its deadline again
    if (Atomics.load(i32, urgent) !== 0) Atomics.store(i32, urgent, 0);
    const classes = Atomics.load(i32, this.control.classes) | NORMAL_BIT;
    let n = 0;
    let backlogged = false;
    for (let k = 0, key = 0; k < PRIORITY_CLASSES; k++) {
      if ((classes & (1 << k)) === 0) {
        key += T; // nobody ever published in this class to this thread
        continue;
      }
      let owed = 0;
      if (k !== 0) {
        if (backlogged) {
          credit[k] = Math.min(batch, credit[k]! + n * this.guardShare[k]!);
          owed = Math.floor(credit[k]!);
        } else credit[k] = 0;
      }
      const before = n;
      let waiting = false;
      // While async deliveries are pending, each pass starts at the next producer's lane: a
      // subscription at its concurrency gives the place a settle frees to the first lane that
      // has a record, and a fixed order would starve the others.
      const first = consumer.pending.count !== 0 ? (this.rotation = (this.rotation + 1) % T) : 0;
      for (let i = 0; i < T; i++) {
        const p = first + i < T ? first + i : first + i - T;
        key = k * T + p;
        let m = 0;
        let left: boolean;
        if (k === 0) {
          m = consumer.drainLane(key, batch, 0);
          left = consumer.left;
        } else if (!backlogged) {
          m = consumer.drainLane(key, batch, 1);
          left = consumer.left;
        } else if (owed > 0) {
          m = consumer.drainLane(key, owed, 0);
          owed -= m;
          left = consumer.left;
        } else left = this.core.ringAvailable(consumer.ringFrom[key]!) > 0;
        n += m;
        // Records left (a full batch, stopped by URGENT, or not owed a turn): this class waits,
        // and the classes below it get only what they are owed.
        if (left) waiting = true;
      }
      key = (k + 1) * T;
      if (waiting) backlogged = true;
      // A class with nothing waiting is owed nothing (deficit round robin): credit earned while
      // its lanes were empty would let a later burst of it hold the thread for a whole batch.
      if (k !== 0) credit[k] = waiting ? Math.max(0, credit[k]! - (n - before)) : 0;
    }
    return n;
  }

  /** Whether any inbound lane has a published record (loads the HEAD of every lane of a class in use). */
  hasInbound(): boolean {
    const ringFrom = this.consumer.ringFrom;
    const T = this.shape.threads;
    const classes = Atomics.load(this.i32, this.control.classes) | NORMAL_BIT;
    for (let key = 0; key < ringFrom.length; key++) {
      if ((classes & (1 << ((key / T) | 0))) !== 0 && this.core.ringAvailable(ringFrom[key]!) > 0) return true;
    }
    return false;
  }
}
