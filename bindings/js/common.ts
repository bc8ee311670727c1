/** Small helpers shared by the TypeScript twins (mirrors assembly/common.ts). */
import { STRUCTURE_ALIGN } from '../../assembly/layout/arena.ts';

/** Rounds `value` up to a multiple of `align` (a power of two). */
export function alignUp(value: number, align: number): number {
  return (value + align - 1) & ~(align - 1);
}

/** Rounds up to the structure alignment (FALSE_SHARING_STRIDE). */
export function alignStructure(value: number): number {
  return alignUp(value, STRUCTURE_ALIGN);
}
