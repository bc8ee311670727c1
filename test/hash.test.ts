/**
 * MurmurHash3 x86_32 (seed 0) on both backends: published reference vectors, an independent
 * plain-JS reference written here (16-bit split multiplies, no Math.imul, its own tail handling),
 * hashU32 == hashBytes over the 4 little-endian bytes, and wasm == js on random byte arrays.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import type { Backend } from '../bindings/core-ops.ts';
import { BACKENDS, FC_RUNS, newArena, type TestArena } from './harness.ts';

/** Multiplies two u32 modulo 2^32 with 16-bit halves, as the pre-Math.imul JS ports did. */
function mul32(a: number, b: number): number {
  const aLow = a & 0xffff;
  const aHigh = a >>> 16;
  return ((aLow * b) + (((aHigh * b) & 0xffff) * 0x10000)) >>> 0;
}

function rotl32(x: number, r: number): number {
  return ((x << r) | (x >>> (32 - r))) >>> 0;
}

/** MurmurHash3_x86_32 transcribed from smhasher's MurmurHash3.cpp, over a byte array, as a u32. */
function murmur3Reference(data: Uint8Array, seed = 0): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  const nblocks = Math.floor(data.length / 4);
  let h1 = seed >>> 0;
  for (let i = 0; i < nblocks; i++) {
    let k1 = (data[4 * i]! + data[4 * i + 1]! * 0x100 + data[4 * i + 2]! * 0x10000 + data[4 * i + 3]! * 0x1000000) >>> 0;
    k1 = mul32(k1, c1);
    k1 = rotl32(k1, 15);
    k1 = mul32(k1, c2);
    h1 = (h1 ^ k1) >>> 0;
    h1 = rotl32(h1, 13);
    h1 = (mul32(h1, 5) + 0xe6546b64) >>> 0;
  }
  const tail = 4 * nblocks;
  const rest = data.length & 3;
  if (rest > 0) {
    let k1 = 0;
    for (let i = rest - 1; i >= 0; i--) k1 = (k1 ^ (data[tail + i]! << (8 * i))) >>> 0;
    k1 = mul32(k1, c1);
    k1 = rotl32(k1, 15);
    k1 = mul32(k1, c2);
    h1 = (h1 ^ k1) >>> 0;
  }
  h1 = (h1 ^ data.length) >>> 0;
  h1 = (h1 ^ (h1 >>> 16)) >>> 0;
  h1 = mul32(h1, 0x85ebca6b);
  h1 = (h1 ^ (h1 >>> 13)) >>> 0;
  h1 = mul32(h1, 0xc2b2ae35);
  return (h1 ^ (h1 >>> 16)) >>> 0;
}

const bytesOf = (input: string | readonly number[]): Uint8Array =>
  typeof input === 'string' ? new TextEncoder().encode(input) : Uint8Array.from(input);

/** Published MurmurHash3_x86_32 outputs for seed 0 (smhasher-derived test vectors). */
const VECTORS: readonly (readonly [string | readonly number[], number])[] = [
  ['', 0x00000000],
  [[0, 0, 0, 0], 0x2362f9de],
  [[0xff, 0xff, 0xff, 0xff], 0x76293b50],
  [[0x21, 0x43, 0x65, 0x87], 0xf55b516b],
  ['a', 0x3c2569b2],
  ['abc', 0xb3dd93fa],
  ['test', 0xba6bd213],
  ['Hello, world!', 0xc0363e43],
  ['The quick brown fox jumps over the lazy dog', 0x2e4ff723],
];

const SCRATCH_BYTES = 4096;
const arenaPromise: Promise<TestArena> = newArena({ threads: 1, scratchBytes: SCRATCH_BYTES });

/** Writes `data` into the scratch block at `shift` bytes past its start and hashes it there. */
function hashAt(t: TestArena, backend: Backend, data: Uint8Array, shift = 0): number {
  const at = t.scratch(0) + shift;
  t.views.u8.set(data, at);
  return t.cores[backend].hashBytes(at, data.length);
}

describe('the in-test reference implementation', () => {
  test.each(VECTORS.map(([input, hash]) => [JSON.stringify(input), input, hash] as const))(
    'reference(%s) matches the published vector', (_, input, hash) => {
      expect(murmur3Reference(bytesOf(input))).toBe(hash);
    });
  test('seed 1234 vector ("Hello, world!" → 0xfaf6cdb3), to check the reference seeds like smhasher', () => {
    expect(murmur3Reference(bytesOf('Hello, world!'), 1234)).toBe(0xfaf6cdb3);
  });
});

describe.each(BACKENDS)('hash on %s', (backend) => {
  test.each(VECTORS.map(([input, hash]) => [JSON.stringify(input), input, hash] as const))(
    `${backend}: hashBytes(%s) matches the published vector at every alignment`, async (_, input, hash) => {
      const t = await arenaPromise;
      for (let shift = 0; shift < 4; shift++) expect(hashAt(t, backend, bytesOf(input), shift) >>> 0).toBe(hash);
    });

  test(`${backend}: returns an i32 (signed like a raw Wasm export)`, async () => {
    const t = await arenaPromise;
    const h = hashAt(t, backend, bytesOf('test'));
    expect(h).toBe(0xba6bd213 | 0);
    expect(h).toBeLessThan(0);
    expect(t.cores[backend].hashU32(0x87654321)).toBe(0xf55b516b | 0);
  });

  test(`${backend}: hashBytes of 0 bytes is 0 at any address and reads nothing`, async () => {
    const t = await arenaPromise;
    expect(t.cores[backend].hashBytes(t.scratch(0), 0)).toBe(0);
    expect(t.cores[backend].hashBytes(t.scratch(0) + 3, 0)).toBe(0);
    // One past the last byte of memory: a read would trap in Wasm.
    expect(t.cores[backend].hashBytes(t.memory.buffer.byteLength, 0)).toBe(0);
  });

  test(`${backend}: hashBytes equals the reference for random bytes at random alignment, and writes nothing`, async () => {
    const t = await arenaPromise;
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 16 }), fc.uint8Array({ maxLength: 300, size: 'max' })), fc.integer({ min: 0, max: 7 }), (data, shift) => {
      const at = t.scratch(0) + shift;
      t.views.u8.set(data, at);
      const before = t.views.u8.slice(t.scratch(0), t.scratch(0) + SCRATCH_BYTES);
      const h = t.cores[backend].hashBytes(at, data.length);
      expect(h >>> 0).toBe(murmur3Reference(data));
      expect(Buffer.compare(t.views.u8.slice(t.scratch(0), t.scratch(0) + SCRATCH_BYTES), before)).toBe(0);
    }), { numRuns: FC_RUNS });
  });

  test(`${backend}: hashU32(v) equals hashBytes over v's 4 little-endian bytes and the reference`, async () => {
    const t = await arenaPromise;
    const core = t.cores[backend];
    const check = (v: number): void => {
      const le = new Uint8Array(4);
      new DataView(le.buffer).setUint32(0, v >>> 0, true);
      expect(core.hashU32(v)).toBe(hashAt(t, backend, le));
      expect(core.hashU32(v) >>> 0).toBe(murmur3Reference(le));
    };
    for (const v of [0, 1, 0xff, 0x100, 0x7fffffff, 0x80000000, 0xffffffff, -1]) check(v);
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), check), { numRuns: FC_RUNS });
  });
});

describe('hash conformance: wasm and js', () => {
  test('wasm and js: hashBytes agrees on random byte arrays (long ones too)', async () => {
    const t = await arenaPromise;
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 16 }), fc.uint8Array({ maxLength: 2048, size: 'max' })), fc.integer({ min: 0, max: 3 }), (data, shift) => {
      expect(hashAt(t, 'wasm', data, shift)).toBe(hashAt(t, 'js', data, shift));
    }), { numRuns: FC_RUNS });
  });

  test('wasm and js: hashU32 agrees on random values, signed and unsigned inputs alike', async () => {
    const t = await arenaPromise;
    fc.assert(fc.property(fc.integer({ min: -0x80000000, max: 0xffffffff }), (v) => {
      expect(t.cores.wasm.hashU32(v)).toBe(t.cores.js.hashU32(v));
    }), { numRuns: FC_RUNS });
  });

  test('wasm and js: every length 0..64 over the same bytes', async () => {
    const t = await arenaPromise;
    const data = Uint8Array.from({ length: 64 }, (_, i) => (i * 151 + 7) & 0xff);
    for (let len = 0; len <= 64; len++) {
      const slice = data.subarray(0, len);
      expect([len, hashAt(t, 'wasm', slice) >>> 0]).toEqual([len, murmur3Reference(slice)]);
      expect([len, hashAt(t, 'js', slice) >>> 0]).toEqual([len, murmur3Reference(slice)]);
    }
  });
});
