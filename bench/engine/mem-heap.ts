/**
 * Heap accounting of the memory suite (bench/memory.ts), the same on every thread that measures:
 * a window opens with a full GC and a started v8.GCProfiler and closes by stopping it. GCProfiler
 * reports synchronously what happened in between (a PerformanceObserver would deliver its entries
 * only after the thread's loop yields). Only the heap spaces that hold data count (code spaces
 * hold JIT output, which is not per message).
 *
 * Bytes allocated in a window = data heap in use at the end − at the start + what every GC in the
 * window freed (data in use before it − after it). Without a GC that is the heap's growth; with
 * GCs it still counts every byte that was allocated and then collected.
 */
import { GCProfiler, getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** What one side measured over one window. */
export interface HeapWindowReport {
  gcEvents: number;
  allocatedBytes: number;
}

interface SpaceStats { spaceName: string; spaceUsedSize: number }
interface GcStats { beforeGC: { heapSpaceStatistics: SpaceStats[] }; afterGC: { heapSpaceStatistics: SpaceStats[] } }

/** A full GC now, so a measured window starts with an empty young generation. */
export function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** Bytes in use in the heap spaces that hold data. */
export function dataHeapUsed(): number {
  let used = 0;
  for (const space of getHeapSpaceStatistics()) if (!space.space_name.startsWith('code')) used += space.space_used_size;
  return used;
}

function dataUsedOf(spaces: readonly SpaceStats[]): number {
  let used = 0;
  for (const space of spaces) if (!space.spaceName.startsWith('code')) used += space.spaceUsedSize;
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

  stop(): HeapWindowReport {
    const after = dataHeapUsed();
    const profiler = this.profiler;
    this.profiler = null;
    if (profiler === null) return { gcEvents: 0, allocatedBytes: NaN };
    const events = (profiler.stop()?.statistics ?? []) as unknown as GcStats[];
    let freed = 0;
    for (const event of events) freed += dataUsedOf(event.beforeGC.heapSpaceStatistics) - dataUsedOf(event.afterGC.heapSpaceStatistics);
    return { gcEvents: events.length, allocatedBytes: after - this.before + freed };
  }
}
