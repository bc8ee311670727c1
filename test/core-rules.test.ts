/**
 * The rules that keep one Wasm module safe on one memory shared by several instances
 * (docs/architecture.md#assemblyscript-on-shared-memory), checked against the real compiler and
 * the real build output:
 * - managed allocation in assembly/ is a compile error (runtime/no-alloc.ts);
 * - the module imports only its memory (plus `abort` in the debug build) and waits nowhere;
 * - the release build has no data segments, so no mutable state is re-written per instance.
 * And one layering rule: bindings/ (the core's TypeScript side) imports nothing from src/; the
 * errors it throws are the public classes (src/errors.ts re-exports bindings/errors.ts).
 */
import { describe, expect, test } from '@jest/globals';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';
import * as bindingErrors from '../bindings/errors.ts';
import { loadCoreModule } from '../bindings/wasm.ts';
import * as publicErrors from '../src/errors.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUNTIME = join(ROOT, 'assembly/runtime/no-alloc');

async function compile(source: string): Promise<{ ok: boolean; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'wd-asc-'));
  const file = join(dir, 'probe.ts');
  writeFileSync(file, source);
  let stderr = '';
  const result = await asc.main(
    [file, '--runtime', RUNTIME, '--importMemory', '--sharedMemory', '--initialMemory', '2', '--maximumMemory', '65536',
      '--enable', 'threads', '--outFile', join(dir, 'probe.wasm'), '--config', join(dir, 'none.json')],
    { stderr: { write: (text: string | Uint8Array) => { stderr += String(text); return true; } } as never },
  );
  return { ok: !result.error, stderr };
}

describe('the no-allocation runtime', () => {
  test('plain loads, stores and atomics compile', async () => {
    const { ok, stderr } = await compile(
      'export function f(p: usize): u32 { atomic.store<u32>(p, 1); return load<u32>(p + 4); }',
    );
    expect(stderr).toBe('');
    expect(ok).toBe(true);
  });

  test.each([
    ['new of a class', 'class Box { v: i32 = 0; } export function f(): i32 { return new Box().v; }'],
    ['a string built at run time', 'export function f(x: i32): i32 { return x.toString().length; }'],
    ['an array', 'export function f(n: i32): i32 { const a = new Array<i32>(n); return a.length; }'],
    ['a closure', 'export function f(x: i32): i32 { const g = (): i32 => x; return g(); }'],
  ])('%s is a compile error', async (_, source) => {
    const { ok, stderr } = await compile(source);
    expect(ok).toBe(false);
    expect(stderr).toMatch(/must not allocate|not supported|Closures/i);
  });
});

describe.each(['release', 'debug'] as const)('the %s core module', (build) => {
  test('imports only the shared memory (and abort in debug)', async () => {
    const imports = WebAssembly.Module.imports(await loadCoreModule(build)).map((i) => `${i.module}.${i.name}:${i.kind}`);
    expect(imports).toEqual(build === 'release' ? ['env.memory:memory'] : expect.arrayContaining(['env.memory:memory']));
    expect(imports.every((i) => i === 'env.memory:memory' || i === 'env.abort:function')).toBe(true);
  });

  test('never waits inside Wasm (Node 20 Liftoff bug): no memory.atomic.wait', () => {
    const wat = readFileSync(join(ROOT, `build/core.${build}.wat`), 'utf8');
    expect(wat).toContain('memory.atomic.notify');
    expect(wat).not.toMatch(/atomic\.wait/);
  });
});

test('the release module has no data segments (nothing re-written per instance)', () => {
  const wat = readFileSync(join(ROOT, 'build/core.release.wat'), 'utf8');
  expect(wat).toContain('(module');
  expect(wat).not.toMatch(/\(data\b/);
});

describe('layering: bindings/ stands below src/', () => {
  test('no file under bindings/ imports from src/', () => {
    const files = readdirSync(join(ROOT, 'bindings'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    expect(files).toEqual(expect.arrayContaining(['index.ts', 'wasm.ts', 'errors.ts', join('js', 'index.ts')]));
    const offenders = files.filter((f) => /\b(?:from|import)\s*\(?\s*['"](?:\.\.\/)+src\//.test(readFileSync(join(ROOT, 'bindings', f), 'utf8')));
    expect(offenders).toEqual([]);
  });

  test('src/errors.ts re-exports the very classes the bindings throw', () => {
    expect(publicErrors.DispatchError).toBe(bindingErrors.DispatchError);
    expect(publicErrors.ConfigError).toBe(bindingErrors.ConfigError);
    expect(publicErrors.ModuleError).toBe(bindingErrors.ModuleError);
    const error = new bindingErrors.ConfigError('backend', 'gpu', "must be 'wasm' or 'js'");
    expect(error).toBeInstanceOf(publicErrors.DispatchError);
    expect(new publicErrors.ArenaError('ERR_ARENA_MAGIC', 'header.magic', 1, 'foreign')).toBeInstanceOf(bindingErrors.DispatchError);
    expect([error.name, error.code, error.message]).toEqual(['ConfigError', 'ERR_CONFIG', `backend="gpu": must be 'wasm' or 'js'`]);
  });
});
