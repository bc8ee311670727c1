/**
 * Handler module of the engine's zero-allocation test (test/workers/engine-alloc.ts). The handler
 * reads every field of each tick through the flyweight and folds it into a checksum; `probe`
 * opens (start: true) or closes this worker's heap window (bench/heap-window.ts: a GCProfiler, so
 * the counts arrive synchronously) and replies with this worker's counts, the GC events and the
 * data heap growth of the window (0 and NaN when it opens).
 */
import { defineSchema } from '../../src/schema.ts';
import { defineHandlers, defineTopics } from '../../src/engine/types.ts';
import { HeapWindow } from '../../bench/heap-window.ts';

export const allocTopics = defineTopics({
  /** 24 bytes: the 16–32-byte message. */
  tick: { schema: defineSchema({ seq: 'u32', player: 'u32', x: 'f32', y: 'f32', stamp: 'f64' }) },
  probe: { schema: defineSchema({ start: 'bool' }), reply: defineSchema({ count: 'f64', checksum: 'f64', gcEvents: 'f64', heapGrowthBytes: 'f64' }) },
});

// Doubles live in a typed array: a module-level `let` holding a double is a boxed HeapNumber, and
// every store to it would allocate (the handler under test must not allocate either).
const state = new Float64Array(2); // [count, checksum]
const window = new HeapWindow();

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
      if (q.start) {
        window.start();
        return { count: state[0]!, checksum: state[1]!, gcEvents: 0, heapGrowthBytes: NaN };
      }
      const measured = window.stop();
      return { count: state[0]!, checksum: state[1]!, gcEvents: measured.gcEvents, heapGrowthBytes: measured.heapGrowthBytes };
    },
  },
});
