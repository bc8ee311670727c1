/**
 * Shared test harness: both backends over one arena, backend pairs, stress scaling, and bounded
 * worker runs. Every suite runs on wasm, on js and on mixed pairs, and says which in its names.
 */
import { Worker } from 'node:worker_threads';
import type { Backend, CoreOps } from '../bindings/core-ops.ts';
import { createJsCore } from '../bindings/js/index.ts';
import { makeViews, type MemoryViews } from '../bindings/js/views.ts';
import { instantiateCore, loadCoreModule, type CoreBuild } from '../bindings/wasm.ts';
import { createArena, type Arena, type ArenaConfig } from '../src/arena.ts';

export const BACKENDS: readonly Backend[] = ['wasm', 'js'];
/** [producer-side backend, consumer-side backend]: both pure pairs and both mixed pairs. */
export const PAIRS: readonly (readonly [Backend, Backend])[] = [
  ['wasm', 'wasm'], ['js', 'js'], ['wasm', 'js'], ['js', 'wasm'],
];
export function pairName(pair: readonly [Backend, Backend]): string {
  return `${pair[0]}→${pair[1]}`;
}

/** Stress multiplier: 1 in CI; e.g. WD_STRESS=500 by hand for ~100 M messages. */
export const STRESS = positiveNumber(process.env.WD_STRESS, 1);
/** fast-check runs per property (WD_FC_RUNS). */
export const FC_RUNS = positiveNumber(process.env.WD_FC_RUNS, 100);
/** Which Wasm build the tests use (WD_CORE_BUILD=debug runs them with assertions on). */
export const CORE_BUILD: CoreBuild = process.env.WD_CORE_BUILD === 'debug' ? 'debug' : 'release';

function positiveNumber(text: string | undefined, fallback: number): number {
  const value = Number(text);
  return text !== undefined && Number.isFinite(value) && value > 0 ? value : fallback;
}

export interface TestArena {
  arena: Arena;
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  views: MemoryViews;
  cores: Record<Backend, CoreOps>;
  /** Address of `thread`'s scratch block (config.scratchBytes, default 64 KiB). */
  scratch(thread: number): number;
}

/** A fresh arena laid out by `initBackend` (default wasm), with both backends attached to it. */
export async function newArena(config: ArenaConfig, initBackend: Backend = 'wasm'): Promise<TestArena> {
  const module = await loadCoreModule(CORE_BUILD);
  const arena = createArena(config, (memory) => (initBackend === 'wasm' ? instantiateCore(module, memory) : createJsCore(memory)));
  const memory = arena.memory;
  return {
    arena,
    memory,
    module,
    views: makeViews(memory),
    cores: { wasm: instantiateCore(module, memory), js: createJsCore(memory) },
    scratch: (thread) => arena.scratchOf(thread).address,
  };
}

/**
 * Runs build/test/workers/<script>.js in a real worker thread with `data` as workerData. Resolves
 * with the first message it posts; rejects if it throws, exits first, or exceeds `timeoutMs`.
 * The worker is always terminated, so no test can hang on it.
 */
export async function runWorker<T>(script: string, data: unknown, timeoutMs = 30_000): Promise<T> {
  const worker = new Worker(new URL(`./workers/${script}.js`, import.meta.url), { workerData: data });
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<T>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`worker ${script} timed out after ${timeoutMs} ms`)), timeoutMs);
      worker.once('message', (message: T) => resolve(message));
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`worker ${script} exited with code ${code} before reporting`)));
    });
  } finally {
    clearTimeout(timer);
    await worker.terminate();
  }
}

/** Snapshot of `bytes` bytes at `address`, for byte-identity checks between backends. */
export function bytesAt(views: MemoryViews, address: number, bytes: number): Uint8Array {
  return views.u8.slice(address, address + bytes);
}
