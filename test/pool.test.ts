/**
 * Slot pool (Vyukov MPMC free queue + per-slot state words) on one thread: unit tests on wasm and
 * js, alloc on one backend with release on the other (all four pairs), a fast-check model test
 * against a FIFO free queue and a set of allocated slots, and wasm/js conformance (same returns,
 * same bytes). Concurrency across real threads: test/pool-threads.test.ts.
 *
 * Single-threaded, the free queue is FIFO: the model predicts the exact address of every alloc.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { ADDRESS_MIN, ARENA_BASE, ARENA_MAX_BYTES, STRUCTURE_ALIGN } from '../assembly/layout/arena.ts';
import {
  POOL_CELL_BYTES, POOL_CELL_INDEX_OFFSET, POOL_CELL_SEQUENCE_OFFSET, POOL_CELLS_OFFSET,
  POOL_DEQUEUE_POS_OFFSET, POOL_ENQUEUE_POS_OFFSET, POOL_MASK_OFFSET, POOL_SLOT_ALLOCATED,
  POOL_SLOT_COUNT_OFFSET, POOL_SLOT_FREE, POOL_SLOT_SIZE_OFFSET, POOL_SLOT_STATE_BYTES,
  POOL_SLOTS_OFFSET_OFFSET, POOL_STATES_OFFSET_OFFSET,
} from '../assembly/layout/pool.ts';
import { STATUS_EXHAUSTED, STATUS_INVALID, STATUS_OK } from '../assembly/layout/status.ts';
import type { Backend, CoreOps } from '../bindings/core-ops.ts';
import type { ArenaConfig } from '../src/arena.ts';
import { BACKENDS, FC_RUNS, PAIRS, STRESS, bytesAt, newArena, pairName, type TestArena } from './harness.ts';

/** Pools of every shape worth a test: 1 and 2 slots, slot sizes that are not powers of two. */
const CONFIG: ArenaConfig = {
  threads: 1,
  pools: [
    { slotCount: 1, slotSize: 8 },
    { slotCount: 2, slotSize: 16 },
    { slotCount: 4, slotSize: 24 },
    { slotCount: 8, slotSize: 64 },
    { slotCount: 64, slotSize: 200 },
  ],
  scratchBytes: 1024,
};
const POOL_1 = 0;
const POOL_2 = 1;
const POOL_4 = 2;
const POOL_8 = 3;
const POOL_64 = 4;

const alignStructure = (value: number): number => Math.ceil(value / STRUCTURE_ALIGN) * STRUCTURE_ALIGN;

/** The layout file's formula, computed independently of both backends. */
function planned(slotCount: number, slotSize: number): { states: number; slots: number; bytes: number } {
  const states = alignStructure(POOL_CELLS_OFFSET + slotCount * POOL_CELL_BYTES);
  const slots = alignStructure(states + slotCount * POOL_SLOT_STATE_BYTES);
  return { states, slots, bytes: alignStructure(slots + slotCount * slotSize) };
}

interface Pool {
  address: number;
  slotCount: number;
  slotSize: number;
  bytes: number;
  /** Absolute address of slot 0's data. */
  slots: number;
  /** Absolute address of slot 0's state word. */
  states: number;
}

function poolOf(t: TestArena, index: number): Pool {
  const { address, slotCount, slotSize } = t.arena.pools[index]!;
  const layout = planned(slotCount, slotSize);
  return { address, slotCount, slotSize, bytes: layout.bytes, slots: address + layout.slots, states: address + layout.states };
}

const word = (t: TestArena, address: number): number => t.views.u32[address >>> 2]!;
const slotAddress = (pool: Pool, index: number): number => pool.slots + index * pool.slotSize;
const snapshot = (t: TestArena, pool: Pool): Uint8Array => bytesAt(t.views, pool.address, pool.bytes);
/** The pool's own words (config, positions, cells, states): everything but the slot data. */
const metadata = (t: TestArena, pool: Pool): Uint8Array => bytesAt(t.views, pool.address, pool.slots - pool.address);
/** Every byte from the arena's start to its end: nothing anywhere may change. */
const arenaBytes = (t: TestArena): Uint8Array => bytesAt(t.views, ARENA_BASE, t.arena.bytes - ARENA_BASE);
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

/** Single-threaded model of a pool: FIFO free queue of indices and the set of allocated ones. */
class PoolModel {
  readonly free: number[];
  readonly allocated = new Set<number>();
  constructor(readonly pool: Pool) {
    this.free = Array.from({ length: pool.slotCount }, (_, i) => i);
  }
  /** Expected poolTryAlloc result. */
  alloc(): number {
    const index = this.free.shift();
    if (index === undefined) return STATUS_EXHAUSTED;
    this.allocated.add(index);
    return slotAddress(this.pool, index);
  }
  /** Expected poolRelease result for any address (u32 semantics, as the Wasm boundary). */
  release(address: number): number {
    const offset = (address >>> 0) - this.pool.slots;
    if (offset < 0 || offset % this.pool.slotSize !== 0) return STATUS_INVALID;
    const index = offset / this.pool.slotSize;
    if (index >= this.pool.slotCount || !this.allocated.has(index)) return STATUS_INVALID;
    this.allocated.delete(index);
    this.free.push(index);
    return STATUS_OK;
  }
}

describe.each(BACKENDS)('pool on %s', (backend) => {
  const fresh = async (): Promise<{ t: TestArena; core: CoreOps }> => {
    const t = await newArena(CONFIG, backend);
    return { t, core: t.cores[backend] };
  };

  test(`${backend}: poolBytes follows the layout formula and saturates beyond any arena`, async () => {
    const { t, core } = await fresh();
    for (const [count, size] of [[1, 8], [2, 16], [4, 24], [64, 200], [1024, 8], [4096, 1024], [1 << 22, 8]] as const) {
      expect([count, size, core.poolBytes(count, size)]).toEqual([count, size, planned(count, size).bytes]);
    }
    // The planner laid the pools out back to back with exactly these sizes.
    for (let i = 0; i + 1 < t.arena.pools.length; i++) {
      expect(t.arena.pools[i + 1]!.address - t.arena.pools[i]!.address).toBe(poolOf(t, i).bytes);
    }
    expect(core.poolBytes(1 << 22, 1 << 20)).toBe(0x7fffffff);
    expect(core.poolBytes(1 << 20, 1 << 12)).toBe(0x7fffffff); // exactly 2^32 of data: must not wrap to small
    expect(core.poolBytes(0xffffffff, 0xffffffff)).toBe(0x7fffffff);
    expect(core.poolBytes(1, ARENA_MAX_BYTES)).toBe(0x7fffffff);
  });

  test(`${backend}: init writes the config, a full FIFO free queue and free states`, async () => {
    const { t, core } = await fresh();
    for (let p = 0; p < t.arena.pools.length; p++) {
      const pool = poolOf(t, p);
      const a = pool.address;
      expect([word(t, a + POOL_SLOT_COUNT_OFFSET), word(t, a + POOL_MASK_OFFSET), word(t, a + POOL_SLOT_SIZE_OFFSET)])
        .toEqual([pool.slotCount, pool.slotCount - 1, pool.slotSize]);
      expect([word(t, a + POOL_STATES_OFFSET_OFFSET), word(t, a + POOL_SLOTS_OFFSET_OFFSET)]).toEqual([pool.states - a, pool.slots - a]);
      expect([word(t, a + POOL_ENQUEUE_POS_OFFSET), word(t, a + POOL_DEQUEUE_POS_OFFSET)]).toEqual([pool.slotCount, 0]);
      for (let i = 0; i < pool.slotCount; i++) {
        const cell = a + POOL_CELLS_OFFSET + i * POOL_CELL_BYTES;
        expect([i, word(t, cell + POOL_CELL_SEQUENCE_OFFSET), word(t, cell + POOL_CELL_INDEX_OFFSET)]).toEqual([i, i + 1, i]);
        expect(word(t, pool.states + i * POOL_SLOT_STATE_BYTES)).toBe(POOL_SLOT_FREE);
      }
      expect(core.poolOutstanding(a)).toBe(0);
    }
  });

  test(`${backend}: allocates every slot exactly once, in order, inside the pool, then STATUS_EXHAUSTED`, async () => {
    const { t, core } = await fresh();
    for (let p = 0; p < t.arena.pools.length; p++) {
      const pool = poolOf(t, p);
      const seen = new Set<number>();
      for (let i = 0; i < pool.slotCount; i++) {
        const slot = core.poolTryAlloc(pool.address);
        expect(slot).toBeGreaterThanOrEqual(ADDRESS_MIN);
        expect(slot).toBe(slotAddress(pool, i));
        expect(slot + pool.slotSize).toBeLessThanOrEqual(pool.address + pool.bytes);
        expect(seen.has(slot)).toBe(false);
        seen.add(slot);
        expect(word(t, pool.states + i * POOL_SLOT_STATE_BYTES)).toBe(POOL_SLOT_ALLOCATED);
        expect(core.poolOutstanding(pool.address)).toBe(i + 1);
      }
      const before = arenaBytes(t);
      for (let k = 0; k < 3; k++) expect(core.poolTryAlloc(pool.address)).toBe(STATUS_EXHAUSTED);
      expect(same(arenaBytes(t), before)).toBe(true);
      expect(core.poolOutstanding(pool.address)).toBe(pool.slotCount);
    }
  });

  test(`${backend}: poolTryAllocCopy copies into the slot it allocates; a copy past the slot is STATUS_INVALID, an empty pool STATUS_EXHAUSTED`, async () => {
    const { t, core } = await fresh();
    const pool = poolOf(t, POOL_64);
    const src = pool.address + pool.bytes + 64; // past the pool: the next structure's bytes, read only
    for (let i = 0; i < 40; i++) t.views.u8[src + i] = (i * 13 + 5) & 0xff;
    const before = arenaBytes(t);
    expect(core.poolTryAllocCopy(pool.address, src, pool.slotSize - 7, 8)).toBe(STATUS_INVALID);
    expect(core.poolTryAllocCopy(pool.address, t.views.u8.length - 4, 8, 0)).toBe(STATUS_INVALID);
    expect(same(arenaBytes(t), before)).toBe(true);
    const slot = core.poolTryAllocCopy(pool.address, src, 40, 8);
    expect(slot).toBe(slotAddress(pool, 0));
    expect(Array.from(t.views.u8.subarray(slot + 8, slot + 48))).toEqual(Array.from(t.views.u8.subarray(src, src + 40)));
    for (let i = 1; i < pool.slotCount; i++) expect(core.poolTryAllocCopy(pool.address, src, 8, 0)).toBe(slotAddress(pool, i));
    expect(core.poolTryAllocCopy(pool.address, src, 8, 0)).toBe(STATUS_EXHAUSTED);
    expect(core.poolOutstanding(pool.address)).toBe(pool.slotCount);
  });

  test(`${backend}: a slot's bytes are its owner's: full writes touch no neighbour, the pool never writes slot data`, async () => {
    const { t, core } = await fresh();
    for (const p of [POOL_4, POOL_64]) {
      const pool = poolOf(t, p);
      const dataEnd = pool.slots + pool.slotCount * pool.slotSize;
      // Canaries: the slot data region and 256 bytes past the pool (the next structure).
      for (let a = pool.slots; a < pool.address + pool.bytes + 256; a++) t.views.u8[a] = (a * 7 + 3) & 0xff;
      const after = bytesAt(t.views, dataEnd, pool.address + pool.bytes + 256 - dataEnd);
      const slots = Array.from({ length: pool.slotCount }, () => core.poolTryAlloc(pool.address));
      const canary = (from: number, to: number): Uint8Array => Uint8Array.from({ length: to - from }, (_, k) => ((from + k) * 7 + 3) & 0xff);
      // Allocation handed out the slots untouched.
      expect(same(bytesAt(t.views, pool.slots, dataEnd - pool.slots), canary(pool.slots, dataEnd))).toBe(true);
      slots.forEach((slot, i) => t.views.u8.fill(i + 1, slot, slot + pool.slotSize));
      slots.forEach((slot, i) => {
        expect([i, bytesAt(t.views, slot, pool.slotSize).every((b) => b === i + 1)]).toEqual([i, true]);
      });
      expect(same(bytesAt(t.views, dataEnd, after.length), after)).toBe(true);
      const data = bytesAt(t.views, pool.slots, dataEnd - pool.slots);
      for (const slot of slots) expect(core.poolRelease(pool.address, slot)).toBe(STATUS_OK);
      for (let i = 0; i < pool.slotCount; i++) expect(core.poolTryAlloc(pool.address)).toBe(slots[i]);
      for (const slot of slots) expect(core.poolRelease(pool.address, slot)).toBe(STATUS_OK);
      expect(same(bytesAt(t.views, pool.slots, dataEnd - pool.slots), data)).toBe(true);
      expect(same(bytesAt(t.views, dataEnd, after.length), after)).toBe(true);
      expect(core.poolOutstanding(pool.address)).toBe(0);
    }
  });

  test(`${backend}: released slots come back in release order (FIFO), then STATUS_EXHAUSTED`, async () => {
    const { t, core } = await fresh();
    const pool = poolOf(t, POOL_8);
    const slots = Array.from({ length: pool.slotCount }, () => core.poolTryAlloc(pool.address));
    const order = [5, 0, 7, 2];
    for (const i of order) expect(core.poolRelease(pool.address, slots[i]!)).toBe(STATUS_OK);
    expect(core.poolOutstanding(pool.address)).toBe(pool.slotCount - order.length);
    for (const i of order) expect(core.poolTryAlloc(pool.address)).toBe(slots[i]);
    expect(core.poolTryAlloc(pool.address)).toBe(STATUS_EXHAUSTED);
    expect(core.poolOutstanding(pool.address)).toBe(pool.slotCount);
  });

  test(`${backend}: a double release, or releasing a never-allocated slot, is STATUS_INVALID and changes nothing`, async () => {
    const { t, core } = await fresh();
    const pool = poolOf(t, POOL_4);
    const a = core.poolTryAlloc(pool.address);
    const b = core.poolTryAlloc(pool.address);
    expect(core.poolRelease(pool.address, a)).toBe(STATUS_OK);
    const before = arenaBytes(t);
    expect(core.poolRelease(pool.address, a)).toBe(STATUS_INVALID);
    expect(core.poolRelease(pool.address, slotAddress(pool, 3))).toBe(STATUS_INVALID); // never allocated
    expect(same(arenaBytes(t), before)).toBe(true);
    expect(core.poolOutstanding(pool.address)).toBe(1);
    expect(core.poolRelease(pool.address, b)).toBe(STATUS_OK);
    expect(core.poolRelease(pool.address, b)).toBe(STATUS_INVALID);
    expect(core.poolOutstanding(pool.address)).toBe(0);
    // The free queue was not corrupted by the rejected releases: exactly 4 slots, each once.
    const again = Array.from({ length: 5 }, () => core.poolTryAlloc(pool.address));
    expect(again).toEqual([slotAddress(pool, 2), slotAddress(pool, 3), a, b, STATUS_EXHAUSTED]);
  });

  test.each([[4, POOL_4, POOL_8], [64, POOL_64, POOL_1]])(
    `${backend}: foreign, misaligned and out-of-range addresses are STATUS_INVALID and change nothing (%i-slot pool)`, async (_, p, q) => {
      const { t, core } = await fresh();
      const pool = poolOf(t, p);
      const other = poolOf(t, q);
      const mine = [core.poolTryAlloc(pool.address), core.poolTryAlloc(pool.address)];
      const foreign = core.poolTryAlloc(other.address);
      // Every word of every slot's data reads as "allocated": a release that indexed a state word
      // outside the state array (e.g. slot SLOT_COUNT, whose "state" may be slot 0's data) would
      // find ALLOCATED there and go through.
      for (const at of [pool, other]) t.views.u32.fill(POOL_SLOT_ALLOCATED, at.slots >>> 2, (at.address + at.bytes) >>> 2);
      const end = pool.slots + pool.slotCount * pool.slotSize;
      const bad = [
        0, 1, STATUS_INVALID, ADDRESS_MIN, pool.address, pool.address + POOL_CELLS_OFFSET, pool.states,
        pool.slots - pool.slotSize, pool.slots - 8, pool.slots - 1,
        mine[0]! + 1, mine[0]! + 4, mine[0]! + 8, mine[0]! + pool.slotSize - 1, mine[1]! - 8,
        end, end + pool.slotSize, pool.address + pool.bytes, foreign, other.slots,
        0x7fffffff, 0x80000000, 0xffffffff, -1, -8, -(pool.slots), 2 ** 31 + mine[0]!,
      ];
      const before = arenaBytes(t);
      for (const address of bad) expect([address, core.poolRelease(pool.address, address)]).toEqual([address, STATUS_INVALID]);
      expect(same(arenaBytes(t), before)).toBe(true);
      expect(core.poolOutstanding(pool.address)).toBe(2);
      expect(core.poolOutstanding(other.address)).toBe(1);
      // Still intact: each pool releases its own slots.
      expect(core.poolRelease(other.address, foreign)).toBe(STATUS_OK);
      for (const slot of mine) expect(core.poolRelease(pool.address, slot)).toBe(STATUS_OK);
      expect(core.poolOutstanding(pool.address)).toBe(0);
    });

  test(`${backend}: slotCount 1: ${1000 * STRESS} laps of alloc, EXHAUSTED, release, double release`, async () => {
    const { t, core } = await fresh();
    const pool = poolOf(t, POOL_1);
    const laps = 1000 * STRESS;
    for (let lap = 0; lap < laps; lap++) {
      const slot = core.poolTryAlloc(pool.address);
      if (slot !== pool.slots) expect([lap, slot]).toEqual([lap, pool.slots]);
      if (core.poolTryAlloc(pool.address) !== STATUS_EXHAUSTED) expect(lap).toBe('EXHAUSTED');
      if (core.poolOutstanding(pool.address) !== 1) expect([lap, core.poolOutstanding(pool.address)]).toEqual([lap, 1]);
      if (core.poolRelease(pool.address, slot) !== STATUS_OK) expect(lap).toBe('released');
      if (core.poolRelease(pool.address, slot) !== STATUS_INVALID) expect(lap).toBe('double release refused');
    }
    expect([word(t, pool.address + POOL_ENQUEUE_POS_OFFSET), word(t, pool.address + POOL_DEQUEUE_POS_OFFSET)]).toEqual([laps + 1, laps]);
    expect(core.poolOutstanding(pool.address)).toBe(0);
  });

  test(`${backend}: slotCount 2: interleaved laps follow the FIFO model`, async () => {
    const { t, core } = await fresh();
    const pool = poolOf(t, POOL_2);
    const model = new PoolModel(pool);
    const laps = 1000 * STRESS;
    for (let lap = 0; lap < laps; lap++) {
      const a = core.poolTryAlloc(pool.address);
      const b = core.poolTryAlloc(pool.address);
      const c = core.poolTryAlloc(pool.address);
      const expected = [model.alloc(), model.alloc(), model.alloc()];
      const released = core.poolRelease(pool.address, lap % 2 === 0 ? a : b);
      const expectedRelease = model.release(lap % 2 === 0 ? a : b);
      const d = core.poolTryAlloc(pool.address);
      const expectedD = model.alloc();
      const r1 = core.poolRelease(pool.address, a);
      const r2 = core.poolRelease(pool.address, b);
      const expectedR = [model.release(a), model.release(b)];
      if (a !== expected[0] || b !== expected[1] || c !== expected[2] || released !== expectedRelease || d !== expectedD
        || r1 !== expectedR[0] || r2 !== expectedR[1]) {
        expect([lap, a, b, c, released, d, r1, r2]).toEqual([lap, ...expected, expectedRelease, expectedD, ...expectedR]);
      }
    }
    expect(core.poolOutstanding(pool.address)).toBe(0);
  });

  test(`${backend}: ${10_000 * STRESS} alloc/release steps wrap the cell array thousands of times`, async () => {
    const { t, core } = await fresh();
    const pool = poolOf(t, POOL_4);
    const model = new PoolModel(pool);
    const held: number[] = [];
    const steps = 10_000 * STRESS;
    let allocs = 0;
    for (let step = 0; step < steps; step++) {
      // Hold between 0 and 3 slots, changing with a fixed pattern, so the queue is never static.
      const target = (step * 7) % 5;
      if (held.length < target || held.length === 0) {
        const slot = core.poolTryAlloc(pool.address);
        const expected = model.alloc();
        if (slot !== expected) expect([step, slot]).toEqual([step, expected]);
        if (slot >= ADDRESS_MIN) {
          held.push(slot);
          allocs++;
          t.views.u32[slot >>> 2] = slot; // the holder's stamp, checked at release
        }
      } else {
        const slot = held.splice((step * 3) % held.length, 1)[0]!;
        if (t.views.u32[slot >>> 2] !== slot) expect([step, t.views.u32[slot >>> 2]]).toEqual([step, slot]);
        const status = core.poolRelease(pool.address, slot);
        if (status !== model.release(slot)) expect([step, status]).toEqual([step, STATUS_OK]);
      }
      if (core.poolOutstanding(pool.address) !== held.length) {
        expect([step, core.poolOutstanding(pool.address)]).toEqual([step, held.length]);
      }
    }
    expect(allocs).toBeGreaterThan(steps / 3);
    expect(word(t, pool.address + POOL_DEQUEUE_POS_OFFSET)).toBe(allocs);
  });

  test(`${backend}: positions wrapping past 2^32 change nothing`, async () => {
    const { t, core } = await fresh();
    const pool = poolOf(t, POOL_4);
    // The same free queue as after init, but sitting at positions 2^32 - 2 ... 2^32 + 1.
    const base = 2 ** 32 - 2;
    for (let k = 0; k < pool.slotCount; k++) {
      const position = (base + k) >>> 0;
      const cell = pool.address + POOL_CELLS_OFFSET + (position & (pool.slotCount - 1)) * POOL_CELL_BYTES;
      t.views.u32[(cell + POOL_CELL_SEQUENCE_OFFSET) >>> 2] = (position + 1) >>> 0;
      t.views.u32[(cell + POOL_CELL_INDEX_OFFSET) >>> 2] = k;
    }
    t.views.u32[(pool.address + POOL_ENQUEUE_POS_OFFSET) >>> 2] = (base + pool.slotCount) >>> 0;
    t.views.u32[(pool.address + POOL_DEQUEUE_POS_OFFSET) >>> 2] = base;
    expect(core.poolOutstanding(pool.address)).toBe(0);
    const model = new PoolModel(pool);
    const held: number[] = [];
    for (let step = 0; step < 64; step++) {
      if (step % 3 !== 2) {
        const slot = core.poolTryAlloc(pool.address);
        expect([step, slot]).toEqual([step, model.alloc()]);
        if (slot >= ADDRESS_MIN) held.push(slot);
      } else {
        while (held.length > 0) {
          const slot = held.shift()!;
          expect([step, core.poolRelease(pool.address, slot)]).toEqual([step, model.release(slot)]);
        }
      }
      expect([step, core.poolOutstanding(pool.address)]).toEqual([step, model.allocated.size]);
    }
    expect(word(t, pool.address + POOL_DEQUEUE_POS_OFFSET)).toBeLessThan(64);
  });
});

describe.each(PAIRS.map((pair) => [pairName(pair), ...pair] as const))('pool alloc on one backend, release on the other: %s', (name, allocBackend, releaseBackend) => {

  test(`${name}: slots allocated by ${allocBackend} and released by ${releaseBackend}, ${2000 * STRESS} steps`, async () => {
    const t = await newArena(CONFIG, allocBackend);
    const alloc = t.cores[allocBackend];
    const release = t.cores[releaseBackend];
    for (const p of [POOL_1, POOL_8, POOL_64]) {
      const pool = poolOf(t, p);
      const model = new PoolModel(pool);
      const held: number[] = [];
      for (let step = 0; step < 2000 * STRESS; step++) {
        if ((step * 13) % 7 < 4) {
          const slot = alloc.poolTryAlloc(pool.address);
          const expected = model.alloc();
          if (slot !== expected) expect([p, step, slot]).toEqual([p, step, expected]);
          if (slot >= ADDRESS_MIN) held.push(slot);
        } else if (held.length > 0) {
          const slot = held.splice(step % held.length, 1)[0]!;
          const status = release.poolRelease(pool.address, slot);
          if (status !== model.release(slot)) expect([p, step, status]).toEqual([p, step, STATUS_OK]);
          if (release.poolRelease(pool.address, slot) !== STATUS_INVALID) expect([p, step]).toBe('double release refused');
        }
        const counts = [alloc.poolOutstanding(pool.address), release.poolOutstanding(pool.address)];
        if (counts[0] !== held.length || counts[1] !== held.length) expect([p, step, ...counts]).toEqual([p, step, held.length, held.length]);
      }
      for (const slot of held) expect(release.poolRelease(pool.address, slot)).toBe(STATUS_OK);
      expect(alloc.poolOutstanding(pool.address)).toBe(0);
      for (let i = 0; i < pool.slotCount; i++) expect(word(t, pool.states + i * POOL_SLOT_STATE_BYTES)).toBe(POOL_SLOT_FREE);
    }
  });
});

/** One step of a random operation sequence. */
type Op =
  | { kind: 'alloc' }
  | { kind: 'release'; pick: number }
  | { kind: 'double'; pick: number }
  | { kind: 'foreign'; offset: number }
  | { kind: 'raw'; address: number };

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.constant({ kind: 'alloc' } as const), weight: 4 },
  { arbitrary: fc.nat().map((pick) => ({ kind: 'release', pick }) as const), weight: 3 },
  { arbitrary: fc.nat().map((pick) => ({ kind: 'double', pick }) as const), weight: 1 },
  { arbitrary: fc.integer({ min: -512, max: 16_384 }).map((offset) => ({ kind: 'foreign', offset }) as const), weight: 1 },
  { arbitrary: fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }).map((address) => ({ kind: 'raw', address }) as const), weight: 1 },
);
const poolIndexArbitrary = fc.constantFrom(POOL_1, POOL_2, POOL_4, POOL_8, POOL_64);

/**
 * Runs `ops` on `pool`: allocs through `alloc`, every release through `release`. Returns every
 * op's result. Release targets come from the run's own history, so one op list replays the same
 * way on any backend. `check` (when given) is called with each result and the model's prediction.
 */
function runOps(pool: Pool, alloc: CoreOps, release: CoreOps, ops: readonly Op[],
  check?: (step: number, got: number, expected: number, model: PoolModel) => void): number[] {
  const model = new PoolModel(pool);
  const held: number[] = [];
  const released: number[] = [];
  const results: number[] = [];
  const record = (step: number, got: number, expected: number): void => {
    results.push(got);
    check?.(step, got, expected, model);
  };
  ops.forEach((op, step) => {
    let address: number;
    switch (op.kind) {
      case 'alloc': {
        const got = alloc.poolTryAlloc(pool.address);
        const expected = model.alloc();
        if (got >= ADDRESS_MIN) held.push(got);
        return record(step, got, expected);
      }
      case 'release':
        if (held.length === 0) return;
        address = held.splice(op.pick % held.length, 1)[0]!;
        released.push(address);
        break;
      case 'double':
        if (released.length === 0) return;
        address = released[op.pick % released.length]!;
        break;
      case 'foreign':
        address = pool.address + op.offset;
        break;
      case 'raw':
        address = op.address;
        break;
    }
    const expected = model.release(address);
    // A 'double' or 'foreign' that hits a currently allocated slot is a legitimate release.
    if (expected === STATUS_OK) {
      const at = held.indexOf(address >>> 0);
      if (at >= 0) held.splice(at, 1);
    }
    record(step, release.poolRelease(pool.address, address), expected);
  });
  return results;
}

describe.each(PAIRS.map((pair) => [pairName(pair), ...pair] as const))('pool model test (fast-check): %s', (name, allocBackend, releaseBackend) => {

  test(`${name}: random alloc/release/double/foreign sequences match the FIFO model; rejected releases change nothing`, async () => {
    const t = await newArena(CONFIG, allocBackend);
    const alloc = t.cores[allocBackend];
    const release = t.cores[releaseBackend];
    fc.assert(fc.property(poolIndexArbitrary, fc.array(opArbitrary, { maxLength: 200, size: 'max' }), (p, ops) => {
      const pool = poolOf(t, p);
      alloc.poolInit(pool.address, pool.slotCount, pool.slotSize);
      let before = metadata(t, pool);
      runOps(pool, alloc, release, ops, (step, got, expected, model) => {
        if (got !== expected) expect([step, ops[step], got]).toEqual([step, ops[step], expected]);
        const after = metadata(t, pool);
        if (got === STATUS_INVALID && !same(after, before)) expect([step, ops[step]]).toBe('rejected release left the pool unchanged');
        before = after;
        const counts = [alloc.poolOutstanding(pool.address), release.poolOutstanding(pool.address)];
        if (counts[0] !== model.allocated.size || counts[1] !== model.allocated.size) {
          expect([step, ...counts]).toEqual([step, model.allocated.size, model.allocated.size]);
        }
        for (let i = 0; i < pool.slotCount; i++) {
          const state = word(t, pool.states + i * POOL_SLOT_STATE_BYTES);
          if (state !== (model.allocated.has(i) ? POOL_SLOT_ALLOCATED : POOL_SLOT_FREE)) expect([step, i, state]).toBe('state matches model');
        }
      });
    }), { numRuns: FC_RUNS });
  });
});

describe('pool conformance: wasm and js', () => {
  test('wasm and js: an arena of pools initialised by either backend is byte-identical', async () => {
    const byWasm = await newArena(CONFIG, 'wasm');
    const byJs = await newArena(CONFIG, 'js');
    expect(same(arenaBytes(byWasm), arenaBytes(byJs))).toBe(true);
  });

  test('wasm and js: poolBytes agrees on valid, huge and nonsense arguments', async () => {
    const { cores } = await newArena({ threads: 1 });
    fc.assert(fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }), fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }), (count, size) => {
      expect(cores.wasm.poolBytes(count, size)).toBe(cores.js.poolBytes(count, size));
    }), { numRuns: FC_RUNS });
    fc.assert(fc.property(fc.integer({ min: 0, max: 22 }), fc.integer({ min: 1, max: 1 << 17 }), (log, size8) => {
      expect(cores.wasm.poolBytes(1 << log, size8 * 8)).toBe(cores.js.poolBytes(1 << log, size8 * 8));
    }), { numRuns: FC_RUNS });
  });

  test('wasm and js: the same random sequence gives identical returns and identical pool bytes', async () => {
    const onWasm = await newArena(CONFIG, 'wasm');
    const onJs = await newArena(CONFIG, 'js');
    fc.assert(fc.property(poolIndexArbitrary, fc.array(opArbitrary, { maxLength: 200, size: 'max' }), (p, ops) => {
      const wasmPool = poolOf(onWasm, p);
      const jsPool = poolOf(onJs, p);
      expect(jsPool.address).toBe(wasmPool.address);
      onWasm.cores.wasm.poolInit(wasmPool.address, wasmPool.slotCount, wasmPool.slotSize);
      onJs.cores.js.poolInit(jsPool.address, jsPool.slotCount, jsPool.slotSize);
      const fromWasm = runOps(wasmPool, onWasm.cores.wasm, onWasm.cores.wasm, ops);
      const fromJs = runOps(jsPool, onJs.cores.js, onJs.cores.js, ops);
      expect(fromJs).toEqual(fromWasm);
      expect(onJs.cores.js.poolOutstanding(jsPool.address)).toBe(onWasm.cores.wasm.poolOutstanding(wasmPool.address));
      expect(same(snapshot(onJs, jsPool), snapshot(onWasm, wasmPool))).toBe(true);
    }), { numRuns: FC_RUNS });
  });
});
