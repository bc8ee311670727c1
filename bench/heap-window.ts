/**
 * The GC probe: a heap window counts the garbage collections and the bytes allocated on one thread
 * between start() and stop(). The memory suite (bench/memory.ts) and the zero-allocation tests
 * (test/engine-alloc.test.ts, test/schema.test.ts) measure with it, on every thread they measure.
 *
 * A window opens with a full GC (so it starts with an empty young generation) and a started
 * v8.GCProfiler, and closes by stopping it. GCProfiler reports synchronously what happened in
 * between (a PerformanceObserver would deliver its entries only after the thread's loop yields).
 * Only the heap spaces that hold data count: code spaces hold JIT output, and (from V8 12, Node 22)
 * the trusted spaces hold bytecode and deoptimisation data, which the JIT writes while a window's
 * loop warms up — about 1.4 MB over a million-message window on Node 22 — and not per message.
 *
 * Heap growth = data heap in use at stop − at start. Bytes allocated = that growth + what every GC
 * in the window freed (data in use before it − after it): without a GC the two are equal; with GCs
 * the second still counts every byte that was allocated and then collected.
 */
import { GCProfiler, getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** What one thread measured over one window. */
export interface HeapWindowReport {
  /** Garbage collections in the window. */
  gcEvents: number;
  /** Their kinds, as GCProfiler names them ('Scavenge', 'MarkSweepCompact', …). */
  gcTypes: string[];
  /** Data heap in use at the end minus at the start, in bytes. */
  heapGrowthBytes: number;
  /** Bytes allocated in the window: heapGrowthBytes plus what the window's GCs freed. */
  allocatedBytes: number;
}

interface SpaceStats { spaceName: string; spaceUsedSize: number }
interface GcStats { gcType: string; beforeGC: { heapSpaceStatistics: SpaceStats[] }; afterGC: { heapSpaceStatistics: SpaceStats[] } }

/** A full GC now, so a measured window starts with an empty young generation. */
export function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** Whether a heap space holds data (not JIT output, bytecode or other code metadata). */
function holdsData(name: string): boolean {
  return !name.startsWith('code') && !name.includes('trusted');
}

/** Bytes in use in the heap spaces that hold data. */
export function dataHeapUsed(): number {
  let used = 0;
  for (const space of getHeapSpaceStatistics()) if (holdsData(space.space_name)) used += space.space_used_size;
  return used;
}

function dataUsedOf(spaces: readonly SpaceStats[]): number {
  let used = 0;
  for (const space of spaces) if (holdsData(space.spaceName)) used += space.spaceUsedSize;
  return used;
}

/** One measured window on this thread: start() before the measured loop, stop() right after it. */
export class HeapWindow {
  private profiler: GCProfiler | null = null;
  private before = 0;

  start(): void {
    collectGarbage();
    this.profiler = new GCProfiler();
    this.profiler.start();
    this.before = dataHeapUsed();
  }

  /** Closes the window; a window that was not started reports no events and NaN bytes. */
  stop(): HeapWindowReport {
    const after = dataHeapUsed();
    const profiler = this.profiler;
    this.profiler = null;
    if (profiler === null) return { gcEvents: 0, gcTypes: [], heapGrowthBytes: NaN, allocatedBytes: NaN };
    const events = (profiler.stop()?.statistics ?? []) as unknown as GcStats[];
    let freed = 0;
    for (const event of events) freed += dataUsedOf(event.beforeGC.heapSpaceStatistics) - dataUsedOf(event.afterGC.heapSpaceStatistics);
    const heapGrowthBytes = after - this.before;
    return { gcEvents: events.length, gcTypes: events.map((event) => event.gcType), heapGrowthBytes, allocatedBytes: heapGrowthBytes + freed };
  }
}
