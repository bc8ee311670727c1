/**
 * SubscriptionTable: the engine's table of subscription slots in thread 0's control block, one
 * SLOT_ENTRY_BYTES entry per slot plus one balance byte per slot; the only code that reads or
 * writes those bytes.
 *
 * ── Slot entry (SLOT_ENTRY_BYTES at subscriptions + slot × SLOT_ENTRY_BYTES) ───────────────────
 *
 * | offset | size | field   | meaning                                                           |
 * |--------|------|---------|-------------------------------------------------------------------|
 * | 0      | 1    | STATE   | SLOT_FREE / SLOT_ACTIVE / SLOT_RETIRED                            |
 * | 1      | 1    | MODE    | the router's MODE_* the subscription was made with                |
 * | 2      | 1    | POLICY  | POLICY_* (layout.ts): what a full lane does to its records        |
 * | 3      | 1    | GENERATION | +1 (mod 256) each time the slot is activated: a worker's    |
 * |        |      |         | circuit state of an earlier subscription in this slot is stale    |
 * | 4      | 2    | HANDLER | index of its handler in the handler module's sorted names         |
 * | 6      | 2    | TOPIC   | topic id                                                          |
 * | 8      | 2    | CIRCUIT_FAILURES | errors within the window that open its circuit; 0: none  |
 * | 10     | 1    | STEAL   | 1: a group whose idle members may take its queued records (stealer.ts) |
 * | 11     | 1    | (reserved) | zero                                                           |
 * | 12     | 4    | CIRCUIT_WINDOW_MS | u32                                                     |
 * | 16     | 4    | CIRCUIT_COOLDOWN_MS | u32                                                   |
 * | 20     | 4    | MEMBERS | bit w: worker w (< 32) is a member (who may steal its records)     |
 * | 24     | 2    | CONCURRENCY | async handlers: deliveries a member runs at once (async-deliveries.ts) |
 * | 26     | 2    | (reserved) | zero                                                           |
 *
 * ── Balance table (u8 per slot at `balances`, right after the entries) ───────────────────────
 *
 * BALANCE_ROUND_ROBIN (0) or BALANCE_LEAST_LOADED: the `balance` table every thread hands the
 * core (dispatchBatch, pickLeastLoaded): a route entry's tag is its slot, and a nonzero byte makes
 * the slot's members one least-loaded pick per record.
 *
 * Writers and ordering: thread 0 only. An entry and its balance byte are written before the
 * router publish that makes the slot routable (routerTryPublish's VERSION store pairs with
 * routerEnter's VERSION load), so every thread that routes to a slot, and every consumer that
 * handles a record naming it, sees its entry: plain memory. A retired slot keeps its entry and
 * balance byte (records in lanes still name it; threads inside an older table version may still
 * route to its members and must keep picking one of them, not broadcast to all); it is freed, and
 * its balance byte zeroed, only once no lane or backlog can hold a record for it.
 */

export const SLOT_STATE_OFFSET = 0; // u8: SLOT_FREE / SLOT_ACTIVE / SLOT_RETIRED
export const SLOT_MODE_OFFSET = SLOT_STATE_OFFSET + 1; // u8: router MODE_*
export const SLOT_POLICY_OFFSET = SLOT_MODE_OFFSET + 1; // u8: POLICY_*
export const SLOT_GENERATION_OFFSET = SLOT_POLICY_OFFSET + 1; // u8
export const SLOT_HANDLER_OFFSET = SLOT_GENERATION_OFFSET + 1; // u16
export const SLOT_TOPIC_OFFSET = SLOT_HANDLER_OFFSET + 2; // u16
export const SLOT_CIRCUIT_FAILURES_OFFSET = SLOT_TOPIC_OFFSET + 2; // u16
export const SLOT_STEAL_OFFSET = SLOT_CIRCUIT_FAILURES_OFFSET + 2; // u8
export const SLOT_CIRCUIT_WINDOW_OFFSET = SLOT_CIRCUIT_FAILURES_OFFSET + 4; // u32
export const SLOT_CIRCUIT_COOLDOWN_OFFSET = SLOT_CIRCUIT_WINDOW_OFFSET + 4; // u32
export const SLOT_MEMBERS_OFFSET = SLOT_CIRCUIT_COOLDOWN_OFFSET + 4; // u32
export const SLOT_CONCURRENCY_OFFSET = SLOT_MEMBERS_OFFSET + 4; // u16
export const SLOT_ENTRY_BYTES = 28;

export const SLOT_FREE = 0;
export const SLOT_ACTIVE = 1;
export const SLOT_RETIRED = 2;

/** Balance table values: 0, or nonzero for a least-loaded group (dispatchBatch's `balance` bytes). */
export const BALANCE_ROUND_ROBIN = 0;
export const BALANCE_LEAST_LOADED = 1;

/** What thread 0 writes into a slot's entry when it subscribes. */
export interface SlotEntry {
  readonly mode: number;
  readonly policy: number;
  readonly balance: number;
  readonly handler: number;
  readonly topic: number;
  /** Circuit breaker: failures (0: none), window and cooldown in ms. */
  readonly circuit?: { readonly failures: number; readonly windowMs: number; readonly cooldownMs: number };
  /** Whether idle members may steal its queued records. */
  readonly steal?: boolean;
  /** Member workers (bits of those below 32). */
  readonly members?: number;
  /** Async handlers: deliveries whose promise is pending, per member, at most (1..65535). */
  readonly concurrency: number;
}

export class SubscriptionTable {
  private readonly u8: Uint8Array;
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;

  constructor(
    buffer: ArrayBufferLike,
    /** Address of slot 0's entry. */
    readonly entries: number,
    /** Address of the balance table (u8 per slot): the `balance` argument of the core's ops. */
    readonly balances: number,
    readonly slots: number,
  ) {
    this.u8 = new Uint8Array(buffer);
    this.u16 = new Uint16Array(buffer);
    this.u32 = new Uint32Array(buffer);
  }

  /** The slot's POLICY_*. */
  policy(slot: number): number {
    return this.u8[this.entries + slot * SLOT_ENTRY_BYTES + SLOT_POLICY_OFFSET]!;
  }

  /** The slot's handler index. */
  handler(slot: number): number {
    return this.u16[(this.entries + slot * SLOT_ENTRY_BYTES + SLOT_HANDLER_OFFSET) >> 1]!;
  }

  /** Whether the slot's members make one least-loaded pick per record. */
  isLeastLoaded(slot: number): boolean {
    return this.u8[this.balances + slot] !== BALANCE_ROUND_ROBIN;
  }

  /** The slot's topic id. */
  topic(slot: number): number {
    return this.u16[(this.entries + slot * SLOT_ENTRY_BYTES + SLOT_TOPIC_OFFSET) >> 1]!;
  }

  /** The slot's GENERATION (changes at every activation). */
  generation(slot: number): number {
    return this.u8[this.entries + slot * SLOT_ENTRY_BYTES + SLOT_GENERATION_OFFSET]!;
  }

  /** Errors within the window that open the slot's circuit; 0: it has no circuit breaker. */
  circuitFailures(slot: number): number {
    return this.u16[(this.entries + slot * SLOT_ENTRY_BYTES + SLOT_CIRCUIT_FAILURES_OFFSET) >> 1]!;
  }

  circuitWindowMs(slot: number): number {
    return this.u32[(this.entries + slot * SLOT_ENTRY_BYTES + SLOT_CIRCUIT_WINDOW_OFFSET) >> 2]!;
  }

  circuitCooldownMs(slot: number): number {
    return this.u32[(this.entries + slot * SLOT_ENTRY_BYTES + SLOT_CIRCUIT_COOLDOWN_OFFSET) >> 2]!;
  }

  /** Whether idle members may steal the slot's queued records (a group subscribed with steal). */
  steals(slot: number): boolean {
    return this.u8[this.entries + slot * SLOT_ENTRY_BYTES + SLOT_STEAL_OFFSET] !== 0;
  }

  /** Whether worker `worker` is a member of the slot's subscription (known for workers below 32). */
  isMember(slot: number, worker: number): boolean {
    return worker < 32 && (this.u32[(this.entries + slot * SLOT_ENTRY_BYTES + SLOT_MEMBERS_OFFSET) >> 2]! & (1 << worker)) !== 0;
  }

  /** The slot's router MODE_*. */
  mode(slot: number): number {
    return this.u8[this.entries + slot * SLOT_ENTRY_BYTES + SLOT_MODE_OFFSET]!;
  }

  /** Async handlers: how many of the slot's deliveries a member runs at once. */
  concurrency(slot: number): number {
    return this.u16[(this.entries + slot * SLOT_ENTRY_BYTES + SLOT_CONCURRENCY_OFFSET) >> 1]!;
  }

  /** SLOT_FREE / SLOT_ACTIVE / SLOT_RETIRED. */
  state(slot: number): number {
    return this.u8[this.entries + slot * SLOT_ENTRY_BYTES + SLOT_STATE_OFFSET]!;
  }

  /** Thread 0: fills a FREE slot's entry and balance byte and marks it ACTIVE (before the router publish). */
  activate(slot: number, entry: SlotEntry): void {
    const at = this.entries + slot * SLOT_ENTRY_BYTES;
    this.u8[at + SLOT_MODE_OFFSET] = entry.mode;
    this.u8[at + SLOT_POLICY_OFFSET] = entry.policy;
    this.u16[(at + SLOT_HANDLER_OFFSET) >> 1] = entry.handler;
    this.u16[(at + SLOT_TOPIC_OFFSET) >> 1] = entry.topic;
    this.u8[at + SLOT_GENERATION_OFFSET] = (this.u8[at + SLOT_GENERATION_OFFSET]! + 1) & 0xff;
    this.u16[(at + SLOT_CIRCUIT_FAILURES_OFFSET) >> 1] = entry.circuit?.failures ?? 0;
    this.u32[(at + SLOT_CIRCUIT_WINDOW_OFFSET) >> 2] = entry.circuit?.windowMs ?? 0;
    this.u32[(at + SLOT_CIRCUIT_COOLDOWN_OFFSET) >> 2] = entry.circuit?.cooldownMs ?? 0;
    this.u8[at + SLOT_STEAL_OFFSET] = entry.steal === true ? 1 : 0;
    this.u32[(at + SLOT_MEMBERS_OFFSET) >> 2] = entry.members ?? 0;
    this.u16[(at + SLOT_CONCURRENCY_OFFSET) >> 1] = entry.concurrency;
    this.u8[this.balances + slot] = entry.balance;
    this.u8[at + SLOT_STATE_OFFSET] = SLOT_ACTIVE;
  }

  /** Thread 0: an unsubscribed slot; records already in lanes still name it and its handler. */
  retire(slot: number): void {
    this.u8[this.entries + slot * SLOT_ENTRY_BYTES + SLOT_STATE_OFFSET] = SLOT_RETIRED;
  }

  /** Thread 0: a slot no record names any more (or one never made routable) can be reused. */
  free(slot: number): void {
    this.u8[this.entries + slot * SLOT_ENTRY_BYTES + SLOT_STATE_OFFSET] = SLOT_FREE;
    this.u8[this.balances + slot] = BALANCE_ROUND_ROBIN;
  }

  /** The lowest `count` FREE slots (fewer if there are not that many). */
  freeSlots(count: number): number[] {
    const free: number[] = [];
    for (let s = 0; s < this.slots && free.length < count; s++) if (this.state(s) === SLOT_FREE) free.push(s);
    return free;
  }
}
