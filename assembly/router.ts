/**
 * Routing table: topic id → delivery groups → route entries, double-buffered and versioned.
 *
 * Algorithm: read-copy-update with per-thread epochs (the userspace RCU "quiescent state" idea,
 * reduced to two buffers). The lock holder edits the subscription list, compiles it into the
 * buffer that is not current and publishes it with one atomic store of VERSION (buffer =
 * VERSION & 1). Readers announce the version they read in their own EPOCH word and confirm it by
 * re-loading VERSION; a publish that would overwrite a buffer some thread may still read returns
 * STATUS_BUSY instead of waiting (no waiting inside Wasm). All shared words are seq-cst atomics.
 *
 * Compilation is deterministic (both backends produce the same bytes): a counting sort puts each
 * topic's subscriptions in slot order, then a stable in-place pass gathers equal (mode, group key)
 * subscriptions into contiguous groups. It is O(topics + subscriptions + Σ topic subs²), run only
 * when subscriptions change.
 *
 * Layout and field ownership: assembly/layout/router.ts. TypeScript twin: bindings/js/router.ts.
 */
import {
  GROUP_ENTRY_BYTES, GROUP_FIRST_MEMBER_OFFSET, GROUP_KEY_OFFSET, GROUP_MEMBER_COUNT_OFFSET,
  GROUP_MODE_OFFSET, MEMBER_ENTRY_BYTES, MODE_BROADCAST, MODE_FREE, MODE_GROUP, MODE_KEYED,
  ROUTER_CURSORS_OFFSET_OFFSET, ROUTER_EPOCHS_OFFSET, ROUTER_EPOCH_STRIDE, ROUTER_FIRST_VERSION,
  ROUTER_MAX_SUBSCRIPTIONS_OFFSET, ROUTER_MAX_TOPICS_OFFSET, ROUTER_SUBS_OFFSET_OFFSET,
  ROUTER_TABLES_OFFSET_OFFSET, ROUTER_TABLE_BYTES_OFFSET, ROUTER_THREADS_OFFSET,
  ROUTER_VERSION_OFFSET, ROUTER_WRITER_LOCK_OFFSET, SUB_BYTES, SUB_GROUP_OFFSET, SUB_ROUTE_ENTRY_OFFSET,
  SUB_MODE_OFFSET, SUB_TOPIC_OFFSET, TOPIC_ENTRY_BYTES, TOPIC_FIRST_GROUP_OFFSET,
  TOPIC_GROUP_COUNT_OFFSET,
} from "./layout/router";
import { ARENA_MAX_BYTES, STRUCTURE_ALIGN } from "./layout/arena";
import { STATUS_BUSY, STATUS_FULL, STATUS_INVALID, STATUS_OK } from "./layout/status";
import { alignStructure } from "./common";

/** routerBytes' answer when the router could not fit any arena: larger than ARENA_MAX_BYTES and
 *  still a positive i32, so the arena planner rejects it instead of wrapping round. */
const ROUTER_BYTES_TOO_LARGE: u32 = 0x7FFFFFFF;
/** One round-robin cursor (u32), and one route entry written at routerRoute's `out` (u32). */
const CURSOR_BYTES: u32 = 4;
const LANE_BYTES: u32 = 4;

/**
 * Bytes a router occupies: header and epochs, the subscription list, two table buffers, one
 * cursor block per thread, each part starting on a STRUCTURE_ALIGN boundary (the sub-offsets are
 * subsOffset … cursors in routerInit). Computed in 64 bits; a result beyond ARENA_MAX_BYTES is
 * reported as 0x7FFFFFFF.
 */
export function routerBytes(maxTopics: u32, maxSubscriptions: u32, threads: u32): u32 {
  // Each of these alone puts a part past ARENA_MAX_BYTES (topics the table, subscriptions the
  // list, threads the epochs); saturating here also keeps threads·cursorBlock below 2^62, so the
  // u64 sum below cannot wrap to a small size.
  if (maxTopics > <u32>ARENA_MAX_BYTES || maxSubscriptions > <u32>ARENA_MAX_BYTES || threads > <u32>ARENA_MAX_BYTES) return ROUTER_BYTES_TOO_LARGE;
  const align = <u64>STRUCTURE_ALIGN - 1;
  const subs = (<u64>ROUTER_EPOCHS_OFFSET + <u64>threads * ROUTER_EPOCH_STRIDE + align) & ~align;
  const table = (<u64>maxTopics * TOPIC_ENTRY_BYTES + <u64>maxSubscriptions * (GROUP_ENTRY_BYTES + MEMBER_ENTRY_BYTES) + align) & ~align;
  const tables = (subs + <u64>maxSubscriptions * SUB_BYTES + align) & ~align;
  const cursorBlock = (<u64>maxSubscriptions * CURSOR_BYTES + align) & ~align;
  const end = tables + 2 * table + <u64>threads * cursorBlock;
  if (end > <u64>ARENA_MAX_BYTES) return ROUTER_BYTES_TOO_LARGE;
  return <u32>end;
}

// @ts-ignore: decorator
@inline function subsOffset(threads: u32): u32 {
  return alignStructure(ROUTER_EPOCHS_OFFSET + threads * ROUTER_EPOCH_STRIDE);
}
// @ts-ignore: decorator
@inline function tableBytes(maxTopics: u32, maxSubscriptions: u32): u32 {
  return alignStructure(maxTopics * TOPIC_ENTRY_BYTES + maxSubscriptions * (GROUP_ENTRY_BYTES + MEMBER_ENTRY_BYTES));
}
// @ts-ignore: decorator
@inline function cursorBlockBytes(maxSubscriptions: u32): u32 {
  return alignStructure(maxSubscriptions * CURSOR_BYTES);
}
// @ts-ignore: decorator
@inline function tableAddress(router: usize, version: u32): usize {
  return router + load<u32>(router + ROUTER_TABLES_OFFSET_OFFSET) + <usize>(version & 1) * load<u32>(router + ROUTER_TABLE_BYTES_OFFSET);
}
// @ts-ignore: decorator
@inline function epochAddress(router: usize, thread: u32): usize {
  return router + ROUTER_EPOCHS_OFFSET + <usize>thread * ROUTER_EPOCH_STRIDE;
}

/** Zeroes the router, writes its config, VERSION = ROUTER_FIRST_VERSION, compiles the empty table. */
export function routerInit(router: usize, maxTopics: u32, maxSubscriptions: u32, threads: u32): void {
  const subs = subsOffset(threads);
  const table = tableBytes(maxTopics, maxSubscriptions);
  const tables = alignStructure(subs + maxSubscriptions * SUB_BYTES);
  const cursors = tables + 2 * table;
  memory.fill(router, 0, cursors + threads * cursorBlockBytes(maxSubscriptions));
  store<u32>(router + ROUTER_MAX_TOPICS_OFFSET, maxTopics);
  store<u32>(router + ROUTER_MAX_SUBSCRIPTIONS_OFFSET, maxSubscriptions);
  store<u32>(router + ROUTER_THREADS_OFFSET, threads);
  store<u32>(router + ROUTER_SUBS_OFFSET_OFFSET, subs);
  store<u32>(router + ROUTER_TABLES_OFFSET_OFFSET, tables);
  store<u32>(router + ROUTER_TABLE_BYTES_OFFSET, table);
  store<u32>(router + ROUTER_CURSORS_OFFSET_OFFSET, cursors);
  compile(router, tableAddress(router, ROUTER_FIRST_VERSION));
  atomic.store<u32>(router + ROUTER_VERSION_OFFSET, ROUTER_FIRST_VERSION);
}

/** Takes the writer lock: STATUS_OK, STATUS_BUSY (held), STATUS_INVALID (thread out of range). */
export function routerTryLock(router: usize, thread: u32): i32 {
  if (thread >= load<u32>(router + ROUTER_THREADS_OFFSET)) return STATUS_INVALID;
  return atomic.cmpxchg<u32>(router + ROUTER_WRITER_LOCK_OFFSET, 0, thread + 1) == 0 ? STATUS_OK : STATUS_BUSY;
}

/** Releases the writer lock held by `thread`: STATUS_OK, or STATUS_INVALID if it does not hold it. */
export function routerUnlock(router: usize, thread: u32): i32 {
  // The range check also keeps thread 0xFFFFFFFF (holder word 0) from "releasing" a free lock.
  if (thread >= load<u32>(router + ROUTER_THREADS_OFFSET)) return STATUS_INVALID;
  return atomic.cmpxchg<u32>(router + ROUTER_WRITER_LOCK_OFFSET, thread + 1, 0) == thread + 1 ? STATUS_OK : STATUS_INVALID;
}

/** Lock holder. Adds a subscription in the lowest free slot: its id, or -FULL / -INVALID. */
export function routerAddSubscription(router: usize, topic: u32, entry: u32, mode: u32, group: u32): i32 {
  if (DEBUG) assert(atomic.load<u32>(router + ROUTER_WRITER_LOCK_OFFSET) != 0, "routerAddSubscription without the writer lock");
  if (topic >= load<u32>(router + ROUTER_MAX_TOPICS_OFFSET)) return -STATUS_INVALID;
  if (mode != MODE_BROADCAST && mode != MODE_GROUP && mode != MODE_KEYED) return -STATUS_INVALID;
  const maxSubscriptions = load<u32>(router + ROUTER_MAX_SUBSCRIPTIONS_OFFSET);
  const subs = router + load<u32>(router + ROUTER_SUBS_OFFSET_OFFSET);
  for (let id: u32 = 0; id < maxSubscriptions; id++) {
    const sub = subs + <usize>id * SUB_BYTES;
    if (load<u32>(sub + SUB_MODE_OFFSET) != MODE_FREE) continue;
    store<u32>(sub + SUB_TOPIC_OFFSET, topic);
    store<u32>(sub + SUB_ROUTE_ENTRY_OFFSET, entry);
    store<u32>(sub + SUB_GROUP_OFFSET, mode == MODE_BROADCAST ? 0 : group);
    store<u32>(sub + SUB_MODE_OFFSET, mode);
    return <i32>id;
  }
  return -STATUS_FULL;
}

/** Lock holder. Frees subscription `id`: STATUS_OK, or STATUS_INVALID (out of range or free). */
export function routerRemoveSubscription(router: usize, id: u32): i32 {
  if (DEBUG) assert(atomic.load<u32>(router + ROUTER_WRITER_LOCK_OFFSET) != 0, "routerRemoveSubscription without the writer lock");
  if (id >= load<u32>(router + ROUTER_MAX_SUBSCRIPTIONS_OFFSET)) return STATUS_INVALID;
  const sub = router + load<u32>(router + ROUTER_SUBS_OFFSET_OFFSET) + <usize>id * SUB_BYTES;
  if (load<u32>(sub + SUB_MODE_OFFSET) == MODE_FREE) return STATUS_INVALID;
  memory.fill(sub, 0, SUB_BYTES);
  return STATUS_OK;
}

/**
 * Lock holder. Compiles the subscription list into the non-current buffer and publishes it with one
 * atomic store of VERSION + 1: STATUS_OK, or STATUS_BUSY (nothing changed) while some thread's
 * EPOCH is neither 0 nor VERSION. In a steady state that is exactly "EPOCH == VERSION - 1" (a
 * reader of the buffer about to be overwritten); the wider test also refuses, harmlessly, during
 * the instant a reader in routerEnter has announced a stale version it is about to retry.
 */
export function routerTryPublish(router: usize): i32 {
  if (DEBUG) assert(atomic.load<u32>(router + ROUTER_WRITER_LOCK_OFFSET) != 0, "routerTryPublish without the writer lock");
  const version = atomic.load<u32>(router + ROUTER_VERSION_OFFSET);
  const threads = load<u32>(router + ROUTER_THREADS_OFFSET);
  for (let t: u32 = 0; t < threads; t++) {
    // Pairs with routerEnter's store of EPOCH followed by its re-load of VERSION: either we see
    // the reader's older epoch here, or the reader's re-load sees a newer VERSION and retries.
    const epoch = atomic.load<u32>(epochAddress(router, t));
    if (epoch != 0 && epoch != version) return STATUS_BUSY;
  }
  // 0 means "idle" in EPOCH, so VERSION skips it when it wraps (2 keeps the buffer parity).
  const next = version + 1 == 0 ? 2 : version + 1;
  compile(router, tableAddress(router, next));
  // Publishes the compiled table: pairs with routerEnter's atomic loads of VERSION.
  atomic.store<u32>(router + ROUTER_VERSION_OFFSET, next);
  return STATUS_OK;
}

/** Reader. Announces and returns the version `thread` reads; -STATUS_INVALID for a bad thread. */
export function routerEnter(router: usize, thread: u32): i32 {
  if (thread >= load<u32>(router + ROUTER_THREADS_OFFSET)) return -STATUS_INVALID;
  const epoch = epochAddress(router, thread);
  while (true) {
    const version = atomic.load<u32>(router + ROUTER_VERSION_OFFSET);
    atomic.store<u32>(epoch, version);
    // Confirms the announcement (see routerTryPublish): retry if a publish slipped in between.
    if (atomic.load<u32>(router + ROUTER_VERSION_OFFSET) == version) return <i32>version;
  }
}

/** Reader. `thread` no longer reads any table. */
export function routerLeave(router: usize, thread: u32): void {
  if (thread >= load<u32>(router + ROUTER_THREADS_OFFSET)) return;
  atomic.store<u32>(epochAddress(router, thread), 0);
}

/**
 * Reader `thread`, between routerEnter and routerLeave. Writes the route entries receiving a message of
 * `topic` as u32s at `out` (4-byte aligned, room for MAX_SUBSCRIPTIONS) in group order and returns
 * their count, or -STATUS_INVALID for a bad topic or thread (nothing written). A broadcast group
 * or a group of one yields its member; MODE_KEYED yields member keyHash % count; MODE_GROUP yields
 * member cursor % count and stores the cursor back already wrapped (so it never overflows and a
 * rebuilt table that shrank a group still reads in range).
 */
export function routerRoute(router: usize, thread: u32, topic: u32, keyHash: u32, out: usize): i32 {
  const maxTopics = load<u32>(router + ROUTER_MAX_TOPICS_OFFSET);
  if (topic >= maxTopics || thread >= load<u32>(router + ROUTER_THREADS_OFFSET)) return -STATUS_INVALID;
  // Own word: the version this thread announced in routerEnter.
  const version = load<u32>(epochAddress(router, thread));
  if (DEBUG) assert(version != 0, "routerRoute outside routerEnter/routerLeave");
  const table = tableAddress(router, version);
  const entry = table + <usize>topic * TOPIC_ENTRY_BYTES;
  const first = load<u32>(entry + TOPIC_FIRST_GROUP_OFFSET);
  const count = load<u32>(entry + TOPIC_GROUP_COUNT_OFFSET);
  const maxSubscriptions = load<u32>(router + ROUTER_MAX_SUBSCRIPTIONS_OFFSET);
  const groups = table + <usize>maxTopics * TOPIC_ENTRY_BYTES;
  const members = groups + <usize>maxSubscriptions * GROUP_ENTRY_BYTES;
  const cursors = router + load<u32>(router + ROUTER_CURSORS_OFFSET_OFFSET) + <usize>thread * cursorBlockBytes(maxSubscriptions);
  for (let i: u32 = 0; i < count; i++) {
    const g = first + i;
    const group = groups + <usize>g * GROUP_ENTRY_BYTES;
    const memberCount = load<u32>(group + GROUP_MEMBER_COUNT_OFFSET);
    const mode = load<u32>(group + GROUP_MODE_OFFSET);
    let pick: u32 = 0;
    if (memberCount > 1) {
      if (mode == MODE_KEYED) {
        pick = keyHash % memberCount;
      } else if (mode == MODE_GROUP) {
        const cursor = cursors + <usize>g * CURSOR_BYTES;
        const position = load<u32>(cursor);
        pick = position < memberCount ? position : position % memberCount;
        store<u32>(cursor, pick + 1 == memberCount ? 0 : pick + 1);
      }
    }
    store<u32>(out + <usize>i * LANE_BYTES, load<u32>(members + <usize>(load<u32>(group + GROUP_FIRST_MEMBER_OFFSET) + pick) * MEMBER_ENTRY_BYTES));
  }
  return <i32>count;
}

/** Any thread. The current VERSION (may be late). */
export function routerVersion(router: usize): u32 {
  return atomic.load<u32>(router + ROUTER_VERSION_OFFSET);
}

/** Any thread. Delivery groups of `topic` in the current table (may be late); 0 if out of range. */
export function routerGroupCount(router: usize, topic: u32): u32 {
  if (topic >= load<u32>(router + ROUTER_MAX_TOPICS_OFFSET)) return 0;
  const table = tableAddress(router, atomic.load<u32>(router + ROUTER_VERSION_OFFSET));
  return load<u32>(table + <usize>topic * TOPIC_ENTRY_BYTES + TOPIC_GROUP_COUNT_OFFSET);
}

/**
 * Compiles the subscription list into the table buffer at `table`: every byte is written, unused
 * topic, group and member entries are 0, and an empty topic has FIRST_GROUP 0. GROUP_KEY is the
 * subscriptions' SUB_GROUP, or for a broadcast group (always of one) its route entry.
 * 1. count subscriptions per topic (in GROUP_COUNT, as scratch); 2. prefix sums give each topic's
 * member range (in FIRST_GROUP, as scratch); 3. place subscription ids into those ranges in slot
 * order; 4. per topic, stable in-place grouping of equal (mode, key) into contiguous members, then
 * ids → route entries, and the topic entry gets its real FIRST_GROUP / GROUP_COUNT.
 */
function compile(router: usize, table: usize): void {
  const maxTopics = load<u32>(router + ROUTER_MAX_TOPICS_OFFSET);
  const maxSubscriptions = load<u32>(router + ROUTER_MAX_SUBSCRIPTIONS_OFFSET);
  const subs = router + load<u32>(router + ROUTER_SUBS_OFFSET_OFFSET);
  const groups = table + <usize>maxTopics * TOPIC_ENTRY_BYTES;
  const members = groups + <usize>maxSubscriptions * GROUP_ENTRY_BYTES;
  memory.fill(table, 0, load<u32>(router + ROUTER_TABLE_BYTES_OFFSET));

  for (let id: u32 = 0; id < maxSubscriptions; id++) {
    const sub = subs + <usize>id * SUB_BYTES;
    if (load<u32>(sub + SUB_MODE_OFFSET) == MODE_FREE) continue;
    const entry = table + <usize>load<u32>(sub + SUB_TOPIC_OFFSET) * TOPIC_ENTRY_BYTES;
    store<u32>(entry + TOPIC_GROUP_COUNT_OFFSET, load<u32>(entry + TOPIC_GROUP_COUNT_OFFSET) + 1);
  }
  let running: u32 = 0;
  for (let t: u32 = 0; t < maxTopics; t++) {
    const entry = table + <usize>t * TOPIC_ENTRY_BYTES;
    const n = load<u32>(entry + TOPIC_GROUP_COUNT_OFFSET);
    store<u32>(entry + TOPIC_FIRST_GROUP_OFFSET, running);
    store<u32>(entry + TOPIC_GROUP_COUNT_OFFSET, 0);
    running += n;
  }
  for (let id: u32 = 0; id < maxSubscriptions; id++) {
    const sub = subs + <usize>id * SUB_BYTES;
    if (load<u32>(sub + SUB_MODE_OFFSET) == MODE_FREE) continue;
    const entry = table + <usize>load<u32>(sub + SUB_TOPIC_OFFSET) * TOPIC_ENTRY_BYTES;
    const placed = load<u32>(entry + TOPIC_GROUP_COUNT_OFFSET);
    store<u32>(members + <usize>(load<u32>(entry + TOPIC_FIRST_GROUP_OFFSET) + placed) * MEMBER_ENTRY_BYTES, id);
    store<u32>(entry + TOPIC_GROUP_COUNT_OFFSET, placed + 1);
  }

  let groupCount: u32 = 0;
  for (let t: u32 = 0; t < maxTopics; t++) {
    const entry = table + <usize>t * TOPIC_ENTRY_BYTES;
    const start = load<u32>(entry + TOPIC_FIRST_GROUP_OFFSET);
    const n = load<u32>(entry + TOPIC_GROUP_COUNT_OFFSET);
    const topicFirstGroup = groupCount;
    for (let i: u32 = 0; i < n; i++) {
      const id = load<u32>(members + <usize>(start + i) * MEMBER_ENTRY_BYTES);
      const sub = subs + <usize>id * SUB_BYTES;
      const mode = load<u32>(sub + SUB_MODE_OFFSET);
      const key = mode == MODE_BROADCAST ? load<u32>(sub + SUB_ROUTE_ENTRY_OFFSET) : load<u32>(sub + SUB_GROUP_OFFSET);
      let match: u32 = groupCount;
      if (mode != MODE_BROADCAST) {
        for (let g = topicFirstGroup; g < groupCount; g++) {
          const group = groups + <usize>g * GROUP_ENTRY_BYTES;
          if (load<u32>(group + GROUP_MODE_OFFSET) == mode && load<u32>(group + GROUP_KEY_OFFSET) == key) {
            match = g;
            break;
          }
        }
      }
      if (match == groupCount) {
        // A new group: its first member already sits at the end of the arranged prefix.
        const group = groups + <usize>groupCount * GROUP_ENTRY_BYTES;
        store<u32>(group + GROUP_MODE_OFFSET, mode);
        store<u32>(group + GROUP_MEMBER_COUNT_OFFSET, 1);
        store<u32>(group + GROUP_FIRST_MEMBER_OFFSET, start + i);
        store<u32>(group + GROUP_KEY_OFFSET, key);
        groupCount++;
      } else {
        // Join group `match`: shift the later groups' members right by one to keep it contiguous.
        const group = groups + <usize>match * GROUP_ENTRY_BYTES;
        const memberCount = load<u32>(group + GROUP_MEMBER_COUNT_OFFSET);
        const at = load<u32>(group + GROUP_FIRST_MEMBER_OFFSET) + memberCount;
        const from = members + <usize>at * MEMBER_ENTRY_BYTES;
        memory.copy(from + MEMBER_ENTRY_BYTES, from, <usize>(start + i - at) * MEMBER_ENTRY_BYTES);
        store<u32>(from, id);
        store<u32>(group + GROUP_MEMBER_COUNT_OFFSET, memberCount + 1);
        for (let g = match + 1; g < groupCount; g++) {
          const later = groups + <usize>g * GROUP_ENTRY_BYTES;
          store<u32>(later + GROUP_FIRST_MEMBER_OFFSET, load<u32>(later + GROUP_FIRST_MEMBER_OFFSET) + 1);
        }
      }
    }
    for (let i: u32 = 0; i < n; i++) {
      const member = members + <usize>(start + i) * MEMBER_ENTRY_BYTES;
      store<u32>(member, load<u32>(subs + <usize>load<u32>(member) * SUB_BYTES + SUB_ROUTE_ENTRY_OFFSET));
    }
    store<u32>(entry + TOPIC_FIRST_GROUP_OFFSET, n == 0 ? 0 : topicFirstGroup);
    store<u32>(entry + TOPIC_GROUP_COUNT_OFFSET, groupCount - topicFirstGroup);
  }
}
