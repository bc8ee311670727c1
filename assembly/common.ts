/** Small helpers shared by the AssemblyScript structures. No allocation, no state. */
import { STRUCTURE_ALIGN } from "./layout/arena";

/** Rounds `value` up to a multiple of `align` (a power of two). */
// @ts-ignore: decorator
@inline export function alignUp(value: u32, align: u32): u32 {
  return (value + align - 1) & ~(align - 1);
}

/** Rounds up to the structure alignment (FALSE_SHARING_STRIDE). */
// @ts-ignore: decorator
@inline export function alignStructure(value: u32): u32 {
  return alignUp(value, STRUCTURE_ALIGN);
}
