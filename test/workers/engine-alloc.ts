/**
 * Zero-allocation probe for the engine (test/engine-alloc.test.ts). It runs as the main thread of a
 * child process of its own (not in jest's thread, where the runner allocates too, and not in a
 * worker thread: an application publishes from its main thread, and V8 measured a few MB more of
 * JIT-side allocation per million messages when the same loop ran inside a worker). It creates an engine (one worker) and
 * publishes `messages` 24-byte ticks through the allocation-free writer + send path, after a
 * warm-up, counting GC events and heap growth on this (the publishing) thread while the handler
 * module counts them on the handler's thread, each in a heap window (bench/heap-window.ts). Mode
 * 'allocating' publishes with a fresh object per message instead: the control that shows the
 * detector works.
 */
import { createEngine } from '../../src/index.ts';
import { HeapWindow } from '../../bench/heap-window.ts';
import { allocTopics } from '../engine/alloc-handlers.ts';

export interface EngineAllocData { backend: 'wasm' | 'js'; messages: number; warmup: number; mode: 'writer' | 'allocating'; coreBuild: 'release' | 'debug' }
export interface EngineAllocWindow {
  publisher: { gcEvents: number; heapGrowthBytes: number };
  handler: { gcEvents: number; heapGrowthBytes: number };
}
export interface EngineAllocReport {
  /** Messages per measured window. */
  messages: number;
  windows: EngineAllocWindow[];
  /** Messages published in all (warm-ups and windows) and handled by the worker. */
  published: number;
  handled: number;
  checksumMatches: boolean;
  waits: number;
}
const WINDOWS = 3;

const data = JSON.parse(process.argv[2]!) as EngineAllocData;

const engine = await createEngine({
  topics: allocTopics, handlers: new URL('../engine/alloc-handlers.js', import.meta.url), workers: 1,
  backend: data.backend, coreBuild: data.coreBuild, ringCapacity: 65536,
});
await engine.subscribe('tick', { handler: 'tick', mode: 'group' });
await engine.subscribe('probe', { handler: 'probe', mode: 'group' });
const writer = engine.writer('tick');
// The expected checksum lives in a typed array: a module-level `let` holding a double would be a
// boxed HeapNumber, re-allocated by every store (the probe's own loop must not allocate).
const expected = new Float64Array(1);
let waits = 0;
/** The control keeps its recent messages reachable, so V8 cannot optimise the objects away. */
const recent: unknown[] = new Array<unknown>(1024).fill(null);

/**
 * Publishes [from, to) until a publish asks the caller to wait; returns where it stopped. A plain
 * (synchronous) loop, as an application's hot loop would be: the await lives in the caller.
 */
function fill(from: number, to: number, allocating: boolean): number {
  for (let i = from; i < to; i++) {
    let ok: boolean;
    const x = (i & 1023) * 0.5;
    if (allocating) {
      const message = { seq: i, player: i & 255, x, y: 1.5, stamp: i * 2 };
      recent[i & 1023] = message;
      ok = engine.publish('tick', message);
    } else {
      writer.seq = i;
      writer.player = i & 255;
      writer.x = x;
      writer.y = 1.5;
      writer.stamp = i * 2;
      ok = engine.send('tick');
    }
    expected[0] = (expected[0]! + i + (i & 255) + x + 1.5 + i * 2) % 4294967296;
    if (!ok) return i + 1;
  }
  return to;
}

/** Runs [from, to) in chunks, so fill() is entered many times: TurboFan then optimises the whole
 *  function (not only its loop, by on-stack replacement), and no unoptimised entry (the
 *  interpreter boxes every double) stays in the measured window. */
async function runChunks(from: number, to: number, allocating: boolean): Promise<void> {
  for (let at = from; at < to;) {
    const end = Math.min(to, at + CHUNK);
    const stopped = fill(at, end, allocating);
    if (stopped < end) {
      waits++;
      await engine.whenWritable();
    }
    at = stopped;
  }
}
const CHUNK = 50_000;

await runChunks(0, data.warmup, data.mode === 'allocating');
await engine.drain();
// On a loaded machine TurboFan's background jobs finish late, and until they are installed the
// interpreter boxes every double: give them time, then warm up once more.
await new Promise((resolve) => setTimeout(resolve, 300));
await runChunks(data.warmup, data.warmup + CHUNK, data.mode === 'allocating');
await engine.drain();
// WINDOWS measured windows of `messages` each. Allocation per message would show in every window;
// a loaded machine sometimes leaves a function unoptimised for a while (the interpreter boxes
// doubles), which shows in one window: the test judges the best window.
const windows: EngineAllocWindow[] = [];
const window = new HeapWindow();
let next = data.warmup + CHUNK;
for (let w = 0; w < WINDOWS; w++) {
  await engine.request('probe', { start: true });
  window.start();
  await runChunks(next, next + data.messages, data.mode === 'allocating');
  const publisher = window.stop();
  next += data.messages;
  await engine.drain();
  const handler = await engine.request('probe', { start: false });
  windows.push({
    publisher: { gcEvents: publisher.gcEvents, heapGrowthBytes: publisher.heapGrowthBytes },
    handler: { gcEvents: handler.gcEvents, heapGrowthBytes: handler.heapGrowthBytes },
  });
}
const last = await engine.request('probe', { start: false });
await engine.close();
const report: EngineAllocReport = {
  messages: data.messages, windows, handled: last.count, published: next,
  checksumMatches: last.checksum === expected[0],
  waits,
};
process.stdout.write(`${JSON.stringify(report)}\n`);
