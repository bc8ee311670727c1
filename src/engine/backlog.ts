/**
 * Backlog: a publisher's private FIFO of records for one lane whose ring was full, in order.
 *
 * Used where a full lane must neither block nor lose the message: on the engine's own thread under
 * 'block' (which may never wait synchronously: browsers forbid it), and under 'drop-oldest' on any
 * thread, bounded by the lane's capacity. While a lane has a backlog, every later record for that
 * lane joins the backlog too, so the lane stays FIFO; the owner moves records into the ring as the
 * consumer frees space (Backlog is single-threaded: only the lane's producer touches it).
 *
 * Storage is one Int32Array of `capacity` records (doubling when an unbounded backlog is full), a
 * parallel byte per record with its policy, and a "dropped" mark: dropping the oldest drop-oldest
 * record marks it instead of moving the others. Records are copied in and out as 32-bit words:
 * record sizes are multiples of 8 bytes.
 */
export class Backlog {
  private words: Int32Array;
  /** The same bytes as u16s (header fields). */
  private halves: Uint16Array;
  private policies: Uint8Array;
  private dropped: Uint8Array;
  private head = 0;
  /** Records held, including dropped-marked ones not yet skipped. */
  private count = 0;
  /** Records held and not dropped. */
  live = 0;

  constructor(private readonly recordWords: number, private capacity: number) {
    this.words = new Int32Array(capacity * recordWords);
    this.halves = new Uint16Array(this.words.buffer);
    this.policies = new Uint8Array(capacity);
    this.dropped = new Uint8Array(capacity);
  }

  get size(): number {
    return this.live;
  }

  get isFull(): boolean {
    return this.count === this.capacity;
  }

  /** Appends the record at i32 index `from` of `source`; grows when full. */
  push(source: Int32Array, from: number, policy: number): void {
    if (this.count === this.capacity) this.grow();
    const slot = (this.head + this.count) % this.capacity;
    const n = this.recordWords;
    const base = slot * n;
    for (let i = 0; i < n; i++) this.words[base + i] = source[from + i]!;
    this.policies[slot] = policy;
    this.dropped[slot] = 0;
    this.count++;
    this.live++;
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
    this.advance();
    this.live--;
  }

  private advance(): void {
    this.head = (this.head + 1) % this.capacity;
    this.count--;
  }

  private grow(): void {
    const capacity = this.capacity * 2;
    const words = new Int32Array(capacity * this.recordWords);
    const policies = new Uint8Array(capacity);
    const dropped = new Uint8Array(capacity);
    for (let i = 0; i < this.count; i++) {
      const from = (this.head + i) % this.capacity;
      words.set(this.words.subarray(from * this.recordWords, (from + 1) * this.recordWords), i * this.recordWords);
      policies[i] = this.policies[from]!;
      dropped[i] = this.dropped[from]!;
    }
    this.words = words;
    this.halves = new Uint16Array(words.buffer);
    this.policies = policies;
    this.dropped = dropped;
    this.head = 0;
    this.capacity = capacity;
  }
}
