/**
 * An app's own engine worker script, as a bundled app writes it: the handler module is imported
 * here (a bundler bundles it in) and handed to serveEngineWorker. The harness starts it through
 * options.worker to test that path without a bundler.
 */
import { serveEngineWorker } from '../../src/engine/serve-worker.ts';
import handlers from '../../test/engine/handlers.ts';

serveEngineWorker(handlers);
