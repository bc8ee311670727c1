/**
 * Routing table (RCU over two compiled table buffers, per-thread epochs) on one thread: unit tests
 * on wasm and js; writer ops on one backend with reader ops on the other (all four pairs); a
 * fast-check model test against a plain subscription list and an independent compiler of the
 * table layout; and wasm/js conformance (same returns, same router bytes after every step).
 * Readers racing a writer across real threads: test/router-threads.test.ts.
 *
 * "Thread" here is the router's reader index: one JS thread can play several readers, which is
 * how a reader still holding the old buffer is simulated (routerEnter on thread 1, publishes from
 * thread 0).
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { ARENA_BASE, ARENA_MAX_BYTES, STRUCTURE_ALIGN } from '../assembly/layout/arena.ts';
import {
  GROUP_ENTRY_BYTES, GROUP_FIRST_MEMBER_OFFSET, GROUP_KEY_OFFSET, GROUP_MEMBER_COUNT_OFFSET, GROUP_MODE_OFFSET,
  MEMBER_ENTRY_BYTES, MODE_BROADCAST, MODE_FREE, MODE_GROUP, MODE_KEYED, ROUTER_CURSORS_OFFSET_OFFSET,
  ROUTER_EPOCHS_OFFSET, ROUTER_EPOCH_STRIDE, ROUTER_FIRST_VERSION, ROUTER_MAX_SUBSCRIPTIONS_OFFSET,
  ROUTER_MAX_TOPICS_OFFSET, ROUTER_SUBS_OFFSET_OFFSET, ROUTER_TABLES_OFFSET_OFFSET, ROUTER_TABLE_BYTES_OFFSET,
  ROUTER_THREADS_OFFSET, ROUTER_VERSION_OFFSET, ROUTER_WRITER_LOCK_OFFSET, SUB_BYTES, SUB_GROUP_OFFSET,
  SUB_ROUTE_ENTRY_OFFSET, SUB_MODE_OFFSET, SUB_TOPIC_OFFSET, TOPIC_ENTRY_BYTES, TOPIC_FIRST_GROUP_OFFSET,
  TOPIC_GROUP_COUNT_OFFSET,
} from '../assembly/layout/router.ts';
import { STATUS_BUSY, STATUS_FULL, STATUS_INVALID, STATUS_OK } from '../assembly/layout/status.ts';
import type { CoreOps } from '../bindings/core-ops.ts';
import type { ArenaConfig } from '../src/arena.ts';
import { BACKENDS, FC_RUNS, PAIRS, STRESS, bytesAt, newArena, pairName, type TestArena } from './harness.ts';

const THREADS = 3;
const CONFIG: ArenaConfig = {
  threads: THREADS,
  routers: [
    { maxTopics: 8, maxSubscriptions: 16 },
    { maxTopics: 2, maxSubscriptions: 4 },
    { maxTopics: 5, maxSubscriptions: 7 },
    { maxTopics: 5, maxSubscriptions: 7 },
  ],
  scratchBytes: 8192,
};
const ROUTER_MAIN = 0;
const ROUTER_SMALL = 1;
/** Two identical routers for the conformance run: one driven by wasm, one by js. */
const ROUTER_TWIN_A = 2;
const ROUTER_TWIN_B = 3;

const WRITER = 0;
const READER = 1;
const OTHER_READER = 2;

const alignStructure = (value: number): number => Math.ceil(value / STRUCTURE_ALIGN) * STRUCTURE_ALIGN;

/** The layout file's formula, computed independently of both backends (offsets relative). */
function planned(maxTopics: number, maxSubscriptions: number, threads: number) {
  const subs = alignStructure(ROUTER_EPOCHS_OFFSET + threads * ROUTER_EPOCH_STRIDE);
  const tableBytes = alignStructure(maxTopics * TOPIC_ENTRY_BYTES + maxSubscriptions * (GROUP_ENTRY_BYTES + MEMBER_ENTRY_BYTES));
  const tables = alignStructure(subs + maxSubscriptions * SUB_BYTES);
  const cursors = tables + 2 * tableBytes;
  const cursorBlock = alignStructure(maxSubscriptions * 4);
  return { subs, tables, tableBytes, cursors, cursorBlock, bytes: cursors + threads * cursorBlock };
}

interface Router {
  address: number;
  maxTopics: number;
  maxSubscriptions: number;
  layout: ReturnType<typeof planned>;
}

function routerOf(t: TestArena, index: number): Router {
  const { address, maxTopics, maxSubscriptions } = t.arena.router(index);
  return { address, maxTopics, maxSubscriptions, layout: planned(maxTopics, maxSubscriptions, THREADS) };
}

const word = (t: TestArena, address: number): number => t.views.u32[address >>> 2]!;
const routerBytes = (t: TestArena, r: Router): Uint8Array => bytesAt(t.views, r.address, r.layout.bytes);
const arenaBytes = (t: TestArena): Uint8Array => bytesAt(t.views, ARENA_BASE, t.arena.bytes - ARENA_BASE);
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;
const tableAt = (r: Router, version: number): number => r.address + r.layout.tables + (version & 1) * r.layout.tableBytes;
const tableBytesOf = (t: TestArena, r: Router, version: number): Uint8Array => bytesAt(t.views, tableAt(r, version), r.layout.tableBytes);

/** Route output area for `thread` (room for any router here). */
const outOf = (t: TestArena, thread: number): number => t.scratch(thread);

/** routerRoute's lanes as u32s, or its negative status. */
function route(t: TestArena, core: CoreOps, r: Router, thread: number, topic: number, keyHash = 0, out = outOf(t, thread)): number[] | number {
  const n = core.routerRoute(r.address, thread, topic, keyHash, out);
  if (n < 0) return n;
  return Array.from({ length: n }, (_, i) => word(t, out + i * 4));
}

/** One enter / route / leave on `thread`. */
function routeOnce(t: TestArena, core: CoreOps, r: Router, thread: number, topic: number, keyHash = 0): number[] | number {
  expect(core.routerEnter(r.address, thread)).toBeGreaterThanOrEqual(ROUTER_FIRST_VERSION);
  const lanes = route(t, core, r, thread, topic, keyHash);
  core.routerLeave(r.address, thread);
  return lanes;
}

interface Sub { topic: number; lane: number; mode: number; group: number }

/** Takes the lock, adds `subs`, publishes, releases: returns the ids. */
function subscribe(core: CoreOps, r: Router, subs: readonly Sub[]): number[] {
  expect(core.routerTryLock(r.address, WRITER)).toBe(STATUS_OK);
  const ids = subs.map((s) => core.routerAddSubscription(r.address, s.topic, s.lane, s.mode, s.group));
  for (const id of ids) expect(id).toBeGreaterThanOrEqual(0);
  expect(core.routerTryPublish(r.address)).toBe(STATUS_OK);
  expect(core.routerUnlock(r.address, WRITER)).toBe(STATUS_OK);
  return ids;
}

function unsubscribe(core: CoreOps, r: Router, ids: readonly number[]): void {
  expect(core.routerTryLock(r.address, WRITER)).toBe(STATUS_OK);
  for (const id of ids) expect(core.routerRemoveSubscription(r.address, id)).toBe(STATUS_OK);
  expect(core.routerTryPublish(r.address)).toBe(STATUS_OK);
  expect(core.routerUnlock(r.address, WRITER)).toBe(STATUS_OK);
}

const broadcast = (topic: number, lane: number): Sub => ({ topic, lane, mode: MODE_BROADCAST, group: 0 });
const grouped = (topic: number, lane: number, group: number): Sub => ({ topic, lane, mode: MODE_GROUP, group });
const keyed = (topic: number, lane: number, group: number): Sub => ({ topic, lane, mode: MODE_KEYED, group });

// ── reference model ─────────────────────────────────────────────────────────────────────────────

interface ModelGroup { mode: number; key: number; lanes: number[] }

/** The documented compilation order, written independently: per topic, groups by first slot. */
function compileModel(subs: readonly (Sub | null)[], maxTopics: number): ModelGroup[][] {
  const topics: ModelGroup[][] = Array.from({ length: maxTopics }, () => []);
  for (const sub of subs) {
    if (sub === null) continue;
    const groups = topics[sub.topic]!;
    const key = sub.mode === MODE_BROADCAST ? sub.lane >>> 0 : sub.group >>> 0;
    const found = sub.mode === MODE_BROADCAST ? undefined : groups.find((g) => g.mode === sub.mode && g.key === key);
    if (found) found.lanes.push(sub.lane >>> 0);
    else groups.push({ mode: sub.mode, key, lanes: [sub.lane >>> 0] });
  }
  return topics;
}

/** The table buffer's expected bytes for a compiled model (layout: assembly/layout/router.ts). */
function tableImage(topics: readonly ModelGroup[][], r: Router): Uint8Array {
  const image = new Uint8Array(r.layout.tableBytes);
  const dv = new DataView(image.buffer);
  const groupsAt = r.maxTopics * TOPIC_ENTRY_BYTES;
  const membersAt = groupsAt + r.maxSubscriptions * GROUP_ENTRY_BYTES;
  let g = 0;
  let m = 0;
  topics.forEach((groups, topic) => {
    dv.setUint32(topic * TOPIC_ENTRY_BYTES + TOPIC_FIRST_GROUP_OFFSET, groups.length === 0 ? 0 : g, true);
    dv.setUint32(topic * TOPIC_ENTRY_BYTES + TOPIC_GROUP_COUNT_OFFSET, groups.length, true);
    for (const group of groups) {
      const at = groupsAt + g * GROUP_ENTRY_BYTES;
      dv.setUint32(at + GROUP_MODE_OFFSET, group.mode, true);
      dv.setUint32(at + GROUP_MEMBER_COUNT_OFFSET, group.lanes.length, true);
      dv.setUint32(at + GROUP_FIRST_MEMBER_OFFSET, m, true);
      dv.setUint32(at + GROUP_KEY_OFFSET, group.key, true);
      for (const lane of group.lanes) dv.setUint32(membersAt + m++ * MEMBER_ENTRY_BYTES, lane, true);
      g++;
    }
  });
  return image;
}

/** Lanes `route` may return for a compiled topic: one per group, keyed exactly by the hash. */
function checkRoute(groups: readonly ModelGroup[], lanes: readonly number[], keyHash: number): string | null {
  if (lanes.length !== groups.length) return `${lanes.length} lanes for ${groups.length} groups`;
  for (let i = 0; i < groups.length; i++) {
    const group = groups[i]!;
    const lane = lanes[i]!;
    if (group.mode === MODE_KEYED && lane !== group.lanes[(keyHash >>> 0) % group.lanes.length]) return `keyed group ${i}: lane ${lane}`;
    if (!group.lanes.includes(lane)) return `group ${i}: lane ${lane} is not a member`;
  }
  return null;
}

// ── unit tests, one backend ─────────────────────────────────────────────────────────────────────

describe.each(BACKENDS)('router on %s', (backend) => {
  const fresh = async (): Promise<{ t: TestArena; core: CoreOps; r: Router }> => {
    const t = await newArena(CONFIG, backend);
    return { t, core: t.cores[backend], r: routerOf(t, ROUTER_MAIN) };
  };

  test(`${backend}: routerBytes follows the layout formula and saturates beyond any arena`, async () => {
    const { t, core } = await fresh();
    for (const [topics, subs, threads] of [[1, 1, 1], [8, 16, 3], [2, 4, 64], [1000, 77, 5], [65536, 65536, 64]] as const) {
      expect([topics, subs, threads, core.routerBytes(topics, subs, threads)]).toEqual([topics, subs, threads, planned(topics, subs, threads).bytes]);
    }
    // The planner laid the routers out back to back with exactly these sizes.
    for (let i = 0; i + 1 < t.arena.routers.length; i++) {
      expect(t.arena.routers[i + 1]!.address - t.arena.routers[i]!.address).toBe(routerOf(t, i).layout.bytes);
    }
    expect(core.routerBytes(0xffffffff, 0xffffffff, 0xffffffff)).toBe(0x7fffffff);
    expect(core.routerBytes(-1, 1, 1)).toBe(0x7fffffff);
    expect(core.routerBytes(1 << 28, 1, 1)).toBe(0x7fffffff); // 2^31 bytes of topics: must not wrap to small
    expect(core.routerBytes(1, 1 << 27, 1)).toBe(0x7fffffff);
    expect(core.routerBytes(ARENA_MAX_BYTES / TOPIC_ENTRY_BYTES, 1, 1)).toBe(0x7fffffff);
  });

  test(`${backend}: init writes the config, VERSION 1, no lock, idle epochs and an empty compiled table`, async () => {
    const { t, core } = await fresh();
    for (let i = 0; i < t.arena.routers.length; i++) {
      const r = routerOf(t, i);
      const a = r.address;
      expect([ROUTER_MAX_TOPICS_OFFSET, ROUTER_MAX_SUBSCRIPTIONS_OFFSET, ROUTER_THREADS_OFFSET, ROUTER_SUBS_OFFSET_OFFSET,
        ROUTER_TABLES_OFFSET_OFFSET, ROUTER_TABLE_BYTES_OFFSET, ROUTER_CURSORS_OFFSET_OFFSET].map((o) => word(t, a + o)))
        .toEqual([r.maxTopics, r.maxSubscriptions, THREADS, r.layout.subs, r.layout.tables, r.layout.tableBytes, r.layout.cursors]);
      expect([word(t, a + ROUTER_VERSION_OFFSET), word(t, a + ROUTER_WRITER_LOCK_OFFSET)]).toEqual([ROUTER_FIRST_VERSION, 0]);
      expect(core.routerVersion(a)).toBe(ROUTER_FIRST_VERSION);
      // Epochs, subscriptions, both tables (the empty table compiles to zeros) and cursors: all 0.
      expect(bytesAt(t.views, a + ROUTER_EPOCHS_OFFSET, r.layout.bytes - ROUTER_EPOCHS_OFFSET).every((b) => b === 0)).toBe(true);
      for (let topic = 0; topic < r.maxTopics; topic++) {
        expect(core.routerGroupCount(a, topic)).toBe(0);
        expect(routeOnce(t, core, r, READER, topic)).toEqual([]);
      }
    }
  });

  test(`${backend}: broadcast delivers to every subscribed lane, in slot order, and only on its topic`, async () => {
    const { t, core, r } = await fresh();
    const ids = subscribe(core, r, [broadcast(2, 30), broadcast(2, 10), broadcast(5, 99), broadcast(2, 20)]);
    expect(ids).toEqual([0, 1, 2, 3]);
    expect(core.routerVersion(r.address)).toBe(ROUTER_FIRST_VERSION + 1);
    expect(core.routerGroupCount(r.address, 2)).toBe(3);
    expect(core.routerGroupCount(r.address, 5)).toBe(1);
    for (let k = 0; k < 5; k++) {
      for (const thread of [WRITER, READER, OTHER_READER]) expect(routeOnce(t, core, r, thread, 2, k)).toEqual([30, 10, 20]);
    }
    expect(routeOnce(t, core, r, READER, 5)).toEqual([99]);
    for (const topic of [0, 1, 3, 4, 6, 7]) expect(routeOnce(t, core, r, READER, topic)).toEqual([]);
    // Lanes are u32: the top bit survives.
    subscribe(core, r, [broadcast(7, 0xffffffff), broadcast(7, 0x80000000)]);
    expect(routeOnce(t, core, r, READER, 7)).toEqual([0xffffffff, 0x80000000]);
  });

  test(`${backend}: a group is served round-robin: each thread spreads N messages exactly evenly`, async () => {
    const { t, core, r } = await fresh();
    subscribe(core, r, [grouped(1, 100, 7), grouped(1, 101, 7), broadcast(3, 5), grouped(1, 102, 7)]);
    expect(core.routerGroupCount(r.address, 1)).toBe(1);
    const rounds = Math.round(100 * STRESS);
    const counts = [new Map<number, number>(), new Map<number, number>()];
    const sequences: number[][] = [[], []];
    // Two reader threads interleaved: each keeps its own cursor.
    for (const thread of [READER, OTHER_READER]) core.routerEnter(r.address, thread);
    for (let i = 0; i < 3 * rounds + 2; i++) {
      for (const [k, thread] of [READER, OTHER_READER].entries()) {
        if (k === 1 && i % 2 === 1) continue; // the second reader sends half as many
        const lanes = route(t, core, r, thread, 1, i) as number[];
        expect(lanes).toHaveLength(1);
        counts[k]!.set(lanes[0]!, (counts[k]!.get(lanes[0]!) ?? 0) + 1);
        sequences[k]!.push(lanes[0]!);
      }
    }
    for (const thread of [READER, OTHER_READER]) core.routerLeave(r.address, thread);
    // Members in slot order, cycled from the first.
    expect(sequences[0]!.slice(0, 6)).toEqual([100, 101, 102, 100, 101, 102]);
    expect(sequences[1]!.slice(0, 4)).toEqual([100, 101, 102, 100]);
    const total0 = 3 * rounds + 2;
    expect([counts[0]!.get(100), counts[0]!.get(101), counts[0]!.get(102)]).toEqual([rounds + 1, rounds + 1, rounds]);
    const total1 = Math.ceil(total0 / 2);
    for (const lane of [100, 101, 102]) {
      expect([lane, counts[1]!.get(lane)! >= Math.floor(total1 / 3) && counts[1]!.get(lane)! <= Math.ceil(total1 / 3)]).toEqual([lane, true]);
    }
    // The cursor survives leave/enter: the writer thread was never used, it starts at the first member.
    expect(routeOnce(t, core, r, WRITER, 1)).toEqual([100]);
    expect(routeOnce(t, core, r, WRITER, 1)).toEqual([101]);
  });

  test(`${backend}: keyed delivery: a key always reaches the same member (hash % members); keys spread`, async () => {
    const { t, core, r } = await fresh();
    const lanes = [40, 41, 42, 43];
    subscribe(core, r, lanes.map((lane) => keyed(4, lane, 9)));
    expect(core.routerGroupCount(r.address, 4)).toBe(1);
    const hit = new Map<number, number>();
    for (let key = 0; key < 256; key++) {
      const hash = core.hashU32(key);
      const expected = lanes[(hash >>> 0) % lanes.length]!;
      for (const thread of [READER, OTHER_READER, READER]) expect([key, routeOnce(t, core, r, thread, 4, hash)]).toEqual([key, [expected]]);
      hit.set(expected, (hit.get(expected) ?? 0) + 1);
    }
    // Keys spread over every member (MurmurHash3 of 256 keys: each member gets a fair share).
    for (const lane of lanes) expect([lane, (hit.get(lane) ?? 0) > 256 / lanes.length / 2]).toEqual([lane, true]);
    // Negative i32 hashes are read as u32.
    expect(routeOnce(t, core, r, READER, 4, -1)).toEqual([lanes[0xffffffff % 4]]);
    expect(routeOnce(t, core, r, READER, 4, -2147483648)).toEqual([lanes[0x80000000 % 4]]);
  });

  test(`${backend}: mixed modes on one topic compile to the documented table and route one lane per group`, async () => {
    const { t, core, r } = await fresh();
    const subs: Sub[] = [
      broadcast(1, 1), grouped(1, 10, 5), keyed(1, 20, 5), broadcast(0, 77), grouped(1, 11, 5), broadcast(1, 2),
      keyed(1, 21, 5), grouped(1, 30, 6), broadcast(1, 1), keyed(3, 50, 5), grouped(0, 60, 5),
    ];
    subscribe(core, r, subs);
    const version = core.routerVersion(r.address);
    const model = compileModel(subs, r.maxTopics);
    expect(model[1]).toEqual([
      { mode: MODE_BROADCAST, key: 1, lanes: [1] },
      { mode: MODE_GROUP, key: 5, lanes: [10, 11] },
      { mode: MODE_KEYED, key: 5, lanes: [20, 21] },
      { mode: MODE_BROADCAST, key: 2, lanes: [2] },
      { mode: MODE_GROUP, key: 6, lanes: [30] },
      { mode: MODE_BROADCAST, key: 1, lanes: [1] },
    ]);
    expect(same(tableBytesOf(t, r, version), tableImage(model, r))).toBe(true);
    // Spot-check the image itself against the layout: topic 0 = groups 0..1, topic 1 from group 2.
    const table = tableAt(r, version);
    expect([word(t, table + TOPIC_FIRST_GROUP_OFFSET), word(t, table + TOPIC_GROUP_COUNT_OFFSET)]).toEqual([0, 2]);
    expect([word(t, table + TOPIC_ENTRY_BYTES + TOPIC_FIRST_GROUP_OFFSET), word(t, table + TOPIC_ENTRY_BYTES + TOPIC_GROUP_COUNT_OFFSET)]).toEqual([2, 6]);
    expect(core.routerGroupCount(r.address, 1)).toBe(6);
    const seen = new Set<number>();
    for (let k = 0; k < 8; k++) {
      const hash = core.hashU32(k);
      const lanes = routeOnce(t, core, r, READER, 1, hash) as number[];
      expect(lanes).toEqual([1, [10, 11][k % 2], [20, 21][(hash >>> 0) % 2], 2, 30, 1]);
      seen.add(lanes[2]!);
    }
    expect(seen.size).toBe(2);
    expect(routeOnce(t, core, r, READER, 0)).toEqual([77, 60]);
    expect(routeOnce(t, core, r, READER, 3, 12345)).toEqual([50]);
  });

  test(`${backend}: removing subscriptions shrinks and drops groups; freed slots are reused lowest first`, async () => {
    const { t, core, r } = await fresh();
    const ids = subscribe(core, r, [broadcast(0, 1), grouped(0, 10, 3), grouped(0, 11, 3), grouped(0, 12, 3), broadcast(0, 2)]);
    expect(routeOnce(t, core, r, READER, 0)).toEqual([1, 10, 2]);
    expect(routeOnce(t, core, r, READER, 0)).toEqual([1, 11, 2]);
    expect(routeOnce(t, core, r, READER, 0)).toEqual([1, 12, 2]);
    expect(routeOnce(t, core, r, READER, 0)).toEqual([1, 10, 2]);
    expect(routeOnce(t, core, r, READER, 0)).toEqual([1, 11, 2]); // cursor now at member 2 of 3
    unsubscribe(core, r, [ids[2]!]);
    expect(word(t, r.address + r.layout.subs + ids[2]! * SUB_BYTES + SUB_MODE_OFFSET)).toBe(MODE_FREE);
    expect(core.routerGroupCount(r.address, 0)).toBe(3);
    // The group shrank to [10, 12] under the thread's cursor (2): it wraps, still in range.
    expect(routeOnce(t, core, r, READER, 0)).toEqual([1, 10, 2]);
    expect(routeOnce(t, core, r, READER, 0)).toEqual([1, 12, 2]);
    expect(routeOnce(t, core, r, READER, 0)).toEqual([1, 10, 2]);
    // Cursors belong to group indices: dropping the first group moves the group to index 0,
    // whose cursor this thread never used (fairness restarts; correctness does not change).
    unsubscribe(core, r, [ids[0]!]);
    expect(core.routerGroupCount(r.address, 0)).toBe(2);
    expect(routeOnce(t, core, r, READER, 0)).toEqual([10, 2]);
    expect(routeOnce(t, core, r, READER, 0)).toEqual([12, 2]);
    unsubscribe(core, r, [ids[1]!, ids[3]!]);
    expect(routeOnce(t, core, r, READER, 0)).toEqual([2]);
    // Removing a free or out-of-range id is STATUS_INVALID and changes nothing.
    expect(core.routerTryLock(r.address, WRITER)).toBe(STATUS_OK);
    const before = routerBytes(t, r);
    for (const id of [ids[0]!, ids[1]!, 5, r.maxSubscriptions, r.maxSubscriptions + 1, -1, 0x7fffffff]) {
      expect([id, core.routerRemoveSubscription(r.address, id)]).toEqual([id, STATUS_INVALID]);
    }
    expect(same(routerBytes(t, r), before)).toBe(true);
    // Lowest free slot first.
    expect(core.routerAddSubscription(r.address, 6, 66, MODE_GROUP, 1)).toBe(0);
    expect(core.routerAddSubscription(r.address, 6, 67, MODE_KEYED, 1)).toBe(1);
    expect(core.routerAddSubscription(r.address, 6, 68, MODE_BROADCAST, 0xabc)).toBe(2);
    expect(core.routerAddSubscription(r.address, 6, 69, MODE_BROADCAST, 0)).toBe(3);
    expect(core.routerAddSubscription(r.address, 6, 70, MODE_BROADCAST, 0)).toBe(5);
    const sub = r.address + r.layout.subs + 2 * SUB_BYTES;
    // A broadcast subscription's group key is stored as 0 (ignored).
    expect([SUB_MODE_OFFSET, SUB_TOPIC_OFFSET, SUB_ROUTE_ENTRY_OFFSET, SUB_GROUP_OFFSET].map((o) => word(t, sub + o))).toEqual([MODE_BROADCAST, 6, 68, 0]);
    // Not routed until published.
    expect(routeOnce(t, core, r, READER, 6)).toEqual([]);
    expect(core.routerTryPublish(r.address)).toBe(STATUS_OK);
    expect(core.routerUnlock(r.address, WRITER)).toBe(STATUS_OK);
    expect(routeOnce(t, core, r, READER, 6, 0)).toEqual([66, 67, 68, 69, 70]);
  });

  test(`${backend}: STATUS_FULL when every subscription slot is taken, with nothing changed`, async () => {
    const { t, core } = await fresh();
    const r = routerOf(t, ROUTER_SMALL);
    expect(core.routerTryLock(r.address, WRITER)).toBe(STATUS_OK);
    for (let i = 0; i < r.maxSubscriptions; i++) expect(core.routerAddSubscription(r.address, i % 2, i, MODE_GROUP, 0)).toBe(i);
    const before = arenaBytes(t);
    for (const mode of [MODE_BROADCAST, MODE_GROUP, MODE_KEYED]) expect(core.routerAddSubscription(r.address, 0, 9, mode, 0)).toBe(-STATUS_FULL);
    expect(same(arenaBytes(t), before)).toBe(true);
    expect(core.routerRemoveSubscription(r.address, 2)).toBe(STATUS_OK);
    expect(core.routerAddSubscription(r.address, 1, 9, MODE_BROADCAST, 0)).toBe(2);
    expect(core.routerAddSubscription(r.address, 1, 9, MODE_BROADCAST, 0)).toBe(-STATUS_FULL);
    expect(core.routerTryPublish(r.address)).toBe(STATUS_OK);
    expect(core.routerUnlock(r.address, WRITER)).toBe(STATUS_OK);
    expect(routeOnce(t, core, r, READER, 0)).toEqual([0]);
    expect(routeOnce(t, core, r, READER, 1)).toEqual([1, 9]);
  });

  test(`${backend}: bad topic, mode, id or thread is STATUS_INVALID and leaves the arena intact`, async () => {
    const { t, core, r } = await fresh();
    subscribe(core, r, [broadcast(0, 1), grouped(0, 2, 0), grouped(0, 3, 0)]);
    expect(core.routerTryLock(r.address, WRITER)).toBe(STATUS_OK);
    const out = outOf(t, READER);
    t.views.u8.fill(0xee, out, out + 64);
    const before = arenaBytes(t);
    for (const topic of [r.maxTopics, r.maxTopics + 1, -1, 0x7fffffff, -0x80000000]) {
      expect([topic, core.routerAddSubscription(r.address, topic, 1, MODE_BROADCAST, 0)]).toEqual([topic, -STATUS_INVALID]);
      expect([topic, core.routerGroupCount(r.address, topic)]).toEqual([topic, 0]);
    }
    for (const mode of [MODE_FREE, MODE_KEYED + 1, -1, 0x10001]) {
      expect([mode, core.routerAddSubscription(r.address, 0, 1, mode, 0)]).toEqual([mode, -STATUS_INVALID]);
    }
    for (const id of [3, r.maxSubscriptions, -1]) expect([id, core.routerRemoveSubscription(r.address, id)]).toEqual([id, STATUS_INVALID]);
    for (const thread of [THREADS, THREADS + 1, -1, 0x7fffffff]) {
      expect([thread, core.routerEnter(r.address, thread)]).toEqual([thread, -STATUS_INVALID]);
      core.routerLeave(r.address, thread);
      expect([thread, core.routerRoute(r.address, thread, 0, 0, out)]).toEqual([thread, -STATUS_INVALID]);
      expect([thread, core.routerTryLock(r.address, thread)]).toEqual([thread, STATUS_INVALID]);
      expect([thread, core.routerUnlock(r.address, thread)]).toEqual([thread, STATUS_INVALID]);
    }
    expect(same(arenaBytes(t), before)).toBe(true);
    // A bad topic on an entered thread: nothing written, cursors untouched.
    expect(core.routerEnter(r.address, READER)).toBe(ROUTER_FIRST_VERSION + 1);
    const entered = arenaBytes(t);
    for (const topic of [r.maxTopics, -1]) expect([topic, core.routerRoute(r.address, READER, topic, 0, out)]).toEqual([topic, -STATUS_INVALID]);
    expect(same(arenaBytes(t), entered)).toBe(true);
    expect(route(t, core, r, READER, 0)).toEqual([1, 2]);
    core.routerLeave(r.address, READER);
    expect(core.routerUnlock(r.address, WRITER)).toBe(STATUS_OK);
  });

  test(`${backend}: the writer lock is one CAS word: try, busy, owner-only unlock`, async () => {
    const { t, core, r } = await fresh();
    const lock = r.address + ROUTER_WRITER_LOCK_OFFSET;
    // Unlocking a free lock is not allowed from any thread (not even the -1 that would CAS 0 → 0).
    for (const thread of [WRITER, READER, -1]) expect(core.routerUnlock(r.address, thread)).toBe(STATUS_INVALID);
    expect(core.routerTryLock(r.address, READER)).toBe(STATUS_OK);
    expect(word(t, lock)).toBe(READER + 1);
    expect(core.routerTryLock(r.address, READER)).toBe(STATUS_BUSY); // not reentrant
    expect(core.routerTryLock(r.address, WRITER)).toBe(STATUS_BUSY);
    expect(core.routerUnlock(r.address, WRITER)).toBe(STATUS_INVALID);
    expect(core.routerUnlock(r.address, OTHER_READER)).toBe(STATUS_INVALID);
    expect(word(t, lock)).toBe(READER + 1);
    expect(core.routerUnlock(r.address, READER)).toBe(STATUS_OK);
    expect(word(t, lock)).toBe(0);
    expect(core.routerUnlock(r.address, READER)).toBe(STATUS_INVALID);
    expect(core.routerTryLock(r.address, WRITER)).toBe(STATUS_OK);
    expect(word(t, lock)).toBe(WRITER + 1);
    expect(core.routerUnlock(r.address, WRITER)).toBe(STATUS_OK);
  });

  test(`${backend}: each publish increments VERSION; a reader keeps its table until it re-enters`, async () => {
    const { t, core, r } = await fresh();
    expect(core.routerEnter(r.address, READER)).toBe(ROUTER_FIRST_VERSION);
    expect(word(t, r.address + ROUTER_EPOCHS_OFFSET + READER * ROUTER_EPOCH_STRIDE)).toBe(ROUTER_FIRST_VERSION);
    subscribe(core, r, [broadcast(0, 1)]);
    expect(core.routerVersion(r.address)).toBe(ROUTER_FIRST_VERSION + 1);
    expect(route(t, core, r, READER, 0)).toEqual([]); // still on version 1's buffer
    core.routerLeave(r.address, READER);
    expect(word(t, r.address + ROUTER_EPOCHS_OFFSET + READER * ROUTER_EPOCH_STRIDE)).toBe(0);
    expect(core.routerEnter(r.address, READER)).toBe(ROUTER_FIRST_VERSION + 1);
    expect(route(t, core, r, READER, 0)).toEqual([1]);
    core.routerLeave(r.address, READER);
    // Publishing an unchanged list still makes a new version (same content, other buffer).
    expect(core.routerTryLock(r.address, WRITER)).toBe(STATUS_OK);
    for (let k = 2; k <= 10; k++) {
      expect(core.routerTryPublish(r.address)).toBe(STATUS_OK);
      expect(core.routerVersion(r.address)).toBe(ROUTER_FIRST_VERSION + k);
      expect(same(tableBytesOf(t, r, k), tableBytesOf(t, r, k + 1))).toBe(true);
    }
    expect(core.routerUnlock(r.address, WRITER)).toBe(STATUS_OK);
    expect(routeOnce(t, core, r, OTHER_READER, 0)).toEqual([1]);
  });

  test(`${backend}: STATUS_BUSY while another thread's epoch is on the buffer a publish would overwrite`, async () => {
    const { t, core, r } = await fresh();
    subscribe(core, r, [broadcast(0, 1)]); // version 2
    expect(core.routerEnter(r.address, READER)).toBe(2);
    expect(core.routerTryLock(r.address, WRITER)).toBe(STATUS_OK);
    expect(core.routerAddSubscription(r.address, 0, 2, MODE_BROADCAST, 0)).toBe(1);
    // Version 3 goes to the other buffer: allowed while the reader holds version 2.
    expect(core.routerTryPublish(r.address)).toBe(STATUS_OK);
    expect(core.routerVersion(r.address)).toBe(3);
    expect(core.routerAddSubscription(r.address, 0, 3, MODE_BROADCAST, 0)).toBe(2);
    // Version 4 would overwrite version 2's buffer: BUSY, and nothing changes, however often.
    const before = routerBytes(t, r);
    for (let k = 0; k < 5; k++) expect(core.routerTryPublish(r.address)).toBe(STATUS_BUSY);
    expect(same(routerBytes(t, r), before)).toBe(true);
    expect(core.routerVersion(r.address)).toBe(3);
    expect(route(t, core, r, READER, 0)).toEqual([1]);
    // Another reader entering now sees version 3 and does not hold the publish up by itself.
    expect(routeOnce(t, core, r, OTHER_READER, 0)).toEqual([1, 2]);
    expect(core.routerTryPublish(r.address)).toBe(STATUS_BUSY);
    core.routerLeave(r.address, READER);
    expect(core.routerTryPublish(r.address)).toBe(STATUS_OK);
    expect(core.routerVersion(r.address)).toBe(4);
    // A reader on the current version never blocks the next publish; one on VERSION - 1 does.
    expect(core.routerEnter(r.address, READER)).toBe(4);
    expect(core.routerEnter(r.address, WRITER)).toBe(4); // the writer may read too
    expect(core.routerTryPublish(r.address)).toBe(STATUS_OK);
    expect(core.routerTryPublish(r.address)).toBe(STATUS_BUSY);
    core.routerLeave(r.address, READER);
    expect(core.routerTryPublish(r.address)).toBe(STATUS_BUSY); // the writer's own epoch counts
    expect(core.routerEnter(r.address, WRITER)).toBe(5);
    expect(core.routerTryPublish(r.address)).toBe(STATUS_OK);
    core.routerLeave(r.address, WRITER);
    expect(core.routerUnlock(r.address, WRITER)).toBe(STATUS_OK);
    expect(routeOnce(t, core, r, READER, 0)).toEqual([1, 2, 3]);
  });
});

// ── writer on one backend, readers on the other ─────────────────────────────────────────────────

describe.each(PAIRS.map((pair) => [pairName(pair), pair] as const))('router writer→reader %s', (name, [writerSide, readerSide]) => {
  test(`${name}: subscriptions written by ${writerSide} are routed by ${readerSide}: every mode, removal, BUSY`, async () => {
    const t = await newArena(CONFIG, writerSide);
    const writer = t.cores[writerSide];
    const reader = t.cores[readerSide];
    const r = routerOf(t, ROUTER_MAIN);
    const subs: (Sub | null)[] = [broadcast(3, 7), grouped(3, 20, 1), grouped(3, 21, 1), keyed(3, 30, 1), keyed(3, 31, 1), keyed(3, 32, 1), broadcast(4, 8)];
    const ids = subscribe(writer, r, subs as Sub[]);
    const model = compileModel(subs, r.maxTopics);
    expect(same(tableBytesOf(t, r, 2), tableImage(model, r))).toBe(true);
    expect(reader.routerGroupCount(r.address, 3)).toBe(3);
    const rounds = Math.round(50 * STRESS);
    const perMember = new Map<number, number>();
    expect(reader.routerEnter(r.address, READER)).toBe(2);
    for (let k = 0; k < 2 * rounds; k++) {
      const hash = reader.hashU32(k);
      const lanes = route(t, reader, r, READER, 3, hash) as number[];
      expect(checkRoute(model[3]!, lanes, hash)).toBeNull();
      expect(lanes[3 - 2]).toBe(k % 2 === 0 ? 20 : 21);
      perMember.set(lanes[2]!, (perMember.get(lanes[2]!) ?? 0) + 1);
    }
    expect([...perMember.keys()].sort()).toEqual([30, 31, 32]);
    // The reader still holds version 2: the writer's second publish is refused until it leaves.
    expect(writer.routerTryLock(r.address, WRITER)).toBe(STATUS_OK);
    expect(writer.routerRemoveSubscription(r.address, ids[1]!)).toBe(STATUS_OK);
    subs[ids[1]!] = null;
    expect(writer.routerTryPublish(r.address)).toBe(STATUS_OK);
    expect(writer.routerRemoveSubscription(r.address, ids[0]!)).toBe(STATUS_OK);
    subs[ids[0]!] = null;
    expect(writer.routerTryPublish(r.address)).toBe(STATUS_BUSY);
    expect(route(t, reader, r, READER, 3, 0)).toEqual([7, 20, 30]);
    reader.routerLeave(r.address, READER);
    expect(writer.routerTryPublish(r.address)).toBe(STATUS_OK);
    expect(writer.routerUnlock(r.address, WRITER)).toBe(STATUS_OK);
    expect(same(tableBytesOf(t, r, 4), tableImage(compileModel(subs, r.maxTopics), r))).toBe(true);
    expect(reader.routerVersion(r.address)).toBe(4);
    expect(routeOnce(t, reader, r, READER, 3, 1)).toEqual([21, [30, 31, 32][1]]);
    expect(routeOnce(t, reader, r, OTHER_READER, 4)).toEqual([8]);
  });
});

// ── model-based test and wasm/js conformance ────────────────────────────────────────────────────

type Op =
  | { kind: 'add'; topic: number; mode: number; group: number }
  | { kind: 'remove'; id: number }
  | { kind: 'publish' }
  | { kind: 'enter'; thread: number }
  | { kind: 'leave'; thread: number }
  | { kind: 'route'; thread: number; topic: number; keyHash: number; stay: boolean }
  | { kind: 'lock'; thread: number }
  | { kind: 'unlock'; thread: number };

/** Ops for a router of `maxTopics`/`maxSubscriptions` and THREADS threads, with out-of-range ids. */
function opArbitrary(maxTopics: number, maxSubscriptions: number): fc.Arbitrary<Op> {
  const thread = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: THREADS - 1 }) }, { weight: 1, arbitrary: fc.constantFrom(THREADS, -1) });
  // Topic 0 and group keys 0..1 are favoured so groups often get several members.
  const topic = fc.oneof(
    { weight: 4, arbitrary: fc.constant(0) },
    { weight: 4, arbitrary: fc.integer({ min: 0, max: maxTopics - 1 }) },
    { weight: 1, arbitrary: fc.constantFrom(maxTopics, -1) },
  );
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('add' as const), topic, mode: fc.constantFrom(MODE_BROADCAST, MODE_GROUP, MODE_KEYED, MODE_GROUP, MODE_GROUP, MODE_KEYED, MODE_FREE, 4), group: fc.integer({ min: 0, max: 1 }) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('remove' as const), id: fc.integer({ min: -1, max: maxSubscriptions }) }) },
    { weight: 3, arbitrary: fc.constant({ kind: 'publish' as const }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('enter' as const), thread }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('leave' as const), thread }) },
    { weight: 10, arbitrary: fc.record({ kind: fc.constant('route' as const), thread, topic, keyHash: fc.integer({ min: -0x80000000, max: 0x7fffffff }), stay: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('lock' as const), thread }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('unlock' as const), thread }) },
  );
}

/** The plain model: subscription list, lock holder, VERSION, epochs, and each version's table. */
class RouterModel {
  readonly subs: (Sub | null)[];
  readonly epochs = new Array<number>(THREADS).fill(0);
  readonly tables = new Map<number, ModelGroup[][]>();
  version = ROUTER_FIRST_VERSION;
  lock = -1;
  private nextLane = 1000;
  /** Group-mode deliveries per (thread, version, topic, group index) and lane, for the fairness check. */
  readonly served = new Map<string, { lanes: number[]; counts: Map<number, number> }>();

  constructor(readonly r: Router) {
    this.subs = new Array<Sub | null>(r.maxSubscriptions).fill(null);
    this.tables.set(this.version, compileModel(this.subs, r.maxTopics));
  }
  /** A lane no other subscription has, so a route result names its member unambiguously. */
  lane(): number {
    return this.nextLane++;
  }
  validThread(thread: number): boolean {
    return thread >= 0 && thread < THREADS;
  }
  add(topic: number, lane: number, mode: number, group: number): number {
    if (topic < 0 || topic >= this.r.maxTopics || ![MODE_BROADCAST, MODE_GROUP, MODE_KEYED].includes(mode)) return -STATUS_INVALID;
    const id = this.subs.indexOf(null);
    if (id < 0) return -STATUS_FULL;
    this.subs[id] = { topic, lane, mode, group };
    return id;
  }
  remove(id: number): number {
    if (id < 0 || id >= this.subs.length || this.subs[id] === null) return STATUS_INVALID;
    this.subs[id] = null;
    return STATUS_OK;
  }
  publish(): number {
    if (this.epochs.some((e) => e !== 0 && e !== this.version)) return STATUS_BUSY;
    this.version++;
    this.tables.set(this.version, compileModel(this.subs, this.r.maxTopics));
    return STATUS_OK;
  }
  enter(thread: number): number {
    if (!this.validThread(thread)) return -STATUS_INVALID;
    this.epochs[thread] = this.version;
    return this.version;
  }
  leave(thread: number): void {
    if (this.validThread(thread)) this.epochs[thread] = 0;
  }
  tryLock(thread: number): number {
    if (!this.validThread(thread)) return STATUS_INVALID;
    if (this.lock >= 0) return STATUS_BUSY;
    this.lock = thread;
    return STATUS_OK;
  }
  unlock(thread: number): number {
    if (!this.validThread(thread) || this.lock !== thread) return STATUS_INVALID;
    this.lock = -1;
    return STATUS_OK;
  }
  /** Checks a route result of an entered thread; returns a problem or null. */
  route(thread: number, topic: number, keyHash: number, result: number[] | number): string | null {
    if (!this.validThread(thread) || topic < 0 || topic >= this.r.maxTopics) return result === -STATUS_INVALID ? null : `expected -INVALID, got ${String(result)}`;
    if (typeof result === 'number') return `status ${result}`;
    const version = this.epochs[thread]!;
    const groups = this.tables.get(version)![topic]!;
    const problem = checkRoute(groups, result, keyHash);
    if (problem !== null) return problem;
    groups.forEach((group, g) => {
      if (group.mode !== MODE_GROUP) return;
      const key = `${thread}/${version}/${topic}/${g}`;
      const served = this.served.get(key) ?? { lanes: group.lanes, counts: new Map<number, number>() };
      served.counts.set(result[g]!, (served.counts.get(result[g]!) ?? 0) + 1);
      this.served.set(key, served);
    });
    return null;
  }
  /** Round-robin on one table: each member got floor or ceil of its group's deliveries. */
  unfair(): string | null {
    for (const [key, { lanes, counts }] of this.served) {
      const total = [...counts.values()].reduce((a, b) => a + b, 0);
      for (const lane of lanes) {
        const n = counts.get(lane) ?? 0;
        if (n < Math.floor(total / lanes.length) || n > Math.ceil(total / lanes.length)) return `${key}: lane ${lane} got ${n} of ${total}`;
      }
    }
    return null;
  }
}

describe('router model and conformance', () => {
  test(`wasm and js: random add/remove/publish/enter/leave/route sequences match the model, with identical returns and router bytes (${FC_RUNS} runs)`, async () => {
    const t = await newArena(CONFIG);
    const routers = { wasm: routerOf(t, ROUTER_TWIN_A), js: routerOf(t, ROUTER_TWIN_B) };
    const spec = routers.wasm;
    const outs = { wasm: outOf(t, 0), js: outOf(t, 0) + 4096 };
    const images = { wasm: () => routerBytes(t, routers.wasm), js: () => routerBytes(t, routers.js) };

    fc.assert(fc.property(fc.array(opArbitrary(spec.maxTopics, spec.maxSubscriptions), { minLength: 1, maxLength: 160, size: 'large' }), (ops) => {
      const model = new RouterModel(spec);
      for (const backend of BACKENDS) t.cores[backend].routerInit(routers[backend].address, spec.maxTopics, spec.maxSubscriptions, THREADS);
      if (!same(images.wasm(), images.js())) return false;
      let lane = 0; // the lane of the next 'add'
      // Thread 0 is the usual writer; lock/unlock ops move the lock around (debug builds assert
      // that list edits hold it, so edits without a holder are skipped).
      const apply = (op: Op): unknown[] => {
        const out: unknown[] = [];
        for (const backend of BACKENDS) {
          const core = t.cores[backend];
          const a = routers[backend].address;
          switch (op.kind) {
            case 'add': out.push(core.routerAddSubscription(a, op.topic, lane, op.mode, op.group)); break;
            case 'remove': out.push(core.routerRemoveSubscription(a, op.id)); break;
            case 'publish': out.push(core.routerTryPublish(a)); break;
            case 'enter': out.push(core.routerEnter(a, op.thread)); break;
            case 'leave': core.routerLeave(a, op.thread); out.push(undefined); break;
            case 'route': out.push(route(t, core, routers[backend], op.thread, op.topic, op.keyHash, outs[backend])); break;
            case 'lock': out.push(core.routerTryLock(a, op.thread)); break;
            case 'unlock': out.push(core.routerUnlock(a, op.thread)); break;
          }
        }
        return out;
      };
      expect(apply({ kind: 'lock', thread: WRITER })).toEqual([STATUS_OK, STATUS_OK]);
      model.tryLock(WRITER);
      for (const op of ops) {
        if ((op.kind === 'add' || op.kind === 'remove' || op.kind === 'publish') && model.lock < 0) continue;
        if (op.kind === 'route' && model.validThread(op.thread) && model.epochs[op.thread] === 0) {
          // routerRoute is only defined inside enter/leave (debug builds assert it).
          expect(apply({ kind: 'enter', thread: op.thread })).toEqual([model.version, model.version]);
          model.enter(op.thread);
        }
        if (op.kind === 'add') lane = model.lane();
        const [wasm, js] = apply(op);
        expect(js).toEqual(wasm);
        switch (op.kind) {
          case 'add': expect(wasm).toBe(model.add(op.topic, lane, op.mode, op.group)); break;
          case 'remove': expect(wasm).toBe(model.remove(op.id)); break;
          case 'publish': {
            expect(wasm).toBe(model.publish());
            // The current buffer holds exactly the independently compiled image.
            const image = tableImage(model.tables.get(model.version)!, spec);
            for (const backend of BACKENDS) expect(same(tableBytesOf(t, routers[backend], model.version), image)).toBe(true);
            break;
          }
          case 'enter': expect(wasm).toBe(model.enter(op.thread)); break;
          case 'leave': model.leave(op.thread); break;
          case 'route': expect(model.route(op.thread, op.topic, op.keyHash, wasm as number[] | number)).toBeNull(); break;
          case 'lock': expect(wasm).toBe(model.tryLock(op.thread)); break;
          case 'unlock': expect(wasm).toBe(model.unlock(op.thread)); break;
        }
        if (op.kind === 'route' && !op.stay) {
          // Most readers leave right after routing, as a dispatch loop would.
          apply({ kind: 'leave', thread: op.thread });
          model.leave(op.thread);
        }
        expect(same(images.wasm(), images.js())).toBe(true);
        for (const backend of BACKENDS) expect(t.cores[backend].routerVersion(routers[backend].address)).toBe(model.version);
      }
      expect(model.unfair()).toBeNull();
      // The subscription list itself matches the model, slot for slot.
      model.subs.forEach((sub, id) => {
        const at = spec.address + spec.layout.subs + id * SUB_BYTES;
        const words = [SUB_MODE_OFFSET, SUB_TOPIC_OFFSET, SUB_ROUTE_ENTRY_OFFSET, SUB_GROUP_OFFSET].map((o) => word(t, at + o));
        expect(words).toEqual(sub === null ? [0, 0, 0, 0] : [sub.mode, sub.topic, sub.lane, sub.mode === MODE_BROADCAST ? 0 : sub.group]);
      });
      return true;
    }), { numRuns: FC_RUNS });
  });
});
