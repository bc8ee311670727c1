/**
 * The browser platform: Web Workers, URLs, and a main thread that never blocks.
 *
 * Workers are module workers started with `new Worker(new URL('./worker-browser.js',
 * import.meta.url), { type: 'module' })` (the form bundlers recognise), or by the app's own
 * factory (options.worker) when a bundler has bundled the handlers into the app's worker script.
 * Each worker receives the compiled WebAssembly.Module and the shared WebAssembly.Memory in its
 * start message: the core is compiled once, on this thread.
 *
 * Nothing here imports a Node built-in: this file is what the package's "browser" entry uses.
 */
import { EngineError } from '../errors.ts';
import type { WebWorkerLike } from './types.ts';
import { waitAsyncOrPoll, type Platform, type WorkerEvents, type WorkerHandle, type WorkerStartData } from './platform.ts';


/** The two response headers a page needs for SharedArrayBuffer (named in the isolation error). */
export const ISOLATION_HEADERS = Object.freeze({
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
});

/**
 * Yields to the event loop through a MessageChannel: a macrotask without setTimeout's 4 ms clamp
 * on nested timers, so a loop that yields often still runs thousands of times per second.
 */
let channel: MessageChannel | undefined;
const yielded: (() => void)[] = [];
export function yieldToEventLoop(): Promise<void> {
  if (channel === undefined) {
    channel = new MessageChannel();
    channel.port1.onmessage = () => yielded.shift()?.();
  }
  return new Promise<void>((resolve) => {
    yielded.push(resolve);
    channel!.port2.postMessage(null);
  });
}

export const browserPlatform: Platform = {
  name: 'browser',
  exitIsFinal: false,
  // One core stays with the page's thread, which publishes and renders: with as many workers as
  // cores, a descheduled worker stalls the producer (see the README's sizing note).
  defaultWorkers: () => Math.max(1, browserPlatform.cores() - 1),
  cores: () => (typeof navigator !== 'undefined' && navigator.hardwareConcurrency > 0 ? navigator.hardwareConcurrency : 1),
  checkSupport() {
    const scope = globalThis as { crossOriginIsolated?: boolean };
    if (scope.crossOriginIsolated !== true || typeof SharedArrayBuffer !== 'function') {
      const headers = Object.entries(ISOLATION_HEADERS).map(([name, value]) => `${name}: ${value}`).join(' and ');
      throw new EngineError('ERR_NOT_ISOLATED', 'crossOriginIsolated', scope.crossOriginIsolated ?? false,
        `shared memory needs a cross-origin-isolated page: serve the page and its scripts with the headers ${headers} (or Cross-Origin-Embedder-Policy: credentialless)`);
    }
  },
  resolveModule(spec) {
    const base = typeof document !== 'undefined' ? document.baseURI : (globalThis as { location?: { href: string } }).location?.href;
    return new URL(spec, base).href;
  },
  startWorker(data: WorkerStartData, events: WorkerEvents, factory?: (index: number) => unknown): WorkerHandle {
    const index = data.thread - 1;
    const worker = (factory !== undefined
      ? factory(index)
      : new Worker(new URL('./worker-browser.js', import.meta.url), { type: 'module', name: `wasm-dispatch worker ${index}` })) as WebWorkerLike;
    if (worker === null || typeof worker !== 'object' || typeof worker.postMessage !== 'function' || typeof worker.terminate !== 'function') {
      throw new EngineError('ERR_WORKER_START', 'worker', index, `options.worker(${index}) must return a Worker, got ${worker === null ? 'null' : typeof worker}`);
    }
    let gone = false;
    // A Web Worker has no exit event, and an uncaught error does not end it: report the error,
    // then end the worker and report its exit, as Node does, so the engine sees a crash once.
    const crash = (error: Error) => {
      if (gone) return;
      gone = true;
      events.error(error);
      worker.terminate();
      events.exit(1);
    };
    worker.addEventListener('message', (event: { data: unknown }) => events.message(event.data as never));
    worker.addEventListener('error', (event: { message?: string; error?: unknown }) => {
      const cause = event.error instanceof Error ? event.error : new Error(event.message ?? 'the worker script failed to load or threw');
      crash(cause);
    });
    worker.addEventListener('messageerror', () => crash(new Error('a message from the worker could not be deserialized')));
    worker.postMessage(data);
    return {
      terminate: async () => {
        gone = true;
        worker.terminate();
      },
      setKeepAlive: () => {}, // a page's workers never hold it open
    };
  },
  waitAsync: (i32, index, value, timeoutMs) => waitAsyncOrPoll(i32, index, value, timeoutMs, yieldToEventLoop),
  yield: yieldToEventLoop,
};
