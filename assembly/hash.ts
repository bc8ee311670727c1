/**
 * MurmurHash3 x86_32 with seed 0, by Austin Appleby (public domain): the reference is
 * MurmurHash3_x86_32 in smhasher's src/MurmurHash3.cpp (https://github.com/aappleby/smhasher).
 * Blocks are read as little-endian u32 (Wasm loads are little-endian and may be unaligned); the
 * 1–3 tail bytes are folded in as the reference's switch does. Used for keyed delivery: equal keys
 * must land on the same lane on every thread and both backends, so the exact function matters.
 *
 * TypeScript twin: bindings/js/hash.ts.
 */

// @ts-ignore: decorator
@inline const C1: u32 = 0xcc9e2d51;
// @ts-ignore: decorator
@inline const C2: u32 = 0x1b873593;

/** Scrambles one 4-byte block before it is mixed into the state. */
// @ts-ignore: decorator
@inline function scramble(k: u32): u32 {
  return rotl<u32>(k * C1, 15) * C2;
}

/** Mixes a scrambled block into the state. */
// @ts-ignore: decorator
@inline function mix(h: u32, k: u32): u32 {
  return rotl<u32>(h ^ k, 13) * 5 + 0xe6546b64;
}

/** The reference's fmix32 finaliser: forces every input bit to affect every output bit. */
// @ts-ignore: decorator
@inline function finalize(h: u32, len: u32): u32 {
  h ^= len;
  h ^= h >>> 16;
  h *= 0x85ebca6b;
  h ^= h >>> 13;
  h *= 0xc2b2ae35;
  h ^= h >>> 16;
  return h;
}

/** MurmurHash3 x86_32 (seed 0) of `len` bytes at `addr`, as an i32 (`>>> 0` in JS for the u32). */
export function hashBytes(addr: usize, len: u32): i32 {
  let h: u32 = 0;
  const blocksEnd = addr + (len & ~3);
  let p = addr;
  while (p < blocksEnd) {
    h = mix(h, scramble(load<u32>(p)));
    p += 4;
  }
  const rest = len & 3;
  if (rest != 0) {
    let k: u32 = load<u8>(p);
    if (rest >= 2) k |= <u32>load<u8>(p + 1) << 8;
    if (rest == 3) k |= <u32>load<u8>(p + 2) << 16;
    h ^= scramble(k);
  }
  return <i32>finalize(h, len);
}

/** MurmurHash3 x86_32 (seed 0) of the 4 little-endian bytes of `value`: hashBytes over those
 *  bytes, computed without touching memory. */
export function hashU32(value: u32): i32 {
  return <i32>finalize(mix(0, scramble(value)), 4);
}
