// placeholder: implemented by the pool work item
import type { CoreOps } from '../core-ops.ts';
import type { MemoryViews } from './views.ts';
export type PoolOps = Pick<CoreOps, 'poolBytes' | 'poolInit' | 'poolTryAlloc' | 'poolRelease' | 'poolOutstanding'>;
export function createJsPool(views: MemoryViews): PoolOps { void views; return {} as PoolOps; }
