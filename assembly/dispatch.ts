/**
 * dispatchBatch: route and enqueue a whole batch of records in one call, so a batch costs one
 * JS→Wasm transition instead of three per record (hash, route, push). Layout and result block:
 * assembly/layout/dispatch.ts. TypeScript twin: bindings/js/dispatch.ts.
 *
 * For each of `count` records, `stride` bytes apart from `src`: hash its key (KEY_* kind at
 * `keyOffset`), routerRoute the topic with that hash into `out`, and for each route entry stamp
 * the entry's low half (u16, its tag) at `tagOffset` in the record, then copy the record's
 * `stride` bytes (ringTryPushBytes: a ring's records may be larger, e.g. sized for an engine's
 * largest topic, and only the bytes a record uses are copied) into the ring whose address is u32
 * `rings[entry >>> ROUTE_RING_SHIFT]`, counting one more in u32 `pushed[entry >>> ROUTE_RING_SHIFT]`.
 * Nothing is flushed (write-combining: the caller flushes).
 *
 * Least-loaded picks: when `balance` is not 0 and the u8 `balance[tag]` is not 0, the entry opens
 * a pick among the record's entries j..n-1 with that tag that are not ROUTE_SKIPPED: the one whose
 * ring holds the fewest records, CLAIM - TAIL (so records this producer claimed but has not
 * flushed count too; a ring its consumer closed counts as full to the brim; ties: the earliest entry), is pushed when the loop reaches it; every other
 * entry of the pick is overwritten with ROUTE_SKIPPED at `out` and not pushed. Entries keep their
 * order, so a stop inside a pick names the chosen entry and finds the others already skipped.
 *
 * Stops at the first push that does not return STATUS_OK (a full or closed ring): returns that
 * record's index and leaves its route entries at `out` (with the ROUTE_SKIPPED marks made so
 * far), with the entry that failed in the result block, so the caller can apply its back-pressure
 * policy from that entry on and call again with the rest. Returns `count` when every record was
 * dispatched, -STATUS_INVALID for a bad topic, or a `stride` that is not a multiple of
 * RING_RECORD_ALIGN or is larger than a ring's records.
 *
 * The caller must be inside routerEnter/routerLeave as thread `thread`, and the producer of every
 * ring in the table. Never allocates, never waits.
 *
 * Its per-record pieces are core ops of their own, for callers that route one record at a time
 * (the engine's per-record path): keyHash (the key hash a record is routed by) and
 * pickLeastLoaded (one least-loaded pick over the route entries at `out`). dispatchBatch inlines
 * these very functions, so both paths hash and pick alike.
 */
import { STATUS_INVALID, STATUS_OK } from "./layout/status";
import {
  DISPATCH_FAILED_ENTRY_OFFSET, DISPATCH_ENTRY_COUNT_OFFSET, DISPATCH_ROUTED_OFFSET,
  DISPATCH_UNROUTED_OFFSET, KEY_BYTES, KEY_NONE, KEY_PREFIXED_BYTES, KEY_U32, KEY_U8,
  ROUTE_RING_SHIFT, ROUTE_SKIPPED, ROUTE_TAG_MASK,
} from "./layout/dispatch";
import { RING_CLAIM_OFFSET, RING_CONSUMER_CLOSED_OFFSET, RING_RECORD_ALIGN, RING_RECORD_SIZE_OFFSET, RING_TAIL_OFFSET } from "./layout/ring";
import { hashBytes, hashU32 } from "./hash";
import { ringTryClaim } from "./ring";
import { ADDRESS_MIN } from "./layout/arena";
import { routerRoute } from "./router";

/**
 * The hash of the key at `record + keyOffset` by KEY_* kind (the table in
 * assembly/layout/dispatch.ts), as an i32; any other kind hashes to 0. Exported for the engine's
 * per-record path; inlined here into dispatchBatch (an exported @inline function is both).
 */
// @ts-ignore: decorator
@inline export function keyHash(record: usize, keyKind: u32, keyOffset: u32, keyLength: u32): i32 {
  const at = record + keyOffset;
  if (keyKind == KEY_NONE) return 0;
  if (keyKind == KEY_U32) return hashU32(load<u32>(at));
  if (keyKind == KEY_U8) return hashU32(<u32>load<u8>(at));
  if (keyKind == KEY_PREFIXED_BYTES) return hashBytes(at + 2, <u32>load<u16>(at));
  if (keyKind == KEY_BYTES) return hashBytes(at, keyLength);
  return 0;
}

/**
 * Records in the ring as its producer sees them: claimed (flushed or not) and not yet committed.
 * A ring whose consumer closed it (a crashed worker) is as deep as can be: a pick never chooses it
 * over a live member, whose depth froze lower when its consumer died.
 */
// @ts-ignore: decorator
@inline function producerDepth(ring: usize): u32 {
  if (atomic.load<u32>(ring + RING_CONSUMER_CLOSED_OFFSET) != 0) return u32.MAX_VALUE;
  // CLAIM is the caller's own word; TAIL pairs with the consumer's atomic store in ringCommit.
  return load<u32>(ring + RING_CLAIM_OFFSET) - atomic.load<u32>(ring + RING_TAIL_OFFSET);
}

/**
 * The least-loaded pick opened by entry `from` (tag `tag`) among entries from..n-1 at `out`:
 * returns the chosen entry's index and overwrites the pick's other entries with ROUTE_SKIPPED.
 * Entries of other tags and ROUTE_SKIPPED ones are passed over. Exported for the engine's
 * per-record path; inlined here into dispatchBatch (an exported @inline function is both).
 */
// @ts-ignore: decorator
@inline export function pickLeastLoaded(out: usize, from: u32, n: u32, tag: u32, rings: usize): u32 {
  let best = from;
  let bestDepth: u32 = 0;
  let measured = false; // a pick of one (the usual case on resuming) loads no ring word
  for (let k = from + 1; k < n; k++) {
    const entry = load<u32>(out + <usize>k * 4);
    if (entry == ROUTE_SKIPPED || (entry & ROUTE_TAG_MASK) != tag) continue;
    if (!measured) {
      bestDepth = producerDepth(<usize>load<u32>(rings + <usize>(load<u32>(out + <usize>best * 4) >>> ROUTE_RING_SHIFT) * 4));
      measured = true;
    }
    const depth = producerDepth(<usize>load<u32>(rings + <usize>(entry >>> ROUTE_RING_SHIFT) * 4));
    if (depth < bestDepth) {
      store<u32>(out + <usize>best * 4, ROUTE_SKIPPED);
      best = k;
      bestDepth = depth;
    } else {
      store<u32>(out + <usize>k * 4, ROUTE_SKIPPED);
    }
  }
  return best;
}

export function dispatchBatch(
  router: usize, thread: u32, topic: u32, src: usize, count: u32, stride: u32,
  keyKind: u32, keyOffset: u32, keyLength: u32, rings: usize, tagOffset: u32, pushed: usize,
  balance: usize, out: usize, result: usize,
): i32 {
  let routed: u32 = 0;
  let unrouted: u32 = 0;
  if ((stride & (RING_RECORD_ALIGN - 1)) != 0) {
    store<u32>(result + DISPATCH_ROUTED_OFFSET, 0);
    store<u32>(result + DISPATCH_UNROUTED_OFFSET, 0);
    return -STATUS_INVALID;
  }
  for (let i: u32 = 0; i < count; i++) {
    const record = src + <usize>i * stride;
    const n = routerRoute(router, thread, topic, <u32>keyHash(record, keyKind, keyOffset, keyLength), out);
    if (n < 0) {
      store<u32>(result + DISPATCH_ROUTED_OFFSET, routed);
      store<u32>(result + DISPATCH_UNROUTED_OFFSET, unrouted);
      return -STATUS_INVALID;
    }
    if (n == 0) unrouted++;
    for (let j: u32 = 0; j < <u32>n; j++) {
      const entry = load<u32>(out + <usize>j * 4);
      if (entry == ROUTE_SKIPPED) continue;
      const tag = entry & ROUTE_TAG_MASK;
      // Not the chosen one: it is ROUTE_SKIPPED now; the chosen entry is pushed at its own index.
      if (balance != 0 && load<u8>(balance + <usize>tag) != 0 && pickLeastLoaded(out, j, <u32>n, tag, rings) != j) continue;
      const ring = <usize>(entry >>> ROUTE_RING_SHIFT);
      store<u16>(record + tagOffset, <u16>tag);
      // ringTryPushBytes, written out: the stride's alignment was checked once, above (calling it
      // instead measured 0.980× and 0.991× on the one-to-one case, same-process A/B).
      const target = <usize>load<u32>(rings + ring * 4);
      if (stride > load<u32>(target + RING_RECORD_SIZE_OFFSET)) {
        store<u32>(result + DISPATCH_ROUTED_OFFSET, routed);
        store<u32>(result + DISPATCH_UNROUTED_OFFSET, unrouted);
        return -STATUS_INVALID;
      }
      const slot = ringTryClaim(target);
      if (slot >= <usize>ADDRESS_MIN) memory.copy(slot, record, stride);
      else {
        store<u32>(result + DISPATCH_ROUTED_OFFSET, routed);
        store<u32>(result + DISPATCH_UNROUTED_OFFSET, unrouted);
        store<u32>(result + DISPATCH_FAILED_ENTRY_OFFSET, j);
        store<u32>(result + DISPATCH_ENTRY_COUNT_OFFSET, <u32>n);
        return <i32>i;
      }
      store<u32>(pushed + ring * 4, load<u32>(pushed + ring * 4) + 1);
      routed++;
    }
  }
  store<u32>(result + DISPATCH_ROUTED_OFFSET, routed);
  store<u32>(result + DISPATCH_UNROUTED_OFFSET, unrouted);
  store<u32>(result + DISPATCH_FAILED_ENTRY_OFFSET, 0);
  store<u32>(result + DISPATCH_ENTRY_COUNT_OFFSET, 0);
  return <i32>count;
}
