/**
 * dispatchBatch (route + enqueue a batch in one call) on one thread, both backends: results against
 * an independent model made of the per-record ops (routerRoute, hash, ringTryPush, ringSize +
 * ringPending for least-loaded picks), every key kind, least-loaded picks by a balance table (fill
 * levels counting committed, read and unflushed records, ties, a least-loaded group beside a
 * broadcast and a round-robin group), the stop at a full ring with its result block and the resume
 * after it, a fast-check property over random fill levels, capacities, topics and batch sizes, and
 * wasm/js conformance (same returns, same bytes in rings, cursors, counters, route entries and
 * result block). Then its per-record pieces as ops of their own: keyHash against the hash ops for
 * every key kind, pickLeastLoaded against a plain model (shallowest, ties, closed rings, skipped
 * entries, other tags), both wasm = js on random inputs, and a per-record path built from them
 * (as the engine's) that dispatches exactly as dispatchBatch does.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import {
  DISPATCH_FAILED_ENTRY_OFFSET, DISPATCH_ENTRY_COUNT_OFFSET, DISPATCH_RESULT_BYTES, DISPATCH_ROUTED_OFFSET,
  DISPATCH_UNROUTED_OFFSET, KEY_BYTES, KEY_NONE, KEY_PREFIXED_BYTES, KEY_U32, KEY_U8, ROUTE_RING_SHIFT,
  ROUTE_SKIPPED, ROUTE_TAG_MASK,
} from '../assembly/layout/dispatch.ts';
import { MODE_BROADCAST, MODE_GROUP, MODE_KEYED } from '../assembly/layout/router.ts';
import { ADDRESS_MIN } from '../assembly/layout/arena.ts';
import { RING_CONSUMER_CLOSED_OFFSET } from '../assembly/layout/ring.ts';
import { STATUS_INVALID, STATUS_OK } from '../assembly/layout/status.ts';
import type { CoreOps } from '../bindings/core-ops.ts';
import type { ArenaConfig } from '../src/arena.ts';
import { BACKENDS, FC_RUNS, bytesAt, newArena, type TestArena } from './harness.ts';

const RECORD = 32;
const CONFIG = (capacity: number): ArenaConfig => ({
  threads: 2,
  rings: [0, 1, 2].map(() => ({ capacity, recordSize: RECORD })),
  routers: [{ maxTopics: 4, maxSubscriptions: 16 }],
  scratchBytes: 65536,
});
const TAG_OFFSET = 2;
const KEY_OFFSET = 8;

interface Setup { t: TestArena; core: CoreOps; router: number; rings: number[]; table: number; pushed: number; out: number; result: number; src: number }

/** Routes: topic 0 → broadcast to ring 0 (tag 5); group of rings 1, 2 (tag 7); keyed over rings 0..2 (tag 9). */
async function setup(backend: 'wasm' | 'js', capacity = 64): Promise<Setup> {
  const t = await newArena(CONFIG(capacity), backend);
  const core = t.cores[backend];
  const router = t.arena.router(0).address;
  const rings = t.arena.rings.map((r) => r.address);
  expect(core.routerTryLock(router, 0)).toBe(STATUS_OK);
  const entry = (ring: number, tag: number): number => (ring << ROUTE_RING_SHIFT) | tag;
  core.routerAddSubscription(router, 0, entry(0, 5), MODE_BROADCAST, 100);
  core.routerAddSubscription(router, 0, entry(1, 7), MODE_GROUP, 7);
  core.routerAddSubscription(router, 0, entry(2, 7), MODE_GROUP, 7);
  for (const ring of [0, 1, 2]) core.routerAddSubscription(router, 0, entry(ring, 9), MODE_KEYED, 9);
  expect(core.routerTryPublish(router)).toBe(STATUS_OK);
  const scratch = t.scratch(1);
  const table = scratch;
  rings.forEach((address, i) => { t.views.u32[(table >> 2) + i] = address; });
  const pushed = scratch + 64;
  const result = scratch + 128;
  const out = scratch + 256;
  const src = scratch + 1024;
  return { t, core, router, rings, table, pushed, out, result, src };
}

function fillRecords(s: Setup, count: number): void {
  const { u8, u32 } = s.t.views;
  for (let i = 0; i < count; i++) {
    const record = s.src + i * RECORD;
    u8.fill(0, record, record + RECORD);
    u32[(record >> 2) + 1] = i;
    u32[(record + KEY_OFFSET) >> 2] = (i * 2654435761) >>> 0; // KEY_U32 / KEY_BYTES
    u8[record + KEY_OFFSET + 4] = i & 3; // prefixed: length 0..3 at offset 12 (u16 LE), bytes after
    u8[record + 12] = i % 4;
    u8[record + 14] = i;
    u8[record + 15] = i * 7;
  }
}

/** Where dispatch / model start, which topic, and the balance table (0: none). */
interface Call { topic?: number; balance?: number; from?: number }

function dispatch(s: Setup, count: number, keyKind: number, keyOffset: number, keyLength: number, call: Call = {}): number {
  s.core.routerEnter(s.router, 1);
  const n = s.core.dispatchBatch(
    s.router, 1, call.topic ?? 0, s.src + (call.from ?? 0) * RECORD, count, RECORD, keyKind, keyOffset, keyLength,
    s.table, TAG_OFFSET, s.pushed, call.balance ?? 0, s.out, s.result,
  );
  s.core.routerLeave(s.router, 1);
  return n;
}

/** The same work with the per-record ops, for comparison. A least-loaded pick, written out plainly:
 *  the record's remaining entries of the tag, each ring's ringSize + ringPending, the first
 *  smallest wins, the others are skipped (at `out`, as dispatchBatch leaves them). */
function model(s: Setup, count: number, keyKind: number, keyOffset: number, keyLength: number, call: Call = {}): { done: number; routed: number; unrouted: number; pushed: number[]; failedEntry: number; entryCount: number } {
  const { u8, u32 } = s.t.views;
  const core = s.core;
  const balance = call.balance ?? 0;
  const out = s.out >> 2;
  const pushed = [0, 0, 0];
  let routed = 0;
  let unrouted = 0;
  core.routerEnter(s.router, 1);
  try {
    for (let i = 0; i < count; i++) {
      const record = s.src + ((call.from ?? 0) + i) * RECORD;
      const at = record + keyOffset;
      const hash = keyKind === KEY_NONE ? 0 : keyKind === KEY_U32 ? core.hashU32(u32[at >> 2]!)
        : keyKind === KEY_U8 ? core.hashU32(u8[at]!) : keyKind === KEY_PREFIXED_BYTES ? core.hashBytes(at + 2, u8[at]! | (u8[at + 1]! << 8))
          : core.hashBytes(at, keyLength);
      const n = core.routerRoute(s.router, 1, call.topic ?? 0, hash >>> 0, s.out);
      if (n === 0) unrouted++;
      for (let j = 0; j < n; j++) {
        const entry = u32[out + j]!;
        if (entry === ROUTE_SKIPPED) continue;
        const tag = entry & ROUTE_TAG_MASK;
        if (balance !== 0 && u8[balance + tag] !== 0) {
          const candidates: number[] = [];
          for (let k = j; k < n; k++) if (u32[out + k] !== ROUTE_SKIPPED && (u32[out + k]! & ROUTE_TAG_MASK) === tag) candidates.push(k);
          const depth = (k: number): number => {
            const ring = s.rings[u32[out + k]! >>> ROUTE_RING_SHIFT]!;
            // A ring its consumer closed is never picked over a live one.
            if (Atomics.load(s.t.views.i32, (ring + RING_CONSUMER_CLOSED_OFFSET) >> 2) !== 0) return 0xffffffff;
            return (core.ringSize(ring) + core.ringPending(ring)) >>> 0;
          };
          const depths = candidates.map(depth);
          const best = candidates[depths.indexOf(Math.min(...depths))]!;
          for (const k of candidates) if (k !== best) u32[out + k] = ROUTE_SKIPPED;
          if (best !== j) continue;
        }
        u8[record + TAG_OFFSET] = entry & 0xff;
        u8[record + TAG_OFFSET + 1] = (entry >>> 8) & 0xff;
        if (core.ringTryPush(s.rings[entry >>> ROUTE_RING_SHIFT]!, record) !== STATUS_OK) return { done: i, routed, unrouted, pushed, failedEntry: j, entryCount: n };
        pushed[entry >>> ROUTE_RING_SHIFT]!++;
        routed++;
      }
    }
    return { done: count, routed, unrouted, pushed, failedEntry: 0, entryCount: 0 };
  } finally {
    core.routerLeave(s.router, 1);
  }
}

function resultOf(s: Setup, done: number) {
  const { u32 } = s.t.views;
  return {
    done, routed: u32[(s.result + DISPATCH_ROUTED_OFFSET) >> 2], unrouted: u32[(s.result + DISPATCH_UNROUTED_OFFSET) >> 2],
    pushed: [0, 1, 2].map((i) => u32[(s.pushed >> 2) + i]), failedEntry: u32[(s.result + DISPATCH_FAILED_ENTRY_OFFSET) >> 2],
    entryCount: u32[(s.result + DISPATCH_ENTRY_COUNT_OFFSET) >> 2],
  };
}

function ringContents(s: Setup): number[][] {
  return s.rings.map((ring) => {
    const records: number[] = [];
    for (;;) {
      const at = s.core.ringTryPeek(ring);
      if (at < ADDRESS_MIN) break;
      records.push(s.t.views.u32[(at >> 2) + 1]! * 65536 + (s.t.views.u8[at + TAG_OFFSET]! | (s.t.views.u8[at + TAG_OFFSET + 1]! << 8)));
    }
    return records;
  });
}

const KEYS: [string, number, number, number][] = [
  ['KEY_NONE', KEY_NONE, 0, 0], ['KEY_U32', KEY_U32, KEY_OFFSET, 4], ['KEY_U8', KEY_U8, KEY_OFFSET + 4, 1],
  ['KEY_BYTES', KEY_BYTES, KEY_OFFSET, 6], ['KEY_PREFIXED_BYTES', KEY_PREFIXED_BYTES, 12, 0],
];

describe.each(BACKENDS)('dispatchBatch (%s)', (backend) => {
  test.each(KEYS)('%s: same rings, counts and cursors as the per-record ops', async (_, keyKind, keyOffset, keyLength) => {
    const batch = await setup(backend);
    const single = await setup(backend);
    fillRecords(batch, 20);
    fillRecords(single, 20);
    const done = dispatch(batch, 20, keyKind, keyOffset, keyLength);
    const expected = model(single, 20, keyKind, keyOffset, keyLength);
    expect(resultOf(batch, done)).toEqual(expected);
    for (const ring of [0, 1, 2]) batch.core.ringFlush(batch.rings[ring]!), single.core.ringFlush(single.rings[ring]!);
    expect(ringContents(batch)).toEqual(ringContents(single));
    expect(expected.routed).toBe(60); // broadcast + one group member + one keyed member, per record
  });

  test('stops at a full ring: returns the record, the failed entry and the entry count; the rest can follow', async () => {
    const s = await setup(backend, 8);
    fillRecords(s, 20);
    const done = dispatch(s, 20, KEY_U32, KEY_OFFSET, 4);
    const r = resultOf(s, done);
    expect(done).toBeLessThan(20);
    expect(r.entryCount).toBe(3);
    expect(r.failedEntry).toBeLessThan(3);
    expect(r.pushed.reduce((a, b) => a + b, 0)).toBe(r.routed);
    expect(r.routed).toBe(done * 3 + r.failedEntry);
  });

  test('records staged `stride` bytes apart, smaller than the rings\' records, are copied by `stride` bytes; a stride above a ring record, or not a multiple of 8, is -STATUS_INVALID', async () => {
    const s = await setup(backend);
    const { u8, u32 } = s.t.views;
    const STRIDE = 16;
    // The ring slots hold 0xEE everywhere first, so the tail a short copy leaves shows.
    for (const ring of s.rings) u8.fill(0xee, ring, ring + s.core.ringBytes(64, RECORD));
    for (const ring of s.rings) s.core.ringInit(ring, 64, RECORD);
    for (let i = 0; i < 4; i++) {
      const record = s.src + i * STRIDE;
      u8.fill(i + 1, record, record + STRIDE);
      u32[(record + KEY_OFFSET) >> 2] = i;
    }
    s.core.routerEnter(s.router, 1);
    const done = s.core.dispatchBatch(s.router, 1, 0, s.src, 4, STRIDE, KEY_U32, KEY_OFFSET, 4, s.table, TAG_OFFSET, s.pushed, 0, s.out, s.result);
    expect(done).toBe(4);
    // Broadcast ring 0 got all four, in order: 16 bytes of each (the tag stamped at TAG_OFFSET), then the old 0xEE.
    s.core.ringFlush(s.rings[0]!);
    for (let i = 0; i < 4; i++) {
      const at = s.core.ringTryPeek(s.rings[0]!);
      expect(at).toBeGreaterThanOrEqual(ADDRESS_MIN);
      expect(u8[at]).toBe(i + 1);
      expect(u8[at + STRIDE - 1]).toBe(i + 1);
      expect(Array.from(u8.subarray(at + STRIDE, at + RECORD))).toEqual(new Array(RECORD - STRIDE).fill(0xee));
      s.core.ringCommit(s.rings[0]!);
    }
    expect(s.core.dispatchBatch(s.router, 1, 0, s.src, 1, RECORD + 8, KEY_NONE, 0, 0, s.table, TAG_OFFSET, s.pushed, 0, s.out, s.result)).toBe(-STATUS_INVALID);
    expect(s.core.dispatchBatch(s.router, 1, 0, s.src, 1, 12, KEY_NONE, 0, 0, s.table, TAG_OFFSET, s.pushed, 0, s.out, s.result)).toBe(-STATUS_INVALID);
    expect(s.core.ringPending(s.rings[0]!)).toBe(0); // neither claimed a record
    s.core.routerLeave(s.router, 1);
  });

  test('a bad topic is -STATUS_INVALID', async () => {
    const s = await setup(backend);
    s.core.routerEnter(s.router, 1);
    expect(s.core.dispatchBatch(s.router, 1, 99, s.src, 1, RECORD, KEY_NONE, 0, 0, s.table, TAG_OFFSET, s.pushed, 0, s.out, s.result)).toBe(-STATUS_INVALID);
    s.core.routerLeave(s.router, 1);
  });
});

test('wasm and js write the same bytes (rings, router cursors, counters, result), also when a ring fills', async () => {
  for (const capacity of [64, 8]) {
    const w = await setup('wasm', capacity);
    const j = await setup('js', capacity);
    for (const s of [w, j]) fillRecords(s, 40);
    for (const [, keyKind, keyOffset, keyLength] of KEYS) {
      expect(dispatch(w, 40, keyKind, keyOffset, keyLength)).toBe(dispatch(j, 40, keyKind, keyOffset, keyLength));
    }
    const span = w.t.arena.scratch[1]!.address + 2048 - w.t.arena.rings[0]!.address;
    expect(bytesAt(w.t.views, w.t.arena.rings[0]!.address, span)).toEqual(bytesAt(j.t.views, j.t.arena.rings[0]!.address, span));
    expect(DISPATCH_RESULT_BYTES).toBe(16);
  }
});

// ── least-loaded picks (the balance table) ──────────────────────────────────────────────────────

const BALANCE_AT = 512; // scratch offset of the u8 balance table (tags < 64)
const PREFILL_AT = 4096; // scratch offset of the record used to pre-fill rings
const PREFILL_SEQ = 1000; // pre-filled records carry seq ≥ this
const routeEntry = (ring: number, tag: number): number => ((ring << ROUTE_RING_SHIFT) | tag) >>> 0;

interface Balanced extends Setup { balance: number }

/**
 * Topic 0: a least-loaded group (tag 11) whose members are rings 2, 0, 1 in entry order, with a
 * broadcast to ring 1 (tag 12) and a round-robin group of rings 0, 2 (tag 7) among its entries, and
 * a second least-loaded group (tag 13) of rings 1, 0; route entries per record:
 * [2:11, 1:12, 0:11, 0|2:7, 1:11, 1:13, 0:13]. Topic 1: a least-loaded group (tag 14) of rings
 * 2, 0, 1 alone. Least-loaded members are router broadcast subscriptions, as the engine makes
 * them; the balance table marks tags 11, 13 and 14.
 */
async function setupBalanced(backend: 'wasm' | 'js', capacities: readonly number[] = [64, 64, 64]): Promise<Balanced> {
  const t = await newArena({
    threads: 2, rings: capacities.map((capacity) => ({ capacity, recordSize: RECORD })),
    routers: [{ maxTopics: 4, maxSubscriptions: 16 }], scratchBytes: 65536,
  }, backend);
  const core = t.cores[backend];
  const router = t.arena.router(0).address;
  const rings = t.arena.rings.map((r) => r.address);
  expect(core.routerTryLock(router, 0)).toBe(STATUS_OK);
  const subscriptions: [number, number, number, number][] = [
    [0, 2, 11, MODE_BROADCAST], [0, 1, 12, MODE_BROADCAST], [0, 0, 11, MODE_BROADCAST], [0, 0, 7, MODE_GROUP],
    [0, 1, 11, MODE_BROADCAST], [0, 1, 13, MODE_BROADCAST], [0, 2, 7, MODE_GROUP], [0, 0, 13, MODE_BROADCAST],
    [1, 2, 14, MODE_BROADCAST], [1, 0, 14, MODE_BROADCAST], [1, 1, 14, MODE_BROADCAST],
  ];
  for (const [topic, ring, tag, mode] of subscriptions) expect(core.routerAddSubscription(router, topic, routeEntry(ring, tag), mode, tag)).toBeGreaterThanOrEqual(0);
  expect(core.routerTryPublish(router)).toBe(STATUS_OK);
  const scratch = t.scratch(1);
  rings.forEach((address, i) => { t.views.u32[(scratch >> 2) + i] = address; });
  const balance = scratch + BALANCE_AT;
  for (const tag of [11, 13, 14]) t.views.u8[balance + tag] = 1;
  return { t, core, router, rings, table: scratch, pushed: scratch + 64, out: scratch + 256, result: scratch + 128, src: scratch + 1024, balance };
}

/**
 * Fills ring `ring` as its producer and consumer would: `published` records pushed and flushed, of
 * which the consumer committed `committed` and then read (not committed) `read` more; then
 * `unflushed` records pushed and not flushed. Its producer-side depth is then
 * published - committed + unflushed.
 */
function prefill(s: Setup, ring: number, published: number, committed: number, read: number, unflushed: number): void {
  const { core } = s;
  const { u32 } = s.t.views;
  const address = s.rings[ring]!;
  const record = s.t.scratch(1) + PREFILL_AT;
  let seq = PREFILL_SEQ;
  const push = (): void => {
    u32[(record >> 2) + 1] = seq++;
    expect(core.ringTryPush(address, record)).toBe(STATUS_OK);
  };
  for (let i = 0; i < published; i++) push();
  core.ringFlush(address);
  for (let i = 0; i < committed; i++) expect(core.ringTryPeek(address)).toBeGreaterThanOrEqual(ADDRESS_MIN);
  core.ringCommit(address);
  for (let i = 0; i < read; i++) expect(core.ringTryPeek(address)).toBeGreaterThanOrEqual(ADDRESS_MIN);
  for (let i = 0; i < unflushed; i++) push();
}

/** The route entries dispatchBatch (or the model) left at `out` for the last record routed. */
function outEntries(s: Setup, count: number): number[] {
  return Array.from(s.t.views.u32.subarray(s.out >> 2, (s.out >> 2) + count));
}

/** Flushes every ring, then: the seqs (below PREFILL_SEQ) and tags each ring now hands out, in order. */
function dispatched(s: Setup): [number, number][][] {
  for (const ring of s.rings) s.core.ringFlush(ring);
  return ringContents(s).map((records) => records
    .map((r): [number, number] => [Math.floor(r / 65536), r % 65536])
    .filter(([seq]) => seq < PREFILL_SEQ));
}

/** Depths 2 (ring 0: committed and read records gone), 3 (ring 1: 2 of them unflushed), 4 (ring 2: 4 read, none committed). */
function prefillDepths(s: Setup): void {
  prefill(s, 0, 5, 3, 0, 0);
  prefill(s, 1, 1, 0, 0, 2);
  prefill(s, 2, 4, 0, 4, 0);
}

/** Scenario: topic 1 (one least-loaded group), 9 records, rings at depths 2, 3, 4. */
async function leastLoadedScenario(backend: 'wasm' | 'js'): Promise<{ s: Balanced; done: number }> {
  const s = await setupBalanced(backend);
  fillRecords(s, 9);
  prefillDepths(s);
  return { s, done: dispatch(s, 9, KEY_NONE, 0, 0, { topic: 1, balance: s.balance }) };
}

/** Scenario: topic 0 (a least-loaded group between a broadcast and a round-robin group, and a
 *  second one), 40 records; without the balance table 12 (7 copies each: ring 1 would fill). */
async function mixScenario(backend: 'wasm' | 'js', balanced: boolean): Promise<{ s: Balanced; done: number }> {
  const s = await setupBalanced(backend);
  const count = balanced ? 40 : 12;
  fillRecords(s, count);
  prefillDepths(s);
  return { s, done: dispatch(s, count, KEY_U32, KEY_OFFSET, 4, { balance: balanced ? s.balance : 0 }) };
}

/** dispatchBatch with its result block, or the model's answer for the same call. */
function step(s: Setup, count: number, keyKind: number, call: Call, useModel: boolean): ReturnType<typeof model> {
  if (useModel) return model(s, count, keyKind, 0, 0, call);
  s.t.views.u32.fill(0, s.pushed >> 2, (s.pushed >> 2) + 3); // counts per call, as the engine collects them
  return resultOf(s, dispatch(s, count, keyKind, 0, 0, call)) as ReturnType<typeof model>;
}

/**
 * Scenario: ring 0 holds 4 records, rings 1 and 2 hold 16; at depths 0, 3, 4 the least-loaded ring
 * 0 fills first: the 7th record's pick chooses it (entry 1) while the others have room. Then the
 * resume as the engine does it: the consumer of ring 0 frees its records, the chosen entry takes
 * the stopped record, and the batch continues after it (until ring 0, the least loaded again,
 * fills again).
 */
async function fullScenario(backend: 'wasm' | 'js', useModel = false): Promise<{ s: Balanced; done: number; stop: ReturnType<typeof model>; out: number[]; rest: ReturnType<typeof model> }> {
  const s = await setupBalanced(backend, [4, 16, 16]);
  fillRecords(s, 12);
  prefill(s, 1, 3, 0, 0, 0);
  prefill(s, 2, 4, 0, 0, 0);
  const call = { topic: 1, balance: s.balance };
  const stop = step(s, 12, KEY_NONE, call, useModel);
  const out = outEntries(s, stop.entryCount);
  // Resume: from FAILED_ENTRY on, the first entry that is not skipped is the chosen one.
  const chosen = out[stop.failedEntry]!;
  const ring0 = s.rings[0]!;
  s.core.ringFlush(ring0);
  for (let i = 0; i < 4; i++) expect(s.core.ringTryPeek(ring0)).toBeGreaterThanOrEqual(ADDRESS_MIN);
  s.core.ringCommit(ring0);
  const record = s.src + stop.done * RECORD;
  s.t.views.u8[record + TAG_OFFSET] = chosen & 0xff;
  s.t.views.u8[record + TAG_OFFSET + 1] = (chosen >>> 8) & 0xff;
  expect(s.core.ringTryPush(s.rings[chosen >>> ROUTE_RING_SHIFT]!, record)).toBe(STATUS_OK);
  const rest = step(s, 12 - stop.done - 1, KEY_NONE, { ...call, from: stop.done + 1 }, useModel);
  return { s, done: stop.done, stop, out, rest };
}

describe.each(BACKENDS)('dispatchBatch least-loaded (%s)', (backend) => {
  test('each record goes to the ring holding the fewest records (committed and read ones gone, unflushed ones counted), ties to the earliest entry', async () => {
    const { s, done } = await leastLoadedScenario(backend);
    // Depths (entry order rings 2, 0, 1): 4, 2, 3 → ring 0 twice (the second a tie with ring 1, ring 0's entry first), ring 1,
    // then a three-way tie: ring 2 (entry 0), and round again.
    expect(resultOf(s, done)).toEqual({ done: 9, routed: 9, unrouted: 0, pushed: [4, 3, 2], failedEntry: 0, entryCount: 0 });
    expect(outEntries(s, 3)).toEqual([ROUTE_SKIPPED, ROUTE_SKIPPED, routeEntry(1, 14)]); // the last record went to ring 1
    expect(dispatched(s)).toEqual([
      [[0, 14], [1, 14], [4, 14], [7, 14]],
      [[2, 14], [5, 14], [8, 14]],
      [[3, 14], [6, 14]],
    ]);
  });

  test('a ring whose consumer closed it (a crashed worker) is never picked, though its depth froze lowest', async () => {
    const s = await setupBalanced(backend);
    fillRecords(s, 9);
    prefillDepths(s);
    s.core.ringCloseConsumer(s.rings[0]!); // depth 2: the shallowest
    const done = dispatch(s, 9, KEY_NONE, 0, 0, { topic: 1, balance: s.balance });
    expect(resultOf(s, done)).toMatchObject({ done: 9, routed: 9, unrouted: 0 });
    expect(resultOf(s, done).pushed[0]).toBe(0);
    const m = await setupBalanced(backend);
    fillRecords(m, 9);
    prefillDepths(m);
    m.core.ringCloseConsumer(m.rings[0]!);
    expect(resultOf(s, done)).toEqual(model(m, 9, KEY_NONE, 0, 0, { topic: 1, balance: m.balance }));
    expect(dispatched(s)).toEqual(dispatched(m));
  });

  test('the per-record model agrees: one pick per record, the same rings, counts and skipped entries', async () => {
    const { s, done } = await leastLoadedScenario(backend);
    const m = await setupBalanced(backend);
    fillRecords(m, 9);
    prefillDepths(m);
    expect(resultOf(s, done)).toEqual(model(m, 9, KEY_NONE, 0, 0, { topic: 1, balance: m.balance }));
    expect(outEntries(s, 3)).toEqual(outEntries(m, 3));
    expect(dispatched(s)).toEqual(dispatched(m));
  });

  test('a least-loaded group beside a broadcast and a round-robin group, and a second group: one copy per group, as the model', async () => {
    const { s, done } = await mixScenario(backend, true);
    const m = await setupBalanced(backend);
    fillRecords(m, 40);
    prefillDepths(m);
    const expected = model(m, 40, KEY_U32, KEY_OFFSET, 4, { balance: m.balance });
    expect(resultOf(s, done)).toEqual(expected);
    expect(expected.routed).toBe(40 * 4); // the broadcast, one round-robin member, one member of each least-loaded group
    const out = outEntries(s, 7);
    expect(out).toEqual(outEntries(m, 7));
    expect(out.filter((e) => e === ROUTE_SKIPPED)).toHaveLength(3);
    expect(out[1]).toBe(routeEntry(1, 12)); // the broadcast entry is never skipped
    const rings = dispatched(s);
    expect(rings).toEqual(dispatched(m));
    // Every record: exactly one copy tagged 11, one tagged 13, one 12 (ring 1) and one 7.
    for (const tag of [11, 12, 13, 7]) {
      const seqs = rings.flat().filter(([, t]) => t === tag).map(([seq]) => seq).sort((a, b) => a - b);
      expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => i));
    }
  });

  test('balance 0, or a table of zeros, routes exactly as before: every least-loaded member gets a copy', async () => {
    const { s, done } = await mixScenario(backend, false);
    const zeros = await setupBalanced(backend);
    for (const tag of [11, 13, 14]) zeros.t.views.u8[zeros.balance + tag] = 0;
    fillRecords(zeros, 12);
    prefillDepths(zeros);
    const zerosDone = dispatch(zeros, 12, KEY_U32, KEY_OFFSET, 4, { balance: zeros.balance });
    const m = await setupBalanced(backend);
    fillRecords(m, 12);
    prefillDepths(m);
    const expected = model(m, 12, KEY_U32, KEY_OFFSET, 4);
    expect(expected.routed).toBe(12 * 7);
    expect(resultOf(s, done)).toEqual(expected);
    expect(resultOf(zeros, zerosDone)).toEqual(expected);
    expect(outEntries(s, 7)).not.toContain(ROUTE_SKIPPED);
    const rings = dispatched(s);
    expect(dispatched(zeros)).toEqual(rings);
    expect(dispatched(m)).toEqual(rings);
  });

  test('a full chosen ring: stops at the chosen entry with the others skipped; resuming there picks the same member', async () => {
    const { s, stop, out, rest } = await fullScenario(backend);
    // Depths (entry order rings 2, 0, 1): 4, 0, 3 → ring 0 ×4 (full: capacity 4), ring 1, ring 2
    // (a three-way tie at 4: the earliest entry), then ring 0 again (entry 1): full.
    expect(stop).toEqual({ done: 6, routed: 6, unrouted: 0, pushed: [4, 1, 1], failedEntry: 1, entryCount: 3 });
    expect(out).toEqual([ROUTE_SKIPPED, routeEntry(0, 14), ROUTE_SKIPPED]);
    // What the engine's per-record leastLoaded sees from FAILED_ENTRY on: the chosen entry, alone in its pick.
    expect(out.slice(stop.failedEntry).filter((e) => e !== ROUTE_SKIPPED)).toEqual([routeEntry(0, 14)]);
    // Resumed at depths 5, 1, 4: records 7, 8, 9 fill ring 0 again and record 10 stops there.
    expect(rest).toEqual({ done: 3, routed: 3, unrouted: 0, pushed: [3, 0, 0], failedEntry: 1, entryCount: 3 });
    const m = await fullScenario(backend, true);
    expect({ stop: m.stop, out: m.out, rest: m.rest }).toEqual({ stop, out, rest });
    expect(outEntries(s, 3)).toEqual(outEntries(m.s, 3));
    const rings = dispatched(s);
    expect(rings).toEqual(dispatched(m.s));
    expect(rings).toEqual([[[6, 14], [7, 14], [8, 14], [9, 14]], [[4, 14]], [[5, 14]]]);
  });
});

test('least-loaded picks: wasm and js write the same bytes (rings, cursors, counters, route entries, result), also at a full ring', async () => {
  const scenarios: ((backend: 'wasm' | 'js') => Promise<{ s: Balanced; done: number }>)[] = [
    leastLoadedScenario, (b) => mixScenario(b, true), (b) => mixScenario(b, false), fullScenario,
  ];
  for (const scenario of scenarios) {
    const w = await scenario('wasm');
    const j = await scenario('js');
    expect(w.done).toBe(j.done);
    const start = w.s.t.arena.rings[0]!.address;
    const span = w.s.t.scratch(1) + PREFILL_AT + RECORD - start;
    expect(j.s.t.arena.rings[0]!.address).toBe(start);
    expect(bytesAt(w.s.t.views, start, span)).toEqual(bytesAt(j.s.t.views, start, span));
  }
});

test(`least-loaded picks at random fill levels, capacities, topics and batch sizes: wasm = js = the model, byte for byte (${FC_RUNS} runs)`, async () => {
  const fill = fc.tuple(fc.nat(16), fc.nat(16), fc.nat(16), fc.nat(16));
  await fc.assert(fc.asyncProperty(
    fc.array(fc.constantFrom(4, 8, 16), { minLength: 3, maxLength: 3 }), fc.array(fill, { minLength: 3, maxLength: 3 }),
    fc.integer({ min: 0, max: 1 }), fc.integer({ min: 1, max: 40 }), fc.boolean(),
    async (capacities, fills, topic, count, balanced) => {
      const sides = await Promise.all((['wasm', 'js', 'wasm'] as const).map((backend) => setupBalanced(backend, capacities)));
      for (const s of sides) {
        fillRecords(s, count);
        fills.forEach(([published, committed, read, unflushed], ring) => {
          const capacity = capacities[ring]!;
          const p = published % (capacity + 1);
          const c = committed % (p + 1);
          prefill(s, ring, p, c, read % (p - c + 1), unflushed % (capacity - (p - c) + 1));
        });
      }
      const [w, j, m] = sides as [Balanced, Balanced, Balanced];
      const call = (s: Balanced): Call => ({ topic, balance: balanced ? s.balance : 0 });
      const doneW = dispatch(w, count, KEY_U32, KEY_OFFSET, 4, call(w));
      const doneJ = dispatch(j, count, KEY_U32, KEY_OFFSET, 4, call(j));
      const expected = model(m, count, KEY_U32, KEY_OFFSET, 4, call(m));
      expect(resultOf(w, doneW)).toEqual(expected);
      expect(resultOf(j, doneJ)).toEqual(expected);
      const entries = expected.entryCount > 0 ? expected.entryCount : topic === 0 ? 7 : 3;
      expect(outEntries(w, entries)).toEqual(outEntries(m, entries));
      const start = w.t.arena.rings[0]!.address;
      const span = w.t.scratch(1) + PREFILL_AT + RECORD - start;
      expect(bytesAt(w.t.views, start, span)).toEqual(bytesAt(j.t.views, start, span));
      expect(dispatched(w)).toEqual(dispatched(m));
    },
  ), { numRuns: FC_RUNS });
}, Math.max(120_000, FC_RUNS * 1_000)); // three fresh arenas per run

// ── keyHash and pickLeastLoaded: dispatchBatch's per-record pieces as ops of their own ──────────

/** What keyHash must return, from the hash ops and the key-kind table of assembly/layout/dispatch.ts. */
function expectedKeyHash(core: CoreOps, u8: Uint8Array, at: number, keyKind: number, keyLength: number): number {
  switch (keyKind) {
    case KEY_NONE: return 0;
    case KEY_U32: return core.hashU32((u8[at]! | (u8[at + 1]! << 8) | (u8[at + 2]! << 16) | (u8[at + 3]! << 24)) >>> 0);
    case KEY_U8: return core.hashU32(u8[at]!);
    case KEY_PREFIXED_BYTES: return core.hashBytes(at + 2, u8[at]! | (u8[at + 1]! << 8));
    case KEY_BYTES: return core.hashBytes(at, keyLength);
    default: return 0;
  }
}

/** A least-loaded pick written out plainly: entry `from` and the later entries of tag `tag` that are
 *  not skipped, each ring's ringSize + ringPending (u32 max when its consumer closed it), the first
 *  smallest wins; the entries it should leave at `out` (the others of the pick skipped). */
function pickModel(s: Setup, entries: readonly number[], from: number, n: number, tag: number): { best: number; out: number[] } {
  const candidates = [from];
  for (let k = from + 1; k < n; k++) if (entries[k] !== ROUTE_SKIPPED && (entries[k]! & ROUTE_TAG_MASK) === tag) candidates.push(k);
  const depth = (k: number): number => {
    const ring = s.rings[entries[k]! >>> ROUTE_RING_SHIFT]!;
    if (Atomics.load(s.t.views.i32, (ring + RING_CONSUMER_CLOSED_OFFSET) >> 2) !== 0) return 0xffffffff;
    return (s.core.ringSize(ring) + s.core.ringPending(ring)) >>> 0;
  };
  const depths = candidates.map(depth);
  const best = candidates[depths.indexOf(Math.min(...depths))]!;
  return { best, out: entries.map((e, k) => (k !== best && candidates.includes(k) ? ROUTE_SKIPPED : e)) };
}

/** Writes `entries` at `out`, calls pickLeastLoaded, returns its answer and what it left at `out`. */
function pick(s: Setup, entries: readonly number[], from: number, n: number, tag: number): { best: number; out: number[] } {
  s.t.views.u32.set(entries, s.out >> 2);
  const best = s.core.pickLeastLoaded(s.out, from, n, tag, s.table);
  return { best, out: outEntries(s, entries.length) };
}

/** Where the `bytes` bytes at `at` first differ between two arenas (-1: nowhere). Quicker than
 *  toEqual on tens of KiB, which the properties below would pay on every run. */
function firstDifference(a: Setup, b: Setup, at: number, bytes: number): number {
  const x = bytesAt(a.t.views, at, bytes);
  const y = bytesAt(b.t.views, at, bytes);
  for (let i = 0; i < bytes; i++) if (x[i] !== y[i]) return at + i;
  return -1;
}

/**
 * The engine's per-record path made of the ops, as ThreadRuntime uses them: keyHash from `split`
 * bytes into the record (the engine passes the message address and the key's offset in the
 * message), routerRoute, then for each entry pickLeastLoaded when its tag's balance byte is set,
 * the tag stamp and ringTryPush. Stops at the first failed push, as dispatchBatch; model()'s shape.
 */
function perRecord(s: Setup, count: number, keyKind: number, keyOffset: number, keyLength: number, call: Call = {}, split = 0): ReturnType<typeof model> {
  const { u8, u32, dv } = s.t.views;
  const core = s.core;
  const balance = call.balance ?? 0;
  const out = s.out >> 2;
  const pushed = [0, 0, 0];
  let routed = 0;
  let unrouted = 0;
  core.routerEnter(s.router, 1);
  try {
    for (let i = 0; i < count; i++) {
      const record = s.src + ((call.from ?? 0) + i) * RECORD;
      const n = core.routerRoute(s.router, 1, call.topic ?? 0, core.keyHash(record + split, keyKind, keyOffset - split, keyLength) >>> 0, s.out);
      if (n === 0) unrouted++;
      for (let j = 0; j < n; j++) {
        const entry = u32[out + j]!;
        if (entry === ROUTE_SKIPPED) continue;
        const tag = entry & ROUTE_TAG_MASK;
        if (balance !== 0 && u8[balance + tag] !== 0 && core.pickLeastLoaded(s.out, j, n, tag, s.table) !== j) continue;
        const ring = entry >>> ROUTE_RING_SHIFT;
        dv.setUint16(record + TAG_OFFSET, tag, true);
        if (core.ringTryPush(s.rings[ring]!, record) !== STATUS_OK) return { done: i, routed, unrouted, pushed, failedEntry: j, entryCount: n };
        pushed[ring]!++;
        routed++;
      }
    }
    return { done: count, routed, unrouted, pushed, failedEntry: 0, entryCount: 0 };
  } finally {
    core.routerLeave(s.router, 1);
  }
}

describe.each(BACKENDS)('keyHash (%s)', (backend) => {
  test.each(KEYS)('%s: the hash op the key-kind table names, from a record or from inside it', async (_, keyKind, keyOffset, keyLength) => {
    const s = await setup(backend);
    fillRecords(s, 20);
    const { u8 } = s.t.views;
    const hashes = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const record = s.src + i * RECORD;
      const expected = expectedKeyHash(s.core, u8, record + keyOffset, keyKind, keyLength);
      expect([i, s.core.keyHash(record, keyKind, keyOffset, keyLength)]).toEqual([i, expected]);
      // The engine's way: the message address and the key's offset within the message.
      const split = Math.min(keyOffset, 8);
      expect([i, s.core.keyHash(record + split, keyKind, keyOffset - split, keyLength)]).toEqual([i, expected]);
      hashes.add(expected);
    }
    // Distinct keys among the 20 records: none; 4 bytes; 16 prefixed (the 5 of length 0 are one); 20.
    expect(hashes.size).toBe(keyKind === KEY_NONE ? 1 : keyKind === KEY_U8 ? 4 : keyKind === KEY_PREFIXED_BYTES ? 16 : 20);
  });

  test('KEY_NONE and unknown kinds hash to 0 and read nothing (an address past the memory is fine)', async () => {
    const s = await setup(backend);
    const end = s.t.memory.buffer.byteLength;
    expect(s.core.keyHash(end, KEY_NONE, 64, 4)).toBe(0);
    expect(s.core.keyHash(end, 99, 64, 4)).toBe(0);
    expect(s.core.keyHash(s.src, KEY_PREFIXED_BYTES + 1, 0, 4)).toBe(0);
  });

  test('KEY_BYTES of length 0 and KEY_PREFIXED_BYTES of length 0 are the empty hash', async () => {
    const s = await setup(backend);
    s.t.views.u32.fill(0xdeadbeef, s.src >> 2, (s.src >> 2) + 8);
    s.t.views.u8[s.src + 4] = 0;
    s.t.views.u8[s.src + 5] = 0;
    const empty = s.core.hashBytes(s.src, 0);
    expect(s.core.keyHash(s.src, KEY_BYTES, 4, 0)).toBe(empty);
    expect(s.core.keyHash(s.src, KEY_PREFIXED_BYTES, 4, 99)).toBe(empty);
  });
});

describe.each(BACKENDS)('pickLeastLoaded (%s)', (backend) => {
  test('the entry whose ring holds the fewest records (committed and read ones gone, unflushed ones counted); the others skipped', async () => {
    const s = await setupBalanced(backend);
    prefillDepths(s); // depths 2, 3, 4
    expect(pick(s, [routeEntry(2, 14), routeEntry(1, 14), routeEntry(0, 14)], 0, 3, 14)).toEqual({ best: 2, out: [ROUTE_SKIPPED, ROUTE_SKIPPED, routeEntry(0, 14)] });
    expect(pick(s, [routeEntry(2, 14), routeEntry(1, 14)], 0, 2, 14)).toEqual({ best: 1, out: [ROUTE_SKIPPED, routeEntry(1, 14)] });
    expect(pick(s, [routeEntry(0, 14), routeEntry(2, 14), routeEntry(1, 14)], 0, 3, 14)).toEqual({ best: 0, out: [routeEntry(0, 14), ROUTE_SKIPPED, ROUTE_SKIPPED] });
  });

  test('ties go to the earliest entry', async () => {
    const s = await setupBalanced(backend);
    expect(pick(s, [routeEntry(2, 14), routeEntry(0, 14), routeEntry(1, 14)], 0, 3, 14)).toEqual({ best: 0, out: [routeEntry(2, 14), ROUTE_SKIPPED, ROUTE_SKIPPED] });
    prefill(s, 2, 3, 0, 0, 0);
    prefill(s, 0, 1, 0, 0, 0);
    prefill(s, 1, 0, 0, 0, 1); // depths 1, 1, 3: rings 0 and 1 tie, ring 1's entry first
    expect(pick(s, [routeEntry(2, 14), routeEntry(1, 14), routeEntry(0, 14)], 0, 3, 14)).toEqual({ best: 1, out: [ROUTE_SKIPPED, routeEntry(1, 14), ROUTE_SKIPPED] });
  });

  test('never a ring whose consumer closed it while a live one is among the candidates; all closed: the earliest', async () => {
    const s = await setupBalanced(backend);
    prefillDepths(s); // depths 2, 3, 4
    s.core.ringCloseConsumer(s.rings[0]!); // the shallowest
    expect(pick(s, [routeEntry(0, 14), routeEntry(2, 14), routeEntry(1, 14)], 0, 3, 14)).toEqual({ best: 2, out: [ROUTE_SKIPPED, ROUTE_SKIPPED, routeEntry(1, 14)] });
    expect(pick(s, [routeEntry(0, 14), routeEntry(2, 14)], 0, 2, 14)).toEqual({ best: 1, out: [ROUTE_SKIPPED, routeEntry(2, 14)] });
    s.core.ringCloseConsumer(s.rings[1]!);
    s.core.ringCloseConsumer(s.rings[2]!);
    expect(pick(s, [routeEntry(0, 14), routeEntry(2, 14), routeEntry(1, 14)], 0, 3, 14)).toEqual({ best: 0, out: [routeEntry(0, 14), ROUTE_SKIPPED, ROUTE_SKIPPED] });
  });

  test('passes over ROUTE_SKIPPED entries, entries of other tags, entries before `from` and from `n` on, and leaves them as they are', async () => {
    const s = await setupBalanced(backend);
    prefillDepths(s); // depths 2, 3, 4: ring 0 is the shallowest, but its entries are not candidates
    const entries = [routeEntry(0, 14), routeEntry(2, 14), ROUTE_SKIPPED, routeEntry(0, 7), routeEntry(1, 13), routeEntry(1, 14), routeEntry(0, 15), routeEntry(0, 14)];
    expect(pick(s, entries, 1, 7, 14)).toEqual({
      best: 5, out: [routeEntry(0, 14), ROUTE_SKIPPED, ROUTE_SKIPPED, routeEntry(0, 7), routeEntry(1, 13), routeEntry(1, 14), routeEntry(0, 15), routeEntry(0, 14)],
    });
    // ROUTE_SKIPPED has every tag bit set: a pick of that tag still passes it over.
    const top = ROUTE_TAG_MASK;
    expect(pick(s, [routeEntry(2, top), ROUTE_SKIPPED, routeEntry(1, top), ROUTE_SKIPPED], 0, 4, top)).toEqual({
      best: 2, out: [ROUTE_SKIPPED, ROUTE_SKIPPED, routeEntry(1, top), ROUTE_SKIPPED],
    });
  });

  test('a pick of one returns `from` and changes nothing', async () => {
    const s = await setupBalanced(backend);
    prefillDepths(s);
    const entries = [routeEntry(1, 12), routeEntry(2, 14), routeEntry(0, 13), ROUTE_SKIPPED];
    expect(pick(s, entries, 1, 4, 14)).toEqual({ best: 1, out: entries });
    expect(pick(s, entries, 2, 4, 13).best).toBe(2);
    expect(outEntries(s, 4)).toEqual(entries);
  });

  test('the same picks as the model over a whole route of the mixed topic, from each pick\'s opening entry', async () => {
    const s = await setupBalanced(backend);
    prefillDepths(s);
    const entries = [routeEntry(2, 11), routeEntry(1, 12), routeEntry(0, 11), routeEntry(2, 7), routeEntry(1, 11), routeEntry(1, 13), routeEntry(0, 13)];
    for (const [from, tag] of [[0, 11], [5, 13], [2, 11], [4, 11]] as const) {
      const expected = pickModel(s, entries, from, entries.length, tag);
      expect([from, pick(s, entries, from, entries.length, tag)]).toEqual([from, expected]);
    }
  });
});

const KEY_KIND = fc.constantFrom(KEY_NONE, KEY_U32, KEY_U8, KEY_BYTES, KEY_PREFIXED_BYTES, 7);

test(`keyHash on random bytes, kinds, offsets and lengths: wasm = js = the hash ops (${FC_RUNS} runs; the seed is printed on failure)`, async () => {
  const s = await setup('wasm');
  const { wasm, js } = s.t.cores;
  const { u8 } = s.t.views;
  await fc.assert(fc.property(
    fc.uint8Array({ minLength: 128, maxLength: 128 }), KEY_KIND, fc.nat(63), fc.nat(64), fc.nat(64), fc.nat(63),
    (bytes, keyKind, offset, keyLength, prefixed, splitSeed) => {
      u8.set(bytes, s.src);
      // Keys are naturally aligned (the schema's layout): u32 keys on 4, u16 length prefixes on 2.
      const keyOffset = keyKind === KEY_U32 ? offset & ~3 : keyKind === KEY_PREFIXED_BYTES ? offset & ~1 : offset;
      if (keyKind === KEY_PREFIXED_BYTES) s.t.views.dv.setUint16(s.src + keyOffset, prefixed, true);
      const split = splitSeed % (keyOffset + 1);
      const expected = expectedKeyHash(wasm, u8, s.src + keyOffset, keyKind, keyLength);
      expect(expectedKeyHash(js, u8, s.src + keyOffset, keyKind, keyLength)).toBe(expected);
      expect(wasm.keyHash(s.src, keyKind, keyOffset, keyLength)).toBe(expected);
      expect(js.keyHash(s.src, keyKind, keyOffset, keyLength)).toBe(expected);
      expect(wasm.keyHash(s.src + split, keyKind, keyOffset - split, keyLength)).toBe(expected);
      expect(js.keyHash(s.src + split, keyKind, keyOffset - split, keyLength)).toBe(expected);
    },
  ), { numRuns: FC_RUNS });
});

/** Random ring state for the pick properties: capacities, fill levels (as prefill takes them) and consumer-closed rings. */
const RING_STATE = fc.record({
  capacities: fc.array(fc.constantFrom(4, 8, 16), { minLength: 3, maxLength: 3 }),
  fills: fc.array(fc.tuple(fc.nat(16), fc.nat(16), fc.nat(16), fc.nat(16)), { minLength: 3, maxLength: 3 }),
  closed: fc.array(fc.integer({ min: 0, max: 3 }).map((x) => x === 0), { minLength: 3, maxLength: 3 }),
});

function applyRingState(s: Setup, state: { capacities: number[]; fills: [number, number, number, number][]; closed: boolean[] }): void {
  state.fills.forEach(([published, committed, read, unflushed], ring) => {
    const capacity = state.capacities[ring]!;
    const p = published % (capacity + 1);
    const c = committed % (p + 1);
    prefill(s, ring, p, c, read % (p - c + 1), unflushed % (capacity - (p - c) + 1));
  });
  state.closed.forEach((closed, ring) => { if (closed) s.core.ringCloseConsumer(s.rings[ring]!); });
}

test(`pickLeastLoaded on random entries, tags, fill levels and closed rings: wasm = js = the model, byte for byte (${FC_RUNS} runs; the seed is printed on failure)`, async () => {
  const TAGS = [3, 14, 0xfffe, ROUTE_TAG_MASK]; // the last: ROUTE_SKIPPED's tag bits, on a real ring
  const entry = fc.oneof(
    { arbitrary: fc.constant(ROUTE_SKIPPED), weight: 1 },
    { arbitrary: fc.tuple(fc.nat(2), fc.constantFrom(...TAGS)).map(([ring, tag]) => routeEntry(ring, tag)), weight: 4 },
  );
  await fc.assert(fc.asyncProperty(
    RING_STATE, fc.array(entry, { minLength: 1, maxLength: 12 }), fc.nat(), fc.nat(), fc.nat(2), fc.constantFrom(...TAGS),
    async (state, drawn, fromSeed, nSeed, openerRing, tag) => {
      const from = fromSeed % drawn.length;
      const n = from + 1 + (nSeed % (drawn.length - from));
      const entries = drawn.map((e, k) => (k === from ? routeEntry(openerRing, tag) : e));
      const [w, j] = await Promise.all((['wasm', 'js'] as const).map((backend) => setupBalanced(backend, state.capacities))) as [Balanced, Balanced];
      for (const s of [w, j]) applyRingState(s, state);
      const expected = pickModel(w, entries, from, n, tag);
      expect(pick(w, entries, from, n, tag)).toEqual(expected);
      expect(pick(j, entries, from, n, tag)).toEqual(expected);
      // Nothing else written either: rings, router, both scratch blocks agree to the byte.
      const start = w.t.arena.rings[0]!.address;
      expect(firstDifference(w, j, start, w.t.scratch(1) + PREFILL_AT + RECORD - start)).toBe(-1);
    },
  ), { numRuns: FC_RUNS });
}, Math.max(120_000, FC_RUNS * 1_000));

describe.each(BACKENDS)('a per-record path of keyHash, routerRoute and pickLeastLoaded (%s)', (backend) => {
  test.each(KEYS)('%s: routes and enqueues every record as dispatchBatch does, also when a ring fills', async (_, keyKind, keyOffset, keyLength) => {
    for (const capacity of [64, 8]) {
      const batch = await setup(backend, capacity);
      const single = await setup(backend, capacity);
      fillRecords(batch, 40);
      fillRecords(single, 40);
      const done = dispatch(batch, 40, keyKind, keyOffset, keyLength);
      expect(perRecord(single, 40, keyKind, keyOffset, keyLength, {}, Math.min(keyOffset, 8))).toEqual(resultOf(batch, done));
      const start = batch.t.arena.rings[0]!.address;
      expect(firstDifference(single, batch, start, batch.t.scratch(1) - start)).toBe(-1);
      expect(outEntries(single, 3)).toEqual(outEntries(batch, 3));
      expect(dispatched(single)).toEqual(dispatched(batch));
    }
  });
});

test(`a per-record path of the ops at random fill levels, closed rings, topics and batch sizes: the same picks, rings and entries as dispatchBatch, on both backends (${FC_RUNS} runs; the seed is printed on failure)`, async () => {
  await fc.assert(fc.asyncProperty(
    RING_STATE, fc.integer({ min: 0, max: 1 }), fc.integer({ min: 1, max: 40 }), fc.boolean(), fc.nat(KEY_OFFSET),
    async (state, topic, count, balanced, split) => {
      const sides = await Promise.all((['wasm', 'wasm', 'js'] as const).map((backend) => setupBalanced(backend, state.capacities)));
      for (const s of sides) {
        fillRecords(s, count);
        applyRingState(s, state);
      }
      const [batch, ...singles] = sides as [Balanced, Balanced, Balanced];
      const call = (s: Balanced): Call => ({ topic, balance: balanced ? s.balance : 0 });
      const expected = resultOf(batch, dispatch(batch, count, KEY_U32, KEY_OFFSET, 4, call(batch)));
      const entries = expected.entryCount > 0 ? expected.entryCount : topic === 0 ? 7 : 3;
      const start = batch.t.arena.rings[0]!.address;
      // Rings, router cursors, then (past the pushed counts and the result block) the route
      // entries, the records with their tags and the pre-fill record.
      const spans = [[start, batch.t.scratch(1) - start], [batch.out, batch.t.scratch(1) + PREFILL_AT + RECORD - batch.out]] as const;
      for (const single of singles) {
        expect(perRecord(single, count, KEY_U32, KEY_OFFSET, 4, call(single), split)).toEqual(expected);
        expect(outEntries(single, entries)).toEqual(outEntries(batch, entries));
        for (const [at, bytes] of spans) expect(firstDifference(single, batch, at, bytes)).toBe(-1);
      }
      const rings = dispatched(batch);
      for (const single of singles) expect(dispatched(single)).toEqual(rings);
    },
  ), { numRuns: FC_RUNS });
}, Math.max(120_000, FC_RUNS * 1_000)); // three fresh arenas per run
