/**
 * Circuit breakers: this thread's breaker of each subscription slot. A handler's throw counts a
 * failure; at `failures` within the window the circuit opens and the slot's records are sent to
 * thread 0 as dead letters instead of run, until the cooldown passes and one trial runs
 * (half-open): its success closes the circuit, its failure opens it again. The clock is read only
 * on those paths; the consumer reads `state` per record (a plain typed-array read). A successor
 * thread starts with every circuit closed (a breaker's memory dies with its thread).
 */
import type { ControlBlock } from './control-block.ts';
import {
  CIRCUIT_CLOSED, CIRCUIT_HALF_OPEN, CIRCUIT_OPEN, DEAD_LETTER_CIRCUIT_OPEN, TOPIC_STAT_CIRCUIT_OPEN, TOPIC_STAT_DEAD_LETTERED,
} from './layout.ts';
import type { Replies } from './replies.ts';
import type { SubscriptionTable } from './subscription-table.ts';

export class CircuitBreakers {
  /** Per slot: this thread's circuit state (a mirror of its control block's CIRCUIT word, read per record by the consumer). */
  readonly state: Uint8Array;
  /** Per slot: the slot GENERATION the circuit state belongs to. */
  private readonly generation: Uint8Array;
  /** Per slot: when the circuit opened (performance.now() ms), and the times of its last failures (a ring). */
  private readonly openedAt: Float64Array;
  private readonly failures: (Float64Array | undefined)[];
  private readonly next: Uint16Array;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;

  constructor(
    buffer: ArrayBufferLike,
    private readonly control: ControlBlock,
    private readonly table: SubscriptionTable,
    slots: number,
    /** Where an open circuit's records go (dead letters to thread 0). */
    private readonly replies: Replies,
  ) {
    this.i32 = new Int32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.state = new Uint8Array(slots);
    this.generation = new Uint8Array(slots);
    this.openedAt = new Float64Array(slots);
    this.failures = new Array<Float64Array | undefined>(slots).fill(undefined);
    this.next = new Uint16Array(slots);
    for (let slot = 0; slot < slots; slot++) this.i32[control.circuit(slot)] = CIRCUIT_CLOSED;
  }

  /**
   * The circuit of `slot` is not closed: whether the record at `record` may run. An open circuit
   * whose cooldown passed lets it run as the trial (half-open); otherwise it becomes a dead letter
   * (counted in the topic's stats at `stats`).
   */
  admits(record: number, slot: number, stats: number): boolean {
    if (this.generation[slot] !== this.table.generation(slot)) {
      this.reset(slot); // the state of an earlier subscription in this slot
      return true;
    }
    if (this.state[slot] === CIRCUIT_OPEN && performance.now() - this.openedAt[slot]! >= this.table.circuitCooldownMs(slot)) {
      this.set(slot, CIRCUIT_HALF_OPEN);
      return true;
    }
    if (this.state[slot] === CIRCUIT_HALF_OPEN) return true;
    this.f64[stats + TOPIC_STAT_DEAD_LETTERED]! += 1;
    this.f64[stats + TOPIC_STAT_CIRCUIT_OPEN]! += 1;
    this.replies.deadLetter(record, slot, DEAD_LETTER_CIRCUIT_OPEN);
    return false;
  }

  /** A handler of `slot` (which has a breaker) threw: a half-open trial reopens; else count it. */
  failed(slot: number): void {
    if (this.generation[slot] !== this.table.generation(slot)) this.reset(slot);
    const now = performance.now();
    if (this.state[slot] === CIRCUIT_HALF_OPEN) {
      this.open(slot, now);
      return;
    }
    const limit = this.table.circuitFailures(slot);
    let times = this.failures[slot];
    if (times === undefined || times.length !== limit) {
      times = new Float64Array(limit).fill(-Infinity);
      this.failures[slot] = times;
      this.next[slot] = 0;
    }
    // times is a ring of the last `limit` failure times: the slot being overwritten is the oldest.
    const at = this.next[slot]!;
    times[at] = now;
    const oldest = times[(at + 1) % limit]!;
    this.next[slot] = (at + 1) % limit;
    if (now - (limit === 1 ? now : oldest) <= this.table.circuitWindowMs(slot)) this.open(slot, now);
  }

  /** The half-open trial of `slot` succeeded: the circuit closes. */
  close(slot: number): void {
    this.set(slot, CIRCUIT_CLOSED);
  }

  private open(slot: number, now: number): void {
    this.openedAt[slot] = now;
    this.failures[slot]?.fill(-Infinity);
    this.set(slot, CIRCUIT_OPEN);
    const opened = this.control.circuit(slot) + 1;
    this.i32[opened] = (this.i32[opened]! + 1) | 0;
  }

  private reset(slot: number): void {
    this.generation[slot] = this.table.generation(slot);
    this.failures[slot] = undefined;
    this.i32[this.control.circuit(slot) + 1] = 0;
    this.set(slot, CIRCUIT_CLOSED);
  }

  private set(slot: number, state: number): void {
    this.state[slot] = state;
    this.i32[this.control.circuit(slot)] = state;
  }
}
