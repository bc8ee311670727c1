/**
 * One peer of the cross-thread pool test: allocates slots, stamps them (owner, sender, seq, check,
 * fill) and mails their addresses to the other peers in turn; drains its own mailboxes, checks
 * every slot it receives and releases it. Every slot moves between owners only by CAS on its OWNER
 * word, so the pool handing one slot to two peers at once is caught. Every wait gives up at the
 * deadline and reports failure; any failure raises ABORT so the other peers stop too.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ADDRESS_MIN } from '../../assembly/layout/arena.ts';
import { POOL_SLOT_COUNT_OFFSET, POOL_SLOT_SIZE_OFFSET, POOL_SLOTS_OFFSET_OFFSET } from '../../assembly/layout/pool.ts';
import { STATUS_EXHAUSTED, STATUS_OK } from '../../assembly/layout/status.ts';
import { attach, type WorkerBase } from './attach.ts';
import {
  CONTROL_ABORT_OFFSET, CONTROL_READY_OFFSET, MAILBOX_CAPACITY, MAILBOX_ENTRIES_OFFSET, MAILBOX_HEAD_OFFSET,
  MAILBOX_TAIL_OFFSET, SLOT_CHECK_OFFSET, SLOT_FILL_OFFSET, SLOT_FILL_WORDS, SLOT_OWNER_OFFSET, SLOT_SENDER_OFFSET,
  SLOT_SEQ_OFFSET, checkOf, mailboxAddress, messagesBetween, receiverOf, regionLayout, type PoolPeerData,
  type PoolPeerReport,
} from './pool-common.ts';

const data = workerData as WorkerBase & PoolPeerData;
const { core, i32 } = attach(data);
const { peer: me, peers, messages, pool, region, deadline } = data;
const slotCount = i32[(pool + POOL_SLOT_COUNT_OFFSET) >> 2]!;
const slotSize = i32[(pool + POOL_SLOT_SIZE_OFFSET) >> 2]!;
const slots = pool + i32[(pool + POOL_SLOTS_OFFSET_OFFSET) >> 2]!;
const layout = regionLayout(peers, slotCount);
const abortAt = (region + CONTROL_ABORT_OFFSET) >> 2;

/** Rounds without progress before a peer sleeps briefly, and for how long (milliseconds). */
const IDLE_ROUNDS_BEFORE_YIELD = 256;
const YIELD_MS = 0.05;

const errors: string[] = [];
function fail(message: string): void {
  if (errors.length < 10) errors.push(`peer ${me}: ${message}`);
  Atomics.store(i32, abortAt, 1);
}

/** Slot index of `slot`, or -1 if it is not the start of a slot of this pool. */
function indexOf(slot: number): number {
  const offset = slot - slots;
  return offset >= 0 && offset % slotSize === 0 && offset / slotSize < slotCount ? offset / slotSize : -1;
}

const outboxes = Array.from({ length: peers }, (_, to) => mailboxAddress(region, layout, peers, me, to));
const inboxes = Array.from({ length: peers }, (_, from) => mailboxAddress(region, layout, peers, from, me));
const seqTo = new Int32Array(peers);
const seqFrom = new Int32Array(peers);
let expected = 0;
for (let from = 0; from < peers; from++) if (from !== me) expected += messagesBetween(from, me, messages, peers);

let sent = 0;
let received = 0;
let exhausted = 0;

/** Takes one slot address from `from`'s mailbox, or 0 when it is empty. */
function receive(from: number): number {
  const box = inboxes[from]!;
  const tail = i32[(box + MAILBOX_TAIL_OFFSET) >> 2]!; // only this thread writes TAIL
  // Pairs with the sender's Atomics.store of HEAD after it wrote the entry.
  if (Atomics.load(i32, (box + MAILBOX_HEAD_OFFSET) >> 2) === tail) return 0;
  const slot = i32[(box + MAILBOX_ENTRIES_OFFSET + (tail & (MAILBOX_CAPACITY - 1)) * 4) >> 2]!;
  // Frees the entry (pairs with the sender's Atomics.load of TAIL when the mailbox looks full).
  Atomics.store(i32, (box + MAILBOX_TAIL_OFFSET) >> 2, tail + 1);
  return slot;
}

function outboxFull(to: number): boolean {
  const box = outboxes[to]!;
  return i32[(box + MAILBOX_HEAD_OFFSET) >> 2]! - Atomics.load(i32, (box + MAILBOX_TAIL_OFFSET) >> 2) === MAILBOX_CAPACITY;
}

function send(to: number, slot: number): void {
  const box = outboxes[to]!;
  const head = i32[(box + MAILBOX_HEAD_OFFSET) >> 2]!; // only this thread writes HEAD
  i32[(box + MAILBOX_ENTRIES_OFFSET + (head & (MAILBOX_CAPACITY - 1)) * 4) >> 2] = slot;
  // Publishes the entry and the slot's contents (pairs with the receiver's Atomics.load of HEAD).
  Atomics.store(i32, (box + MAILBOX_HEAD_OFFSET) >> 2, head + 1);
}

function handle(from: number, slot: number): void {
  const index = indexOf(slot);
  if (index < 0) return fail(`received ${slot}, not a slot address`);
  const w = slot >> 2;
  const owner = Atomics.compareExchange(i32, w + (SLOT_OWNER_OFFSET >> 2), from + 1, me + 1);
  if (owner !== from + 1) return fail(`slot ${index} from peer ${from} is owned by ${owner - 1}`);
  const seq = i32[w + (SLOT_SEQ_OFFSET >> 2)]!;
  const check = i32[w + (SLOT_CHECK_OFFSET >> 2)]!;
  if (i32[w + (SLOT_SENDER_OFFSET >> 2)] !== from || seq !== seqFrom[from] || check !== checkOf(from, seq)) {
    return fail(`slot ${index} from peer ${from}: sender ${i32[w + (SLOT_SENDER_OFFSET >> 2)]} seq ${seq} (expected ${seqFrom[from]}) check ${check}`);
  }
  for (let k = 0; k < SLOT_FILL_WORDS; k++) {
    if (i32[w + (SLOT_FILL_OFFSET >> 2) + k] !== (check ^ k)) return fail(`slot ${index} from peer ${from}: fill word ${k} torn`);
  }
  seqFrom[from]! += 1;
  received++;
  Atomics.add(i32, (region + layout.releaseCounts + index * 4) >> 2, 1);
  // Back to "in the pool" before the release, so the next allocator's CAS 0 → owner can succeed.
  const mine = Atomics.compareExchange(i32, w + (SLOT_OWNER_OFFSET >> 2), me + 1, 0);
  if (mine !== me + 1) return fail(`slot ${index} taken from peer ${me} by ${mine - 1} while held`);
  const status = core.poolRelease(pool, slot);
  if (status !== STATUS_OK) fail(`poolRelease(slot ${index}) returned ${status}`);
}

function trySendNext(): void {
  const to = receiverOf(me, sent, peers);
  if (outboxFull(to)) return;
  const slot = core.poolTryAlloc(pool);
  if (slot === STATUS_EXHAUSTED) {
    exhausted++;
    return;
  }
  const index = slot >= ADDRESS_MIN ? indexOf(slot) : -1;
  if (index < 0) return fail(`poolTryAlloc returned ${slot}`);
  const w = slot >> 2;
  const owner = Atomics.compareExchange(i32, w + (SLOT_OWNER_OFFSET >> 2), 0, me + 1);
  if (owner !== 0) return fail(`allocated slot ${index} while peer ${owner - 1} holds it`);
  Atomics.add(i32, (region + layout.allocCounts + index * 4) >> 2, 1);
  const seq = seqTo[to]!;
  const check = checkOf(me, seq);
  i32[w + (SLOT_SENDER_OFFSET >> 2)] = me;
  i32[w + (SLOT_SEQ_OFFSET >> 2)] = seq;
  i32[w + (SLOT_CHECK_OFFSET >> 2)] = check;
  for (let k = 0; k < SLOT_FILL_WORDS; k++) i32[w + (SLOT_FILL_OFFSET >> 2) + k] = check ^ k;
  seqTo[to] = seq + 1;
  // Hand over: the receiver CASes OWNER from me + 1 to itself.
  send(to, slot);
  sent++;
}

function run(): void {
  // Start together, so the peers really contend.
  Atomics.add(i32, (region + CONTROL_READY_OFFSET) >> 2, 1);
  while (Atomics.load(i32, (region + CONTROL_READY_OFFSET) >> 2) < peers) {
    if (Date.now() > deadline) return fail('timed out at the start barrier');
  }
  let rounds = 0;
  let idle = 0;
  while ((sent < messages || received < expected) && Atomics.load(i32, abortAt) === 0) {
    const progress = sent + received;
    for (let from = 0; from < peers; from++) {
      if (from === me) continue;
      for (let slot = receive(from); slot !== 0; slot = receive(from)) handle(from, slot);
    }
    if (sent < messages) trySendNext();
    // With more peers than cores, the slots a stalled peer needs may sit in the mailbox of a peer
    // that is not running: after a stretch without progress, give the core away for a moment
    // (nobody notifies ABORT's address, so this is a bounded sleep, not a handshake).
    idle = sent + received === progress ? idle + 1 : 0;
    if (idle >= IDLE_ROUNDS_BEFORE_YIELD) {
      Atomics.wait(i32, abortAt, 0, YIELD_MS);
      idle = 0;
    }
    if ((++rounds & 1023) === 0 && Date.now() > deadline) {
      return fail(`timed out: sent ${sent}/${messages}, received ${received}/${expected}, exhausted ${exhausted}`);
    }
  }
}

run();
const report: PoolPeerReport = { errors, sent, received, exhausted };
parentPort!.postMessage(report);
