/**
 * Engine layout: what the engine keeps in the arena besides the core structures, and the header of
 * every record it sends through a lane.
 *
 * Threads: thread 0 is the thread that created the engine (the "main" thread), threads 1..N are the
 * engine's workers. Lane (p → c, k) is the SPSC ring whose producer is thread p and whose consumer
 * is thread c, for messages of priority class k (PRIORITY_*: 0 high, 1 normal, 2 low); ring index
 * (k·THREADS + p)·THREADS + c in the arena directory. Thread 0 consumes only replies and dead
 * letters. A thread numbers its lanes by one key per direction: outbound key k·THREADS + c (the
 * producer's pending counts, backlogs, spill regions, lane stats), inbound key k·THREADS + p (the
 * consumer's drain order and the handled cursor's HANDLED_LANE).
 *
 * ── Record (one ring record; RECORD_HEADER_BYTES + the largest message, rounded to 8) ──────────
 *
 * | offset | size | field          | meaning                                                         |
 * |--------|------|----------------|-----------------------------------------------------------------|
 * | 0      | 2    | TOPIC          | topic id (declaration order)                                    |
 * | 2      | 2    | SUBSCRIPTION   | subscription slot whose handler runs it, or REPLY_SUBSCRIPTION   |
 * | 4      | 4    | CORRELATION    | request id (0: not a request); a reply carries its request's id  |
 * | 8      | 2    | REPLY_TO       | thread that waits for the reply                                  |
 * | 10     | 2    | FLAGS          | low byte: RECORD_FLAG_* (FAILED: a reply of a failed             |
 * |        |      |                | request; STAMPED: sampled for latency, set by the producer in    |
 * |        |      |                | the lane; ADMITTED; POOLED: the message is in a fan-out pool     |
 * |        |      |                | slot, fan-out-pool.ts), or a dead letter's DEAD_LETTER_* reason; |
 * |        |      |                | high byte: the priority class (PRIORITY_*), which picks the lane |
 * | 12     | 2    | CRASHES        | deliveries of this record that crashed or hung their worker      |
 * |        |      |                | (0 when published; the supervisor adds 1 in the lane, in place)  |
 * | 14     | 2    | LETTER/CLAIM   | a dead letter: slot it was meant for + (its worker thread << 10);|
 * |        |      |                | a record of a stealing group in a lane: its CLAIM_* (stealer.ts) |
 * | 16     | ...  | message        | the topic's schema (a reply: the topic's reply schema); POOLED:  |
 * |        |      |                | the u32 address of the pool slot that holds it                   |
 *
 * Written by the lane's producer before the flush that publishes it (ring HEAD store), read by the
 * consumer after the HEAD load that pairs with it: plain memory. (CRASHES is the exception: the
 * engine's thread writes it into a dead consumer's lane before the successor starts.)
 *
 * ── Thread control block (the first CONTROL bytes of each thread's arena scratch block) ────────
 *
 * Every word below has one writer, the block's owner, except DOORBELL, URGENT and CLASSES (any producer)
 * and COMMAND (thread 0). Counters that other threads only report are plain f64 ("may be late"); the ones drain
 * reasons about are u32 written with Atomics.store.
 *
 * | offset | size | field         | writer      | readers        | access |
 * |--------|------|---------------|-------------|----------------|--------|
 * | 0      | 4    | DOORBELL      | producers   | owner          | atomic (add + notify) |
 * | 4      | 4    | URGENT        | producers, owner | owner     | atomic: 1 once a producer flushed a high-priority record to the owner; the owner clears it at the start of a pass and stops a lower class's drain when it is set |
 * | 8      | 4    | CLASSES       | producers   | owner          | atomic: bit k set once some producer flushed a record of class k to the owner (Atomics.or before that first HEAD store); the owner polls only those classes' lanes, and always normal's |
 * | 128    | 4    | SLEEPING      | owner       | producers      | atomic |
 * | 256    | 4    | STATE         | owner*      | thread 0, producers | atomic: THREAD_*; (*) thread 0 sets RESTARTING for a dead owner |
 * | 260    | 4    | COMMAND       | thread 0    | owner          | atomic |
 * | 264    | 4    | LEASE         | thread 0    | owner          | atomic: the generation of the thread that may run this worker; 0: revoked |
 * | 268    | 4    | BUSY          | owner       | thread 0, workers | atomic: a worker: 1 from the start of a loop pass (stored before LEASE is checked) until it parks or yields; thread 0: 1 from a task's first publish until its flush. Idle workers count the BUSY threads before they spin (worker.ts) |
 * | 272    | 4    | REPORTS       | owner*      | thread 0       | atomic: messages the owner posted to thread 0 that drain waits for (handler-error reports), added before each post; (*) thread 0 zeroes it before a successor starts |
 * | 384    | 4    | ACCEPTED      | owner       | thread 0       | atomic: lane records this thread made visible or took into a backlog (mod 2^32) |
 * | 388    | 4    | COMPLETED     | owner       | thread 0       | atomic: records it handled and committed, plus backlog records it dropped (mod 2^32) |
 * | 392    | 4    | BACKLOG       | owner       | thread 0       | atomic: records waiting in its backlogs |
 * | 400    | 8    | START_MS      | owner       | any            | plain f64: epoch ms when the thread started its loop |
 * | 408    | 8    | IDLE_MS       | owner       | any            | plain f64: ms spent spinning or parked with nothing to do (closed episodes) |
 * | 416    | 8    | IDLE_SINCE_MS | owner       | any            | plain f64: epoch ms the current idle episode began, 0 while busy |
 * | 424    | 8    | LATE_REPLIES  | owner       | any            | plain f64: replies that came after the requester gave up |
 * | 432    | 4    | HANDLED_LANE  | owner       | thread 0       | plain i32: 1 + producer of the lane whose batch is being handled, 0 between batches; + HANDLED_COUNTED once the batch's COMPLETED is added |
 * | 436    | 4    | HANDLED       | owner       | thread 0       | plain u32: ring index after the last record of that lane whose handler returned (the handled cursor) |
 * | 440    | 4    | STEALING      | owner       | thread 0       | atomic: address of the record it stole and is running (stealer.ts), 0 otherwise |
 * | 444    | 4    | STEAL         | thread 0, workers | workers  | only thread 0's block: atomic bits, sticky: CLAIMS_STEAL once some subscription steals (idle workers look for records to steal), CLAIMS_ASYNC once some handler returned a Promise (consumers read every record's CLAIM: DONE ones completed out of order) |
 * | 512    | 16×192| lane stats   | owner       | any            | per outbound key (class k, consumer c < MAX_THREADS): f64 published, f64 high-water mark of lane (owner → c, k) |
 * | TOPICS | 128×n| topic stats   | owner       | any            | per topic: TOPIC_STAT_* f64 counters |
 * | ADMISSION | 16×n | admission   | any         | any            | only thread 0's block, per topic: i32 IN_FLIGHT (deliveries admitted, not yet handled), i32 TOKENS and LAST of its rate's bucket (compare-exchange: admission.ts) |
 * | SUBS   | 28×m | subscriptions | thread 0    | all            | only thread 0's block: SLOT_ENTRY_BYTES per slot (subscription-table.ts) |
 * | BALANCES | 1×m | balances     | thread 0    | all            | only thread 0's block: u8 BALANCE_* per slot (subscription-table.ts) |
 * | CIRCUITS | 8×m | circuits     | owner       | any            | per slot: i32 CIRCUIT_* state of the owner's breaker, i32 times it opened |
 *
 * HANDLED_LANE and HANDLED are the handled cursor crash recovery reads once the owner is dead
 * (supervisor.ts): plain stores, one per handled record, read only after the thread is gone (or
 * sampled by the hung-handler watchdog, which tolerates a stale value).
 *
 * Every word is reached through ControlBlock (control-block.ts); the subscription and balance
 * tables through SubscriptionTable (subscription-table.ts), which documents their entries.
 *
 * ── Scratch block (the rest of each thread's arena scratch block, after its control block) ─────
 *
 * One staging record per topic (the writer of `writer(topic)`), a reply staging record, a
 * caller-runs record, the pooled record of a fan-out (fan-out-pool.ts), the router's output (route entries: u32 per router subscription),
 * dispatchBatch's ring tables (u32 per outbound key: one table of T lanes per class) and push
 * counts (u32 per thread) and result block, BATCH_RECORDS records of publishBatch staging, and
 * a spill region per outbound key (a worker's backlogs, which outlive it: backlog.ts): offsets
 * in ScratchLayout, placed by scratchLayout().
 */

import { FALSE_SHARING_STRIDE, MAX_THREADS } from '../../assembly/layout/arena.ts';
import { DISPATCH_RESULT_BYTES, ROUTE_RING_SHIFT, ROUTE_TAG_MASK } from '../../assembly/layout/dispatch.ts';
import { RING_DATA_OFFSET, RING_MASK_OFFSET, RING_RECORD_SIZE_OFFSET } from '../../assembly/layout/ring.ts';
import { spillRegionBytes } from './backlog.ts';
import { SLOT_ENTRY_BYTES } from './subscription-table.ts';

/** Highest number of workers (thread 0 + workers ≤ MAX_THREADS). */
export const MAX_WORKERS = MAX_THREADS - 1;

// ── record header ──────────────────────────────────────────────────────────────────────────────
export const RECORD_TOPIC_OFFSET = 0;
export const RECORD_SUBSCRIPTION_OFFSET = RECORD_TOPIC_OFFSET + 2;
export const RECORD_CORRELATION_OFFSET = RECORD_SUBSCRIPTION_OFFSET + 2;
export const RECORD_REPLY_TO_OFFSET = RECORD_CORRELATION_OFFSET + 4;
export const RECORD_FLAGS_OFFSET = RECORD_REPLY_TO_OFFSET + 2;
export const RECORD_CRASHES_OFFSET = RECORD_FLAGS_OFFSET + 2;
export const RECORD_LETTER_OFFSET = RECORD_CRASHES_OFFSET + 2;
/** LETTER = slot | thread << LETTER_THREAD_SHIFT (slots < 1024: options.ts MAX_SUBSCRIPTIONS). */
export const LETTER_THREAD_SHIFT = 10;
/** The same u16 in a lane record of a stealing group: who runs it (stealer.ts). */
export const RECORD_CLAIM_OFFSET = RECORD_LETTER_OFFSET;
export const CLAIM_FREE = 0; // nobody yet (as published)
export const CLAIM_OWNER = 1; // the lane's consumer took it
export const CLAIM_STOLEN = 2; // a thief runs it: the owner stops before it
export const CLAIM_DONE = 3; // a thief ran it, or it completed out of order (async handlers): the owner commits past it without running it
/** Thread 0's STEAL word, bits: some subscription steals; some handler returned a Promise. */
export const CLAIMS_STEAL = 1;
/** A slot entry's HANDLER for a subscription of the engine's own thread (engine.consume): its thread's local handler for the slot. */
export const LOCAL_HANDLER = 0xffff;
export const CLAIMS_ASYNC = 2;
/** Added to a STEALING address (records are 8-aligned) while the stolen record's async handler is pending: not running, still the thief's. */
export const STEALING_PENDING = 1;
export const RECORD_HEADER_BYTES = 16;
/**
 * Bytes a record of a topic uses: the header and its message or reply, whichever is larger,
 * rounded to 8. A lane's records are all the size of the largest topic's (EngineShape.recordSize);
 * a record is copied (pushed, staged, spilled) by its own topic's bytes, so declaring one large
 * topic does not make every small message cost its size.
 */
export function recordBytesOf(messageBytes: number, replyBytes: number): number {
  return RECORD_HEADER_BYTES + Math.ceil(Math.max(messageBytes, replyBytes) / 8) * 8;
}
/** SUBSCRIPTION value of a reply record: the highest u16, above every slot (options.ts MAX_SUBSCRIPTIONS). */
export const REPLY_SUBSCRIPTION = 0xffff;
/** SUBSCRIPTION value of a dead letter a worker sends to thread 0 (its slot and thread are in LETTER). */
export const DEAD_LETTER_SUBSCRIPTION = 0xfffe;
/** FLAGS of a dead letter: why. */
export const DEAD_LETTER_CRASHED = 1;
export const DEAD_LETTER_HUNG = 2;
export const DEAD_LETTER_CIRCUIT_OPEN = 3;
/** FLAGS bit: the request's handler threw; the reply carries no message. */
export const RECORD_FLAG_FAILED = 1;
/** FLAGS bit: sampled for latency: its lane's STAMP TIMES entry holds when it was pushed (latency.ts). Never on a reply or dead letter. */
export const RECORD_FLAG_STAMPED = 2;
/** FLAGS bit: the delivery holds one of its topic's in-flight places (admission.ts); released once handled. */
export const RECORD_FLAG_ADMITTED = 4;
/** FLAGS bit: the message is in a fan-out pool slot, whose address follows the header (fan-out-pool.ts). Never on a reply, a dead letter or a backlog's record. */
export const RECORD_FLAG_POOLED = 8;
/** A pooled record's slot address (after the header), and the bytes such a record uses in a lane: fan-out-pool.ts. */
export const RECORD_POOL_SLOT_OFFSET = RECORD_HEADER_BYTES;
export const POOLED_RECORD_BYTES = RECORD_HEADER_BYTES + 8;
/** FLAGS: the low byte holds flags or a dead letter's reason, the high byte the priority class. */
export const RECORD_FLAGS_MASK = 0xff;
export const RECORD_PRIORITY_SHIFT = 8;

// ── priority classes ───────────────────────────────────────────────────────────────────────────
export const PRIORITY_HIGH = 0;
export const PRIORITY_NORMAL = 1;
export const PRIORITY_LOW = 2;
/** Lanes per (producer, consumer) pair: one per class. */
export const PRIORITY_CLASSES = 3;
export const PRIORITY_NAMES = ['high', 'normal', 'low'] as const;

// ── thread control block ───────────────────────────────────────────────────────────────────────
// Words written by different threads (DOORBELL: producers; SLEEPING: the owner) and the owner's
// own groups sit FALSE_SHARING_STRIDE apart.
export const CONTROL_DOORBELL_OFFSET = 0;
export const CONTROL_URGENT_OFFSET = CONTROL_DOORBELL_OFFSET + 4;
export const CONTROL_CLASSES_OFFSET = CONTROL_URGENT_OFFSET + 4;
export const CONTROL_SLEEPING_OFFSET = CONTROL_DOORBELL_OFFSET + FALSE_SHARING_STRIDE;
export const CONTROL_STATE_OFFSET = CONTROL_SLEEPING_OFFSET + FALSE_SHARING_STRIDE;
export const CONTROL_COMMAND_OFFSET = CONTROL_STATE_OFFSET + 4;
export const CONTROL_LEASE_OFFSET = CONTROL_COMMAND_OFFSET + 4;
export const CONTROL_BUSY_OFFSET = CONTROL_LEASE_OFFSET + 4;
export const CONTROL_REPORTS_OFFSET = CONTROL_BUSY_OFFSET + 4;
export const CONTROL_ACCEPTED_OFFSET = CONTROL_STATE_OFFSET + FALSE_SHARING_STRIDE;
export const CONTROL_COMPLETED_OFFSET = CONTROL_ACCEPTED_OFFSET + 4;
export const CONTROL_BACKLOG_OFFSET = CONTROL_COMPLETED_OFFSET + 4;
export const CONTROL_START_MS_OFFSET = CONTROL_BACKLOG_OFFSET + 8;
export const CONTROL_IDLE_MS_OFFSET = CONTROL_START_MS_OFFSET + 8;
export const CONTROL_IDLE_SINCE_MS_OFFSET = CONTROL_IDLE_MS_OFFSET + 8;
export const CONTROL_LATE_REPLIES_OFFSET = CONTROL_IDLE_SINCE_MS_OFFSET + 8;
export const CONTROL_HANDLED_LANE_OFFSET = CONTROL_LATE_REPLIES_OFFSET + 8;
export const CONTROL_HANDLED_OFFSET = CONTROL_HANDLED_LANE_OFFSET + 4;
export const CONTROL_STEALING_OFFSET = CONTROL_HANDLED_OFFSET + 4;
export const CONTROL_STEAL_OFFSET = CONTROL_STEALING_OFFSET + 4;
/** Added to HANDLED_LANE once the batch's records are counted COMPLETED (its commit may still be due). */
export const HANDLED_COUNTED = 0x10000;
/**
 * Added to HANDLED_LANE while a lane with async deliveries pending is drained (consumer.ts): HANDLED
 * is then the ring index of the record being run (READ is past it while it runs), nothing from
 * TAIL on is counted yet, and completed records are marked CLAIM_DONE instead of committed.
 */
export const HANDLED_ASYNC = 0x20000;
export const CONTROL_LANE_STATS_OFFSET = CONTROL_ACCEPTED_OFFSET + FALSE_SHARING_STRIDE;
export const LANE_STAT_PUBLISHED = 0;
export const LANE_STAT_HIGH_WATER = 1;
/** f64 counters per lane. */
export const LANE_STAT_COUNT = 2;
export const LANE_STAT_BYTES = LANE_STAT_COUNT * 8;
/** Lane stats room for MAX_THREADS consumers × PRIORITY_CLASSES. */
export const CONTROL_TOPIC_STATS_OFFSET = CONTROL_LANE_STATS_OFFSET + MAX_THREADS * PRIORITY_CLASSES * LANE_STAT_BYTES;

/** STATE values. */
export const THREAD_STARTING = 0;
export const THREAD_RUNNING = 1;
export const THREAD_STOPPED = 2;
/** Set by thread 0 for a dead worker until its successor runs (recovery.ts). */
export const THREAD_RESTARTING = 3;
/** COMMAND values. */
export const COMMAND_RUN = 0;
export const COMMAND_STOP = 1;

/** Per-topic f64 counters, counted by the thread that did the thing (sum over threads). */
export const TOPIC_STAT_PUBLISHED = 0; // publish() calls accepted by at least one lane, or run inline
export const TOPIC_STAT_UNROUTED = 1; // publish() calls that found no subscription
export const TOPIC_STAT_ROUTED = 2; // lane copies produced by routing (one per receiving subscription member)
export const TOPIC_STAT_DELIVERED = 3; // handler invocations that returned (or threw), workers and caller-runs
export const TOPIC_STAT_DROPPED_OLDEST = 4;
export const TOPIC_STAT_DROPPED_NEWEST = 5;
export const TOPIC_STAT_REJECTED = 6;
export const TOPIC_STAT_CALLER_RUNS = 7; // of DELIVERED, how many ran on the publishing thread
export const TOPIC_STAT_HANDLER_ERRORS = 8;
export const TOPIC_STAT_REDELIVERED = 9; // of DELIVERED, calls with ctx.deliveries > 1
export const TOPIC_STAT_CRASHED = 10; // deliveries that crashed or hung their worker (thread 0 counts them)
export const TOPIC_STAT_DEAD_LETTERED = 11;
export const TOPIC_STAT_CIRCUIT_OPEN = 12; // of DEAD_LETTERED, by an open circuit
export const TOPIC_STAT_LOST = 13; // accepted records written off (a worker that stays down, a dead worker's own backlog)
export const TOPIC_STAT_BACKLOGGED = 14; // gauge: the owner's backlog records of this topic (what a crash of the owner loses)
export const TOPIC_STAT_ADMISSION_REFUSED = 15; // deliveries refused because the topic had maxInFlight in flight
export const TOPIC_STAT_SHED = 16; // deliveries shed at publish time, per class: SHED + class (3 counters)
export const TOPIC_STAT_RATE_LIMITED = 19; // publishes refused because the topic's rate had no token left (not routed)
export const TOPIC_STAT_STOLEN = 20; // of DELIVERED, deliveries a thief took from another member's lane
export const TOPIC_STAT_POOLED = 21; // publishes whose message went to its receivers through one fan-out pool slot
export const TOPIC_STAT_POOL_EXHAUSTED = 22; // publishes that would have, but found no free slot (copied per receiver)
export const TOPIC_STAT_COUNT = 23;
/** Admission words per topic: i32 IN_FLIGHT, TOKENS, LAST, one spare (admission.ts). */
export const ADMISSION_BYTES = 16;
/** Room per topic: 24 f64 counters (TOPIC_STAT_COUNT used), so counters can be added in place. */
export const TOPIC_STAT_BYTES = 24 * 8;
/** Records publishBatch stages per dispatchBatch call. */
export const BATCH_RECORDS = 256;

/** A circuit breaker's state word (and its "opened" counter after it): CIRCUIT_BYTES per slot. */
export const CIRCUIT_CLOSED = 0;
export const CIRCUIT_OPEN = 1;
export const CIRCUIT_HALF_OPEN = 2;
export const CIRCUIT_BYTES = 8;

export const POLICY_BLOCK = 1;
export const POLICY_REJECT = 2;
export const POLICY_DROP_OLDEST = 3;
export const POLICY_DROP_NEWEST = 4;
export const POLICY_CALLER_RUNS = 5;

/** Byte offsets inside a thread's control block, for `topics` topics and `subscriptions` slots. */
export interface ControlLayout {
  readonly topicStats: number;
  /** Admission words: ADMISSION_BYTES per topic (thread 0's block: admission.ts). */
  readonly admission: number;
  readonly subscriptions: number;
  /** The balance table: u8 per subscription slot (thread 0's block). */
  readonly balances: number;
  /** The owner's circuit breakers: CIRCUIT_BYTES per subscription slot. */
  readonly circuits: number;
  /** Bytes of the control block (a multiple of FALSE_SHARING_STRIDE). Staging follows it in the scratch block. */
  readonly bytes: number;
}

export function controlLayout(topics: number, subscriptions: number): ControlLayout {
  const topicStats = CONTROL_TOPIC_STATS_OFFSET;
  const admission = topicStats + topics * TOPIC_STAT_BYTES;
  const subscriptionTable = alignStride(admission + topics * ADMISSION_BYTES);
  const balances = subscriptionTable + subscriptions * SLOT_ENTRY_BYTES;
  const circuits = Math.ceil((balances + subscriptions) / 8) * 8;
  const end = circuits + subscriptions * CIRCUIT_BYTES;
  return { topicStats, admission, subscriptions: subscriptionTable, balances, circuits, bytes: alignStride(end) };
}

/**
 * A thread's scratch block, offsets from its start (see "Scratch block" above; publishBatch
 * staging is 8-aligned). The arena is sized from `bytes`; ThreadRuntime places everything by
 * these offsets.
 */
export interface ScratchLayout {
  readonly topicStaging: number;
  readonly replyStaging: number;
  readonly callerStaging: number;
  /** The pooled record a fan-out pushes (fan-out-pool.ts: POOLED_RECORD_BYTES). */
  readonly pooledStaging: number;
  readonly routeOut: number;
  readonly ringTable: number;
  readonly pushedCounts: number;
  readonly dispatchResult: number;
  readonly batchStaging: number;
  /** The spill regions (backlog.ts), one per outbound key, `spillBytes` apart (8-aligned). */
  readonly spill: number;
  readonly spillBytes: number;
  /** Bytes of the whole block (a multiple of FALSE_SHARING_STRIDE). */
  readonly bytes: number;
}

export function scratchLayout(control: ControlLayout, topics: number, recordSize: number, routerSubscriptions: number, threads: number, spillCapacity = 0): ScratchLayout {
  const topicStaging = control.bytes;
  const replyStaging = topicStaging + topics * recordSize;
  const callerStaging = replyStaging + recordSize;
  const pooledStaging = callerStaging + recordSize;
  const routeOut = pooledStaging + POOLED_RECORD_BYTES;
  const ringTable = routeOut + routerSubscriptions * 4;
  const pushedCounts = ringTable + threads * PRIORITY_CLASSES * 4;
  const dispatchResult = pushedCounts + threads * 4;
  const batchStaging = Math.ceil((dispatchResult + DISPATCH_RESULT_BYTES) / 8) * 8;
  const spill = batchStaging + BATCH_RECORDS * recordSize;
  const spillBytes = spillCapacity === 0 ? 0 : spillRegionBytes(spillCapacity, recordSize);
  const bytes = alignStride(spill + threads * PRIORITY_CLASSES * spillBytes);
  return { topicStaging, replyStaging, callerStaging, pooledStaging, routeOut, ringTable, pushedCounts, dispatchResult, batchStaging, spill, spillBytes, bytes };
}

/** Ring index of lane (producer → consumer) of priority class `priority` among `threads` threads. */
export function laneIndex(producer: number, consumer: number, threads: number, priority: number): number {
  return (priority * threads + producer) * threads + consumer;
}

/** Address of the record at ring index `index` of the ring at `ring` (its MASK and RECORD_SIZE words). */
export function ringRecordAt(i32: Int32Array, ring: number, index: number): number {
  return ring + RING_DATA_OFFSET + (index & i32[(ring + RING_MASK_OFFSET) >> 2]!) * i32[(ring + RING_RECORD_SIZE_OFFSET) >> 2]!;
}

/** Ring index of thread `thread`'s lane with outbound key `key` (class · threads + consumer). */
export function outboundLane(thread: number, key: number, threads: number): number {
  return laneIndex(thread, key % threads, threads, (key / threads) | 0);
}

/** Ring index of thread `thread`'s lane with inbound key `key` (class · threads + producer). */
export function inboundLane(thread: number, key: number, threads: number): number {
  return laneIndex(key % threads, thread, threads, (key / threads) | 0);
}

function alignStride(bytes: number): number {
  return Math.ceil(bytes / FALSE_SHARING_STRIDE) * FALSE_SHARING_STRIDE;
}

/**
 * The route entry of subscription `slot` at consumer thread `consumer`, as the router stores it
 * and routerRoute writes it (assembly/layout/dispatch.ts): the consumer thread is the index into
 * a thread's ring table (its lane to that consumer), the slot is the tag stamped into the record.
 */
export function routeEntry(consumer: number, slot: number): number {
  return (consumer << ROUTE_RING_SHIFT) | slot;
}

/** The consumer thread of a route entry. */
export function routeEntryConsumer(entry: number): number {
  return entry >>> ROUTE_RING_SHIFT;
}

/** The subscription slot of a route entry. */
export function routeEntrySlot(entry: number): number {
  return entry & ROUTE_TAG_MASK;
}
