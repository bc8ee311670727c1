import { createEngine } from './build/src/index.js';
import { topics } from './build/web/demo/topics.js';
for (const backend of ['wasm', 'js']) {
const engine = await createEngine({ topics, handlers: new URL('./build/web/demo/handlers.js', import.meta.url), backend, workers: 1 });
await engine.subscribe('tick', { handler: 'tick', mode: 'group' });
const batch = Array.from({ length: 256 }, (_, i) => ({ seq: i, value: i, key: i & 63 }));
const t0 = performance.now(); let sent = 0;
while (performance.now() - t0 < 2000) { engine.publishBatch('tick', batch); sent += 256; await engine.whenWritable(); }
const handled = engine.stats().topics.tick.delivered; const el = performance.now() - t0;
console.log(backend, (handled / el / 1000).toFixed(2), 'M/s');
await engine.close();
}
