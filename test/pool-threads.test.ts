/**
 * The slot pool across real worker threads: every peer allocates slots and mails them to the other
 * peers, which check and release them, so allocs and releases of the same slots race on every
 * thread, each peer on its own backend.
 *
 *   peer 0 ── alloc, stamp ── mailbox(0→1) ──▶ peer 1 ── check, release
 *   peer 0 ◀── mailbox(1→0) ── alloc, stamp ── peer 1          (and every other ordered pair)
 *
 * Checked: no slot ever held by two peers at once (OWNER moved only by CAS), every slot's contents
 * intact and in sequence per sender→receiver pair, allocs and releases balance per slot and in
 * total, 0 outstanding, every state word free, both queue positions advanced by exactly the number
 * of messages. Size: WD_STRESS × 100 000 messages per peer. Mailboxes are plain Atomics on the
 * main thread's scratch block (test/workers/pool-common.ts), not rings.
 */
import { describe, expect, test } from '@jest/globals';
import {
  POOL_DEQUEUE_POS_OFFSET, POOL_ENQUEUE_POS_OFFSET, POOL_SLOT_FREE, POOL_SLOT_STATE_BYTES, POOL_SLOTS_OFFSET_OFFSET,
  POOL_STATES_OFFSET_OFFSET,
} from '../assembly/layout/pool.ts';
import { ADDRESS_MIN } from '../assembly/layout/arena.ts';
import { STATUS_EXHAUSTED } from '../assembly/layout/status.ts';
import type { Backend } from '../bindings/core-ops.ts';
import {
  MAILBOX_HEAD_OFFSET, MAILBOX_TAIL_OFFSET, SLOT_BYTES, SLOT_OWNER_OFFSET, mailboxAddress, messagesBetween,
  regionLayout, type PoolPeerReport,
} from './workers/pool-common.ts';
import { STRESS, newArena, runWorker } from './harness.ts';

const MESSAGES = Math.round(100_000 * STRESS);
const TIMEOUT_MS = 60_000 + MESSAGES / 10;

/** Peer backends: 2 peers on each combination, and 4 peers mixing both backends. */
const RUNS: readonly (readonly Backend[])[] = [
  ['wasm', 'wasm'],
  ['js', 'js'],
  ['wasm', 'js'],
  ['wasm', 'js', 'wasm', 'js'],
];

describe.each(RUNS.map((backends) => [backends.join('/'), backends] as const))('pool across threads: %s', (name, backends) => {
  const peers = backends.length;
  const slotCount = 4 * peers;

  test(`${name}: ${peers} peers × ${MESSAGES} slots each, allocated on one thread and released on another`, async () => {
    const t = await newArena({ threads: 1, pools: [{ slotCount, slotSize: SLOT_BYTES }], scratchBytes: 65536 });
    const pool = t.arena.pool(0).address;
    const region = t.scratch(0);
    const layout = regionLayout(peers, slotCount);
    expect(layout.bytes).toBeLessThanOrEqual(65536);
    const u32 = t.views.u32;
    const i32 = t.views.i32;

    const deadline = Date.now() + TIMEOUT_MS - 5_000;
    const reports = await Promise.all(backends.map((backend, peer) => runWorker<PoolPeerReport>('pool-peer', {
      module: t.module, memory: t.memory, backend, peer, peers, messages: MESSAGES, pool, region, deadline,
    }, TIMEOUT_MS)));

    expect(reports.map((r) => r.errors)).toEqual(backends.map(() => []));
    expect(reports.map((r) => r.sent)).toEqual(backends.map(() => MESSAGES));
    expect(reports.map((r) => r.received)).toEqual(backends.map((_, me) =>
      backends.reduce((sum, __, from) => sum + (from === me ? 0 : messagesBetween(from, me, MESSAGES, peers)), 0)));

    // Every mailbox drained, and carried exactly its share.
    for (let from = 0; from < peers; from++) {
      for (let to = 0; to < peers; to++) {
        const box = mailboxAddress(region, layout, peers, from, to);
        const share = from === to ? 0 : messagesBetween(from, to, MESSAGES, peers);
        expect([from, to, Atomics.load(i32, (box + MAILBOX_HEAD_OFFSET) >> 2), Atomics.load(i32, (box + MAILBOX_TAIL_OFFSET) >> 2)])
          .toEqual([from, to, share, share]);
      }
    }

    // Allocs and releases balance per slot; every slot took part; nothing is held.
    const allocs = Array.from({ length: slotCount }, (_, i) => u32[(region + layout.allocCounts + i * 4) >> 2]!);
    const releases = Array.from({ length: slotCount }, (_, i) => u32[(region + layout.releaseCounts + i * 4) >> 2]!);
    expect(releases).toEqual(allocs);
    expect(allocs.reduce((a, b) => a + b, 0)).toBe(peers * MESSAGES);
    expect(allocs.every((n) => n > 0)).toBe(true);
    const states = pool + u32[(pool + POOL_STATES_OFFSET_OFFSET) >> 2]!;
    const slots = pool + u32[(pool + POOL_SLOTS_OFFSET_OFFSET) >> 2]!;
    for (let i = 0; i < slotCount; i++) {
      expect([i, u32[(states + i * POOL_SLOT_STATE_BYTES) >> 2], u32[(slots + i * SLOT_BYTES + SLOT_OWNER_OFFSET) >> 2]])
        .toEqual([i, POOL_SLOT_FREE, 0]);
    }
    expect(t.cores.wasm.poolOutstanding(pool)).toBe(0);
    expect(t.cores.js.poolOutstanding(pool)).toBe(0);
    expect(u32[(pool + POOL_DEQUEUE_POS_OFFSET) >> 2]).toBe((peers * MESSAGES) >>> 0);
    expect(u32[(pool + POOL_ENQUEUE_POS_OFFSET) >> 2]).toBe((slotCount + peers * MESSAGES) >>> 0);

    // The pool still works as new: every slot once, then EXHAUSTED.
    const again = Array.from({ length: slotCount }, () => t.cores.js.poolTryAlloc(pool));
    expect(new Set(again).size).toBe(slotCount);
    expect(again.every((slot) => slot >= ADDRESS_MIN)).toBe(true);
    expect(t.cores.wasm.poolTryAlloc(pool)).toBe(STATUS_EXHAUSTED);
  });
});
