/**
 * CoreOps: the one interface both backends implement over the same bytes.
 *
 * - The Wasm backend (bindings/wasm.ts) is the AssemblyScript module's own exports: every method
 *   here is the raw exported function, called with no wrapper in between.
 * - The JS backend (bindings/js/) is the TypeScript twin: the same functions over typed views of
 *   the same memory, byte for byte compatible, so a Wasm producer can feed a JS consumer.
 *
 * Conventions (identical on both backends, enforced by test/conformance tests):
 * - Every structure is named by its absolute byte address in the shared memory (`ring`, `pool`,
 *   `router`), taken from the arena directory. Addresses are below 2^31, so i32 returns are never
 *   negative for addresses.
 * - Functions that return an address return a value >= ADDRESS_MIN on success, otherwise a
 *   STATUS_* code (all STATUS_* < ADDRESS_MIN).
 * - Functions that return a count return it (>= 0), or `-STATUS_*` for a terminal condition.
 * - Hot-path functions never throw and never allocate. Config validation (power-of-two sizes,
 *   ranges) happens once in src/arena.ts, which throws typed errors; the ops here only return
 *   STATUS_INVALID for ids that callers pass per message (topic ids, slot addresses).
 * - Nothing here waits. Parking (Atomics.wait) is done by bindings/park.ts in TypeScript, for both
 *   backends, because waiting inside Wasm miscompiles on Node 20's Liftoff.
 * - Threads: a ring has exactly one producer thread and one consumer thread; "producer ops" may
 *   only be called by the producer, "consumer ops" only by the consumer. Pool ops may be called by
 *   any thread. Router readers identify themselves by a thread index < the router's THREADS.
 */
export interface CoreOps {
  /** Which implementation this is. */
  readonly backend: 'wasm' | 'js';

  // ── sizes (pure arithmetic; the arena planner uses them) ────────────────────────────────────
  /** Bytes a ring occupies: RING_HEADER_BYTES + capacity·recordSize, rounded up to STRUCTURE_ALIGN. */
  ringBytes(capacity: number, recordSize: number): number;
  /** Bytes a pool occupies (see assembly/layout/pool.ts for the sub-offsets). */
  poolBytes(slotCount: number, slotSize: number): number;
  /** Bytes a router occupies (see assembly/layout/router.ts for the sub-offsets). */
  routerBytes(maxTopics: number, maxSubscriptions: number, threads: number): number;

  // ── SPSC ring (assembly/ring.ts, bindings/js/ring.ts) ───────────────────────────────────────
  /** Zeroes the ring's header and writes its config. Creating thread only, before sharing. */
  ringInit(ring: number, capacity: number, recordSize: number): void;
  /** Producer. Claims the next record and returns its address (write RECORD_SIZE bytes there), or
   *  STATUS_FULL, or STATUS_CLOSED (consumer closed, or producer closed). The claimed record is
   *  invisible to the consumer until ringFlush. Reloads TAIL only when the ring looks full. */
  ringTryClaim(ring: number): number;
  /** Producer. Copies RECORD_SIZE bytes from `src` into the next record (claim + copy). Returns
   *  STATUS_OK, STATUS_FULL or STATUS_CLOSED. Not visible until ringFlush. */
  ringTryPush(ring: number, src: number): number;
  /** Producer. Copies the first `bytes` bytes of a record from `src` into the next record (the
   *  rest of that record keeps what it held). STATUS_OK, STATUS_FULL or STATUS_CLOSED, or
   *  STATUS_INVALID with nothing claimed unless `bytes` is a multiple of RING_RECORD_ALIGN (8) no
   *  larger than RECORD_SIZE. Not visible until ringFlush. */
  ringTryPushBytes(ring: number, src: number, bytes: number): number;
  /** Producer. Copies up to `count` consecutive records from `src` (count·RECORD_SIZE bytes), then
   *  flushes (also when it pushed none). Reloads TAIL when the cache says fewer than `count` are
   *  free. Returns how many were pushed (0 when full), or -STATUS_CLOSED. */
  ringTryPushBatch(ring: number, src: number, count: number): number;
  /** Producer. Publishes every claimed record with one atomic store of HEAD (pairs with the
   *  consumer's atomic load of HEAD), then, if CONSUMER_PARKED is set, notifies HEAD's waiters.
   *  Returns 1 if it notified, else 0. */
  ringFlush(ring: number): number;
  /** Producer. Claimed but not yet published records (CLAIM - HEAD). */
  ringPending(ring: number): number;
  /** Producer. Flushes, sets PRODUCER_CLOSED and notifies HEAD's waiters: the consumer drains what
   *  was published and then sees STATUS_CLOSED. Idempotent. */
  ringCloseProducer(ring: number): void;
  /** Consumer. Returns the address of the next unread record and advances READ, or STATUS_EMPTY,
   *  or STATUS_CLOSED (producer closed and every published record read). The record stays valid
   *  until ringCommit. Reloads HEAD only when the ring looks empty. */
  ringTryPeek(ring: number): number;
  /** Consumer. Published records not yet read (HEAD - READ); always loads HEAD, so it is exact
   *  at the time of the call (and refreshes the consumer's cached HEAD). */
  ringAvailable(ring: number): number;
  /** Consumer. Copies the next record to `dst` and advances READ. STATUS_OK / STATUS_EMPTY /
   *  STATUS_CLOSED. Its space is freed only at ringCommit. */
  ringTryPop(ring: number, dst: number): number;
  /** Consumer. Copies up to `max` records to `dst`, advances READ, then commits. Reloads HEAD when
   *  the cache says fewer than `max` are readable. Returns the count (0 when empty), or
   *  -STATUS_CLOSED when the producer closed and everything was read. */
  ringTryPopBatch(ring: number, dst: number, max: number): number;
  /** Consumer. Frees every record read so far with one atomic store TAIL = READ (pairs with the
   *  producer's load of TAIL when it looks full); if PRODUCER_PARKED is set, notifies TAIL's
   *  waiters. Returns 1 if it notified, else 0. */
  ringCommit(ring: number): number;
  /** Consumer. Sets CONSUMER_CLOSED and notifies TAIL's waiters: later pushes get STATUS_CLOSED. */
  ringCloseConsumer(ring: number): void;
  /** Any thread. Records published and not yet committed (HEAD - TAIL); may be late. */
  ringSize(ring: number): number;

  // ── slot pool (assembly/pool.ts, bindings/js/pool.ts) ───────────────────────────────────────
  /** Writes the config and puts every slot in the free queue. Creating thread only. */
  poolInit(pool: number, slotCount: number, slotSize: number): void;
  /** Any thread. Returns the address of a free slot's SLOT_SIZE bytes, or STATUS_EXHAUSTED. */
  poolTryAlloc(pool: number): number;
  /** Any thread. poolTryAlloc, then copies `bytes` bytes from `src` to byte `offset` of the slot:
   *  its address, STATUS_EXHAUSTED (nothing copied), or STATUS_INVALID when offset + bytes exceeds
   *  SLOT_SIZE or src + bytes the memory (nothing allocated). */
  poolTryAllocCopy(pool: number, src: number, bytes: number, offset: number): number;
  /** Any thread. Returns `slot` to the pool. STATUS_OK, or STATUS_INVALID (not a slot address of
   *  this pool, or not allocated: a double release), in which case nothing changed. */
  poolRelease(pool: number, slot: number): number;
  /** Any thread. Slots allocated and not released; exact when no alloc/release is in flight. */
  poolOutstanding(pool: number): number;

  // ── routing table (assembly/router.ts, bindings/js/router.ts) ───────────────────────────────
  /** Writes the config, VERSION = ROUTER_FIRST_VERSION, empty subscription list, compiles the empty
   *  table into buffer VERSION & 1. Creating thread only. */
  routerInit(router: number, maxTopics: number, maxSubscriptions: number, threads: number): void;
  /** Takes the writer lock (CAS 0 → thread + 1). STATUS_OK, STATUS_BUSY (held), or STATUS_INVALID
   *  (thread >= THREADS). Config time only. */
  routerTryLock(router: number, thread: number): number;
  /** Releases the writer lock held by `thread`. STATUS_OK, or STATUS_INVALID if not held by it
   *  (or thread >= THREADS). */
  routerUnlock(router: number, thread: number): number;
  /** Lock holder. Adds a subscription in the lowest free slot and returns its id (>= 0), or
   *  -STATUS_FULL (no free slot), or -STATUS_INVALID (topic >= MAX_TOPICS, mode not one of
   *  MODE_BROADCAST/GROUP/KEYED). Not routed to until routerTryPublish. */
  routerAddSubscription(router: number, topic: number, entry: number, mode: number, group: number): number;
  /** Lock holder. Frees subscription `id`: STATUS_OK, or STATUS_INVALID (out of range or free). */
  routerRemoveSubscription(router: number, id: number): number;
  /** Lock holder. Compiles the subscription list into the non-current buffer and makes it current
   *  with one atomic store of VERSION + 1. STATUS_OK, or STATUS_BUSY when some thread's EPOCH still
   *  equals VERSION - 1 (it may be reading that buffer): nothing changed, try again later. */
  routerTryPublish(router: number): number;
  /** Reader `thread`. Announces and returns the version it will read (store EPOCH, re-load
   *  VERSION, retry until equal). Call before routerRoute; pair with routerLeave. */
  routerEnter(router: number, thread: number): number;
  /** Reader `thread`. EPOCH[thread] = 0: it no longer reads any table. */
  routerLeave(router: number, thread: number): void;
  /** Reader `thread`, inside routerEnter/Leave. Writes the route entries that receive a message of `topic`
   *  as u32s at `out` (room for MAX_SUBSCRIPTIONS) and returns how many: one per broadcast
   *  subscription; one member per group (round-robin by this thread's cursor); one member per
   *  keyed group (member = (keyHash >>> 0) % memberCount). -STATUS_INVALID if topic >= MAX_TOPICS. */
  routerRoute(router: number, thread: number, topic: number, keyHash: number, out: number): number;
  /** Any thread. The current VERSION (may be late). */
  routerVersion(router: number): number;
  /** Any thread. Number of delivery groups of `topic` in the current table (may be late); 0 if
   *  out of range. */
  routerGroupCount(router: number, topic: number): number;

  // ── hashing (assembly/hash.ts, bindings/js/hash.ts) ─────────────────────────────────────────
  /** MurmurHash3 x86_32 (seed 0) of `len` bytes at `addr`, as an i32 (use `>>> 0` for u32). */
  hashBytes(addr: number, len: number): number;
  /** MurmurHash3 x86_32 (seed 0) of the 4 little-endian bytes of `value`: equals hashBytes over
   *  those bytes. Used for keyed delivery of integer keys. */
  hashU32(value: number): number;

  // ── batch dispatch (assembly/dispatch.ts, bindings/js/dispatch.ts) ──────────────────────────
  /** Any thread. The key hash dispatchBatch routes a record by, for callers that route one record
   *  at a time: the key at `record + keyOffset` hashed by KEY_* kind `keyKind` (table in
   *  assembly/layout/dispatch.ts): KEY_NONE → 0 (reads nothing); KEY_U32 → hashU32 of the u32
   *  there; KEY_U8 → hashU32 of the byte; KEY_PREFIXED_BYTES → hashBytes of the u16 LE length there
   *  and then that many bytes after it; KEY_BYTES → hashBytes of `keyLength` bytes; another kind →
   *  0. As an i32 (use `>>> 0` for routerRoute's u32). `record` may be a record's start with the
   *  key's offset in the record (as dispatchBatch passes them) or a message's address with the
   *  key's offset in the message: only the sum matters. A KEY_U32 key must be 4-byte aligned and a
   *  KEY_PREFIXED_BYTES length 2-byte aligned (the JS backend reads them with typed arrays). */
  keyHash(record: number, keyKind: number, keyOffset: number, keyLength: number): number;
  /** Producer of the candidates' rings. The least-loaded pick that route entry `from` opens among
   *  the route entries from..n-1 (u32s at `out`, 4-byte aligned, as routerRoute wrote them; entry
   *  `from` itself must have tag `tag` and not be ROUTE_SKIPPED): of the entries whose tag,
   *  `entry & ROUTE_TAG_MASK`, is `tag` and that are not ROUTE_SKIPPED, returns the index of the
   *  one whose ring, u32 `rings[entry >>> ROUTE_RING_SHIFT]`, holds the fewest records as its
   *  producer sees them: CLAIM - TAIL, counting this producer's unflushed claims; a ring whose
   *  consumer closed it counts as deepest (u32 max), so a live ring is chosen over it; ties: the
   *  earliest entry. Overwrites the pick's other entries with ROUTE_SKIPPED at `out`; entries of
   *  other tags and ROUTE_SKIPPED entries are left as they are. A pick of one loads no ring word.
   *  This is the very pick dispatchBatch makes for an entry whose `balance` byte is not 0. */
  pickLeastLoaded(out: number, from: number, n: number, tag: number, rings: number): number;
  /** Reader `thread` of `router` (inside routerEnter/Leave) and producer of every ring in `rings`.
   *  Routes and pushes `count` records, `stride` bytes apart from `src`: hashes each key (KEY_* kind
   *  at `keyOffset`, `keyLength` bytes for KEY_BYTES), routes `topic` into `out`, and for each
   *  route entry stamps its tag, `entry & ROUTE_TAG_MASK`, as a u16 at `tagOffset` in the record,
   *  copies its `stride` bytes (ringTryPushBytes) into the ring u32 `rings[entry >>> ROUTE_RING_SHIFT]` and adds 1 to
   *  u32 `pushed[entry >>> ROUTE_RING_SHIFT]`.
   *  `balance`: address of a u8 table indexed by an entry's tag, or 0 for none.
   *  An entry whose tag's byte is not 0 opens a least-loaded pick among the record's remaining
   *  entries of that tag (entries j..n-1 not already ROUTE_SKIPPED): only the one whose ring holds
   *  the fewest records, CLAIM - TAIL (counting this producer's unflushed claims; ties: the
   *  earliest entry), is pushed; the pick's other entries are overwritten with ROUTE_SKIPPED at
   *  `out`, and ROUTE_SKIPPED entries are passed over. Entries keep their order at `out`.
   *  Flushes nothing. Returns `count`, or the index of the record whose push failed (its entries
   *  left at `out` with the ROUTE_SKIPPED marks made so far, the failed one's index and their
   *  count in the result block at `result`, see assembly/layout/dispatch.ts), or -STATUS_INVALID
   *  for a bad topic, or a `stride` not a multiple of RING_RECORD_ALIGN (8) or larger than a ring's records. */
  dispatchBatch(
    router: number, thread: number, topic: number, src: number, count: number, stride: number,
    keyKind: number, keyOffset: number, keyLength: number, rings: number, tagOffset: number,
    pushed: number, balance: number, out: number, result: number,
  ): number;
}

/** The names of every CoreOps function, for building the Wasm backend from exports and for tests. */
export const CORE_OP_NAMES = [
  'ringBytes', 'poolBytes', 'routerBytes',
  'ringInit', 'ringTryClaim', 'ringTryPush', 'ringTryPushBytes', 'ringTryPushBatch', 'ringFlush', 'ringPending',
  'ringCloseProducer', 'ringTryPeek', 'ringAvailable', 'ringTryPop', 'ringTryPopBatch',
  'ringCommit', 'ringCloseConsumer', 'ringSize',
  'poolInit', 'poolTryAlloc', 'poolTryAllocCopy', 'poolRelease', 'poolOutstanding',
  'routerInit', 'routerTryLock', 'routerUnlock', 'routerAddSubscription',
  'routerRemoveSubscription', 'routerTryPublish', 'routerEnter', 'routerLeave', 'routerRoute',
  'routerVersion', 'routerGroupCount',
  'hashBytes', 'hashU32',
  'keyHash', 'pickLeastLoaded', 'dispatchBatch',
] as const satisfies ReadonlyArray<Exclude<keyof CoreOps, 'backend'>>;

export type CoreOpName = (typeof CORE_OP_NAMES)[number];
export type Backend = CoreOps['backend'];
