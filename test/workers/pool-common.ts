/**
 * The cross-thread pool test's shared plan: a test region in the main thread's scratch block
 * (control words, per-slot counters, one SPSC mailbox per ordered pair of peers) and the contents
 * every message slot carries. Built from plain Atomics so the test depends on the pool alone, not
 * on the ring.
 *
 *   region
 *   ┌──────────────┬──────────────────┬────────────────────┬──────────────────────────────────┐
 *   │ READY, ABORT │ ALLOC_COUNTS     │ RELEASE_COUNTS     │ mailbox[from·PEERS + to] …        │
 *   │              │ SLOT_COUNT × u32 │ SLOT_COUNT × u32   │ HEAD | TAIL | CAPACITY × u32     │
 *   └──────────────┴──────────────────┴────────────────────┴──────────────────────────────────┘
 *
 * Mailbox: HEAD written by the sender only, TAIL by the receiver only, two lines apart.
 * Slot (SLOT_BYTES): OWNER (0 = in the pool, else peer + 1; moved only by CAS, so a slot held by
 * two peers at once is caught) | SENDER | SEQ (per sender→receiver pair) | CHECK | FILL words.
 */
import { FALSE_SHARING_STRIDE } from '../../assembly/layout/arena.ts';

export const CONTROL_READY_OFFSET = 0;
export const CONTROL_ABORT_OFFSET = CONTROL_READY_OFFSET + 4;
export const COUNTS_OFFSET = FALSE_SHARING_STRIDE;

export const MAILBOX_CAPACITY = 16;
export const MAILBOX_HEAD_OFFSET = 0;
export const MAILBOX_TAIL_OFFSET = MAILBOX_HEAD_OFFSET + FALSE_SHARING_STRIDE;
export const MAILBOX_ENTRIES_OFFSET = MAILBOX_TAIL_OFFSET + FALSE_SHARING_STRIDE;
export const MAILBOX_BYTES = align(MAILBOX_ENTRIES_OFFSET + MAILBOX_CAPACITY * 4);

export const SLOT_OWNER_OFFSET = 0;
export const SLOT_SENDER_OFFSET = SLOT_OWNER_OFFSET + 4;
export const SLOT_SEQ_OFFSET = SLOT_SENDER_OFFSET + 4;
export const SLOT_CHECK_OFFSET = SLOT_SEQ_OFFSET + 4;
export const SLOT_FILL_OFFSET = SLOT_CHECK_OFFSET + 4;
export const SLOT_FILL_WORDS = 4;
export const SLOT_BYTES = SLOT_FILL_OFFSET + SLOT_FILL_WORDS * 4;

function align(bytes: number): number {
  return Math.ceil(bytes / FALSE_SHARING_STRIDE) * FALSE_SHARING_STRIDE;
}

/** Byte offsets inside the region for a run with `peers` threads and a pool of `slotCount`. */
export interface RegionLayout { allocCounts: number; releaseCounts: number; mailboxes: number; bytes: number }
export function regionLayout(peers: number, slotCount: number): RegionLayout {
  const allocCounts = COUNTS_OFFSET;
  const releaseCounts = allocCounts + align(slotCount * 4);
  const mailboxes = releaseCounts + align(slotCount * 4);
  return { allocCounts, releaseCounts, mailboxes, bytes: mailboxes + peers * peers * MAILBOX_BYTES };
}

export function mailboxAddress(region: number, layout: RegionLayout, peers: number, from: number, to: number): number {
  return region + layout.mailboxes + (from * peers + to) * MAILBOX_BYTES;
}

/** The peer that receives `sender`'s k-th message: every other peer in turn. */
export function receiverOf(sender: number, k: number, peers: number): number {
  return (sender + 1 + (k % (peers - 1))) % peers;
}

/** How many of `sender`'s `messages` go to `receiver`. */
export function messagesBetween(sender: number, receiver: number, messages: number, peers: number): number {
  let count = 0;
  for (let k = 0; k < messages; k++) if (receiverOf(sender, k, peers) === receiver) count++;
  return count;
}

/** Ties a slot's words together: a torn, stale or mixed-up slot fails this. */
export function checkOf(sender: number, seq: number): number {
  return (Math.imul(seq ^ 0x2545f491, 0x9e3779b1) + Math.imul(sender + 1, 0x85ebca6b)) | 0;
}

export interface PoolPeerData {
  peer: number;
  peers: number;
  messages: number;
  /** Absolute address of the pool and of the test region. */
  pool: number;
  region: number;
  /** Date.now() after which every wait gives up and reports failure. */
  deadline: number;
}

export interface PoolPeerReport {
  errors: string[];
  sent: number;
  received: number;
  /** poolTryAlloc calls that found no free slot (informational: depends on scheduling). */
  exhausted: number;
}
