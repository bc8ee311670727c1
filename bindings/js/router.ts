// placeholder: implemented by the router work item
import type { CoreOps } from '../core-ops.ts';
import type { MemoryViews } from './views.ts';
export type RouterOps = Pick<CoreOps, 'routerBytes' | 'routerInit' | 'routerTryLock' | 'routerUnlock' | 'routerAddSubscription' | 'routerRemoveSubscription' | 'routerTryPublish' | 'routerEnter' | 'routerLeave' | 'routerRoute' | 'routerVersion' | 'routerGroupCount'>;
export function createJsRouter(views: MemoryViews): RouterOps { void views; return {} as RouterOps; }
