/**
 * Handler module of the memory suite's engine sides (bench/memory.ts). `tick` reads every field
 * through the flyweight and folds it into a checksum; `probe` opens (start: true: also resets the
 * count and checksum) or closes (start: false) this worker's heap window and replies with the
 * count, checksum, GC events and bytes allocated in the window. Doubles live in a typed array:
 * a module-level `let` double is a boxed HeapNumber that every store would re-allocate.
 */
import { defineSchema } from '../../src/schema.ts';
import { defineHandlers, defineTopics } from '../../src/engine/types.ts';
import { foldTick } from '../workers/mem-common.ts';
import { HeapWindow } from '../heap-window.ts';

export const memTopics = defineTopics({
  /** 24 bytes: seq, value = seq & 0xffff, x = (seq & 1023) * 0.5, stamp = seq * 2. */
  tick: { schema: defineSchema({ seq: 'u32', value: 'u32', x: 'f64', stamp: 'f64' }) },
  probe: {
    schema: defineSchema({ start: 'bool' }),
    reply: defineSchema({ count: 'f64', checksum: 'f64', gcEvents: 'f64', allocatedBytes: 'f64' }),
  },
});
export type MemTopics = typeof memTopics;

const state = new Float64Array(2); // [count, checksum]
const window = new HeapWindow();

export default defineHandlers(memTopics, {
  tick: {
    topic: 'tick',
    handle(t) {
      state[0]! += 1;
      state[1] = foldTick(state[1]!, t.seq, t.value, t.x, t.stamp);
    },
  },
  probe: {
    topic: 'probe',
    handle(q) {
      if (q.start) {
        state[0] = 0;
        state[1] = 0;
        window.start();
        return { count: 0, checksum: 0, gcEvents: 0, allocatedBytes: 0 };
      }
      const measured = window.stop();
      return { count: state[0]!, checksum: state[1]!, gcEvents: measured.gcEvents, allocatedBytes: measured.allocatedBytes };
    },
  },
});
