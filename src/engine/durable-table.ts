/**
 * The durable table: what the engine's thread and the journal thread share about durable
 * subscriptions (subscribe(topic, { durable })), in its own SharedArrayBuffer
 * (EngineShape.journal.durable). Thread 0 activates an entry when a durable subscription is made
 * and retires it when it is removed; the journal thread (src/journal/durable.ts) forwards the
 * journal's records to the subscription's workers from the entry's position and says how far
 * they got and were handled. Platform-neutral: the position files are thread 0's (Node).
 *
 * Header (DURABLE_HEADER_BYTES), written by the journal thread:
 *
 *   offset  size  field         meaning
 *   0       8     JOURNAL_FIRST f64: index of the journal's oldest record kept (retention removes older ones)
 *   8       8     JOURNAL_NEXT  f64: index the next journal record gets (stored before its batch counts handled)
 *   16      4     FENCE         atomic, changed after JOURNAL_FIRST/NEXT are stored and loaded before they are read
 *   20      4     (padding)
 *
 * Entry per subscription slot (DURABLE_ENTRY_BYTES, after the header):
 *
 *   offset  size  field    writer   meaning
 *   0       4     STATE    both     atomic: FREE; ACTIVE (thread 0: forward from START); STOPPING
 *                                   (thread 0: forward no more); STOPPED (journal thread: every record
 *                                   it forwarded was handled, ACKED is final)
 *   4       4     TOPIC    thread 0 journaled topic number (journal-shape.ts) of the subscription
 *   8       4     MODE     thread 0 DURABLE_GROUP or DURABLE_KEYED
 *   12      4     MEMBERS  thread 0 bit w: worker w is a member (workers < 32)
 *   16      8     START    thread 0 f64: the first index to deliver; −1: the journal's end when the
 *                                   journal thread first sees the entry (a new durable name)
 *   24      8     CURSOR   journal  f64: the next index it forwards (stored after the records before it were flushed)
 *   32      8     ACKED    journal  f64: every record of the subscription before this index was handled
 *   40      8     DROPPED  journal  f64: records retention removed before they were delivered
 */
export const DURABLE_FREE = 0;
export const DURABLE_ACTIVE = 1;
export const DURABLE_STOPPING = 2;
export const DURABLE_STOPPED = 3;

export const DURABLE_GROUP = 0;
export const DURABLE_KEYED = 1;

export const JOURNAL_FIRST_OFFSET = 0;
export const JOURNAL_NEXT_OFFSET = JOURNAL_FIRST_OFFSET + 8;
export const JOURNAL_FENCE_OFFSET = JOURNAL_NEXT_OFFSET + 8;
export const DURABLE_HEADER_BYTES = JOURNAL_FENCE_OFFSET + 8;

export const DURABLE_STATE_OFFSET = 0;
export const DURABLE_TOPIC_OFFSET = DURABLE_STATE_OFFSET + 4;
export const DURABLE_MODE_OFFSET = DURABLE_TOPIC_OFFSET + 4;
export const DURABLE_MEMBERS_OFFSET = DURABLE_MODE_OFFSET + 4;
export const DURABLE_START_OFFSET = DURABLE_MEMBERS_OFFSET + 4;
export const DURABLE_CURSOR_OFFSET = DURABLE_START_OFFSET + 8;
export const DURABLE_ACKED_OFFSET = DURABLE_CURSOR_OFFSET + 8;
export const DURABLE_DROPPED_OFFSET = DURABLE_ACKED_OFFSET + 8;
export const DURABLE_ENTRY_BYTES = DURABLE_DROPPED_OFFSET + 8;

/** Bytes of a durable table with `slots` entries. */
export function durableTableBytes(slots: number): number {
  return DURABLE_HEADER_BYTES + slots * DURABLE_ENTRY_BYTES;
}

/** A view of the durable table: named words, no layout arithmetic elsewhere. */
export class DurableTable {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;

  constructor(buffer: SharedArrayBuffer, readonly slots: number) {
    this.i32 = new Int32Array(buffer);
    this.f64 = new Float64Array(buffer);
  }

  private at(slot: number, offset: number): number {
    return DURABLE_HEADER_BYTES + slot * DURABLE_ENTRY_BYTES + offset;
  }

  state(slot: number): number {
    return Atomics.load(this.i32, this.at(slot, DURABLE_STATE_OFFSET) >> 2);
  }

  setState(slot: number, state: number): void {
    Atomics.store(this.i32, this.at(slot, DURABLE_STATE_OFFSET) >> 2, state);
  }

  /** Thread 0: a new durable subscription in `slot`, delivering from `start` (−1: the journal's end). STATE last. */
  activate(slot: number, topic: number, mode: number, members: number, start: number): void {
    this.i32[this.at(slot, DURABLE_TOPIC_OFFSET) >> 2] = topic;
    this.i32[this.at(slot, DURABLE_MODE_OFFSET) >> 2] = mode;
    this.i32[this.at(slot, DURABLE_MEMBERS_OFFSET) >> 2] = members;
    this.f64[this.at(slot, DURABLE_START_OFFSET) >> 3] = start;
    this.f64[this.at(slot, DURABLE_CURSOR_OFFSET) >> 3] = start;
    this.f64[this.at(slot, DURABLE_ACKED_OFFSET) >> 3] = start;
    this.f64[this.at(slot, DURABLE_DROPPED_OFFSET) >> 3] = 0;
    this.setState(slot, DURABLE_ACTIVE);
  }

  topic(slot: number): number {
    return this.i32[this.at(slot, DURABLE_TOPIC_OFFSET) >> 2]!;
  }

  mode(slot: number): number {
    return this.i32[this.at(slot, DURABLE_MODE_OFFSET) >> 2]!;
  }

  members(slot: number): number {
    return this.i32[this.at(slot, DURABLE_MEMBERS_OFFSET) >> 2]!;
  }

  start(slot: number): number {
    return this.f64[this.at(slot, DURABLE_START_OFFSET) >> 3]!;
  }

  cursor(slot: number): number {
    return this.f64[this.at(slot, DURABLE_CURSOR_OFFSET) >> 3]!;
  }

  acked(slot: number): number {
    return this.f64[this.at(slot, DURABLE_ACKED_OFFSET) >> 3]!;
  }

  dropped(slot: number): number {
    return this.f64[this.at(slot, DURABLE_DROPPED_OFFSET) >> 3]!;
  }

  /** Journal thread: how far the slot's forwarding got. */
  setProgress(slot: number, cursor: number, acked: number, dropped: number): void {
    this.f64[this.at(slot, DURABLE_CURSOR_OFFSET) >> 3] = cursor;
    this.f64[this.at(slot, DURABLE_ACKED_OFFSET) >> 3] = acked;
    this.f64[this.at(slot, DURABLE_DROPPED_OFFSET) >> 3] = dropped;
    // A release: the f64 stores above are seen by whoever sees this store's effect on STATE's word.
    Atomics.add(this.i32, this.at(slot, DURABLE_STATE_OFFSET) >> 2, 0);
  }

  journalFirst(): number {
    return this.f64[JOURNAL_FIRST_OFFSET >> 3]!;
  }

  journalNext(): number {
    Atomics.load(this.i32, JOURNAL_FENCE_OFFSET >> 2);
    return this.f64[JOURNAL_NEXT_OFFSET >> 3]!;
  }

  setJournal(first: number, next: number): void {
    this.f64[JOURNAL_FIRST_OFFSET >> 3] = first;
    this.f64[JOURNAL_NEXT_OFFSET >> 3] = next;
    Atomics.add(this.i32, JOURNAL_FENCE_OFFSET >> 2, 1);
  }

  /**
   * Records journaled and not yet forwarded to an active durable subscription of its topic (an
   * upper bound: records of other topics count too), summed: drain() waits for 0. drain() reads
   * it before and after the in-flight count: the journal thread stores JOURNAL_NEXT before its
   * batch counts completed, and CURSOR after the forwarded records count accepted, so one of the
   * two reads sees work that the count between them missed.
   */
  behind(): number {
    const next = this.journalNext();
    let behind = 0;
    for (let s = 0; s < this.slots; s++) {
      if (this.state(s) !== DURABLE_ACTIVE) continue;
      const cursor = this.f64[this.at(s, DURABLE_CURSOR_OFFSET) >> 3]!;
      behind += cursor < 0 ? 0 : Math.max(0, next - cursor);
    }
    return behind;
  }
}
