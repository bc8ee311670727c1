/**
 * The engine's layout and its named views: the control block's words keep different writers on
 * different lines, the scratch block's regions do not overlap, route entries pack and unpack by
 * the dispatch layout's constants, and ControlBlock and SubscriptionTable read and write exactly
 * the bytes layout.ts and subscription-table.ts document.
 */
import { describe, expect, test } from '@jest/globals';
import { FALSE_SHARING_STRIDE, MAX_THREADS } from '../assembly/layout/arena.ts';
import { ROUTE_RING_SHIFT, ROUTE_TAG_MASK } from '../assembly/layout/dispatch.ts';
import { ControlBlock } from '../src/engine/control-block.ts';
import {
  CONTROL_ACCEPTED_OFFSET, CONTROL_BACKLOG_OFFSET, CONTROL_COMMAND_OFFSET, CONTROL_COMPLETED_OFFSET,
  CONTROL_DOORBELL_OFFSET, CONTROL_LANE_STATS_OFFSET, CONTROL_LATE_REPLIES_OFFSET, CONTROL_SLEEPING_OFFSET,
  CONTROL_STATE_OFFSET, CONTROL_TOPIC_STATS_OFFSET, CONTROL_HANDLED_LANE_OFFSET, CONTROL_HANDLED_OFFSET,
  BATCH_RECORDS, CIRCUIT_BYTES, PRIORITY_CLASSES, LANE_STAT_BYTES, LANE_STAT_COUNT, MAX_WORKERS, REPLY_SUBSCRIPTION,
  TOPIC_STAT_BYTES, TOPIC_STAT_COUNT, TOPIC_STAT_DELIVERED, controlLayout, routeEntry, routeEntryConsumer,
  routeEntrySlot, scratchLayout,
} from '../src/engine/layout.ts';
import {
  BALANCE_LEAST_LOADED, SLOT_ACTIVE, SLOT_ENTRY_BYTES, SLOT_FREE, SLOT_HANDLER_OFFSET, SLOT_MODE_OFFSET,
  SLOT_POLICY_OFFSET, SLOT_RETIRED, SLOT_STATE_OFFSET, SLOT_TOPIC_OFFSET, SubscriptionTable,
} from '../src/engine/subscription-table.ts';

const line = (offset: number): number => Math.floor(offset / FALSE_SHARING_STRIDE);

describe('engine layout', () => {
  test('control block: words of different writers sit on different lines; stats rooms follow', () => {
    // DOORBELL (any producer), SLEEPING (owner, read by producers), STATE/COMMAND (owner / thread 0),
    // the drain counters (owner): four groups, four lines.
    const groups = [CONTROL_DOORBELL_OFFSET, CONTROL_SLEEPING_OFFSET, CONTROL_STATE_OFFSET, CONTROL_ACCEPTED_OFFSET].map(line);
    expect(new Set(groups).size).toBe(4);
    expect(line(CONTROL_COMMAND_OFFSET)).toBe(line(CONTROL_STATE_OFFSET));
    for (const word of [CONTROL_COMPLETED_OFFSET, CONTROL_BACKLOG_OFFSET, CONTROL_LATE_REPLIES_OFFSET, CONTROL_HANDLED_LANE_OFFSET, CONTROL_HANDLED_OFFSET]) expect(line(word)).toBe(line(CONTROL_ACCEPTED_OFFSET));
    expect(CONTROL_LANE_STATS_OFFSET).toBeGreaterThan(CONTROL_HANDLED_OFFSET);
    expect(CONTROL_TOPIC_STATS_OFFSET).toBe(CONTROL_LANE_STATS_OFFSET + MAX_THREADS * PRIORITY_CLASSES * LANE_STAT_BYTES);
    expect(LANE_STAT_BYTES).toBe(LANE_STAT_COUNT * 8);
    expect(TOPIC_STAT_COUNT * 8).toBeLessThanOrEqual(TOPIC_STAT_BYTES);
    expect(MAX_WORKERS + 1).toBe(MAX_THREADS);
  });

  test('control and scratch layouts: aligned, regions in order and inside the block', () => {
    for (const [topics, subscriptions, recordSize, threads] of [[1, 1, 24, 2], [7, 64, 72, 5], [1024, 1024, 4096, 64]] as const) {
      const control = controlLayout(topics, subscriptions);
      expect(control.bytes % FALSE_SHARING_STRIDE).toBe(0);
      // In-flight words (admission) after the topic stats, then the subscription table on its own line.
      expect(control.admission).toBe(control.topicStats + topics * TOPIC_STAT_BYTES);
      expect(control.subscriptions).toBeGreaterThanOrEqual(control.admission + topics * 4);
      expect(control.subscriptions % FALSE_SHARING_STRIDE).toBe(0);
      expect(control.balances).toBe(control.subscriptions + subscriptions * SLOT_ENTRY_BYTES);
      expect(control.balances + subscriptions).toBeLessThanOrEqual(control.bytes);
      expect(control.circuits % 8).toBe(0);
      expect(control.circuits).toBeGreaterThanOrEqual(control.balances + subscriptions);
      expect(control.circuits + subscriptions * CIRCUIT_BYTES).toBeLessThanOrEqual(control.bytes);
      const routerSubscriptions = subscriptions * (threads - 1);
      const s = scratchLayout(control, topics, recordSize, routerSubscriptions, threads, 100);
      const starts = [control.bytes, s.topicStaging, s.replyStaging, s.callerStaging, s.routeOut, s.ringTable, s.pushedCounts, s.dispatchResult, s.batchStaging, s.spill, s.bytes];
      for (let i = 1; i < starts.length; i++) expect(starts[i]!).toBeGreaterThanOrEqual(starts[i - 1]!);
      expect(s.replyStaging - s.topicStaging).toBe(topics * recordSize);
      expect(s.ringTable - s.routeOut).toBe(routerSubscriptions * 4);
      expect(s.batchStaging % 8).toBe(0);
      // One ring-table word and one spill region per outbound key (class, consumer), 8-aligned, the last one inside the block.
      expect(s.pushedCounts - s.ringTable).toBe(threads * PRIORITY_CLASSES * 4);
      expect(s.spill - s.batchStaging).toBe(BATCH_RECORDS * recordSize);
      expect(s.spillBytes % 8).toBe(0);
      expect(s.spill + threads * PRIORITY_CLASSES * s.spillBytes).toBeLessThanOrEqual(s.bytes);
      expect(s.bytes % FALSE_SHARING_STRIDE).toBe(0);
    }
  });

  test('route entries pack (consumer, slot) by the dispatch layout; slots stay below REPLY_SUBSCRIPTION', () => {
    for (const [consumer, slot] of [[0, 0], [1, 5], [63, 1023], [MAX_THREADS - 1, ROUTE_TAG_MASK - 1]] as const) {
      const entry = routeEntry(consumer, slot);
      expect(entry).toBe(((consumer << ROUTE_RING_SHIFT) | slot) >>> 0);
      expect([routeEntryConsumer(entry), routeEntrySlot(entry)]).toEqual([consumer, slot]);
    }
    expect(REPLY_SUBSCRIPTION).toBe(ROUTE_TAG_MASK);
  });
});

describe('named views', () => {
  const buffer = new SharedArrayBuffer(1 << 16);
  const u8 = new Uint8Array(buffer);
  const u16 = new Uint16Array(buffer);
  const i32 = new Int32Array(buffer);
  const f64 = new Float64Array(buffer);

  test('ControlBlock reads and writes the documented words', () => {
    const base = 4096;
    const layout = controlLayout(3, 4);
    const block = new ControlBlock(buffer, base, layout);
    block.addAccepted(5);
    block.addAccepted(0x7fffffff); // wraps mod 2^32, as drain's sums expect
    expect(i32[(base + CONTROL_ACCEPTED_OFFSET) >> 2]).toBe((5 + 0x7fffffff) | 0);
    expect(block.accepted()).toBe((5 + 0x7fffffff) | 0);
    block.addCompleted(3);
    expect(i32[(base + CONTROL_COMPLETED_OFFSET) >> 2]).toBe(3);
    block.setBacklog(9);
    expect(i32[(base + CONTROL_BACKLOG_OFFSET) >> 2]).toBe(9);
    expect(block.sleeping).toBe((base + CONTROL_SLEEPING_OFFSET) >> 2);
    expect(block.isSleeping()).toBe(false);
    i32[(base + CONTROL_SLEEPING_OFFSET) >> 2] = 1;
    expect(block.isSleeping()).toBe(true);
    block.ring();
    expect(i32[(base + CONTROL_DOORBELL_OFFSET) >> 2]).toBe(1);
    expect(block.lateReplies).toBe((base + CONTROL_LATE_REPLIES_OFFSET) >> 3);
    expect(block.laneStat(2)).toBe((base + CONTROL_LANE_STATS_OFFSET + 2 * LANE_STAT_BYTES) >> 3);
    f64[block.topicStats(2) + TOPIC_STAT_DELIVERED] = 42;
    expect(f64[(base + layout.topicStats + 2 * TOPIC_STAT_BYTES) / 8 + TOPIC_STAT_DELIVERED]).toBe(42);
  });

  test('SubscriptionTable writes entries and balance bytes at their offsets; retire, free, firstFree', () => {
    const entries = 8192;
    const balances = entries + 4 * SLOT_ENTRY_BYTES;
    const table = new SubscriptionTable(buffer, entries, balances, 4);
    expect(table.freeSlots(1)[0]).toBe(0);
    table.activate(0, { mode: 2, policy: 3, balance: BALANCE_LEAST_LOADED, handler: 700, topic: 513, concurrency: 300 });
    expect([table.mode(0), table.concurrency(0)]).toEqual([2, 300]);
    const at = entries;
    expect([u8[at + SLOT_STATE_OFFSET], u8[at + SLOT_MODE_OFFSET], u8[at + SLOT_POLICY_OFFSET]]).toEqual([SLOT_ACTIVE, 2, 3]);
    expect([u16[(at + SLOT_HANDLER_OFFSET) >> 1], u16[(at + SLOT_TOPIC_OFFSET) >> 1], u8[balances]]).toEqual([700, 513, BALANCE_LEAST_LOADED]);
    expect([table.policy(0), table.handler(0), table.isLeastLoaded(0), table.isLeastLoaded(1)]).toEqual([3, 700, true, false]);
    expect(table.freeSlots(1)[0]).toBe(1);
    table.retire(0);
    expect([table.state(0), table.isLeastLoaded(0)]).toEqual([SLOT_RETIRED, true]); // a retired slot keeps its pick
    table.free(0);
    expect([table.state(0), table.isLeastLoaded(0), table.freeSlots(1)[0]]).toEqual([SLOT_FREE, false, 0]);
  });
});
