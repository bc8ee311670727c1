/**
 * dispatchBatch, TypeScript twin of assembly/dispatch.ts: the same routing and enqueueing of a
 * batch of records over the same bytes, built from this backend's own router, ring and hash twins
 * (so the two backends write identical rings, cursors and result blocks), with its per-record
 * pieces keyHash and pickLeastLoaded, which dispatchBatch calls and the ops object hands out.
 *
 * Layout and result block: assembly/layout/dispatch.ts. Contract: bindings/core-ops.ts.
 */
import {
  DISPATCH_FAILED_ENTRY_OFFSET, DISPATCH_ENTRY_COUNT_OFFSET, DISPATCH_ROUTED_OFFSET,
  DISPATCH_UNROUTED_OFFSET, KEY_BYTES, KEY_NONE, KEY_PREFIXED_BYTES, KEY_U32, KEY_U8,
  ROUTE_RING_SHIFT, ROUTE_SKIPPED, ROUTE_TAG_MASK,
} from '../../assembly/layout/dispatch.ts';
import { RING_CLAIM_OFFSET, RING_CONSUMER_CLOSED_OFFSET, RING_TAIL_OFFSET } from '../../assembly/layout/ring.ts';
import { STATUS_INVALID, STATUS_OK } from '../../assembly/layout/status.ts';
import type { CoreOps } from '../core-ops.ts';
import type { HashOps } from './hash.ts';
import { RING_RECORD_ALIGN } from '../../assembly/layout/ring.ts';
import type { RingOps } from './ring.ts';
import type { RouterOps } from './router.ts';
import type { MemoryViews } from './views.ts';

export type DispatchOps = Pick<CoreOps, 'keyHash' | 'pickLeastLoaded' | 'dispatchBatch'>;

export function createJsDispatch(views: MemoryViews, ring: RingOps, router: RouterOps, hash: HashOps): DispatchOps {
  const { u8, u32, i32 } = views;
  const u16 = new Uint16Array(views.buffer);
  const { ringTryPushBytes } = ring;
  const { routerRoute } = router;
  const { hashU32, hashBytes } = hash;

  // keyHash and pickLeastLoaded are handed out as ops exactly as dispatchBatch calls them, with no
  // wrapper: small closures over the views that take small integers only (addresses, kinds,
  // indices), so callers elsewhere keep their type feedback monomorphic and TurboFan inlines them
  // into dispatchBatch as before they were ops (--trace-turbo-inlining: keyHash while no pick
  // runs; once picks run, pickLeastLoaded, and keyHash when the inlining budget allows).

  /** The hash of the key at `record + keyOffset` by KEY_* kind, as an i32; any other kind: 0. */
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

  /** Records in the ring as its producer sees them: claimed (flushed or not) and not yet committed. */
  const producerDepth = (ring: number): number =>
    // A ring its consumer closed (a crashed worker) is never chosen over a live one: u32 max.
    Atomics.load(i32, (ring + RING_CONSUMER_CLOSED_OFFSET) >>> 2) !== 0 ? 0xffffffff
      // CLAIM is the caller's own word; TAIL pairs with the consumer's Atomics.store in ringCommit.
      : (u32[(ring + RING_CLAIM_OFFSET) >>> 2]! - Atomics.load(i32, (ring + RING_TAIL_OFFSET) >>> 2)) >>> 0;

  /** The least-loaded pick opened by entry `from` (tag `tag`) among entries from..n-1 at `out`:
   *  returns the chosen entry's index and overwrites the pick's other entries with ROUTE_SKIPPED.
   *  Entries of other tags and ROUTE_SKIPPED ones are passed over. */
  const pickLeastLoaded = (out: number, from: number, n: number, tag: number, rings: number): number => {
    const o = out >>> 2;
    const r = rings >>> 2;
    let best = from;
    let bestDepth = 0;
    let measured = false; // a pick of one (the usual case on resuming) loads no ring word
    for (let k = from + 1; k < n; k++) {
      const entry = u32[o + k]!;
      if (entry === ROUTE_SKIPPED || (entry & ROUTE_TAG_MASK) !== tag) continue;
      if (!measured) {
        bestDepth = producerDepth(u32[r + (u32[o + best]! >>> ROUTE_RING_SHIFT)]!);
        measured = true;
      }
      const depth = producerDepth(u32[r + (entry >>> ROUTE_RING_SHIFT)]!);
      if (depth < bestDepth) {
        u32[o + best] = ROUTE_SKIPPED;
        best = k;
        bestDepth = depth;
      } else {
        u32[o + k] = ROUTE_SKIPPED;
      }
    }
    return best;
  };

  return {
    keyHash,
    pickLeastLoaded,
    dispatchBatch(router, thread, topic, src, count, stride, keyKind, keyOffset, keyLength, rings, tagOffset, pushed, balance, out, result) {
      let routed = 0;
      let unrouted = 0;
      const finish = (failedEntry: number, entryCount: number): void => {
        u32[(result + DISPATCH_ROUTED_OFFSET) >>> 2] = routed;
        u32[(result + DISPATCH_UNROUTED_OFFSET) >>> 2] = unrouted;
        u32[(result + DISPATCH_FAILED_ENTRY_OFFSET) >>> 2] = failedEntry;
        u32[(result + DISPATCH_ENTRY_COUNT_OFFSET) >>> 2] = entryCount;
      };
      if ((stride & (RING_RECORD_ALIGN - 1)) !== 0) {
        u32[(result + DISPATCH_ROUTED_OFFSET) >>> 2] = 0;
        u32[(result + DISPATCH_UNROUTED_OFFSET) >>> 2] = 0;
        return -STATUS_INVALID;
      }
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
          if (entry === ROUTE_SKIPPED) continue;
          const tag = entry & ROUTE_TAG_MASK;
          // Not the chosen one: it is ROUTE_SKIPPED now; the chosen entry is pushed at its own index.
          if (balance !== 0 && u8[balance + tag] !== 0 && pickLeastLoaded(out, j, n, tag, rings) !== j) continue;
          const index = entry >>> ROUTE_RING_SHIFT;
          u16[(record + tagOffset) >>> 1] = tag;
          const status = ringTryPushBytes(u32[(rings >>> 2) + index]!, record, stride);
          if (status === STATUS_INVALID) {
            u32[(result + DISPATCH_ROUTED_OFFSET) >>> 2] = routed;
            u32[(result + DISPATCH_UNROUTED_OFFSET) >>> 2] = unrouted;
            return -STATUS_INVALID;
          }
          if (status !== STATUS_OK) {
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
