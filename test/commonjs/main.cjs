/**
 * CommonJS fixture (test/commonjs.test.ts): require('wasm-dispatch') — the package is ES modules,
 * loaded by Node's require(esm) — then an engine with a CommonJS handler module on 2 workers:
 * publish, drain, gather every worker's totals, close. Prints one JSON line; exits 1 if a total
 * is wrong.
 *
 *   node test/commonjs/main.cjs [wasm|js]
 */
const path = require('node:path');
const wd = require('wasm-dispatch');
const { topics } = require('./topics.cjs');

const TICKS = 10_000;

async function main() {
  const backend = process.argv[2] === 'js' ? 'js' : 'wasm';
  const imported = await import('wasm-dispatch');
  const engine = await wd.createEngine({ topics, handlers: path.join(__dirname, 'handlers.cjs'), workers: 2, backend });
  await engine.subscribe('tick', { handler: 'tick', mode: 'group' });
  await engine.subscribe('total', { handler: 'total', mode: 'broadcast' });
  for (let n = 1; n <= TICKS; n++) {
    if (!engine.publish('tick', { n })) await engine.whenWritable();
  }
  await engine.drain({ timeout: 30_000 });
  const totals = await engine.requestAll('total', { reset: false }, { timeout: 10_000 });
  await engine.close();
  const result = {
    node: process.versions.node,
    backend,
    sameModule: imported.createEngine === wd.createEngine,
    workers: totals.length,
    count: totals.reduce((t, r) => t + r.count, 0),
    sum: totals.reduce((t, r) => t + r.sum, 0),
  };
  console.log(JSON.stringify(result));
  const ok = result.sameModule && result.workers === 2 && result.count === TICKS && result.sum === (TICKS * (TICKS + 1)) / 2;
  process.exitCode = ok ? 0 : 1;
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
