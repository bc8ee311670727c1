/** Entry point of the package's own Web Worker: imports the handler module by the URL it is sent. */
import { serveEngineWorker } from './serve-worker.ts';

serveEngineWorker();
