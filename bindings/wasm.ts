/**
 * The Wasm backend: loads the AssemblyScript core and instantiates it over a shared memory.
 *
 * The module is compiled once (per process or page) and the same WebAssembly.Module plus the
 * shared WebAssembly.Memory are sent to every worker, which makes its own Instance: module
 * globals are per instance (per thread), the memory is one. The CoreOps object returned here is
 * made of the instance's raw exported functions, so a call costs exactly one JS→Wasm transition.
 *
 * At instantiation the bindings prove the module matches them: every CoreOps function exists,
 * the module's static data ends below ARENA_BASE, and every layout constant the module exports
 * equals the TypeScript value it was compiled from (a stale build fails loudly, not silently).
 */
import * as arenaLayout from '../assembly/layout/arena.ts';
import * as statusLayout from '../assembly/layout/status.ts';
import * as ringLayout from '../assembly/layout/ring.ts';
import * as poolLayout from '../assembly/layout/pool.ts';
import * as routerLayout from '../assembly/layout/router.ts';
import * as dispatchLayout from '../assembly/layout/dispatch.ts';
import { CORE_OP_NAMES, type CoreOps } from './core-ops.ts';
import { ModuleError } from './errors.ts';

/** Every layout constant, by name, as the TypeScript side knows it. */
export const LAYOUT_CONSTANTS: Readonly<Record<string, number>> = Object.freeze({
  ...arenaLayout, ...statusLayout, ...ringLayout, ...poolLayout, ...routerLayout, ...dispatchLayout,
});

/**
 * The value JavaScript reads from the module's global for layout constant `value`: the same
 * number, except that a u32 constant of 2^31 or more (ROUTE_SKIPPED) is an i32 global, read
 * signed (0xffffffff reads -1). Same bits either way.
 */
export function layoutGlobalValue(value: number): number {
  return value >= 0x80000000 && value <= 0xffffffff ? value | 0 : value;
}

/** Which build of the core: release (optimised, no assertions) or debug (assertions on). */
export type CoreBuild = 'release' | 'debug';

/** URL of a build's .wasm file, next to the compiled bindings (build/bindings → build/). */
export function coreModuleUrl(build: CoreBuild = 'release'): URL {
  // Literal URLs, not a template: bundlers (webpack 5, Vite) emit exactly the file each names.
  return build === 'debug' ? new URL('../core.debug.wasm', import.meta.url) : new URL('../core.release.wasm', import.meta.url);
}

const compiled = new Map<string, Promise<WebAssembly.Module>>();

/**
 * Compiles the core once per URL and caches the Module (send it to workers with the memory).
 * `url` defaults to the build's file next to these bindings; pass it where a bundler serves the
 * .wasm elsewhere (see the README's bundler section).
 */
export function loadCoreModule(build: CoreBuild = 'release', url: URL = coreModuleUrl(build)): Promise<WebAssembly.Module> {
  let module = compiled.get(url.href);
  if (!module) {
    module = compileFromUrl(url);
    compiled.set(url.href, module);
    // A failed fetch or compile is not cached: the next call tries again.
    module.catch(() => compiled.delete(url.href));
  }
  return module;
}

/**
 * Compiles the core from its URL. file: URLs (Node) are read with node:fs, reached through
 * process.getBuiltinModule so that no import of a Node built-in appears in the module graph (a
 * browser bundler must not try to resolve one); http(s) URLs (browsers) are streamed into the
 * compiler, which needs the server's `Content-Type: application/wasm`, else the bytes are compiled
 * once fetched.
 */
async function compileFromUrl(url: URL): Promise<WebAssembly.Module> {
  if (url.protocol === 'file:') {
    const fs = globalThis.process?.getBuiltinModule?.('node:fs/promises') as typeof import('node:fs/promises') | undefined;
    if (fs === undefined) throw new ModuleError('url', url.href, 'file: URLs are read with node:fs (Node >= 20.16); in a browser, serve the .wasm over http(s)');
    const bytes = await fs.readFile(url);
    return WebAssembly.compile(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) as Uint8Array<ArrayBuffer>);
  }
  const response = await fetch(url);
  if (!response.ok) throw new ModuleError('url', url.href, `fetch failed with HTTP ${response.status}`);
  if (typeof WebAssembly.compileStreaming === 'function' && response.headers.get('content-type')?.split(';')[0]?.trim() === 'application/wasm') {
    return WebAssembly.compileStreaming(response);
  }
  return WebAssembly.compile(await response.arrayBuffer());
}

/** Error raised by a debug build's failed assertion (release builds trap with `unreachable`). */
export class CoreAbortError extends Error {
  constructor(message: string, readonly file: string, readonly line: number, readonly column: number) {
    super(`${message} (${file}:${line}:${column})`);
    this.name = 'CoreAbortError';
  }
}

/**
 * Makes this thread's instance of the core over `memory` and returns its exports as CoreOps.
 * Throws ModuleError if the module does not match these bindings.
 */
export function instantiateCore(module: WebAssembly.Module, memory: WebAssembly.Memory): CoreOps {
  const imports = { env: { memory, abort: (message: number, file: number, line: number, column: number) => {
    throw new CoreAbortError(readAsString(memory, message), readAsString(memory, file), line, column);
  } } };
  // Release builds import only env.memory; extra imports are ignored by WebAssembly.
  const instance = new WebAssembly.Instance(module, imports);
  const exports = instance.exports as Record<string, unknown>;

  const ops: Record<string, unknown> = { backend: 'wasm' };
  for (const name of CORE_OP_NAMES) {
    const fn = exports[name];
    if (typeof fn !== 'function') throw new ModuleError(`exports.${name}`, typeof fn, 'the core module lacks this CoreOps function (stale build?)');
    ops[name] = fn;
  }
  const heapBase = (exports.heapBase as () => number)();
  if (heapBase > arenaLayout.ARENA_BASE) {
    throw new ModuleError('heapBase', heapBase, `the module's static data overlaps the arena at ARENA_BASE=${arenaLayout.ARENA_BASE}`);
  }
  for (const [name, value] of Object.entries(LAYOUT_CONSTANTS)) {
    const global = exports[name];
    if (!(global instanceof WebAssembly.Global)) throw new ModuleError(`exports.${name}`, typeof global, 'layout constant missing from the core module (stale build?)');
    if (global.value !== layoutGlobalValue(value)) throw new ModuleError(`exports.${name}`, global.value, `the bindings were built with ${name}=${value} (stale build?)`);
  }
  return ops as unknown as CoreOps;
}

/** Decodes an AssemblyScript string (UTF-16, byte length in the word before it) for abort messages. */
function readAsString(memory: WebAssembly.Memory, pointer: number): string {
  if (!pointer) return '';
  const bytes = new Uint32Array(memory.buffer)[(pointer - 4) >>> 2]!;
  const units = new Uint16Array(memory.buffer, pointer, bytes >>> 1);
  let text = '';
  for (const unit of units) text += String.fromCharCode(unit);
  return text;
}
