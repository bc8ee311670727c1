/**
 * SPSC ring, one thread: deterministic unit tests, a fast-check model test against a plain array
 * queue, and conformance (the same operations on Wasm and JS give the same returns and bytes).
 * Every suite runs for each [producer backend, consumer backend] pair.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { ADDRESS_MIN, ARENA_MAX_BYTES, STRUCTURE_ALIGN } from '../assembly/layout/arena.ts';
import {
  RING_CACHED_HEAD_OFFSET, RING_CACHED_TAIL_OFFSET, RING_CLAIM_OFFSET, RING_CONSUMER_PARKED_OFFSET, RING_DATA_OFFSET,
  RING_HEAD_OFFSET, RING_HEADER_BYTES, RING_MAX_CAPACITY, RING_MAX_RECORD_SIZE, RING_PRODUCER_PARKED_OFFSET,
  RING_READ_OFFSET, RING_TAIL_OFFSET,
} from '../assembly/layout/ring.ts';
import { STATUS_CLOSED, STATUS_EMPTY, STATUS_FULL, STATUS_INVALID, STATUS_OK } from '../assembly/layout/status.ts';
import type { CoreOps } from '../bindings/core-ops.ts';
import { alignUp } from '../bindings/js/common.ts';
import { BACKENDS, FC_RUNS, PAIRS, bytesAt, newArena, pairName, type TestArena } from './harness.ts';

const RECORD = 16;

async function ringArena(capacity: number, recordSize = RECORD): Promise<TestArena & { ring: number }> {
  const t = await newArena({ threads: 2, rings: [{ capacity, recordSize }], scratchBytes: 65536 });
  return { ...t, ring: t.arena.ring(0).address };
}

/** Writes a record whose every word derives from `value`, so a torn or misplaced record shows. */
function fill(i32: Int32Array, address: number, value: number, recordSize = RECORD): void {
  for (let k = 0; k < recordSize >> 2; k++) i32[(address >> 2) + k] = value * 31 + k;
}
function valueOf(i32: Int32Array, address: number, recordSize = RECORD): number {
  const value = (i32[address >> 2]! - 0) / 31;
  for (let k = 0; k < recordSize >> 2; k++) if (i32[(address >> 2) + k] !== value * 31 + k) return NaN;
  return value;
}

describe.each(PAIRS)('ring %s→%s', (producerBackend, consumerBackend) => {
  const name = pairName([producerBackend, consumerBackend]);
  const setup = async (capacity: number, recordSize = RECORD) => {
    const t = await ringArena(capacity, recordSize);
    return { ...t, p: t.cores[producerBackend], c: t.cores[consumerBackend], i32: t.views.i32, u8: t.views.u8 };
  };

  test(`${name}: empty ring reports EMPTY, available 0, size 0`, async () => {
    const { p, c, ring } = await setup(4);
    expect(c.ringTryPeek(ring)).toBe(STATUS_EMPTY);
    expect(c.ringAvailable(ring)).toBe(0);
    expect(c.ringSize(ring)).toBe(0);
    expect(p.ringPending(ring)).toBe(0);
  });

  test(`${name}: claimed records are invisible until flush`, async () => {
    const { p, c, ring, i32 } = await setup(4);
    const a = p.ringTryClaim(ring);
    expect(a).toBeGreaterThanOrEqual(ring + RING_DATA_OFFSET);
    fill(i32, a, 7);
    expect(p.ringPending(ring)).toBe(1);
    expect(c.ringTryPeek(ring)).toBe(STATUS_EMPTY);
    expect(c.ringAvailable(ring)).toBe(0);
    expect(p.ringFlush(ring)).toBe(0); // nobody parked: no notify
    expect(p.ringPending(ring)).toBe(0);
    expect(c.ringAvailable(ring)).toBe(1);
    expect(c.ringSize(ring)).toBe(1);
    const b = c.ringTryPeek(ring);
    expect(b).toBe(a);
    expect(valueOf(i32, b)).toBe(7);
  });

  test.each([2, 4])(`${name}: FULL at capacity until the consumer commits (capacity %i, 1000 laps)`, async (capacity) => {
    const { p, c, ring, i32 } = await setup(capacity);
    let next = 0;
    let expected = 0;
    for (let lap = 0; lap < 1000; lap++) {
      for (let k = 0; k < capacity; k++) fill(i32, p.ringTryClaim(ring), next++);
      expect(p.ringTryClaim(ring)).toBe(STATUS_FULL);
      expect(p.ringPending(ring)).toBe(capacity);
      p.ringFlush(ring);
      expect(c.ringAvailable(ring)).toBe(capacity);
      expect(valueOf(i32, c.ringTryPeek(ring))).toBe(expected++);
      // Read but not committed: the space is still not free.
      expect(p.ringTryClaim(ring)).toBe(STATUS_FULL);
      expect(c.ringSize(ring)).toBe(capacity);
      expect(c.ringCommit(ring)).toBe(0);
      expect(c.ringSize(ring)).toBe(capacity - 1);
      const a = p.ringTryClaim(ring);
      expect(a).toBeGreaterThanOrEqual(ADDRESS_MIN);
      fill(i32, a, next++);
      expect(p.ringTryClaim(ring)).toBe(STATUS_FULL);
      p.ringFlush(ring);
      for (let k = 0; k < capacity; k++) expect(valueOf(i32, c.ringTryPeek(ring))).toBe(expected++);
      expect(c.ringTryPeek(ring)).toBe(STATUS_EMPTY);
      c.ringCommit(ring);
    }
    expect(c.ringSize(ring)).toBe(0);
    expect(expected).toBe(next);
  });

  test(`${name}: batch ops with nothing to move still flush earlier claims / commit earlier peeks`, async () => {
    const { p, c, ring, i32, scratch } = await setup(2);
    fill(i32, p.ringTryClaim(ring), 1);
    fill(i32, p.ringTryClaim(ring), 2);
    expect(p.ringTryPushBatch(ring, scratch(0), 1)).toBe(0); // full: pushes nothing...
    expect(p.ringPending(ring)).toBe(0); // ...but published the two claims
    expect(c.ringAvailable(ring)).toBe(2);
    expect(valueOf(i32, c.ringTryPeek(ring))).toBe(1);
    expect(c.ringSize(ring)).toBe(2);
    expect(c.ringTryPopBatch(ring, scratch(1), 0)).toBe(0); // max 0: copies nothing...
    expect(c.ringSize(ring)).toBe(1); // ...but committed the peeked record
    expect(p.ringTryPushBatch(ring, scratch(0), 0)).toBe(0);
    expect(c.ringTryPopBatch(ring, scratch(1), 5)).toBe(1);
    expect(valueOf(i32, scratch(1))).toBe(2);
  });

  test(`${name}: flush / commit notify only when the other side announced it parks`, async () => {
    const { p, c, ring, i32 } = await setup(4);
    const consumerParked = (ring + RING_CONSUMER_PARKED_OFFSET) >> 2;
    const producerParked = (ring + RING_PRODUCER_PARKED_OFFSET) >> 2;
    p.ringTryClaim(ring);
    expect(p.ringFlush(ring)).toBe(0);
    Atomics.store(i32, consumerParked, 1);
    p.ringTryClaim(ring);
    expect(p.ringFlush(ring)).toBe(1); // no waiter: notify wakes nobody, harmlessly
    expect(p.ringFlush(ring)).toBe(1);
    Atomics.store(i32, consumerParked, 0);
    expect(p.ringFlush(ring)).toBe(0);
    c.ringTryPeek(ring);
    expect(c.ringCommit(ring)).toBe(0);
    Atomics.store(i32, producerParked, 1);
    c.ringTryPeek(ring);
    expect(c.ringCommit(ring)).toBe(1);
    Atomics.store(i32, producerParked, 0);
    expect(c.ringCommit(ring)).toBe(0);
    expect(c.ringSize(ring)).toBe(0);
  });

  test(`${name}: push/pop copy through scratch, batches straddle the wrap point`, async () => {
    const { p, c, ring, i32, scratch } = await setup(8);
    const src = scratch(0);
    const dst = scratch(1);
    let sent = 0;
    let received = 0;
    for (let round = 0; round < 200; round++) {
      const count = 1 + (round % 7);
      for (let k = 0; k < count; k++) fill(i32, src + k * RECORD, sent + k);
      const pushed = p.ringTryPushBatch(ring, src, count);
      expect(pushed).toBe(count);
      sent += pushed;
      const popped = c.ringTryPopBatch(ring, dst, 5);
      for (let k = 0; k < popped; k++) expect(valueOf(i32, dst + k * RECORD)).toBe(received + k);
      received += popped;
      while (c.ringTryPop(ring, dst) === STATUS_OK) expect(valueOf(i32, dst)).toBe(received++);
      c.ringCommit(ring);
      fill(i32, src, sent);
      expect(p.ringTryPush(ring, src)).toBe(STATUS_OK);
      p.ringFlush(ring);
      sent++;
      expect(c.ringTryPopBatch(ring, dst, 100)).toBe(1);
      expect(valueOf(i32, dst)).toBe(received++);
    }
    expect(received).toBe(sent);
  });

  test(`${name}: a batch larger than the free space pushes what fits`, async () => {
    const { p, c, ring, scratch } = await setup(4);
    expect(p.ringTryPushBatch(ring, scratch(0), 3)).toBe(3);
    expect(p.ringTryPushBatch(ring, scratch(0), 3)).toBe(1);
    expect(p.ringTryPushBatch(ring, scratch(0), 3)).toBe(0);
    expect(c.ringTryPopBatch(ring, scratch(1), 10)).toBe(4);
    expect(c.ringTryPopBatch(ring, scratch(1), 10)).toBe(0);
  });

  test(`${name}: ringTryPushBytes copies a record's first bytes only; more than a record, or not a multiple of 8, is INVALID and claims nothing`, async () => {
    const RECORD_64 = 64;
    const { p, c, ring, i32, u8, scratch } = await setup(2, RECORD_64);
    const src = scratch(0);
    const dst = scratch(1);
    // Fill both ring slots with a pattern, consume them, then push 24-byte prefixes over them.
    for (let round = 0; round < 2; round++) {
      fill(i32, src, 100 + round, RECORD_64);
      expect(p.ringTryPush(ring, src)).toBe(STATUS_OK);
    }
    p.ringFlush(ring);
    expect(c.ringTryPopBatch(ring, dst, 2)).toBe(2);
    c.ringCommit(ring);
    expect(p.ringTryPushBytes(ring, src, RECORD_64 + 8)).toBe(STATUS_INVALID);
    expect(p.ringTryPushBytes(ring, src, 12)).toBe(STATUS_INVALID); // not a multiple of 8
    expect(p.ringPending(ring)).toBe(0);
    for (let round = 0; round < 2; round++) {
      fill(i32, src, 200 + round, RECORD_64);
      expect(p.ringTryPushBytes(ring, src, 24)).toBe(STATUS_OK);
    }
    expect(p.ringTryPushBytes(ring, src, 24)).toBe(STATUS_FULL);
    p.ringFlush(ring);
    for (let round = 0; round < 2; round++) {
      const at = c.ringTryPeek(ring);
      expect(at).toBeGreaterThanOrEqual(ADDRESS_MIN);
      const words = Array.from(i32.subarray(at >> 2, (at + RECORD_64) >> 2));
      // 24 bytes (6 words) from the new record, the remaining 10 words as the old record left them.
      const fresh = Array.from({ length: 6 }, (_, k) => (200 + round) * 31 + k);
      const kept = Array.from({ length: 10 }, (_, k) => (100 + round) * 31 + 6 + k);
      expect(words).toEqual([...fresh, ...kept]);
      expect(u8[at]).toBe(((200 + round) * 31) & 255);
      c.ringCommit(ring);
    }
  });

  test(`${name}: producer close drains published records, then CLOSED`, async () => {
    const { p, c, ring, i32, scratch } = await setup(4);
    fill(i32, p.ringTryClaim(ring), 1);
    fill(i32, p.ringTryClaim(ring), 2);
    p.ringCloseProducer(ring); // flushes what was claimed
    expect(p.ringTryClaim(ring)).toBe(STATUS_CLOSED);
    expect(p.ringTryPushBatch(ring, scratch(0), 1)).toBe(-STATUS_CLOSED);
    expect(valueOf(i32, c.ringTryPeek(ring))).toBe(1);
    expect(valueOf(i32, c.ringTryPeek(ring))).toBe(2);
    expect(c.ringTryPeek(ring)).toBe(STATUS_CLOSED);
    expect(c.ringTryPop(ring, scratch(1))).toBe(STATUS_CLOSED);
    expect(c.ringTryPopBatch(ring, scratch(1), 4)).toBe(-STATUS_CLOSED);
    p.ringCloseProducer(ring); // idempotent
    expect(c.ringTryPeek(ring)).toBe(STATUS_CLOSED);
  });

  test(`${name}: consumer close refuses pushes (CLOSED, not FULL) and keeps what was accepted`, async () => {
    const { p, c, ring, i32, scratch } = await setup(2);
    fill(i32, p.ringTryClaim(ring), 5);
    p.ringFlush(ring);
    c.ringCloseConsumer(ring);
    expect(p.ringTryClaim(ring)).toBe(STATUS_CLOSED);
    expect(p.ringTryPush(ring, scratch(0))).toBe(STATUS_CLOSED);
    expect(p.ringTryPushBatch(ring, scratch(0), 1)).toBe(-STATUS_CLOSED);
    expect(valueOf(i32, c.ringTryPeek(ring))).toBe(5);
  });

  test(`${name}: indices wrap past 2^32 without losing a record`, async () => {
    const { p, c, ring, i32 } = await setup(4);
    // Start both sides just below the u32 wrap (as if 2^32 - 3 records had passed).
    const start = -3;
    const w = ring >> 2;
    for (const offset of [RING_HEAD_OFFSET, RING_CLAIM_OFFSET, RING_CACHED_TAIL_OFFSET, RING_TAIL_OFFSET, RING_READ_OFFSET, RING_CACHED_HEAD_OFFSET]) {
      i32[w + (offset >> 2)] = start;
    }
    for (let n = 0; n < 40; n++) {
      fill(i32, p.ringTryClaim(ring), n);
      p.ringFlush(ring);
      expect(c.ringSize(ring)).toBe(1);
      expect(valueOf(i32, c.ringTryPeek(ring))).toBe(n);
      c.ringCommit(ring);
    }
    // Full and empty are still told apart when HEAD and TAIL straddle 2^32.
    for (let k = 0; k < 4; k++) fill(i32, p.ringTryClaim(ring), 100 + k);
    expect(p.ringTryClaim(ring)).toBe(STATUS_FULL);
    p.ringFlush(ring);
    expect([c.ringSize(ring), c.ringAvailable(ring)]).toEqual([4, 4]);
    for (let k = 0; k < 4; k++) expect(valueOf(i32, c.ringTryPeek(ring))).toBe(100 + k);
    expect(c.ringTryPeek(ring)).toBe(STATUS_EMPTY);
    c.ringCommit(ring);
    expect(c.ringSize(ring)).toBe(0);
    expect(i32[w + (RING_HEAD_OFFSET >> 2)]).toBe(start + 44);
    expect(i32[w + (RING_TAIL_OFFSET >> 2)]).toBe(start + 44);
  });

  test(`${name}: records of every allowed shape (8 B and 256 B) move intact`, async () => {
    for (const recordSize of [8, 256]) {
      const { p, c, ring, i32, scratch } = await setup(4, recordSize);
      for (let n = 0; n < 20; n++) {
        fill(i32, scratch(0), n, recordSize);
        expect(p.ringTryPush(ring, scratch(0))).toBe(STATUS_OK);
        p.ringFlush(ring);
        expect(c.ringTryPop(ring, scratch(1))).toBe(STATUS_OK);
        c.ringCommit(ring);
        expect(valueOf(i32, scratch(1), recordSize)).toBe(n);
      }
    }
  });

  test(`${name}: the ring writes nothing outside its own bytes (canaries)`, async () => {
    const t = await newArena({ threads: 2, rings: [{ capacity: 4, recordSize: 8 }, { capacity: 4, recordSize: 8 }, { capacity: 4, recordSize: 8 }] });
    const [before, mid, after] = t.arena.rings.map((r) => r.address) as [number, number, number];
    const p = t.cores[producerBackend];
    const c = t.cores[consumerBackend];
    const snapshot = () => [bytesAt(t.views, before, mid - before), bytesAt(t.views, after, RING_HEADER_BYTES + 32)];
    const canaries = snapshot();
    for (let n = 0; n < 50; n++) {
      p.ringTryPushBatch(mid, t.scratch(0), 3);
      c.ringTryPopBatch(mid, t.scratch(1), 3);
    }
    expect(snapshot()).toEqual(canaries);
  });
});

/** One step of the model test; the same step list drives both backends and the model. Batch
 *  counts include -1, which both backends read as u32 0xFFFFFFFF: "as many as there are". */
type Op =
  | { kind: 'claim'; value: number } | { kind: 'push'; value: number } | { kind: 'pushBatch'; count: number; value: number }
  | { kind: 'flush' } | { kind: 'peek' } | { kind: 'pop' } | { kind: 'popBatch'; max: number } | { kind: 'commit' }
  | { kind: 'available' } | { kind: 'size' } | { kind: 'pending' } | { kind: 'closeProducer' } | { kind: 'closeConsumer' };

/** Records a batch op can move at most (the largest ring in the model tests holds 8). */
const MAX_MOVED = 16;
const often = <T>(arbitrary: fc.Arbitrary<T>) => ({ arbitrary, weight: 10 });
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  often(fc.record({ kind: fc.constant('claim' as const), value: fc.nat(1_000_000) })),
  often(fc.record({ kind: fc.constant('push' as const), value: fc.nat(1_000_000) })),
  often(fc.record({ kind: fc.constant('pushBatch' as const), count: fc.integer({ min: -1, max: 9 }), value: fc.nat(1_000_000) })),
  often(fc.constant({ kind: 'flush' as const })),
  often(fc.constant({ kind: 'peek' as const })),
  often(fc.constant({ kind: 'pop' as const })),
  often(fc.record({ kind: fc.constant('popBatch' as const), max: fc.integer({ min: -1, max: 9 }) })),
  often(fc.constant({ kind: 'commit' as const })),
  often(fc.constant({ kind: 'available' as const })),
  often(fc.constant({ kind: 'size' as const })),
  often(fc.constant({ kind: 'pending' as const })),
  { arbitrary: fc.constant({ kind: 'closeProducer' as const }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'closeConsumer' as const }), weight: 1 },
);

/** Plain reference: claimed (unpublished), published (unread), read (uncommitted) records. */
class ReferenceRing {
  claimed: number[] = [];
  published: number[] = [];
  inFlight = 0;
  producerClosed = false;
  consumerClosed = false;
  constructor(readonly capacity: number) {}
  get used(): number { return this.claimed.length + this.published.length + this.inFlight; }
  get closed(): boolean { return this.producerClosed || this.consumerClosed; }
  publish(): void { this.published.push(...this.claimed.splice(0)); }
}

/** Applies `op` to the ring through `p`/`c` and returns an observation to compare with the model. */
function apply(op: Op, p: CoreOps, c: CoreOps, t: TestArena, ring: number): number[] {
  const i32 = t.views.i32;
  const src = t.scratch(0);
  const dst = t.scratch(1);
  switch (op.kind) {
    case 'claim': {
      const a = p.ringTryClaim(ring);
      if (a >= ADDRESS_MIN) { fill(i32, a, op.value); return [STATUS_OK]; }
      return [a];
    }
    case 'push':
      fill(i32, src, op.value);
      return [p.ringTryPush(ring, src)];
    case 'pushBatch':
      for (let k = 0; k < Math.min(op.count >>> 0, MAX_MOVED); k++) fill(i32, src + k * RECORD, op.value + k);
      return [p.ringTryPushBatch(ring, src, op.count)];
    case 'flush': return [p.ringFlush(ring)];
    case 'peek': {
      const a = c.ringTryPeek(ring);
      return a >= ADDRESS_MIN ? [STATUS_OK, valueOf(i32, a)] : [a];
    }
    case 'pop': {
      const s = c.ringTryPop(ring, dst);
      return s === STATUS_OK ? [s, valueOf(i32, dst)] : [s];
    }
    case 'popBatch': {
      const n = c.ringTryPopBatch(ring, dst, op.max);
      const values = [];
      for (let k = 0; k < n; k++) values.push(valueOf(i32, dst + k * RECORD));
      return [n, ...values];
    }
    case 'commit': return [c.ringCommit(ring)];
    case 'available': return [c.ringAvailable(ring)];
    case 'size': return [c.ringSize(ring)];
    case 'pending': return [p.ringPending(ring)];
    case 'closeProducer': p.ringCloseProducer(ring); return [];
    case 'closeConsumer': c.ringCloseConsumer(ring); return [];
  }
}

function model(op: Op, m: ReferenceRing): number[] {
  switch (op.kind) {
    case 'claim':
    case 'push':
      if (m.closed) return [STATUS_CLOSED];
      if (m.used === m.capacity) return [STATUS_FULL];
      m.claimed.push(op.value);
      return [STATUS_OK];
    case 'pushBatch': {
      if (m.closed) return [-STATUS_CLOSED];
      const n = Math.min(op.count >>> 0, m.capacity - m.used);
      for (let k = 0; k < n; k++) m.claimed.push(op.value + k);
      m.publish();
      return [n];
    }
    case 'flush': m.publish(); return [0]; // nobody parked: never notifies
    case 'peek':
    case 'pop': {
      if (m.published.length === 0) return [m.producerClosed ? STATUS_CLOSED : STATUS_EMPTY];
      m.inFlight++;
      return [STATUS_OK, m.published.shift()!];
    }
    case 'popBatch': {
      const values = m.published.splice(0, op.max >>> 0);
      m.inFlight = 0; // popBatch commits everything read so far, even when it moves nothing
      if (values.length === 0 && m.published.length === 0 && m.producerClosed) return [-STATUS_CLOSED];
      return [values.length, ...values];
    }
    case 'commit': m.inFlight = 0; return [0];
    case 'available': return [m.published.length];
    case 'size': return [m.published.length + m.inFlight];
    case 'pending': return [m.claimed.length];
    case 'closeProducer': m.publish(); m.producerClosed = true; return [];
    case 'closeConsumer': m.consumerClosed = true; return [];
  }
}

describe('ring model test (fast-check)', () => {
  test.each(PAIRS.map((pair) => [pairName(pair), pair] as const))('%s behaves as a reference FIFO for any operation sequence', async (_, [pb, cb]) => {
    const t = await newArena({ threads: 2, rings: [{ capacity: 2, recordSize: RECORD }, { capacity: 8, recordSize: RECORD }], scratchBytes: 65536 });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(0, 1), fc.array(opArbitrary, { maxLength: 200, size: 'max' }), async (which, ops) => {
        const info = t.arena.ring(which);
        t.cores.js.ringInit(info.address, info.capacity, info.recordSize);
        const m = new ReferenceRing(info.capacity);
        for (const op of ops) expect([op.kind, ...apply(op, t.cores[pb], t.cores[cb], t, info.address)]).toEqual([op.kind, ...model(op, m)]);
      }),
      { numRuns: FC_RUNS },
    );
  });

  test('the same operations on wasm and on js give identical returns and identical ring bytes', async () => {
    const a = await newArena({ threads: 2, rings: [{ capacity: 4, recordSize: RECORD }], scratchBytes: 65536 });
    const b = await newArena({ threads: 2, rings: [{ capacity: 4, recordSize: RECORD }], scratchBytes: 65536 });
    const ring = a.arena.ring(0).address;
    const bytes = a.cores.js.ringBytes(4, RECORD);
    await fc.assert(
      fc.asyncProperty(fc.array(opArbitrary, { maxLength: 200, size: 'max' }), async (ops) => {
        a.cores.wasm.ringInit(ring, 4, RECORD);
        b.cores.js.ringInit(ring, 4, RECORD);
        for (const op of ops) {
          expect(apply(op, b.cores.js, b.cores.js, b, ring)).toEqual(apply(op, a.cores.wasm, a.cores.wasm, a, ring));
        }
        expect(bytesAt(b.views, ring, bytes)).toEqual(bytesAt(a.views, ring, bytes));
      }),
      { numRuns: FC_RUNS },
    );
  });
});

describe.each(BACKENDS)('ringBytes %s', (backend) => {
  test(`${backend}: header + records, rounded up to STRUCTURE_ALIGN; too-large rings get a sentinel no arena fits`, async () => {
    const t = await newArena({ threads: 1 });
    const core = t.cores[backend];
    expect(core.ringBytes(4, 16)).toBe(alignUp(RING_HEADER_BYTES + 64, STRUCTURE_ALIGN));
    expect(core.ringBytes(2, 8)).toBe(RING_HEADER_BYTES + STRUCTURE_ALIGN);
    expect(core.ringBytes(64, 24)).toBe(RING_HEADER_BYTES + 1536);
    expect(core.ringBytes(RING_MAX_CAPACITY, RING_MAX_RECORD_SIZE)).toBeGreaterThan(ARENA_MAX_BYTES);
    for (const capacity of [2, 4, 64, 1024, RING_MAX_CAPACITY]) {
      for (const recordSize of [8, 24, 256, RING_MAX_RECORD_SIZE]) {
        expect([capacity, recordSize, core.ringBytes(capacity, recordSize)]).toEqual([capacity, recordSize, t.cores.wasm.ringBytes(capacity, recordSize)]);
      }
    }
  });
});
