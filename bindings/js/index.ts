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
import { createJsDispatch } from './dispatch.ts';

/** Builds the JS backend over `memory` (the arena's shared memory, or its buffer). */
export function createJsCore(memory: WebAssembly.Memory | SharedArrayBuffer | ArrayBuffer): CoreOps {
  const views = makeViews(memory);
  const ring = createJsRing(views);
  const router = createJsRouter(views);
  const hash = createJsHash(views);
  return {
    backend: 'js',
    ...ring,
    ...createJsPool(views),
    ...router,
    ...hash,
    ...createJsDispatch(views, ring, router, hash),
  };
}
