/**
 * Handler module of the engine's zero-allocation test (test/workers/engine-alloc.ts). The handler
 * reads every field of each tick through the flyweight and folds it into a checksum; `probe`
 * starts (start: true) or stops a v8.GCProfiler and replies with this worker's counts, the GC events
 * the profiler saw (GCProfiler reports synchronously: a PerformanceObserver's callbacks would wait
 * for this worker's loop to yield) and its data heap in use.
 */
import { GCProfiler, getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { defineSchema } from '../../src/schema.ts';
import { defineHandlers, defineTopics } from '../../src/engine/types.ts';

export const allocTopics = defineTopics({
  /** 24 bytes: the 16–32-byte message. */
  tick: { schema: defineSchema({ seq: 'u32', player: 'u32', x: 'f32', y: 'f32', stamp: 'f64' }) },
  probe: { schema: defineSchema({ start: 'bool' }), reply: defineSchema({ count: 'f64', checksum: 'f64', gcEvents: 'f64', heapUsed: 'f64' }) },
});

// Doubles live in a typed array: a module-level `let` holding a double is a boxed HeapNumber, and
// every store to it would allocate (the handler under test must not allocate either).
const state = new Float64Array(2); // [count, checksum]
let profiler: GCProfiler | undefined;

/** A full GC now, so a measured window starts with an empty young generation. */
export function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** Bytes in use in the heap spaces that hold data (code spaces excluded: JIT output is not per message). */
export function dataHeapUsed(): number {
  let used = 0;
  for (const space of getHeapSpaceStatistics()) if (!space.space_name.startsWith('code')) used += space.space_used_size;
  return used;
}

export default defineHandlers(allocTopics, {
  tick: {
    topic: 'tick',
    handle(t) {
      state[0]! += 1;
      state[1] = (state[1]! + t.seq + t.player + t.x + t.y + t.stamp) % 4294967296;
    },
  },
  probe: {
    topic: 'probe',
    handle(q) {
      let gcEvents = 0;
      if (q.start) {
        collectGarbage();
        profiler = new GCProfiler();
        profiler.start();
      } else if (profiler !== undefined) {
        gcEvents = profiler.stop().statistics.length;
        profiler = undefined;
      }
      return { count: state[0]!, checksum: state[1]!, gcEvents, heapUsed: dataHeapUsed() };
    },
  },
});
