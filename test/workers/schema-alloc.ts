/**
 * Allocation probe for the schema codecs (test/schema.test.ts). It runs in a worker thread of its
 * own so that the only JavaScript running on this isolate while it measures is the loop under test:
 * on jest's thread, the runner and other suites allocate too.
 *
 * The loop writes every field of a message through a writer flyweight, reads each back through a
 * reader flyweight and counts mismatches, cycling over SLOTS messages. After a warm-up (so the loop
 * runs optimised, accessors inlined), it measures three windows of `messages` messages each and
 * reports the best (bench/heap-window.ts, the GC probe the engine's test and the memory benchmark
 * use):
 * - GC events, counted by a GCProfiler from just before the loop to just after it;
 * - heap growth, the data heap in use after minus before. Without a GC in between, that is every
 *   byte allocated: one boxed double per message would already be 16 MB per million.
 * Modes other than 'flyweight' are controls that allocate on purpose, to show the detector works:
 * 'object-per-message' makes one short-lived object per message (GCs), 'retained-objects' keeps
 * every one (heap growth).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { HeapWindow } from '../../bench/heap-window.ts';
import { defineSchema } from '../../src/schema.ts';

export type SchemaAllocMode = 'flyweight' | 'object-per-message' | 'retained-objects';

export interface SchemaAllocData {
  memory: WebAssembly.Memory;
  /** First message address, bytes (8-aligned). */
  base: number;
  messages: number;
  warmup: number;
  mode: SchemaAllocMode;
}

export interface SchemaAllocReport {
  mode: SchemaAllocMode;
  messages: number;
  /** GC events during the measured loop. */
  gcEvents: number;
  /** Their kinds, as GCProfiler names them ('Scavenge', 'MarkSweepCompact', …). */
  gcKinds: string[];
  heapGrowthBytes: number;
  mismatches: number;
  nsPerMessage: number;
  /** The last message, decoded with the allocating API after the measurement. */
  last: { id: number; seq: string; x: number; y: number; delta: number; flags: number; alive: boolean; tag: string };
}

/** Messages the loop cycles over (a power of two). */
const SLOTS = 64;

const Probe = defineSchema({
  id: 'u32', seq: 'i64', x: 'f64', y: 'f32', delta: 'i32', flags: 'u8', alive: 'bool',
  tag: { type: 'string', maxBytes: 8 },
});

const data = workerData as SchemaAllocData;
const writer = Probe.writer(data.memory);
const reader = Probe.reader(data.memory);
const size = Probe.size;
const allocating = data.mode !== 'flyweight';
const retainAll = data.mode === 'retained-objects';
const recent: unknown[] = new Array<unknown>(1024).fill(null);
const retained: unknown[] = [];

function run(first: number, count: number): number {
  let mismatches = 0;
  for (let n = first; n < first + count; n++) {
    const address = data.base + (n & (SLOTS - 1)) * size;
    const w = writer.at(address);
    w.id = n;
    w.seqNumber = n * 3 - 1_000_000;
    w.x = n * 0.25;
    w.y = n & 0xffff;
    w.delta = -n;
    w.flags = n & 0xff;
    w.alive = (n & 1) === 0;
    w.tag = (n & 2) === 0 ? 'even' : 'odd';
    const r = reader.at(address);
    if (r.id !== n || r.seqNumber !== n * 3 - 1_000_000 || r.seqLow32 !== (n * 3 - 1_000_000) >>> 0
      || r.x !== n * 0.25 || r.y !== (n & 0xffff) || r.delta !== -n || r.flags !== (n & 0xff)
      || r.alive !== ((n & 1) === 0) || !r.tagEquals((n & 2) === 0 ? 'even' : 'odd') || r.tagByteLength !== ((n & 2) === 0 ? 4 : 3)) {
      mismatches++;
    }
    if (allocating) {
      const object = { n, x: r.x };
      if (retainAll) retained.push(object);
      else recent[n & 1023] = object;
    }
  }
  return mismatches;
}

const nextTask = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));
const WINDOWS = 3;

async function main(): Promise<void> {
  let mismatches = 0;
  const slice = Math.ceil(data.warmup / 4);
  for (let i = 0; i < 4; i++) mismatches += run(i * slice, slice);
  await nextTask();

  // The best of WINDOWS windows: allocation per message shows in every window (the controls make
  // ~20 GCs per million), while JIT work still finishing after the warm-up (tier-up, concurrent
  // compilation: seen on Node 22 as a GC or ~1–2 MB in one window) shows in one at most.
  let measured: ReturnType<HeapWindow['stop']> | undefined;
  let start = 0;
  let end = 0;
  // Every window writes the same messages again, so the last one is what the test expects.
  const first = 4 * slice;
  // The controls measure one window: what they allocate is seen in the first (later windows of
  // 'retained-objects' may allocate straight into old space, pretenured: growth without GCs).
  const windows = data.mode === 'flyweight' ? WINDOWS : 1;
  for (let w = 0; w < windows; w++) {
    await nextTask();
    const window = new HeapWindow();
    window.start();
    const t0 = performance.now();
    mismatches += run(first, data.messages);
    const t1 = performance.now();
    const report = window.stop();
    if (measured === undefined || report.gcEvents < measured.gcEvents || (report.gcEvents === measured.gcEvents && report.heapGrowthBytes < measured.heapGrowthBytes)) {
      measured = report;
      start = t0;
      end = t1;
    }
  }
  measured = measured!;

  const last = Probe.decode(data.memory, data.base + ((first + data.messages - 1) & (SLOTS - 1)) * size);
  const report: SchemaAllocReport = {
    mode: data.mode,
    messages: data.messages,
    gcEvents: measured.gcEvents,
    gcKinds: measured.gcTypes,
    heapGrowthBytes: measured.heapGrowthBytes,
    mismatches,
    nsPerMessage: ((end - start) * 1e6) / data.messages,
    last: { ...last, seq: String(last.seq) },
  };
  parentPort!.postMessage(report);
}

void main();
