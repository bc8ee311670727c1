// placeholder: implemented by the ring work item
import type { CoreOps } from '../core-ops.ts';
import type { MemoryViews } from './views.ts';
export type RingOps = Pick<CoreOps, 'ringBytes' | 'ringInit' | 'ringTryClaim' | 'ringTryPush' | 'ringTryPushBatch' | 'ringFlush' | 'ringPending' | 'ringCloseProducer' | 'ringTryPeek' | 'ringAvailable' | 'ringTryPop' | 'ringTryPopBatch' | 'ringCommit' | 'ringCloseConsumer' | 'ringSize'>;
export function createJsRing(views: MemoryViews): RingOps { void views; return {} as RingOps; }
