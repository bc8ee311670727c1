/**
 * Dispatch layout: the numbers of dispatchBatch (assembly/dispatch.ts and its TypeScript twin
 * bindings/js/dispatch.ts), which routes and enqueues a whole batch of records in one call.
 *
 * Plain `export const` arithmetic, compiled by both AssemblyScript and TypeScript, like every file
 * in assembly/layout/ (the single source of truth; bindings/wasm.ts checks the module agrees).
 *
 * A record's key is hashed by KEY_* kind:
 *
 * | kind               | hashed                                                         |
 * |--------------------|----------------------------------------------------------------|
 * | KEY_NONE           | nothing: key hash 0                                            |
 * | KEY_U32            | hashU32 of the u32 at the key offset                           |
 * | KEY_U8             | hashU32 of the byte at the key offset                          |
 * | KEY_BYTES          | hashBytes of `keyLength` bytes at the key offset               |
 * | KEY_PREFIXED_BYTES | hashBytes of the u16 LE length at the key offset, then that many bytes after it |
 *
 * Result block (written by dispatchBatch for its caller, u32 words, the calling thread's memory):
 *
 * | offset | field        | meaning                                                             |
 * |--------|--------------|---------------------------------------------------------------------|
 * | 0      | ROUTED       | route entries pushed by this call (one lane copy each)              |
 * | 4      | UNROUTED     | records no route entry received                                     |
 * | 8      | FAILED_ENTRY | in the record it stopped at: index of the route entry not pushed    |
 * | 12     | ENTRY_COUNT  | in the record it stopped at: its route entries (left at `out`)      |
 *
 * Route entries (u32s at `out`, as routerRoute writes them, one record at a time):
 *
 * | bits / value  | meaning                                                                      |
 * |---------------|------------------------------------------------------------------------------|
 * | 31..16 (RING) | `entry >>> ROUTE_RING_SHIFT`: index into the `rings` table (and the `pushed` |
 * |               | counts) of the entry's ring                                                  |
 * | 15..0  (TAG)  | `entry & ROUTE_TAG_MASK`: stamped into the record before the push (the       |
 * |               | engine's subscription slot); also the index into the `balance` table         |
 * | ROUTE_SKIPPED | not pushed: another entry of its least-loaded tag was chosen. Written over   |
 * |               | the entry by dispatchBatch (and by the engine's per-record path); a real     |
 * |               | route entry never has this value (ring 0xffff, tag 0xffff)                   |
 *
 * Balance table (optional, u8 per tag, read-only for dispatchBatch): a nonzero byte makes every
 * entry with that tag a candidate of one least-loaded pick per record: among a record's entries of
 * the tag that are not ROUTE_SKIPPED, the one whose ring holds the fewest records (CLAIM - TAIL,
 * which counts records the calling producer claimed but has not flushed yet; ties: the earliest
 * entry) is pushed, the others become ROUTE_SKIPPED. The order of the entries at `out` is kept.
 */
export const KEY_NONE = 0;
export const KEY_U32 = 1;
export const KEY_U8 = 2;
export const KEY_BYTES = 3;
export const KEY_PREFIXED_BYTES = 4;

export const DISPATCH_ROUTED_OFFSET = 0;
export const DISPATCH_UNROUTED_OFFSET = DISPATCH_ROUTED_OFFSET + 4;
export const DISPATCH_FAILED_ENTRY_OFFSET = DISPATCH_UNROUTED_OFFSET + 4;
export const DISPATCH_ENTRY_COUNT_OFFSET = DISPATCH_FAILED_ENTRY_OFFSET + 4;
export const DISPATCH_RESULT_BYTES = DISPATCH_ENTRY_COUNT_OFFSET + 4;
/** A route entry's high half names the ring (an index into the `rings` table), its low half is
 *  the tag stamped into the record before it is pushed. */
export const ROUTE_RING_SHIFT = 16;
export const ROUTE_TAG_MASK = (1 << ROUTE_RING_SHIFT) - 1;
/** A route entry not to push (the rest of its least-loaded pick); never a real entry. A u32: the
 *  module exports it as an i32 global, which reads -1 from JavaScript. */
export const ROUTE_SKIPPED = 0xffffffff;
