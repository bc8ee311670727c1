/**
 * MurmurHash3 x86_32 with seed 0 (Austin Appleby, public domain; reference MurmurHash3_x86_32 in
 * smhasher's src/MurmurHash3.cpp), TypeScript twin of assembly/hash.ts: same results, as i32.
 * Math.imul keeps every multiply in 32 bits; `| 0` and `>>>` keep the state a 32-bit integer.
 */
import type { CoreOps } from '../core-ops.ts';
import type { MemoryViews } from './views.ts';

export type HashOps = Pick<CoreOps, 'hashBytes' | 'hashU32'>;

const C1 = 0xcc9e2d51 | 0;
const C2 = 0x1b873593 | 0;

function scramble(k: number): number {
  k = Math.imul(k, C1);
  return Math.imul((k << 15) | (k >>> 17), C2);
}

function mix(h: number, k: number): number {
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finalize(h: number, len: number): number {
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** The hash ops over `views` (the arena memory's typed views). */
export function createJsHash(views: MemoryViews): HashOps {
  const { u8 } = views;

  function hashBytes(addr: number, len: number): number {
    addr >>>= 0;
    len >>>= 0;
    let h = 0;
    const blocksEnd = addr + (len - (len & 3));
    let p = addr;
    for (; p < blocksEnd; p += 4) {
      h = mix(h, scramble(u8[p]! | (u8[p + 1]! << 8) | (u8[p + 2]! << 16) | (u8[p + 3]! << 24)));
    }
    const rest = len & 3;
    if (rest !== 0) {
      let k = u8[p]!;
      if (rest >= 2) k |= u8[p + 1]! << 8;
      if (rest === 3) k |= u8[p + 2]! << 16;
      h ^= scramble(k);
    }
    return finalize(h, len);
  }

  function hashU32(value: number): number {
    return finalize(mix(0, scramble(value | 0)), 4);
  }

  return { hashBytes, hashU32 };
}
