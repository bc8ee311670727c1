/**
 * Routing table, one thread: unit tests per mode, versioning and BUSY, bad ids; a fast-check model
 * test against a plain reference of the subscription list and routing rules (cursors included);
 * conformance: the same operations on Wasm and JS give the same returns and the same bytes.
 * Suites run with the writer on one backend and the reader on the other, in all four pairings.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { MODE_BROADCAST, MODE_GROUP, MODE_KEYED } from '../assembly/layout/router.ts';
import { STATUS_BUSY, STATUS_FULL, STATUS_INVALID, STATUS_OK } from '../assembly/layout/status.ts';
import type { CoreOps } from '../bindings/core-ops.ts';
import { FC_RUNS, PAIRS, bytesAt, newArena, pairName, type TestArena } from './harness.ts';

const THREADS = 3;

async function routerArena(maxTopics = 8, maxSubscriptions = 8): Promise<TestArena & { router: number }> {
  const t = await newArena({ threads: THREADS, routers: [{ maxTopics, maxSubscriptions }], scratchBytes: 4096 });
  return { ...t, router: t.arena.router(0).address };
}

/** Routes one message on `thread` (entering and leaving) and returns the lanes. */
function route(core: CoreOps, t: TestArena, router: number, thread: number, topic: number, keyHash: number): number[] {
  const out = t.scratch(thread);
  core.routerEnter(router, thread);
  const n = core.routerRoute(router, thread, topic, keyHash, out);
  core.routerLeave(router, thread);
  return n < 0 ? [n] : Array.from(t.views.u32.subarray(out >> 2, (out >> 2) + n));
}

describe.each(PAIRS)('router: writer on %s, reader on %s', (writerBackend, readerBackend) => {
  const name = pairName([writerBackend, readerBackend]);
  const setup = async (maxTopics = 8, maxSubscriptions = 8) => {
    const t = await routerArena(maxTopics, maxSubscriptions);
    const w = t.cores[writerBackend];
    const r = t.cores[readerBackend];
    expect(w.routerTryLock(t.router, 0)).toBe(STATUS_OK);
    const add = (topic: number, lane: number, mode: number, group = 0): number => {
      const id = w.routerAddSubscription(t.router, topic, lane, mode, group);
      expect(id).toBeGreaterThanOrEqual(0);
      return id;
    };
    const publish = (): void => expect(w.routerTryPublish(t.router)).toBe(STATUS_OK);
    const lanes = (topic: number, keyHash = 0, thread = 1): number[] => route(r, t, t.router, thread, topic, keyHash);
    return { ...t, w, r, add, publish, lanes };
  };

  test(`${name}: a fresh router routes nothing, at version 1`, async () => {
    const { r, router, lanes } = await setup();
    expect(r.routerVersion(router)).toBe(1);
    for (let topic = 0; topic < 8; topic++) expect(lanes(topic)).toEqual([]);
  });

  test(`${name}: broadcast reaches every subscriber, in subscription order`, async () => {
    const { add, publish, lanes, r, router } = await setup();
    add(2, 7, MODE_BROADCAST);
    add(2, 3, MODE_BROADCAST);
    add(2, 5, MODE_BROADCAST);
    expect(lanes(2)).toEqual([]); // not visible before publish
    publish();
    expect(lanes(2)).toEqual([7, 3, 5]);
    expect(lanes(1)).toEqual([]);
    expect(r.routerGroupCount(router, 2)).toBe(3);
  });

  test(`${name}: a group delivers each message to exactly one member, round-robin per thread`, async () => {
    const { add, publish, lanes } = await setup();
    for (const lane of [10, 11, 12]) add(0, lane, MODE_GROUP, 4);
    publish();
    const seen1 = Array.from({ length: 30 }, () => lanes(0, 0, 1));
    expect(seen1.every((l) => l.length === 1)).toBe(true);
    expect(seen1.flat().slice(0, 6)).toEqual([10, 11, 12, 10, 11, 12]);
    // Another thread has its own cursor: it starts at the first member again.
    expect(lanes(0, 0, 2)).toEqual([10]);
    const counts = new Map<number, number>();
    for (const [lane] of seen1) counts.set(lane!, (counts.get(lane!) ?? 0) + 1);
    expect([...counts.values()]).toEqual([10, 10, 10]);
  });

  test(`${name}: keyed delivery sends a key always to the same member and spreads keys`, async () => {
    const { add, publish, lanes, r } = await setup();
    for (const lane of [20, 21, 22, 23]) add(1, lane, MODE_KEYED, 9);
    publish();
    const perLane = new Map<number, number>();
    for (let key = 0; key < 1000; key++) {
      const hash = r.hashU32(key);
      const first = lanes(1, hash);
      expect(first).toHaveLength(1);
      expect(lanes(1, hash)).toEqual(first);
      expect(first[0]).toBe([20, 21, 22, 23][(hash >>> 0) % 4]);
      perLane.set(first[0]!, (perLane.get(first[0]!) ?? 0) + 1);
    }
    expect(perLane.size).toBe(4);
    for (const count of perLane.values()) expect(count).toBeGreaterThan(150);
  });

  test(`${name}: modes and groups combine on one topic; groups are separate by key`, async () => {
    const { add, publish, lanes } = await setup(4, 16);
    add(3, 1, MODE_GROUP, 100);
    add(3, 9, MODE_BROADCAST);
    add(3, 4, MODE_KEYED, 7);
    add(3, 2, MODE_GROUP, 100);
    add(3, 5, MODE_KEYED, 7);
    add(3, 6, MODE_GROUP, 200); // another group: gets its own copy
    add(3, 8, MODE_KEYED, 100); // same key as the group above but another mode: separate
    publish();
    // Groups in order of their first subscription: g100, broadcast 9, keyed 7, g200, keyed 100.
    expect(lanes(3, 0)).toEqual([1, 9, 4, 6, 8]);
    expect(lanes(3, 1)).toEqual([2, 9, 5, 6, 8]);
    expect(lanes(3, 2)).toEqual([1, 9, 4, 6, 8]);
  });

  test(`${name}: removing subscriptions takes effect at the next publish; ids are reused`, async () => {
    const { w, router, add, publish, lanes } = await setup();
    const a = add(0, 1, MODE_BROADCAST);
    add(0, 2, MODE_BROADCAST);
    publish();
    expect(w.routerRemoveSubscription(router, a)).toBe(STATUS_OK);
    expect(lanes(0)).toEqual([1, 2]);
    publish();
    expect(lanes(0)).toEqual([2]);
    expect(add(0, 3, MODE_BROADCAST)).toBe(a); // lowest free slot
    publish();
    expect(lanes(0)).toEqual([3, 2]);
    expect(w.routerRemoveSubscription(router, a)).toBe(STATUS_OK);
    expect(w.routerRemoveSubscription(router, a)).toBe(STATUS_INVALID); // already free
  });

  test(`${name}: FULL when every subscription slot is taken`, async () => {
    const { w, router, add } = await setup(2, 3);
    add(0, 1, MODE_BROADCAST);
    add(1, 1, MODE_GROUP, 1);
    add(1, 2, MODE_GROUP, 1);
    expect(w.routerAddSubscription(router, 0, 5, MODE_BROADCAST, 0)).toBe(-STATUS_FULL);
  });

  test(`${name}: bad ids are INVALID and change nothing`, async () => {
    const t = await setup(4, 4);
    const { w, r, router, add, publish } = t;
    add(1, 1, MODE_BROADCAST);
    publish();
    const bytes = w.routerBytes(4, 4, THREADS);
    const before = bytesAt(t.views, router, bytes);
    expect(w.routerAddSubscription(router, 4, 1, MODE_BROADCAST, 0)).toBe(-STATUS_INVALID); // topic
    expect(w.routerAddSubscription(router, -1, 1, MODE_BROADCAST, 0)).toBe(-STATUS_INVALID);
    expect(w.routerAddSubscription(router, 0, 1, 0, 0)).toBe(-STATUS_INVALID); // mode
    expect(w.routerAddSubscription(router, 0, 1, 4, 0)).toBe(-STATUS_INVALID);
    expect(w.routerRemoveSubscription(router, 4)).toBe(STATUS_INVALID);
    expect(w.routerRemoveSubscription(router, 2)).toBe(STATUS_INVALID);
    expect(r.routerEnter(router, THREADS)).toBe(-STATUS_INVALID);
    expect(r.routerRoute(router, 1, 4, 0, t.scratch(1))).toBe(-STATUS_INVALID);
    expect(r.routerRoute(router, THREADS, 1, 0, t.scratch(1))).toBe(-STATUS_INVALID);
    expect(r.routerGroupCount(router, 99)).toBe(0);
    r.routerLeave(router, 99);
    expect(bytesAt(t.views, router, bytes)).toEqual(before);
  });

  test(`${name}: the writer lock has one holder`, async () => {
    const { w, r, router } = await setup();
    expect(r.routerTryLock(router, 1)).toBe(STATUS_BUSY); // thread 0 holds it since setup
    expect(r.routerUnlock(router, 1)).toBe(STATUS_INVALID);
    expect(w.routerUnlock(router, 0)).toBe(STATUS_OK);
    expect(r.routerTryLock(router, 1)).toBe(STATUS_OK);
    expect(w.routerTryLock(router, 0)).toBe(STATUS_BUSY);
    expect(r.routerUnlock(router, 1)).toBe(STATUS_OK);
    expect(r.routerTryLock(router, THREADS)).toBe(STATUS_INVALID);
  });

  test(`${name}: a publish that would overwrite a table a reader is on is BUSY until it leaves`, async () => {
    const t = await setup();
    const { w, r, router, add } = t;
    add(0, 1, MODE_BROADCAST);
    expect(w.routerTryPublish(router)).toBe(STATUS_OK); // version 2
    expect(r.routerEnter(router, 2)).toBe(2); // reader holds version 2's buffer
    add(0, 2, MODE_BROADCAST);
    expect(w.routerTryPublish(router)).toBe(STATUS_OK); // version 3 writes the other buffer
    expect(r.routerVersion(router)).toBe(3);
    // The reader still sees the table it entered.
    expect(r.routerRoute(router, 2, 0, 0, t.scratch(2))).toBe(1);
    add(0, 3, MODE_BROADCAST);
    expect(w.routerTryPublish(router)).toBe(STATUS_BUSY); // would overwrite version 2's buffer
    expect(w.routerTryPublish(router)).toBe(STATUS_BUSY);
    expect(r.routerVersion(router)).toBe(3);
    r.routerLeave(router, 2);
    expect(w.routerTryPublish(router)).toBe(STATUS_OK);
    expect(r.routerVersion(router)).toBe(4);
    expect(route(r, t, router, 2, 0, 0)).toEqual([1, 2, 3]);
  });
});

// ── model test ──────────────────────────────────────────────────────────────────────────────
type RouterOp =
  | { kind: 'add'; topic: number; lane: number; mode: number; group: number }
  | { kind: 'remove'; id: number }
  | { kind: 'publish' }
  | { kind: 'route'; thread: number; topic: number; keyHash: number };

const TOPICS = 4;
const SUBS = 6;
const routerOp: fc.Arbitrary<RouterOp> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('add' as const), topic: fc.integer({ min: -1, max: TOPICS }), lane: fc.nat(20), mode: fc.integer({ min: 0, max: 4 }), group: fc.nat(2) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), id: fc.integer({ min: -1, max: SUBS }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'publish' as const }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('route' as const), thread: fc.integer({ min: 0, max: THREADS - 1 }), topic: fc.integer({ min: 0, max: TOPICS }), keyHash: fc.integer() }) },
);

interface ModelSub { mode: number; topic: number; lane: number; group: number }
interface ModelGroup { mode: number; key: number; lanes: number[] }

/** The routing rules, in plain code: slots, compiled snapshot, per-thread cursors by group index. */
class ReferenceRouter {
  slots: (ModelSub | null)[] = new Array(SUBS).fill(null);
  table: ModelGroup[][] = Array.from({ length: TOPICS }, () => []);
  version = 1;
  cursors = Array.from({ length: THREADS }, () => new Array<number>(SUBS).fill(0));

  apply(op: RouterOp): number[] {
    switch (op.kind) {
      case 'add': {
        if (op.topic < 0 || op.topic >= TOPICS || op.mode < MODE_BROADCAST || op.mode > MODE_KEYED) return [-STATUS_INVALID];
        const id = this.slots.indexOf(null);
        if (id < 0) return [-STATUS_FULL];
        this.slots[id] = { mode: op.mode, topic: op.topic, lane: op.lane, group: op.group };
        return [id];
      }
      case 'remove':
        if (op.id < 0 || op.id >= SUBS || !this.slots[op.id]) return [STATUS_INVALID];
        this.slots[op.id] = null;
        return [STATUS_OK];
      case 'publish':
        this.table = Array.from({ length: TOPICS }, (_, topic) => {
          const groups: ModelGroup[] = [];
          for (const sub of this.slots) {
            if (!sub || sub.topic !== topic) continue;
            const key = sub.mode === MODE_BROADCAST ? sub.lane : sub.group;
            const group = sub.mode === MODE_BROADCAST ? undefined : groups.find((g) => g.mode === sub.mode && g.key === key);
            if (group) group.lanes.push(sub.lane);
            else groups.push({ mode: sub.mode, key, lanes: [sub.lane] });
          }
          return groups;
        });
        this.version++;
        return [STATUS_OK];
      case 'route': {
        if (op.topic >= TOPICS) return [-STATUS_INVALID];
        const firstGroup = this.table.slice(0, op.topic).reduce((n, groups) => n + groups.length, 0);
        return this.table[op.topic]!.map((group, i) => {
          const n = group.lanes.length;
          if (n === 1 || group.mode === MODE_BROADCAST) return group.lanes[0]!;
          if (group.mode === MODE_KEYED) return group.lanes[(op.keyHash >>> 0) % n]!;
          const cursors = this.cursors[op.thread]!;
          const position = cursors[firstGroup + i]!;
          const pick = position < n ? position : position % n;
          cursors[firstGroup + i] = pick + 1 === n ? 0 : pick + 1;
          return group.lanes[pick]!;
        });
      }
    }
  }
}

function applyRouter(op: RouterOp, w: CoreOps, r: CoreOps, t: TestArena, router: number): number[] {
  switch (op.kind) {
    case 'add': return [w.routerAddSubscription(router, op.topic, op.lane, op.mode, op.group)];
    case 'remove': return [w.routerRemoveSubscription(router, op.id)];
    case 'publish': return [w.routerTryPublish(router)];
    case 'route': return route(r, t, router, op.thread, op.topic, op.keyHash);
  }
}

describe('router model test (fast-check)', () => {
  test.each(PAIRS.map((pair) => [pairName(pair), pair] as const))('%s routes exactly as the reference rules for any operation sequence', async (_, [wb, rb]) => {
    const t = await routerArena(TOPICS, SUBS);
    await fc.assert(
      fc.asyncProperty(fc.array(routerOp, { maxLength: 80 }), async (ops) => {
        t.cores[wb].routerInit(t.router, TOPICS, SUBS, THREADS);
        const model = new ReferenceRouter();
        for (const op of ops) {
          expect([op.kind, ...applyRouter(op, t.cores[wb], t.cores[rb], t, t.router)]).toEqual([op.kind, ...model.apply(op)]);
        }
        expect(t.cores[rb].routerVersion(t.router)).toBe(model.version);
      }),
      { numRuns: FC_RUNS },
    );
  });

  test('the same operations on wasm and on js give identical returns and identical router bytes', async () => {
    const a = await routerArena(TOPICS, SUBS);
    const b = await routerArena(TOPICS, SUBS);
    const bytes = a.cores.js.routerBytes(TOPICS, SUBS, THREADS);
    await fc.assert(
      fc.asyncProperty(fc.array(routerOp, { maxLength: 80 }), async (ops) => {
        a.cores.wasm.routerInit(a.router, TOPICS, SUBS, THREADS);
        b.cores.js.routerInit(b.router, TOPICS, SUBS, THREADS);
        for (const op of ops) {
          expect(applyRouter(op, b.cores.js, b.cores.js, b, b.router)).toEqual(applyRouter(op, a.cores.wasm, a.cores.wasm, a, a.router));
        }
        expect(bytesAt(b.views, b.router, bytes)).toEqual(bytesAt(a.views, a.router, bytes));
      }),
      { numRuns: FC_RUNS },
    );
  });
});
