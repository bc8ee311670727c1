/**
 * Same-process A/B of the engine's per-message publish path: engines from two built checkouts
 * (npm run build in each), created in one process and measured in turn, 6 rounds, so a change of
 * the machine's speed hits both sides of a round alike; prints each round's ratio and their median.
 * Alternated whole-suite runs on a shared VM cannot resolve a 10 % difference; this can.
 *
 *   node bench/ab.mjs <checkout A> <checkout B> [wasm|js] [publish|send]
 *
 * 'publish' is engine.publish(fields); 'send' is writer + send. Ratios are B / A.
 */
import { resolve } from 'node:path';

const [rootA, rootB] = process.argv.slice(2, 4);
if (!rootA || !rootB) { console.error('usage: node bench/ab.mjs <checkout A> <checkout B> [wasm|js] [publish|send]'); process.exit(2); }
const roots = { base: resolve(rootA), main: resolve(rootB) };
const backend = process.argv[4] ?? 'wasm';
const mode = process.argv[5] ?? 'publish';
const mods = {};
for (const [k, root] of Object.entries(roots)) {
  mods[k] = {
    api: await import(`${root}/build/src/index.js`),
    topics: (await import(`${root}/build/bench/engine/o2o-topics.js`)).o2oTopics,
    handlers: new URL(`file://${root}/build/bench/engine/o2o-handlers.js`),
  };
}
const mod = await import(mods.main.handlers.href);
const handler = Object.keys(mod.default.handlers).find((n) => mod.default.handlers[n].topic === 'msg');
async function measure(k, N) {
  const m = mods[k];
  const engine = await m.api.createEngine({ topics: m.topics, handlers: m.handlers, workers: 1, backend, ringCapacity: 16384 });
  await engine.subscribe('msg', { handler, mode: 'group' });
  const msg = { seq: 0, value: 0, x: 0, y: 0, stamp: 0 };
  const w = engine.writer('msg');
  const run = async () => {
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
      let ok;
      if (mode === 'publish') { msg.seq = i; ok = engine.publish('msg', msg); }
      else { w.seq = i; w.value = 0; w.x = 0; w.y = 0; w.stamp = 0; ok = engine.send('msg'); }
      if (!ok) await engine.whenWritable();
      if ((i & 4095) === 0) await null;
    }
    await engine.drain();
    return N / (performance.now() - t0) / 1000;
  };
  await run(); // warm-up
  const r = [await run(), await run(), await run()].sort((a, b) => a - b)[1];
  await engine.close();
  return r;
}
const ratios = [];
for (let round = 0; round < 6; round++) {
  const order = round % 2 === 0 ? ['base', 'main'] : ['main', 'base'];
  const got = {};
  for (const k of order) got[k] = await measure(k, 1_000_000);
  ratios.push(got.main / got.base);
  console.log(backend, mode, 'round', round, 'A', got.base.toFixed(2), 'B', got.main.toFixed(2), 'B/A', (got.main / got.base).toFixed(3));
}
ratios.sort((a, b) => a - b);
console.log(backend, mode, 'median ratio B/A', ((ratios[2] + ratios[3]) / 2).toFixed(3));
