/**
 * One layout, two backends: the compiled Wasm module and the TypeScript side agree on every layout
 * constant, every size function, and the bytes every *Init writes.
 */
import { describe, expect, test } from '@jest/globals';
import { ARENA_BASE } from '../assembly/layout/arena.ts';
import { CORE_OP_NAMES } from '../bindings/core-ops.ts';
import { createJsCore } from '../bindings/js/index.ts';
import { instantiateCore, LAYOUT_CONSTANTS, layoutGlobalValue, loadCoreModule } from '../bindings/wasm.ts';
import { ModuleError } from '../src/errors.ts';
import { CORE_BUILD, newArena } from './harness.ts';

const CONFIG = {
  threads: 4,
  rings: [{ capacity: 2, recordSize: 8 }, { capacity: 256, recordSize: 24 }],
  pools: [{ slotCount: 1, slotSize: 8 }, { slotCount: 64, slotSize: 200 }],
  routers: [{ maxTopics: 7, maxSubscriptions: 5 }, { maxTopics: 300, maxSubscriptions: 40 }],
  scratchBytes: 1024,
};

describe('layout agreement between the Wasm module and TypeScript', () => {
  test('every layout constant exported by the module equals the TypeScript value', async () => {
    const module = await loadCoreModule(CORE_BUILD);
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 2, shared: true });
    const exports = new WebAssembly.Instance(module, { env: { memory, abort: () => {} } }).exports;
    const names = Object.keys(LAYOUT_CONSTANTS);
    expect(names.length).toBeGreaterThan(80);
    for (const name of names) {
      const global = exports[name];
      expect(global).toBeInstanceOf(WebAssembly.Global);
      // A u32 constant ≥ 2^31 (ROUTE_SKIPPED) is an i32 global: compared by its bits.
      expect([name, (global as WebAssembly.Global).value]).toEqual([name, layoutGlobalValue(LAYOUT_CONSTANTS[name]!)]);
    }
    // The module's own static data must end below the arena.
    expect((exports.heapBase as () => number)()).toBeLessThanOrEqual(ARENA_BASE);
  });

  test('both backends implement every CoreOps function', async () => {
    const { cores } = await newArena({ threads: 1 });
    for (const name of CORE_OP_NAMES) {
      expect([name, typeof cores.wasm[name]]).toEqual([name, 'function']);
      expect([name, typeof cores.js[name]]).toEqual([name, 'function']);
    }
  });

  test('size functions agree on both backends', async () => {
    const { cores } = await newArena({ threads: 1 });
    for (const [capacity, recordSize] of [[2, 8], [4, 16], [1024, 24], [1 << 20, 64]] as const) {
      expect(cores.wasm.ringBytes(capacity, recordSize)).toBe(cores.js.ringBytes(capacity, recordSize));
    }
    for (const [count, size] of [[1, 8], [2, 16], [64, 200], [4096, 1024]] as const) {
      expect(cores.wasm.poolBytes(count, size)).toBe(cores.js.poolBytes(count, size));
    }
    for (const [topics, subs, threads] of [[1, 1, 1], [7, 5, 4], [300, 40, 3], [65536, 1024, 64]] as const) {
      expect(cores.wasm.routerBytes(topics, subs, threads)).toBe(cores.js.routerBytes(topics, subs, threads));
    }
  });

  test('size functions agree on huge and nonsense arguments too (u32 view, saturation, no wrap)', async () => {
    const { cores } = await newArena({ threads: 1 });
    // Values around every boundary: 0, small, ARENA_MAX_BYTES (2^30) ± 1, 2^31, and negatives
    // (which the Wasm exports see as large u32s). Products of these overflow 64 bits.
    const values = [0, 1, 2, 7, 1000, 65536, 1 << 20, 1 << 26, 2 ** 30, 2 ** 30 + 1, 2 ** 31 - 1, -1, -2, -10, 2 ** 32 - 2, 3 * 2 ** 30];
    const mismatches: string[] = [];
    for (const a of values) {
      for (const b of values) {
        if (cores.wasm.ringBytes(a, b) !== cores.js.ringBytes(a, b)) mismatches.push(`ringBytes(${a}, ${b})`);
        if (cores.wasm.poolBytes(a, b) !== cores.js.poolBytes(a, b)) mismatches.push(`poolBytes(${a}, ${b})`);
        for (const c of values) {
          if (cores.wasm.routerBytes(a, b, c) !== cores.js.routerBytes(a, b, c)) mismatches.push(`routerBytes(${a}, ${b}, ${c})`);
        }
      }
    }
    expect(mismatches).toEqual([]);
  });

  test('an arena initialised by Wasm is byte-identical to one initialised by the JS twin', async () => {
    const byWasm = await newArena(CONFIG, 'wasm');
    const byJs = await newArena(CONFIG, 'js');
    expect(byWasm.memory.buffer.byteLength).toBe(byJs.memory.buffer.byteLength);
    const a = new Uint8Array(byWasm.memory.buffer, ARENA_BASE);
    const b = new Uint8Array(byJs.memory.buffer, ARENA_BASE);
    let firstDifference = -1;
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) {
        firstDifference = ARENA_BASE + i;
        break;
      }
    }
    expect(firstDifference).toBe(-1);
  });

  test('a module whose layout disagrees with the bindings is refused', async () => {
    // Build a tiny module exporting a wrong constant, and check instantiateCore names it.
    const module = await loadCoreModule(CORE_BUILD);
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 2, shared: true });
    expect(() => instantiateCore(module, memory)).not.toThrow();
    const fakeModule = new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
    expect(() => instantiateCore(fakeModule, memory)).toThrow(ModuleError);
    expect(createJsCore(memory).backend).toBe('js');
  });
});
