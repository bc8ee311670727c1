/**
 * Backlog: a publisher's private FIFO of records for one lane whose ring was full, in order.
 *
 * Used where a full lane must neither block nor lose the message: on the engine's own thread under
 * 'block' (which may never wait synchronously: browsers forbid it), and under 'drop-oldest' on any
 * thread, bounded by the lane's capacity. While a lane has a backlog, every later record for that
 * lane joins the backlog too, so the lane stays FIFO; the owner moves records into the ring as the
 * consumer frees space (Backlog is single-threaded: only the lane's producer touches it).
 *
 * Storage is `capacity` records as 32-bit words, a parallel byte per record with its policy, and a
 * "dropped" mark: dropping the oldest drop-oldest record marks it instead of moving the others.
 * Records are copied in and out as 32-bit words: record sizes are multiples of 8 bytes.
 *
 * A worker's backlogs live in shared memory (a spill region per lane in its scratch block), so a
 * worker that dies does not take them along: its successor adopts them (`new Backlog(…, region)`
 * reads the region's header) and moves them on. A backlog that outgrows its region moves to the
 * heap (doubling, unbounded: two workers publishing into each other's full lanes must never wait
 * for each other) and its region says it holds nothing; once that backlog is empty it returns to
 * its region. Thread 0 never dies, and keeps its backlogs on the heap.
 *
 * ── Spill region (SPILL_HEADER_BYTES + the bytes below; one per (owner, consumer) lane) ─────────
 *
 * | offset | size | field    | meaning                                                          |
 * |--------|------|----------|------------------------------------------------------------------|
 * | 0      | 4    | HEAD     | slot of the oldest record                                        |
 * | 4      | 4    | COUNT    | records held, dropped-marked ones included (0: the region is empty, or the backlog moved to the heap) |
 * | 8      | 4    | LIVE     | records held and not dropped                                     |
 * | 12     | 4    | (reserved) |                                                                |
 * | 16     | C    | policies | u8 POLICY_* per slot                                             |
 * | 16 + C | C    | dropped  | u8 per slot, 1: dropped (skipped when it reaches the head)       |
 * | 16+2C↑8| C×R  | records  | the records, R bytes each                                        |
 *
 * Written only by the owner (plain stores, the header after every change); read by the owner's
 * successor, and by recovery (recovery.ts) after the owner died.
 */
export const SPILL_HEAD = 0;
export const SPILL_COUNT = 1;
export const SPILL_LIVE = 2;
export const SPILL_HEADER_BYTES = 16;

/** Bytes of one spill region of `capacity` records of `recordSize` bytes. */
export function spillRegionBytes(capacity: number, recordSize: number): number {
  return SPILL_HEADER_BYTES + Math.ceil((2 * capacity) / 8) * 8 + capacity * recordSize;
}

/** A spill region in shared memory. */
export interface SpillRegion {
  readonly buffer: ArrayBufferLike;
  readonly address: number;
  readonly capacity: number;
}

/** Views of one spill region (also what recovery reads). */
export function spillViews(region: SpillRegion, recordWords: number): { header: Int32Array; policies: Uint8Array; dropped: Uint8Array; words: Int32Array } {
  const { buffer, address, capacity } = region;
  const records = address + SPILL_HEADER_BYTES + Math.ceil((2 * capacity) / 8) * 8;
  return {
    header: new Int32Array(buffer, address, SPILL_HEADER_BYTES >> 2),
    policies: new Uint8Array(buffer, address + SPILL_HEADER_BYTES, capacity),
    dropped: new Uint8Array(buffer, address + SPILL_HEADER_BYTES + capacity, capacity),
    words: new Int32Array(buffer, records, capacity * recordWords),
  };
}

export class Backlog {
  private words!: Int32Array;
  /** The same bytes as u16s (header fields). */
  private halves!: Uint16Array;
  private policies!: Uint8Array;
  private dropped!: Uint8Array;
  private capacity = 0;
  private head = 0;
  /** Records held, including dropped-marked ones not yet skipped. */
  private count = 0;
  /** Records held and not dropped. */
  live = 0;
  /** The region's header while the records live there; undefined on the heap. */
  private header: Int32Array | undefined;

  /**
   * A backlog of `capacity` records on the heap, or in `region` (adopting what its header says it
   * holds: a successor takes over its predecessor's backlog).
   */
  constructor(private readonly recordWords: number, capacity: number, private readonly region?: SpillRegion) {
    if (region !== undefined) {
      this.useRegion();
      const header = this.header!;
      this.head = header[SPILL_HEAD]!;
      this.count = header[SPILL_COUNT]!;
      this.live = header[SPILL_LIVE]!;
    } else {
      this.useHeap(capacity);
    }
  }

  get size(): number {
    return this.live;
  }

  /** Appends the record at i32 index `from` of `source`, its first `words` words (its topic's bytes, ≤ a record); grows when full. */
  push(source: Int32Array, from: number, policy: number, words: number): void {
    if (this.count === this.capacity) this.grow();
    const slot = (this.head + this.count) % this.capacity;
    const base = slot * this.recordWords;
    for (let i = 0; i < words; i++) this.words[base + i] = source[from + i]!;
    this.policies[slot] = policy;
    this.dropped[slot] = 0;
    this.count++;
    this.live++;
    this.persist();
  }

  /**
   * Marks the oldest live record whose policy is `policy` dropped and returns its slot's i32 index
   * (so the caller can read its header), or -1 if there is none.
   */
  dropOldest(policy: number): number {
    for (let i = 0; i < this.count; i++) {
      const slot = (this.head + i) % this.capacity;
      if (this.dropped[slot] === 0 && this.policies[slot] === policy) {
        this.dropped[slot] = 1;
        this.live--;
        this.persist();
        return slot * this.recordWords;
      }
    }
    return -1;
  }

  /** The words of the records (for reading a record at an index from headIndex/dropOldest). */
  get storage(): Int32Array {
    return this.words;
  }

  /** The u16 at byte `offset` of the record at i32 index `index` (a header field, by its named offset). */
  u16(index: number, offset: number): number {
    return this.halves[((index * 4) + offset) >> 1]!;
  }

  /** i32 index of the oldest live record, skipping (and discarding) dropped ones; -1 if empty. */
  headIndex(): number {
    while (this.count > 0 && this.dropped[this.head] === 1) this.advance();
    return this.count === 0 ? -1 : this.head * this.recordWords;
  }

  /** Removes the oldest live record (after headIndex). */
  shift(): void {
    this.live--;
    this.advance();
  }

  private advance(): void {
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    // An emptied heap backlog returns to its region (the successor of a crash would see it there).
    if (this.count === 0 && this.header === undefined && this.region !== undefined) {
      this.useRegion();
      this.head = 0;
    }
    this.persist();
  }

  /** Writes head and counts into the region's header (the region holds the records). */
  private persist(): void {
    const header = this.header;
    if (header === undefined) return;
    header[SPILL_HEAD] = this.head;
    header[SPILL_COUNT] = this.count;
    header[SPILL_LIVE] = this.live;
  }

  private useRegion(): void {
    const views = spillViews(this.region!, this.recordWords);
    this.header = views.header;
    this.words = views.words;
    this.halves = new Uint16Array(views.words.buffer, views.words.byteOffset, views.words.length * 2);
    this.policies = views.policies;
    this.dropped = views.dropped;
    this.capacity = this.region!.capacity;
  }

  private useHeap(capacity: number): void {
    this.header = undefined;
    this.words = new Int32Array(capacity * this.recordWords);
    this.halves = new Uint16Array(this.words.buffer);
    this.policies = new Uint8Array(capacity);
    this.dropped = new Uint8Array(capacity);
    this.capacity = capacity;
  }

  /** Doubles the storage on the heap (a full region moves there: its header then says empty). */
  private grow(): void {
    const { words: oldWords, policies: oldPolicies, dropped: oldDropped, capacity: oldCapacity, head, count } = this;
    const header = this.header;
    this.useHeap(Math.max(2, oldCapacity * 2));
    const n = this.recordWords;
    for (let i = 0; i < count; i++) {
      const from = (head + i) % oldCapacity;
      this.words.set(oldWords.subarray(from * n, (from + 1) * n), i * n);
      this.policies[i] = oldPolicies[from]!;
      this.dropped[i] = oldDropped[from]!;
    }
    this.head = 0;
    if (header !== undefined) {
      header[SPILL_COUNT] = 0;
      header[SPILL_LIVE] = 0;
      header[SPILL_HEAD] = 0;
    }
  }
}
