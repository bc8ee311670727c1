/**
 * ControlBlock: a named view of one thread's control block (layout.ts has the table of its words:
 * offsets, writers, readers, atomic or plain), used by every file that touches one. Word indices
 * are computed once here, so no caller spells `(control + CONTROL_X_OFFSET) >> 2`.
 *
 * The atomic words drain reasons about (ACCEPTED, COMPLETED, BACKLOG) have one writer, the block's
 * owner, so `add*` is a load and a store, never a read-modify-write race.
 */
import type { Arena } from '../arena.ts';
import {
  CONTROL_ACCEPTED_OFFSET, CONTROL_BACKLOG_OFFSET, CONTROL_BUSY_OFFSET, CONTROL_REPORTS_OFFSET, CONTROL_COMMAND_OFFSET, CONTROL_LEASE_OFFSET, CONTROL_COMPLETED_OFFSET,
  CONTROL_DOORBELL_OFFSET, CONTROL_URGENT_OFFSET, CONTROL_CLASSES_OFFSET, CONTROL_HANDLED_LANE_OFFSET, CONTROL_HANDLED_OFFSET, CONTROL_STEALING_OFFSET, CONTROL_STEAL_OFFSET, CONTROL_IDLE_MS_OFFSET, CONTROL_IDLE_SINCE_MS_OFFSET,
  CONTROL_LANE_STATS_OFFSET, CONTROL_LATE_REPLIES_OFFSET, CONTROL_SLEEPING_OFFSET,
  CIRCUIT_BYTES, CONTROL_START_MS_OFFSET, CONTROL_STATE_OFFSET, LANE_STAT_BYTES, TOPIC_STAT_BYTES,
  type ControlLayout,
} from './layout.ts';

export class ControlBlock {
  readonly i32: Int32Array;
  /** Plain f64 counters (reports: "may be late"). */
  readonly f64: Float64Array;
  // i32 indices of the atomic words.
  readonly doorbell: number;
  readonly urgent: number;
  readonly classes: number;
  readonly sleeping: number;
  readonly state: number;
  readonly command: number;
  readonly lease: number;
  readonly busy: number;
  readonly reports: number;
  private readonly acceptedWord: number;
  private readonly completedWord: number;
  private readonly backlogWord: number;
  // f64 indices of the plain counters.
  readonly startMs: number;
  readonly idleMs: number;
  readonly idleSinceMs: number;
  readonly lateReplies: number;
  /** i32 indices of the handled cursor (plain words: see layout.ts). */
  readonly handledLane: number;
  readonly handled: number;
  /** i32 index of STEALING (the record it runs as a thief) and STEAL (thread 0's: some subscription steals). */
  readonly stealing: number;
  readonly steal: number;
  private readonly circuitsBase: number;
  private readonly laneStats: number;
  private readonly topicStatsBase: number;

  constructor(buffer: ArrayBufferLike, readonly address: number, layout: ControlLayout) {
    this.i32 = new Int32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.doorbell = (address + CONTROL_DOORBELL_OFFSET) >> 2;
    this.urgent = (address + CONTROL_URGENT_OFFSET) >> 2;
    this.classes = (address + CONTROL_CLASSES_OFFSET) >> 2;
    this.sleeping = (address + CONTROL_SLEEPING_OFFSET) >> 2;
    this.state = (address + CONTROL_STATE_OFFSET) >> 2;
    this.command = (address + CONTROL_COMMAND_OFFSET) >> 2;
    this.lease = (address + CONTROL_LEASE_OFFSET) >> 2;
    this.busy = (address + CONTROL_BUSY_OFFSET) >> 2;
    this.reports = (address + CONTROL_REPORTS_OFFSET) >> 2;
    this.acceptedWord = (address + CONTROL_ACCEPTED_OFFSET) >> 2;
    this.completedWord = (address + CONTROL_COMPLETED_OFFSET) >> 2;
    this.backlogWord = (address + CONTROL_BACKLOG_OFFSET) >> 2;
    this.startMs = (address + CONTROL_START_MS_OFFSET) >> 3;
    this.idleMs = (address + CONTROL_IDLE_MS_OFFSET) >> 3;
    this.idleSinceMs = (address + CONTROL_IDLE_SINCE_MS_OFFSET) >> 3;
    this.lateReplies = (address + CONTROL_LATE_REPLIES_OFFSET) >> 3;
    this.handledLane = (address + CONTROL_HANDLED_LANE_OFFSET) >> 2;
    this.handled = (address + CONTROL_HANDLED_OFFSET) >> 2;
    this.stealing = (address + CONTROL_STEALING_OFFSET) >> 2;
    this.steal = (address + CONTROL_STEAL_OFFSET) >> 2;
    this.circuitsBase = (address + layout.circuits) >> 2;
    this.laneStats = (address + CONTROL_LANE_STATS_OFFSET) >> 3;
    this.topicStatsBase = (address + layout.topicStats) >> 3;
  }

  /** f64 index of the counters of the lane (owner → `consumer`): add LANE_STAT_*. */
  laneStat(consumer: number): number {
    return this.laneStats + consumer * (LANE_STAT_BYTES >> 3);
  }

  /** f64 index of the owner's counters of topic `topic`: add TOPIC_STAT_*. */
  topicStats(topic: number): number {
    return this.topicStatsBase + topic * (TOPIC_STAT_BYTES >> 3);
  }

  /** i32 index of the owner's circuit state of slot `slot` (the next word counts its openings). */
  circuit(slot: number): number {
    return this.circuitsBase + slot * (CIRCUIT_BYTES >> 2);
  }

  // ── drain's counters (owner writes; thread 0 reads COMPLETED first, then ACCEPTED) ───────────

  /** Records this thread made visible in a lane or took into a backlog (mod 2^32). */
  accepted(): number {
    return Atomics.load(this.i32, this.acceptedWord);
  }

  /** Owner: `n` more accepted. Stored before the HEAD store that lets anyone complete them. */
  addAccepted(n: number): void {
    Atomics.store(this.i32, this.acceptedWord, (Atomics.load(this.i32, this.acceptedWord) + n) | 0);
  }

  /** Records this thread handled and committed, plus backlog records it dropped or wrote off (mod 2^32). */
  completed(): number {
    return Atomics.load(this.i32, this.completedWord);
  }

  /** Owner: `n` more completed. */
  addCompleted(n: number): void {
    Atomics.store(this.i32, this.completedWord, (Atomics.load(this.i32, this.completedWord) + n) | 0);
  }

  /** Records waiting in this thread's backlogs. */
  backlog(): number {
    return Atomics.load(this.i32, this.backlogWord);
  }

  /** Owner: publishes its backlog total. */
  setBacklog(n: number): void {
    Atomics.store(this.i32, this.backlogWord, n);
  }

  // ── waking ─────────────────────────────────────────────────────────────────────────────────

  /** Whether the owner announced it sleeps (or is about to) on its doorbell. */
  isSleeping(): boolean {
    return Atomics.load(this.i32, this.sleeping) !== 0;
  }

  /** A producer, after flushing a high-priority record to the owner: the owner's lower-class drain stops at its next record. */
  markUrgent(): void {
    if (Atomics.load(this.i32, this.urgent) === 0) Atomics.store(this.i32, this.urgent, 1);
  }

  /** Any thread: wakes the owner if it waits on its doorbell (or makes its next wait return). */
  ring(): void {
    Atomics.add(this.i32, this.doorbell, 1);
    Atomics.notify(this.i32, this.doorbell);
  }
}

/** A ControlBlock per engine thread (index = thread), over the arena's scratch blocks. */
export function controlBlocks(arena: Arena, layout: ControlLayout): ControlBlock[] {
  return arena.scratch.map((block) => new ControlBlock(arena.memory.buffer, block.address, layout));
}
