// placeholder: implemented by the pool/hash work item
import type { CoreOps } from '../core-ops.ts';
import type { MemoryViews } from './views.ts';
export type HashOps = Pick<CoreOps, 'hashBytes' | 'hashU32'>;
export function createJsHash(views: MemoryViews): HashOps { void views; return {} as HashOps; }
