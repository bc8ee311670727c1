/**
 * wasm-dispatch under Node (the package's default entry): createEngine runs its workers as
 * worker_threads, and everything else the package exports (src/exports.ts).
 * Browsers and bundlers get src/browser.ts instead (package.json's "browser" condition).
 */
import { createEngineWith } from './engine/create-engine.ts';
import type { Engine } from './engine/engine.ts';
import { nodePlatform } from './engine/platform-node.ts';
import type { EngineOptions, HandlerModule, TopicMap } from './engine/types.ts';

export * from './exports.ts';

/**
 * Creates an engine whose workers are worker_threads: validates the options, lays out the arena,
 * starts the workers (each imports the handler module) and resolves once all of them run.
 * ConfigError for a bad option, ModuleError for a bad handler module, EngineError
 * ERR_WORKER_START if a worker fails to start.
 */
export function createEngine<T extends TopicMap, M extends HandlerModule<T, any> = HandlerModule<T>>(options: EngineOptions<T, M>): Promise<Engine<T, M>> {
  return createEngineWith(nodePlatform, options);
}
