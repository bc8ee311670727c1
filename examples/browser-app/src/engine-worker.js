/**
 * The app's engine worker script. main.js starts it with
 * `new Worker(new URL('./engine-worker.js', import.meta.url), { type: 'module' })`, which the
 * bundler recognises and builds as a worker entry with the handlers bundled in.
 */
import { serveEngineWorker } from 'wasm-dispatch/worker';
import handlers from './handlers.js';

serveEngineWorker(handlers);
