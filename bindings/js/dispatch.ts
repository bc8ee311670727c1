/**
 * dispatchBatch, TypeScript twin of assembly/dispatch.ts: the same routing and enqueueing of a
 * batch of records over the same bytes, built from this backend's own router, ring and hash twins
 * (so the two backends write identical rings, cursors and result blocks).
 *
 * Layout and result block: assembly/layout/dispatch.ts. Contract: bindings/core-ops.ts.
 */
import {
  DISPATCH_FAILED_LANE_OFFSET, DISPATCH_LANE_COUNT_OFFSET, DISPATCH_ROUTED_OFFSET,
  DISPATCH_UNROUTED_OFFSET, KEY_BYTES, KEY_NONE, KEY_PREFIXED_BYTES, KEY_U32, KEY_U8,
  ROUTE_RING_SHIFT, ROUTE_TAG_MASK,
} from '../../assembly/layout/dispatch.ts';
import { STATUS_INVALID, STATUS_OK } from '../../assembly/layout/status.ts';
import type { CoreOps } from '../core-ops.ts';
import type { HashOps } from './hash.ts';
import type { RingOps } from './ring.ts';
import type { RouterOps } from './router.ts';
import type { MemoryViews } from './views.ts';

export type DispatchOps = Pick<CoreOps, 'dispatchBatch'>;

export function createJsDispatch(views: MemoryViews, ring: RingOps, router: RouterOps, hash: HashOps): DispatchOps {
  const { u8, u32 } = views;
  const u16 = new Uint16Array(views.buffer);
  const { ringTryPush } = ring;
  const { routerRoute } = router;
  const { hashU32, hashBytes } = hash;

  const keyHash = (record: number, keyKind: number, keyOffset: number, keyLength: number): number => {
    const at = record + keyOffset;
    switch (keyKind) {
      case KEY_NONE: return 0;
      case KEY_U32: return hashU32(u32[at >>> 2]!);
      case KEY_U8: return hashU32(u8[at]!);
      case KEY_PREFIXED_BYTES: return hashBytes(at + 2, u16[at >>> 1]!);
      case KEY_BYTES: return hashBytes(at, keyLength);
      default: return 0;
    }
  };

  return {
    dispatchBatch(router, thread, topic, src, count, stride, keyKind, keyOffset, keyLength, rings, tagOffset, pushed, out, result) {
      let routed = 0;
      let unrouted = 0;
      const finish = (failedLane: number, laneCount: number): void => {
        u32[(result + DISPATCH_ROUTED_OFFSET) >>> 2] = routed;
        u32[(result + DISPATCH_UNROUTED_OFFSET) >>> 2] = unrouted;
        u32[(result + DISPATCH_FAILED_LANE_OFFSET) >>> 2] = failedLane;
        u32[(result + DISPATCH_LANE_COUNT_OFFSET) >>> 2] = laneCount;
      };
      for (let i = 0; i < count >>> 0; i++) {
        const record = src + i * stride;
        const n = routerRoute(router, thread, topic, keyHash(record, keyKind, keyOffset, keyLength) >>> 0, out);
        if (n < 0) {
          u32[(result + DISPATCH_ROUTED_OFFSET) >>> 2] = routed;
          u32[(result + DISPATCH_UNROUTED_OFFSET) >>> 2] = unrouted;
          return -STATUS_INVALID;
        }
        if (n === 0) unrouted++;
        for (let j = 0; j < n; j++) {
          const entry = u32[(out >>> 2) + j]!;
          const index = entry >>> ROUTE_RING_SHIFT;
          u16[(record + tagOffset) >>> 1] = entry & ROUTE_TAG_MASK;
          if (ringTryPush(u32[(rings >>> 2) + index]!, record) !== STATUS_OK) {
            finish(j, n);
            return i;
          }
          u32[(pushed >>> 2) + index] = u32[(pushed >>> 2) + index]! + 1;
          routed++;
        }
      }
      finish(0, 0);
      return count;
    },
  };
}
