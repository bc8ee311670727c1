/**
 * createEngine's work, for either platform: validate the options, import and check the handler
 * module, compile the core, lay out the arena (a full mesh of lanes, one router, a scratch block
 * per thread), wire thread 0's rooms (engine-rooms.ts), then start the Engine's workers.
 * src/index.ts and src/browser.ts bind it to their platform as createEngine.
 */
import { createJsCore } from '../../bindings/js/index.ts';
import { instantiateCore, loadCoreModule } from '../../bindings/wasm.ts';
import type { CoreOps } from '../../bindings/core-ops.ts';
import { STATUS_OK } from '../../assembly/layout/status.ts';
import { PRIORITY_CLASSES } from './layout.ts';
import { createArena, type RingSpec } from '../arena.ts';
import { ConfigError } from '../errors.ts';
import { Engine } from './engine.ts';
import { engineRooms } from './engine-rooms.ts';
import { topicFingerprint, validateOptions } from './options.ts';
import type { Platform } from './platform.ts';
import type { EngineOptions, HandlerModule, TopicMap } from './types.ts';
import { checkHandlerModule, importHandlers } from './worker.ts';

/**
 * Creates an engine on `platform`: validates the options, lays out the arena, starts the workers
 * (each gets the handler module) and resolves once all of them run. The package's entry points
 * bind the platform: createEngine from 'wasm-dispatch' (src/index.ts under Node, src/browser.ts in
 * browsers). ConfigError for a bad option, ModuleError for a bad handler module, EngineError
 * ERR_NOT_ISOLATED on a page without cross-origin isolation, ERR_WORKER_START if a worker fails.
 */
export async function createEngineWith<T extends TopicMap, M extends HandlerModule<T, any> = HandlerModule<T>>(platform: Platform, options: EngineOptions<T, M>): Promise<Engine<T, M>> {
  platform.checkSupport();
  const validated = validateOptions(options as unknown as EngineOptions<TopicMap>, platform.defaultWorkers(), platform.cores());
  if (options.worker !== undefined && platform.name !== 'browser') {
    throw new ConfigError('worker', options.worker, 'browsers only: under Node every worker imports options.handlers by path or URL');
  }
  if (options.journal !== undefined && platform.durablePositions === undefined) throw new ConfigError('journal', options.journal, 'a journal is written under Node only');
  let href: string;
  let handlerModule: HandlerModule;
  if (typeof options.handlers === 'string' || options.handlers instanceof URL) {
    href = platform.resolveModule(options.handlers);
    handlerModule = await importHandlers(href);
  } else {
    // The module itself: the app's worker script brings its own copy (serveEngineWorker(handlers)).
    if (options.worker === undefined) {
      throw new ConfigError('worker', undefined, 'a handler module passed as an object needs options.worker: a function that starts a Web Worker whose script calls serveEngineWorker(handlers)');
    }
    href = '';
    handlerModule = checkHandlerModule(options.handlers, 'handlers');
  }
  const { shape } = validated;
  const fingerprint = topicFingerprint(options.topics, shape.topicNames);
  if (topicFingerprint(handlerModule.topics, shape.topicNames) !== fingerprint) {
    throw new ConfigError('handlers', href || 'handlers', "the handler module's topics differ from options.topics (same names, schemas, reply schemas and keys are required)");
  }
  const coreUrl = options.coreUrl === undefined ? undefined : new URL(platform.resolveModule(options.coreUrl));
  const module = validated.backend === 'wasm' ? await loadCoreModule(validated.coreBuild, coreUrl) : undefined;
  const makeCore = (memory: WebAssembly.Memory): CoreOps => (module !== undefined ? instantiateCore(module, memory) : createJsCore(memory));
  const T = shape.threads;
  const rings: RingSpec[] = [];
  // Ring index (class · T + producer) · T + consumer: layout.ts laneIndex.
  for (let k = 0; k < PRIORITY_CLASSES; k++) {
    for (let p = 0; p < T; p++) for (let c = 0; c < T; c++) rings.push({ capacity: shape.ringCapacity, recordSize: shape.recordSize, producer: p, consumer: c });
  }
  const arena = createArena({
    threads: T, rings, scratchBytes: validated.scratchBytes,
    routers: [{ maxTopics: shape.topicNames.length, maxSubscriptions: shape.routerSubscriptions }],
    // The fan-out pool (fan-out-pool.ts): pool 0, when some topic is pooled.
    pools: shape.pool === undefined ? [] : [{ slotCount: shape.pool.slots, slotSize: shape.pool.slotBytes }],
  }, makeCore);
  const core = makeCore(arena.memory);
  // Thread 0 is the router's only writer, for the engine's life.
  if (core.routerTryLock(arena.router(0).address, 0) !== STATUS_OK) throw new Error('unreachable: a new router is locked');
  const rooms = engineRooms(options as unknown as EngineOptions<TopicMap, any>, validated, platform, arena, core, handlerModule);
  const engine = new Engine<T, M>(validated, arena, rooms, handlerModule);
  await engine.start({ module, backend: validated.backend, handlers: href, fingerprint, factory: options.worker });
  return engine;
}

