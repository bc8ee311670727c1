/**
 * The worker side of the browser platform: a Web Worker script calls serveEngineWorker() and the
 * engine's start message (thread, Module, shared Memory, shape) does the rest.
 *
 * Two ways in:
 * - the package's own worker (worker-browser.ts) serves with no argument and imports the handler
 *   module by the URL the engine sends (unbundled pages, import maps, CDNs);
 * - an app whose bundler bundles its handlers writes a worker script of its own
 *   (`serveEngineWorker(handlers)`) and passes `worker: () => new Worker(new URL('./that-script',
 *   import.meta.url), { type: 'module' })` to createEngine.
 */
import { yieldToEventLoop } from './platform-browser.ts';
import type { WorkerMessage, WorkerStartData } from './platform.ts';
import type { HandlerModule } from './types.ts';
import { runWorker } from './worker.ts';

interface WorkerScope {
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  removeEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  postMessage(message: unknown): void;
}

/** Runs this Web Worker as an engine worker once the engine's start message arrives. */
export function serveEngineWorker(handlers?: HandlerModule): void {
  const scope = globalThis as unknown as WorkerScope;
  const onStart = (event: { data: unknown }) => {
    scope.removeEventListener('message', onStart);
    void runWorker(event.data as WorkerStartData, (message: WorkerMessage) => scope.postMessage(message), yieldToEventLoop, handlers);
  };
  scope.addEventListener('message', onStart);
}
