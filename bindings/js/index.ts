/**
 * The JS backend: TypeScript twins of every core structure, over the same bytes as the Wasm
 * module. Each twin module returns its share of CoreOps as closures over one set of typed views.
 */
import type { CoreOps } from '../core-ops.ts';
import { makeViews } from './views.ts';
import { createJsRing } from './ring.ts';
import { createJsPool } from './pool.ts';
import { createJsRouter } from './router.ts';
import { createJsHash } from './hash.ts';

/** Builds the JS backend over `memory` (the arena's shared memory, or its buffer). */
export function createJsCore(memory: WebAssembly.Memory | SharedArrayBuffer | ArrayBuffer): CoreOps {
  const views = makeViews(memory);
  return {
    backend: 'js',
    ...createJsRing(views),
    ...createJsPool(views),
    ...createJsRouter(views),
    ...createJsHash(views),
  };
}
