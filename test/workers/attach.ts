/** Worker-side setup shared by test workers: this thread's core instance over the arena's memory. */
import type { Backend, CoreOps } from '../../bindings/core-ops.ts';
import { createJsCore } from '../../bindings/js/index.ts';
import { instantiateCore } from '../../bindings/wasm.ts';
import { attachArena, type Arena } from '../../src/arena.ts';

export interface WorkerBase { module: WebAssembly.Module; memory: WebAssembly.Memory; backend: Backend }

export interface Attached { core: CoreOps; arena: Arena; i32: Int32Array; u32: Uint32Array }

export function attach(data: WorkerBase): Attached {
  const core = data.backend === 'wasm' ? instantiateCore(data.module, data.memory) : createJsCore(data.memory);
  return { core, arena: attachArena(data.memory), i32: new Int32Array(data.memory.buffer), u32: new Uint32Array(data.memory.buffer) };
}
