/**
 * Backend selection: the same CoreOps over the same memory, from the Wasm module or the JS twin.
 */
import type { Backend, CoreOps } from './core-ops.ts';
import { createJsCore } from './js/index.ts';
import { instantiateCore, loadCoreModule } from './wasm.ts';
import { ConfigError } from './errors.ts';

export type { Backend, CoreOps } from './core-ops.ts';
export { CORE_OP_NAMES } from './core-ops.ts';
export { createJsCore } from './js/index.ts';
export { instantiateCore, loadCoreModule, coreModuleUrl, CoreAbortError, LAYOUT_CONSTANTS } from './wasm.ts';
export { parkConsumer, parkProducer, parkProducerAsync, type ParkResult } from './park.ts';

/**
 * CoreOps of `backend` over `memory`. For 'wasm', pass the Module when you have one (workers get it
 * with the memory); otherwise the release build is compiled (once) here.
 */
export async function createCore(backend: Backend, memory: WebAssembly.Memory, module?: WebAssembly.Module): Promise<CoreOps> {
  if (backend === 'js') return createJsCore(memory);
  if (backend === 'wasm') return instantiateCore(module ?? (await loadCoreModule()), memory);
  throw new ConfigError('backend', backend, "must be 'wasm' or 'js'");
}
