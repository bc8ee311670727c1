/**
 * Routing table, TypeScript twin of assembly/router.ts: read-copy-update over two table buffers
 * with per-thread epochs, and the same deterministic compilation, byte for byte.
 *
 * Layout: assembly/layout/router.ts. Contract: bindings/core-ops.ts. Returns are the i32 values
 * the Wasm exports return; u32 comparisons use `>>> 0`. Words are read through the i32 view, so
 * routerRoute's `out` must be 4-byte aligned (as the contract's "u32s at out" implies). The Wasm
 * debug build's assertions (writer lock held for list edits, routerRoute only between enter and
 * leave) are preconditions here too; the twin does not check them.
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
} from '../../assembly/layout/router.ts';
import { ARENA_MAX_BYTES, STRUCTURE_ALIGN } from '../../assembly/layout/arena.ts';
import { STATUS_BUSY, STATUS_FULL, STATUS_INVALID, STATUS_OK } from '../../assembly/layout/status.ts';
import type { CoreOps } from '../core-ops.ts';
import { alignStructure } from './common.ts';
import type { MemoryViews } from './views.ts';

export type RouterOps = Pick<CoreOps, 'routerBytes' | 'routerInit' | 'routerTryLock' | 'routerUnlock' | 'routerAddSubscription' | 'routerRemoveSubscription' | 'routerTryPublish' | 'routerEnter' | 'routerLeave' | 'routerRoute' | 'routerVersion' | 'routerGroupCount'>;

/** routerBytes' answer when the router could not fit any arena (as in assembly/router.ts). */
const ROUTER_BYTES_TOO_LARGE = 0x7fffffff;
/** One round-robin cursor (u32), and one route entry written at routerRoute's `out` (u32). */
const CURSOR_BYTES = 4;
const LANE_BYTES = 4;
const subsOffset = (threads: number): number => alignStructure(ROUTER_EPOCHS_OFFSET + threads * ROUTER_EPOCH_STRIDE);
const tableBytes = (maxTopics: number, maxSubscriptions: number): number =>
  alignStructure(maxTopics * TOPIC_ENTRY_BYTES + maxSubscriptions * (GROUP_ENTRY_BYTES + MEMBER_ENTRY_BYTES));
const cursorBlockBytes = (maxSubscriptions: number): number => alignStructure(maxSubscriptions * CURSOR_BYTES);
/** Rounds up to STRUCTURE_ALIGN without 32-bit wrap-around (routerBytes takes any u32). */
const alignWide = (value: number): number => Math.ceil(value / STRUCTURE_ALIGN) * STRUCTURE_ALIGN;
const epochIndex = (router: number, thread: number): number => (router + ROUTER_EPOCHS_OFFSET + thread * ROUTER_EPOCH_STRIDE) >> 2;

/** The router's CoreOps over `views`: closures made once, nothing allocated per call. */
export function createJsRouter({ u8, i32 }: MemoryViews): RouterOps {
  const word = (address: number): number => i32[address >> 2]!;
  const setWord = (address: number, value: number): void => {
    i32[address >> 2] = value;
  };
  const tableAddress = (router: number, version: number): number =>
    router + word(router + ROUTER_TABLES_OFFSET_OFFSET) + (version & 1) * word(router + ROUTER_TABLE_BYTES_OFFSET);
  const threadsOf = (router: number): number => word(router + ROUTER_THREADS_OFFSET);
  const versionIndex = (router: number): number => (router + ROUTER_VERSION_OFFSET) >> 2;

  /** Same four passes as assembly/router.ts compile(). */
  const compile = (router: number, table: number): void => {
    const maxTopics = word(router + ROUTER_MAX_TOPICS_OFFSET);
    const maxSubscriptions = word(router + ROUTER_MAX_SUBSCRIPTIONS_OFFSET);
    const subs = router + word(router + ROUTER_SUBS_OFFSET_OFFSET);
    const groups = table + maxTopics * TOPIC_ENTRY_BYTES;
    const members = groups + maxSubscriptions * GROUP_ENTRY_BYTES;
    u8.fill(0, table, table + word(router + ROUTER_TABLE_BYTES_OFFSET));

    for (let id = 0; id < maxSubscriptions; id++) {
      const sub = subs + id * SUB_BYTES;
      if (word(sub + SUB_MODE_OFFSET) === MODE_FREE) continue;
      const entry = table + word(sub + SUB_TOPIC_OFFSET) * TOPIC_ENTRY_BYTES;
      setWord(entry + TOPIC_GROUP_COUNT_OFFSET, word(entry + TOPIC_GROUP_COUNT_OFFSET) + 1);
    }
    let running = 0;
    for (let t = 0; t < maxTopics; t++) {
      const entry = table + t * TOPIC_ENTRY_BYTES;
      const n = word(entry + TOPIC_GROUP_COUNT_OFFSET);
      setWord(entry + TOPIC_FIRST_GROUP_OFFSET, running);
      setWord(entry + TOPIC_GROUP_COUNT_OFFSET, 0);
      running += n;
    }
    for (let id = 0; id < maxSubscriptions; id++) {
      const sub = subs + id * SUB_BYTES;
      if (word(sub + SUB_MODE_OFFSET) === MODE_FREE) continue;
      const entry = table + word(sub + SUB_TOPIC_OFFSET) * TOPIC_ENTRY_BYTES;
      const placed = word(entry + TOPIC_GROUP_COUNT_OFFSET);
      setWord(members + (word(entry + TOPIC_FIRST_GROUP_OFFSET) + placed) * MEMBER_ENTRY_BYTES, id);
      setWord(entry + TOPIC_GROUP_COUNT_OFFSET, placed + 1);
    }

    let groupCount = 0;
    for (let t = 0; t < maxTopics; t++) {
      const entry = table + t * TOPIC_ENTRY_BYTES;
      const start = word(entry + TOPIC_FIRST_GROUP_OFFSET);
      const n = word(entry + TOPIC_GROUP_COUNT_OFFSET);
      const topicFirstGroup = groupCount;
      for (let i = 0; i < n; i++) {
        const id = word(members + (start + i) * MEMBER_ENTRY_BYTES);
        const sub = subs + id * SUB_BYTES;
        const mode = word(sub + SUB_MODE_OFFSET);
        const key = mode === MODE_BROADCAST ? word(sub + SUB_ROUTE_ENTRY_OFFSET) : word(sub + SUB_GROUP_OFFSET);
        let match = groupCount;
        if (mode !== MODE_BROADCAST) {
          for (let g = topicFirstGroup; g < groupCount; g++) {
            const group = groups + g * GROUP_ENTRY_BYTES;
            if (word(group + GROUP_MODE_OFFSET) === mode && word(group + GROUP_KEY_OFFSET) === key) {
              match = g;
              break;
            }
          }
        }
        if (match === groupCount) {
          const group = groups + groupCount * GROUP_ENTRY_BYTES;
          setWord(group + GROUP_MODE_OFFSET, mode);
          setWord(group + GROUP_MEMBER_COUNT_OFFSET, 1);
          setWord(group + GROUP_FIRST_MEMBER_OFFSET, start + i);
          setWord(group + GROUP_KEY_OFFSET, key);
          groupCount++;
        } else {
          const group = groups + match * GROUP_ENTRY_BYTES;
          const memberCount = word(group + GROUP_MEMBER_COUNT_OFFSET);
          const at = word(group + GROUP_FIRST_MEMBER_OFFSET) + memberCount;
          const from = members + at * MEMBER_ENTRY_BYTES;
          u8.copyWithin(from + MEMBER_ENTRY_BYTES, from, from + (start + i - at) * MEMBER_ENTRY_BYTES);
          setWord(from, id);
          setWord(group + GROUP_MEMBER_COUNT_OFFSET, memberCount + 1);
          for (let g = match + 1; g < groupCount; g++) {
            const later = groups + g * GROUP_ENTRY_BYTES;
            setWord(later + GROUP_FIRST_MEMBER_OFFSET, word(later + GROUP_FIRST_MEMBER_OFFSET) + 1);
          }
        }
      }
      for (let i = 0; i < n; i++) {
        const member = members + (start + i) * MEMBER_ENTRY_BYTES;
        setWord(member, word(subs + word(member) * SUB_BYTES + SUB_ROUTE_ENTRY_OFFSET));
      }
      setWord(entry + TOPIC_FIRST_GROUP_OFFSET, n === 0 ? 0 : topicFirstGroup);
      setWord(entry + TOPIC_GROUP_COUNT_OFFSET, groupCount - topicFirstGroup);
    }
  };

  return {
    routerBytes(maxTopicsArg, maxSubscriptionsArg, threadsArg) {
      // u32 arguments as the Wasm export sees them; exact arithmetic (doubles), like its u64.
      const maxTopics = maxTopicsArg >>> 0;
      const maxSubscriptions = maxSubscriptionsArg >>> 0;
      const threads = threadsArg >>> 0;
      const subs = alignWide(ROUTER_EPOCHS_OFFSET + threads * ROUTER_EPOCH_STRIDE);
      const table = alignWide(maxTopics * TOPIC_ENTRY_BYTES + maxSubscriptions * (GROUP_ENTRY_BYTES + MEMBER_ENTRY_BYTES));
      const tables = alignWide(subs + maxSubscriptions * SUB_BYTES);
      const end = tables + 2 * table + threads * alignWide(maxSubscriptions * CURSOR_BYTES);
      return end > ARENA_MAX_BYTES ? ROUTER_BYTES_TOO_LARGE : end;
    },

    routerInit(router, maxTopics, maxSubscriptions, threads) {
      const subs = subsOffset(threads);
      const table = tableBytes(maxTopics, maxSubscriptions);
      const tables = alignStructure(subs + maxSubscriptions * SUB_BYTES);
      const cursors = tables + 2 * table;
      u8.fill(0, router, router + cursors + threads * cursorBlockBytes(maxSubscriptions));
      setWord(router + ROUTER_MAX_TOPICS_OFFSET, maxTopics);
      setWord(router + ROUTER_MAX_SUBSCRIPTIONS_OFFSET, maxSubscriptions);
      setWord(router + ROUTER_THREADS_OFFSET, threads);
      setWord(router + ROUTER_SUBS_OFFSET_OFFSET, subs);
      setWord(router + ROUTER_TABLES_OFFSET_OFFSET, tables);
      setWord(router + ROUTER_TABLE_BYTES_OFFSET, table);
      setWord(router + ROUTER_CURSORS_OFFSET_OFFSET, cursors);
      compile(router, tableAddress(router, ROUTER_FIRST_VERSION));
      Atomics.store(i32, versionIndex(router), ROUTER_FIRST_VERSION);
    },

    routerTryLock(router, thread) {
      if (thread >>> 0 >= threadsOf(router)) return STATUS_INVALID;
      return Atomics.compareExchange(i32, (router + ROUTER_WRITER_LOCK_OFFSET) >> 2, 0, thread + 1) === 0 ? STATUS_OK : STATUS_BUSY;
    },

    routerUnlock(router, thread) {
      // The range check also keeps thread -1 (holder word 0) from "releasing" a free lock.
      if (thread >>> 0 >= threadsOf(router)) return STATUS_INVALID;
      const holder = (thread + 1) | 0;
      return Atomics.compareExchange(i32, (router + ROUTER_WRITER_LOCK_OFFSET) >> 2, holder, 0) === holder ? STATUS_OK : STATUS_INVALID;
    },

    routerAddSubscription(router, topic, entry, mode, group) {
      if (topic >>> 0 >= word(router + ROUTER_MAX_TOPICS_OFFSET)) return -STATUS_INVALID;
      if (mode !== MODE_BROADCAST && mode !== MODE_GROUP && mode !== MODE_KEYED) return -STATUS_INVALID;
      const maxSubscriptions = word(router + ROUTER_MAX_SUBSCRIPTIONS_OFFSET);
      const subs = router + word(router + ROUTER_SUBS_OFFSET_OFFSET);
      for (let id = 0; id < maxSubscriptions; id++) {
        const sub = subs + id * SUB_BYTES;
        if (word(sub + SUB_MODE_OFFSET) !== MODE_FREE) continue;
        setWord(sub + SUB_TOPIC_OFFSET, topic);
        setWord(sub + SUB_ROUTE_ENTRY_OFFSET, entry);
        setWord(sub + SUB_GROUP_OFFSET, mode === MODE_BROADCAST ? 0 : group);
        setWord(sub + SUB_MODE_OFFSET, mode);
        return id;
      }
      return -STATUS_FULL;
    },

    routerRemoveSubscription(router, id) {
      if (id >>> 0 >= word(router + ROUTER_MAX_SUBSCRIPTIONS_OFFSET)) return STATUS_INVALID;
      const sub = router + word(router + ROUTER_SUBS_OFFSET_OFFSET) + id * SUB_BYTES;
      if (word(sub + SUB_MODE_OFFSET) === MODE_FREE) return STATUS_INVALID;
      u8.fill(0, sub, sub + SUB_BYTES);
      return STATUS_OK;
    },

    routerTryPublish(router) {
      const version = Atomics.load(i32, versionIndex(router));
      const threads = threadsOf(router);
      for (let t = 0; t < threads; t++) {
        // Pairs with routerEnter's store of EPOCH followed by its re-load of VERSION.
        const epoch = Atomics.load(i32, epochIndex(router, t));
        if (epoch !== 0 && epoch !== version) return STATUS_BUSY;
      }
      // 0 means "idle" in EPOCH, so VERSION skips it when it wraps (2 keeps the buffer parity).
      const next = version === -1 ? 2 : version + 1;
      compile(router, tableAddress(router, next));
      // Publishes the compiled table: pairs with routerEnter's Atomics.load of VERSION.
      Atomics.store(i32, versionIndex(router), next);
      return STATUS_OK;
    },

    routerEnter(router, thread) {
      if (thread >>> 0 >= threadsOf(router)) return -STATUS_INVALID;
      const epoch = epochIndex(router, thread);
      const version = versionIndex(router);
      for (;;) {
        const seen = Atomics.load(i32, version);
        Atomics.store(i32, epoch, seen);
        // Confirms the announcement (see routerTryPublish): retry if a publish slipped in.
        if (Atomics.load(i32, version) === seen) return seen;
      }
    },

    routerLeave(router, thread) {
      if (thread >>> 0 >= threadsOf(router)) return;
      Atomics.store(i32, epochIndex(router, thread), 0);
    },

    routerRoute(router, thread, topic, keyHash, out) {
      const maxTopics = word(router + ROUTER_MAX_TOPICS_OFFSET);
      if (topic >>> 0 >= maxTopics || thread >>> 0 >= threadsOf(router)) return -STATUS_INVALID;
      // Own word: the version this thread announced in routerEnter.
      const table = tableAddress(router, i32[epochIndex(router, thread)]!);
      const entry = table + topic * TOPIC_ENTRY_BYTES;
      const first = word(entry + TOPIC_FIRST_GROUP_OFFSET);
      const count = word(entry + TOPIC_GROUP_COUNT_OFFSET);
      const maxSubscriptions = word(router + ROUTER_MAX_SUBSCRIPTIONS_OFFSET);
      const groups = table + maxTopics * TOPIC_ENTRY_BYTES;
      const members = groups + maxSubscriptions * GROUP_ENTRY_BYTES;
      const cursors = router + word(router + ROUTER_CURSORS_OFFSET_OFFSET) + thread * cursorBlockBytes(maxSubscriptions);
      for (let i = 0; i < count; i++) {
        const g = first + i;
        const group = groups + g * GROUP_ENTRY_BYTES;
        const memberCount = word(group + GROUP_MEMBER_COUNT_OFFSET);
        const mode = word(group + GROUP_MODE_OFFSET);
        let pick = 0;
        if (memberCount > 1) {
          if (mode === MODE_KEYED) {
            pick = (keyHash >>> 0) % memberCount;
          } else if (mode === MODE_GROUP) {
            const cursor = cursors + g * CURSOR_BYTES;
            const position = word(cursor) >>> 0;
            pick = position < memberCount ? position : position % memberCount;
            setWord(cursor, pick + 1 === memberCount ? 0 : pick + 1);
          }
        }
        setWord(out + i * LANE_BYTES, word(members + (word(group + GROUP_FIRST_MEMBER_OFFSET) + pick) * MEMBER_ENTRY_BYTES));
      }
      return count;
    },

    routerVersion(router) {
      return Atomics.load(i32, versionIndex(router));
    },

    routerGroupCount(router, topic) {
      if (topic >>> 0 >= word(router + ROUTER_MAX_TOPICS_OFFSET)) return 0;
      const table = tableAddress(router, Atomics.load(i32, versionIndex(router)));
      return word(table + topic * TOPIC_ENTRY_BYTES + TOPIC_GROUP_COUNT_OFFSET);
    },
  };
}
