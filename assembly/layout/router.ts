/**
 * Routing table layout: topic id → delivery groups → route entries, double-buffered and
 * versioned so subscriptions change while messages flow.
 *
 * Algorithm: read-copy-update with per-thread epochs. The writer (whoever changes subscriptions,
 * holding WRITER_LOCK) edits the subscription list, compiles it into the table buffer that is NOT
 * current, and makes it current with one atomic store of VERSION (table buffer = VERSION & 1).
 * A reader announces the version it reads in its own EPOCH word (store, then re-load VERSION to
 * confirm; retry if it moved) and clears it to 0 when done. The writer may overwrite buffer
 * (VERSION + 1) & 1 only when no thread's EPOCH equals VERSION - 1; otherwise it gets STATUS_BUSY
 * and retries later. All words involved are seq-cst atomics, so either the writer sees a reader's
 * epoch or that reader's confirming re-load sees the new VERSION.
 *
 *   router
 *   ┌────────┬──────────┬─────────────────┬──────────────────┬──────────────┬──────────────┬──────────┐
 *   │ config │ version, │ epochs: one word│ subscriptions    │ table 0      │ table 1      │ cursors  │
 *   │ (r/o)  │ lock     │ per thread, each│ MAX_SUBS × 16    │ (compiled)   │ (compiled)   │ per      │
 *   │        │          │ on its own lines│ (source of truth)│              │              │ thread   │
 *   └────────┴──────────┴─────────────────┴──────────────────┴──────────────┴──────────────┴──────────┘
 *   0        128        256               SUBS_OFFSET        TABLES_OFFSET  +TABLE_BYTES   CURSORS_OFFSET
 *
 * | offset            | field            | writer            | readers   | access |
 * |-------------------|------------------|-------------------|-----------|--------|
 * | 0                 | MAX_TOPICS       | init              | all       | plain  |
 * | 4                 | MAX_SUBSCRIPTIONS| init              | all       | plain  |
 * | 8                 | THREADS          | init              | all       | plain  |
 * | 12                | SUBS_OFFSET      | init              | all       | plain  | relative to router
 * | 16                | TABLES_OFFSET    | init              | all       | plain  | relative
 * | 20                | TABLE_BYTES      | init              | all       | plain  | one table buffer
 * | 24                | CURSORS_OFFSET   | init              | all       | plain  | relative
 * | 128               | VERSION          | lock holder       | all       | atomic | starts at 1; 0 = "none"
 * | 132               | WRITER_LOCK      | any thread (CAS)  | all       | atomic | 0 free, else thread+1
 * | 256 + 128·t       | EPOCH[t]         | thread t          | writer    | atomic | version t reads, 0 idle
 * | SUBS + 16·s       | subscription s   | lock holder       | lock hold.| plain  | MODE, TOPIC, ROUTE_ENTRY, GROUP
 * | TABLES + TB·b     | table buffer b   | lock holder       | readers   | plain  | published by VERSION
 * | CURSORS + CB·t    | cursor[t][g]     | thread t          | thread t  | plain  | round-robin positions
 *
 * Subscription record (16 bytes): SUB_MODE (0 = free slot, else MODE_*), SUB_TOPIC, SUB_ROUTE_ENTRY
 * (the u32 routerRoute writes for this member: the engine's route entry, assembly/layout/dispatch.ts),
 * SUB_GROUP (group key; ignored for broadcast).
 *
 * Table buffer (TABLE_BYTES, compiled deterministically from the subscription list, so both
 * backends produce the same bytes):
 *   topics:  MAX_TOPICS × 8        { FIRST_GROUP u32, GROUP_COUNT u32 }
 *   groups:  MAX_SUBSCRIPTIONS × 16 { MODE u32, MEMBER_COUNT u32, FIRST_MEMBER u32, GROUP_KEY u32 }
 *   members: MAX_SUBSCRIPTIONS × 4  { ROUTE_ENTRY u32 }
 * Groups of a topic are contiguous; members of a group are contiguous. Compilation order: topics
 * ascending; within a topic, groups in order of their first subscription's slot; within a group,
 * members in slot order. A broadcast subscription is a group of one; group and keyed
 * subscriptions with equal (topic, mode, group key) form one group.
 *
 * Cursors: per thread, MAX_SUBSCRIPTIONS u32 round-robin positions indexed by group index in the
 * current table (a rebuild may reset fairness, never correctness). Each thread's block is padded
 * to FALSE_SHARING_STRIDE.
 */
import { FALSE_SHARING_STRIDE } from "./arena.ts";

export const ROUTER_MAX_TOPICS_OFFSET = 0;
export const ROUTER_MAX_SUBSCRIPTIONS_OFFSET = ROUTER_MAX_TOPICS_OFFSET + 4;
export const ROUTER_THREADS_OFFSET = ROUTER_MAX_SUBSCRIPTIONS_OFFSET + 4;
export const ROUTER_SUBS_OFFSET_OFFSET = ROUTER_THREADS_OFFSET + 4;
export const ROUTER_TABLES_OFFSET_OFFSET = ROUTER_SUBS_OFFSET_OFFSET + 4;
export const ROUTER_TABLE_BYTES_OFFSET = ROUTER_TABLES_OFFSET_OFFSET + 4;
export const ROUTER_CURSORS_OFFSET_OFFSET = ROUTER_TABLE_BYTES_OFFSET + 4;

export const ROUTER_VERSION_OFFSET = FALSE_SHARING_STRIDE;
export const ROUTER_WRITER_LOCK_OFFSET = ROUTER_VERSION_OFFSET + 4;
export const ROUTER_EPOCHS_OFFSET = ROUTER_VERSION_OFFSET + FALSE_SHARING_STRIDE;
export const ROUTER_EPOCH_STRIDE = FALSE_SHARING_STRIDE;
export const ROUTER_FIRST_VERSION = 1;

export const SUB_MODE_OFFSET = 0;
export const SUB_TOPIC_OFFSET = SUB_MODE_OFFSET + 4;
export const SUB_ROUTE_ENTRY_OFFSET = SUB_TOPIC_OFFSET + 4;
export const SUB_GROUP_OFFSET = SUB_ROUTE_ENTRY_OFFSET + 4;
export const SUB_BYTES = SUB_GROUP_OFFSET + 4;

export const MODE_FREE = 0;
export const MODE_BROADCAST = 1;
export const MODE_GROUP = 2;
export const MODE_KEYED = 3;

export const TOPIC_FIRST_GROUP_OFFSET = 0;
export const TOPIC_GROUP_COUNT_OFFSET = TOPIC_FIRST_GROUP_OFFSET + 4;
export const TOPIC_ENTRY_BYTES = TOPIC_GROUP_COUNT_OFFSET + 4;

export const GROUP_MODE_OFFSET = 0;
export const GROUP_MEMBER_COUNT_OFFSET = GROUP_MODE_OFFSET + 4;
export const GROUP_FIRST_MEMBER_OFFSET = GROUP_MEMBER_COUNT_OFFSET + 4;
export const GROUP_KEY_OFFSET = GROUP_FIRST_MEMBER_OFFSET + 4;
export const GROUP_ENTRY_BYTES = GROUP_KEY_OFFSET + 4;

export const MEMBER_ENTRY_BYTES = 4;

export const ROUTER_MAX_TOPIC_COUNT = 65536;
export const ROUTER_MAX_SUBSCRIPTION_COUNT = 65536;
