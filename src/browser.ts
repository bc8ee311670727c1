/**
 * wasm-dispatch in browsers (package.json's "browser" condition, which bundlers follow): the same
 * API as under Node, with workers as module Web Workers. Nothing here or below imports a Node
 * built-in.
 *
 * The page must be cross-origin isolated (ISOLATION_HEADERS) for SharedArrayBuffer; createEngine
 * rejects with EngineError ERR_NOT_ISOLATED, naming both headers, when it is not.
 */
import { createEngineWith } from './engine/create-engine.ts';
import type { Engine } from './engine/engine.ts';
import { browserPlatform } from './engine/platform-browser.ts';
import type { EngineOptions, HandlerModule, TopicMap } from './engine/types.ts';

export * from './exports.ts';
export { ISOLATION_HEADERS } from './engine/platform-browser.ts';
export { serveEngineWorker } from './engine/serve-worker.ts';

/**
 * Creates an engine whose workers are module Web Workers: the core is compiled once here and the
 * Module and shared Memory are sent to every worker. The main thread never blocks (it waits with
 * Atomics.waitAsync, or polls on the event loop where that is missing).
 */
export function createEngine<T extends TopicMap, M extends HandlerModule<T, any> = HandlerModule<T>>(options: EngineOptions<T, M>): Promise<Engine<T, M>> {
  return createEngineWith(browserPlatform, options);
}
