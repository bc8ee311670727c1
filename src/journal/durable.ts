/**
 * The durable forwarder (journal thread): delivers the journal's records to durable subscriptions
 * (SubscribeOptions.durable) — each from its own position, read back from the journal's files
 * (tail.ts), pushed into the lanes from the journal thread to the subscription's workers — and
 * tells thread 0 how far each got and what was handled (the durable table, durable-table.ts).
 *
 * Why from the files, not from the publishers: a durable subscription must get every message of
 * its topic from a position, whether the position is a week old (catch-up) or the newest record
 * (live), with no gap and no duplicate at the switch. Reading one ordered log with one cursor per
 * subscription has no switch: live is catch-up that has caught up. The records are read right
 * after the batch that wrote them (page cache), below the writer's committed index.
 *
 * Members: 'group' takes the next member in turn, or the one after it whose lane has space (a
 * slow worker does not hold the rest up); 'keyed' the member the record's key hashes to, waiting
 * while its lane is full (a key's order is kept). A record in no member's lane waits at the
 * cursor; the journal thread looks again within a millisecond.
 *
 * Acknowledgement: the lanes from the journal thread carry only these records, so a ledger per
 * lane (slot and index of each record pushed, in order) and the lane's TAIL (which its consumer
 * moves only past handled records) tell which were handled: a subscription's ACKED is the
 * smallest index still in a ledger, or its cursor. A successor of a journal thread that died
 * finds its predecessor's records in the lanes unlisted: ACKED holds still until they are gone.
 */
import { RING_CLAIM_OFFSET, RING_TAIL_OFFSET } from '../../assembly/layout/ring.ts';
import { KEY_NONE } from '../../assembly/layout/dispatch.ts';
import {
  DURABLE_ACTIVE, DURABLE_FREE, DURABLE_KEYED, DURABLE_STOPPED, DURABLE_STOPPING, DurableTable,
} from '../engine/durable-table.ts';
import {
  PRIORITY_NORMAL, RECORD_CORRELATION_OFFSET, RECORD_CRASHES_OFFSET, RECORD_FLAGS_OFFSET, RECORD_HEADER_BYTES,
  RECORD_LETTER_OFFSET, RECORD_PRIORITY_SHIFT, RECORD_REPLY_TO_OFFSET, RECORD_SUBSCRIPTION_OFFSET,
  TOPIC_STAT_PUBLISHED, TOPIC_STAT_ROUTED, outboundLane,
} from '../engine/layout.ts';
import { LANE_FULL, TAKEN } from '../engine/outbound.ts';
import type { ThreadRuntime } from '../engine/thread.ts';
import type { TopicRuntime } from '../engine/topic-runtime.ts';
import { JournalTail } from './tail.ts';
import type { JournalWriter } from './writer.ts';

/** A durable subscription as the journal thread follows it. */
interface Follow {
  readonly slot: number;
  readonly journaled: number;
  readonly topic: TopicRuntime;
  readonly keyed: boolean;
  /** Member consumer threads (worker w is thread w + 1). */
  readonly members: readonly number[];
  readonly tail: JournalTail;
  cursor: number;
  dropped: number;
  /** The tail's current record is still to be pushed (no member lane had space). */
  held: boolean;
  stopping: boolean;
  turn: number;
  /** Progress not yet stored in the durable table. */
  dirty: boolean;
}

/** The records pushed into one lane from the journal thread, oldest first, and the lane's TAIL when last looked at. */
class Ledger {
  readonly slots: Int32Array;
  readonly indexes: Float64Array;
  head = 0;
  count = 0;
  /** Records in the lane the ledger does not list (a dead predecessor's): consumed first. */
  unknown: number;
  tail: number;

  constructor(capacity: number, readonly ring: number, i32: Int32Array) {
    this.slots = new Int32Array(capacity);
    this.indexes = new Float64Array(capacity);
    this.tail = Atomics.load(i32, (ring + RING_TAIL_OFFSET) >> 2);
    // Up to CLAIM: a dead predecessor's pushes not yet flushed are published by this thread's first flush.
    this.unknown = (i32[(ring + RING_CLAIM_OFFSET) >> 2]! - this.tail) >>> 0;
  }

  /** Whether the lane may still hold records of the journal thread's (listed or a predecessor's). */
  get holds(): boolean {
    return this.count > 0 || this.unknown > 0;
  }

  push(slot: number, index: number): void {
    const at = (this.head + this.count) % this.slots.length;
    this.slots[at] = slot;
    this.indexes[at] = index;
    this.count++;
  }

  /** Drops the records the lane's consumer handled since the last look. */
  settle(i32: Int32Array): boolean {
    const tail = Atomics.load(i32, (this.ring + RING_TAIL_OFFSET) >> 2);
    let consumed = (tail - this.tail) >>> 0;
    if (consumed === 0) return false;
    this.tail = tail;
    const skipped = Math.min(consumed, this.unknown);
    this.unknown -= skipped;
    consumed -= skipped;
    consumed = Math.min(consumed, this.count);
    this.head = (this.head + consumed) % this.slots.length;
    this.count -= consumed;
    return true;
  }

  /** The smallest index of `slot` still listed, or Infinity. */
  oldest(slot: number): number {
    for (let i = 0; i < this.count; i++) {
      const at = (this.head + i) % this.slots.length;
      if (this.slots[at] === slot) return this.indexes[at]!;
    }
    return Infinity;
  }
}

export class DurableForwarder {
  private readonly table: DurableTable;
  private readonly follows: (Follow | undefined)[];
  private readonly ledgers: Ledger[] = [];
  private readonly i32: Int32Array;
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  private readonly bytes: Buffer;
  private active = 0;
  /** Some record waits for lane space: the thread should look again soon. */
  private waiting = false;

  constructor(
    private readonly runtime: ThreadRuntime,
    private readonly writer: JournalWriter,
    private readonly dir: string,
    private readonly onCorrupt: (segment: string, offset: number, reason: string) => void,
  ) {
    const { shape, arena } = runtime;
    const buffer = arena.memory.buffer as unknown as SharedArrayBuffer;
    this.i32 = new Int32Array(buffer);
    this.u16 = new Uint16Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.bytes = Buffer.from(buffer);
    this.table = new DurableTable(shape.journal!.durable, shape.maxSubscriptions);
    this.follows = new Array<Follow | undefined>(shape.maxSubscriptions).fill(undefined);
    const T = shape.threads;
    for (let c = 0; c < T; c++) {
      this.ledgers.push(new Ledger(shape.ringCapacity, arena.ring(outboundLane(runtime.thread, PRIORITY_NORMAL * T + c, T)).address, this.i32));
    }
  }

  /** Stores the journal's extent for thread 0 (before the batch that wrote up to `next` counts handled). */
  published(first: number): void {
    this.table.setJournal(first, this.writer.committedIndex);
  }

  /** How long the thread may park: briefly while records wait for space or for their acknowledgement. */
  parkMs(longest: number): number {
    if (this.waiting) return 1;
    if (this.active === 0) return longest;
    for (const ledger of this.ledgers) if (ledger.holds) return Math.min(longest, 5);
    return longest;
  }

  /** One look: takes up and stops subscriptions, forwards what is new, stores progress; returns records forwarded. */
  pump(): number {
    const table = this.table;
    for (let slot = 0; slot < this.follows.length; slot++) {
      const follow = this.follows[slot];
      const state = table.state(slot);
      if (follow === undefined) {
        if (state === DURABLE_ACTIVE) this.takeUp(slot);
      } else if (state === DURABLE_STOPPING) follow.stopping = true;
      else if (state === DURABLE_FREE) this.drop(slot);
    }
    if (this.active === 0) return 0;
    let settled = false;
    for (const ledger of this.ledgers) if (ledger.holds && ledger.settle(this.i32)) settled = true;
    const limit = this.writer.committedIndex;
    let forwarded = 0;
    this.waiting = false;
    for (const follow of this.follows) {
      if (follow === undefined || follow.stopping) continue;
      forwarded += this.forward(follow, limit);
    }
    if (forwarded > 0) this.runtime.producer.flushAll();
    for (const follow of this.follows) {
      if (follow === undefined) continue;
      if (follow.dirty || settled || follow.stopping) this.store(follow);
    }
    return forwarded;
  }

  /** Closes the tails' files. */
  close(): void {
    for (let slot = 0; slot < this.follows.length; slot++) if (this.follows[slot] !== undefined) this.drop(slot);
  }

  private takeUp(slot: number): void {
    const table = this.table;
    const journaled = table.topic(slot);
    const topic = this.runtime.topics.byId[this.runtime.shape.journal!.topics[journaled]!]!;
    const members: number[] = [];
    const bits = table.members(slot);
    for (let w = 0; w < 32; w++) if ((bits & (1 << w)) !== 0) members.push(w + 1);
    // A successor of a journal thread that died resumes at the stored cursor; a new subscription at its start.
    const stored = table.cursor(slot);
    const start = stored >= 0 ? stored : table.start(slot) >= 0 ? table.start(slot) : this.writer.committedIndex;
    const tail = new JournalTail(this.dir, this.onCorrupt);
    const from = tail.seek(start);
    const follow: Follow = {
      slot, journaled, topic, keyed: table.mode(slot) === DURABLE_KEYED && topic.keyKind !== KEY_NONE, members, tail,
      cursor: from, dropped: table.dropped(slot) + (from - start), held: false, stopping: false, turn: 0, dirty: true,
    };
    this.follows[slot] = follow;
    this.active++;
    this.store(follow);
  }

  private drop(slot: number): void {
    this.follows[slot]!.tail.close();
    this.follows[slot] = undefined;
    this.active--;
  }

  /** Forwards `follow`'s records below `limit` until one finds no lane space. */
  private forward(follow: Follow, limit: number): number {
    const tail = follow.tail;
    const scanner = tail.scanner;
    let forwarded = 0;
    for (;;) {
      if (!follow.held) {
        if (!tail.next(limit)) break;
        if (scanner.topic !== follow.journaled) {
          follow.cursor = scanner.index + 1;
          follow.dirty = true;
          continue;
        }
        follow.held = true;
      }
      if (!this.push(follow)) {
        this.waiting = true;
        break;
      }
      follow.held = false;
      follow.cursor = scanner.index + 1;
      follow.dirty = true;
      forwarded++;
    }
    return forwarded;
  }

  /** Pushes the tail's current record to a member: false if no lane it may go to has space. */
  private push(follow: Follow): boolean {
    const { topic, members, slot } = follow;
    const scanner = follow.tail.scanner;
    const src = topic.staging;
    scanner.chunk.copy(this.bytes, src + RECORD_HEADER_BYTES, scanner.payloadAt, scanner.payloadAt + scanner.length);
    this.u16[(src + RECORD_SUBSCRIPTION_OFFSET) >> 1] = slot;
    this.u32[(src + RECORD_CORRELATION_OFFSET) >> 2] = 0;
    this.u16[(src + RECORD_REPLY_TO_OFFSET) >> 1] = this.runtime.thread;
    this.u16[(src + RECORD_FLAGS_OFFSET) >> 1] = PRIORITY_NORMAL << RECORD_PRIORITY_SHIFT;
    this.u16[(src + RECORD_CRASHES_OFFSET) >> 1] = 0;
    this.u16[(src + RECORD_LETTER_OFFSET) >> 1] = 0;
    const lanes = this.runtime.outbound;
    const stats = this.runtime.control.topicStats(topic.id);
    const T = this.runtime.shape.threads;
    const n = members.length;
    let first = 0;
    let tries = n;
    if (follow.keyed) {
      const hash = this.runtime.core.keyHash(src + RECORD_HEADER_BYTES, topic.keyKind, topic.keyOffset, topic.keyLength);
      first = (hash >>> 0) % n;
      tries = 1;
    } else {
      first = follow.turn % n;
      // Deterministic mode: strictly in turn (the next member with space would depend on load).
      if (this.runtime.shape.deterministic) tries = 1;
    }
    for (let t = 0; t < tries; t++) {
      const consumer = members[(first + t) % n]!;
      const outcome = lanes.tryPush(PRIORITY_NORMAL * T + consumer, src, stats);
      if (outcome === LANE_FULL) continue;
      if (outcome !== TAKEN) return false; // its consumer is gone for good: the record waits (at-least-once, never skipped)
      const f64 = this.runtime.control.f64;
      f64[stats + TOPIC_STAT_ROUTED]! += 1;
      f64[stats + TOPIC_STAT_PUBLISHED]! += 1;
      this.ledgers[consumer]!.push(slot, scanner.index);
      follow.turn = (first + t + 1) % n;
      return true;
    }
    return false;
  }

  /** Stores `follow`'s cursor, ACKED and dropped; a stopping one whose records were all handled is STOPPED. */
  private store(follow: Follow): void {
    let acked = follow.cursor;
    let unknown = false;
    for (const member of follow.members) {
      const ledger = this.ledgers[member]!;
      if (ledger.unknown > 0) unknown = true;
      if (ledger.count > 0) acked = Math.min(acked, ledger.oldest(follow.slot));
    }
    if (follow.held) acked = Math.min(acked, follow.tail.scanner.index);
    // A predecessor's records are still in a member's lane: what was handled is not known, ACKED stays.
    if (unknown) acked = Math.min(acked, this.table.acked(follow.slot));
    this.table.setProgress(follow.slot, follow.cursor, acked, follow.dropped);
    follow.dirty = false;
    if (follow.stopping && acked === follow.cursor && !unknown) {
      this.table.setState(follow.slot, DURABLE_STOPPED);
      this.drop(follow.slot);
    }
  }
}
