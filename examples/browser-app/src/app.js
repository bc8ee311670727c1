/**
 * The app, whichever bundler built it (main-webpack.js and main-esbuild.js only differ in what
 * they tell createEngine about the core's .wasm): starts an engine with 2 workers (backend from `?backend=wasm|js`, default wasm),
 * publishes MESSAGES samples with a known checksum in batches, drains, asks every worker what it
 * counted (requestAll) and one worker to square a number (request), checks both, closes, and
 * writes the outcome as JSON into document.body.dataset.result and as text on the page.
 *
 * Every wait is bounded: worker start (startTimeout), drain, requests and close (timeout).
 */
import { createEngine } from 'wasm-dispatch';
import handlers from './handlers.js';
import { topics } from './topics.js';

const MESSAGES = 100_000;
const BATCH = 512;
const WORKERS = 2;
const TIMEOUT_MS = 20_000;

async function run(backend, bundlerOptions) {
  const errors = [];
  const engine = await createEngine({
    topics,
    handlers,
    // The app's own worker script (handlers bundled in); the bundler emits it next to main.js.
    worker: () => new Worker(new URL('./engine-worker.js', import.meta.url), { type: 'module' }),
    ...bundlerOptions,
    backend,
    workers: WORKERS,
    startTimeout: TIMEOUT_MS,
    onError: (error) => errors.push(`${error.name}: ${error.message}`),
  });
  try {
    await engine.subscribe('sample', { handler: 'sum', mode: 'group' });
    await engine.subscribe('report', { handler: 'report', mode: 'broadcast' });
    await engine.subscribe('square', { handler: 'square', mode: 'group' });

    const began = performance.now();
    const batch = [];
    let expectedSum = 0;
    let accepted = 0;
    for (let i = 0; i < MESSAGES; i++) {
      const value = (i * 2654435761) >>> 20; // 0..4095, spread
      batch.push({ seq: i, value });
      expectedSum += value;
      if (batch.length === BATCH || i === MESSAGES - 1) {
        accepted += engine.publishBatch('sample', batch);
        batch.length = 0;
        await engine.whenWritable(); // back-pressure: a full lane keeps the rest in order; wait
      }
    }
    await engine.drain({ timeout: TIMEOUT_MS });
    const elapsedMs = performance.now() - began;

    const reports = await engine.requestAll('report', { reset: false }, { timeout: TIMEOUT_MS });
    reports.sort((a, b) => a.worker - b.worker);
    const received = reports.reduce((n, r) => n + r.count, 0);
    const sum = reports.reduce((n, r) => n + r.sum, 0);
    const reply = await engine.request('square', { x: 12 }, { timeout: TIMEOUT_MS });

    const ok = errors.length === 0
      && reports.length === WORKERS && reports.every((r) => r.count > 0)
      && accepted === MESSAGES && received === MESSAGES && sum === expectedSum
      && reply.y === 144;
    return {
      ok, backend, sent: MESSAGES, accepted, received, sum, expectedSum,
      workers: reports.map((r) => ({ worker: r.worker, count: r.count, sum: r.sum })),
      reply: { x: 12, y: reply.y, worker: reply.worker },
      messagesPerSecond: Math.round(MESSAGES / (elapsedMs / 1000)),
      errors,
    };
  } finally {
    await engine.close({ timeout: TIMEOUT_MS });
  }
}

function show(result) {
  document.body.dataset.result = JSON.stringify(result);
  const out = document.getElementById('out');
  if (result.ok) {
    out.textContent = `OK: ${result.received} of ${result.sent} messages on the ${result.backend} backend, `
      + `checksum ${result.sum} (expected ${result.expectedSum}), ${result.messagesPerSecond} messages/s\n`
      + result.workers.map((w) => `worker ${w.worker}: ${w.count} messages, sum ${w.sum}`).join('\n')
      + `\nrequest square(12) = ${result.reply.y} (worker ${result.reply.worker})`;
  } else {
    out.textContent = `FAILED\n${JSON.stringify(result, null, 2)}`;
  }
}

/** Runs the app on the backend named by `?backend=` (default wasm) and shows the outcome. */
export function startApp(bundlerOptions = {}) {
  const backend = new URLSearchParams(location.search).get('backend') ?? 'wasm';
  document.getElementById('out').textContent = `running on the ${backend} backend…`;
  return run(backend, bundlerOptions).then(show, (error) => show({
    ok: false,
    backend,
    error: { name: error?.name ?? 'Error', code: error?.code, message: String(error?.message ?? error) },
  }));
}
