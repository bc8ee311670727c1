/**
 * dispatchBatch (route + enqueue a batch in one call) on one thread, both backends: results against
 * an independent model made of the per-record ops (routerRoute, hash, ringTryPush), every key kind,
 * the stop at a full ring with its result block, and wasm/js conformance (same returns, same bytes
 * in rings, cursors, counters and result block).
 */
import { describe, expect, test } from '@jest/globals';
import {
  DISPATCH_FAILED_LANE_OFFSET, DISPATCH_LANE_COUNT_OFFSET, DISPATCH_RESULT_BYTES, DISPATCH_ROUTED_OFFSET,
  DISPATCH_UNROUTED_OFFSET, KEY_BYTES, KEY_NONE, KEY_PREFIXED_BYTES, KEY_U32, KEY_U8,
} from '../assembly/layout/dispatch.ts';
import { MODE_BROADCAST, MODE_GROUP, MODE_KEYED } from '../assembly/layout/router.ts';
import { ADDRESS_MIN } from '../assembly/layout/arena.ts';
import { STATUS_INVALID, STATUS_OK } from '../assembly/layout/status.ts';
import type { CoreOps } from '../bindings/core-ops.ts';
import type { ArenaConfig } from '../src/arena.ts';
import { BACKENDS, bytesAt, newArena, type TestArena } from './harness.ts';

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
  const lane = (ring: number, tag: number): number => (ring << 16) | tag;
  core.routerAddSubscription(router, 0, lane(0, 5), MODE_BROADCAST, 100);
  core.routerAddSubscription(router, 0, lane(1, 7), MODE_GROUP, 7);
  core.routerAddSubscription(router, 0, lane(2, 7), MODE_GROUP, 7);
  for (const ring of [0, 1, 2]) core.routerAddSubscription(router, 0, lane(ring, 9), MODE_KEYED, 9);
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

function dispatch(s: Setup, count: number, keyKind: number, keyOffset: number, keyLength: number): number {
  s.core.routerEnter(s.router, 1);
  const n = s.core.dispatchBatch(s.router, 1, 0, s.src, count, RECORD, keyKind, keyOffset, keyLength, s.table, TAG_OFFSET, s.pushed, s.out, s.result);
  s.core.routerLeave(s.router, 1);
  return n;
}

/** The same work with the per-record ops, for comparison. */
function model(s: Setup, count: number, keyKind: number, keyOffset: number, keyLength: number): { done: number; routed: number; unrouted: number; pushed: number[]; failedLane: number; laneCount: number } {
  const { u8, u32 } = s.t.views;
  const core = s.core;
  const pushed = [0, 0, 0];
  let routed = 0;
  core.routerEnter(s.router, 1);
  try {
    for (let i = 0; i < count; i++) {
      const record = s.src + i * RECORD;
      const at = record + keyOffset;
      const hash = keyKind === KEY_NONE ? 0 : keyKind === KEY_U32 ? core.hashU32(u32[at >> 2]!)
        : keyKind === KEY_U8 ? core.hashU32(u8[at]!) : keyKind === KEY_PREFIXED_BYTES ? core.hashBytes(at + 2, u8[at]! | (u8[at + 1]! << 8))
          : core.hashBytes(at, keyLength);
      const n = core.routerRoute(s.router, 1, 0, hash >>> 0, s.out);
      for (let j = 0; j < n; j++) {
        const entry = u32[(s.out >> 2) + j]!;
        u8[record + TAG_OFFSET] = entry & 0xff;
        u8[record + TAG_OFFSET + 1] = (entry >>> 8) & 0xff;
        if (core.ringTryPush(s.rings[entry >>> 16]!, record) !== STATUS_OK) return { done: i, routed, unrouted: 0, pushed, failedLane: j, laneCount: n };
        pushed[entry >>> 16]!++;
        routed++;
      }
    }
    return { done: count, routed, unrouted: 0, pushed, failedLane: 0, laneCount: 0 };
  } finally {
    core.routerLeave(s.router, 1);
  }
}

function resultOf(s: Setup, done: number) {
  const { u32 } = s.t.views;
  return {
    done, routed: u32[(s.result + DISPATCH_ROUTED_OFFSET) >> 2], unrouted: u32[(s.result + DISPATCH_UNROUTED_OFFSET) >> 2],
    pushed: [0, 1, 2].map((i) => u32[(s.pushed >> 2) + i]), failedLane: u32[(s.result + DISPATCH_FAILED_LANE_OFFSET) >> 2],
    laneCount: u32[(s.result + DISPATCH_LANE_COUNT_OFFSET) >> 2],
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
    expect(r.laneCount).toBe(3);
    expect(r.failedLane).toBeLessThan(3);
    expect(r.pushed.reduce((a, b) => a + b, 0)).toBe(r.routed);
    expect(r.routed).toBe(done * 3 + r.failedLane);
  });

  test('a bad topic is -STATUS_INVALID', async () => {
    const s = await setup(backend);
    s.core.routerEnter(s.router, 1);
    expect(s.core.dispatchBatch(s.router, 1, 99, s.src, 1, RECORD, KEY_NONE, 0, 0, s.table, TAG_OFFSET, s.pushed, s.out, s.result)).toBe(-STATUS_INVALID);
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
