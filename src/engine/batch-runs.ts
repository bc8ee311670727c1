/**
 * Batch runs: a batch handler's call takes the run of records of its slot waiting in one lane
 * behind the first (up to maxBatch; READ moves past them), may give the run back to linger for
 * more, and completes every record of the run when the call returns — or, when it returned a
 * Promise, makes each of them a pending delivery. BatchView is the batch the handler gets.
 */
import type { CoreOps } from '../../bindings/core-ops.ts';
import { ADDRESS_MIN } from '../../assembly/layout/arena.ts';
import type { Admission } from './admission.ts';
import type { AsyncDeliveries, AsyncDelivery } from './async-deliveries.ts';
import type { ControlBlock } from './control-block.ts';
import type { FanOutPool } from './fan-out-pool.ts';
import type { LatencyProbe } from './latency.ts';
import {
  CLAIM_STOLEN, RECORD_CORRELATION_OFFSET, RECORD_CRASHES_OFFSET, RECORD_FLAGS_OFFSET, RECORD_FLAG_ADMITTED, RECORD_FLAG_POOLED, RECORD_FLAG_STAMPED,
  RECORD_PRIORITY_SHIFT, RECORD_REPLY_TO_OFFSET, RECORD_SUBSCRIPTION_OFFSET, RECORD_TOPIC_OFFSET,
} from './layout.ts';
import { ownerClaim } from './stealer.ts';
import type { SubscriptionTable } from './subscription-table.ts';
import type { TopicReaderFlyweight, TopicRuntime, TopicSet } from './topic-runtime.ts';
import type { HandlerContext, TopicMap } from './types.ts';

/** What the consumer calls: a handler module's def (message or batch handler), untyped. */
export interface AnyHandlerDef {
  readonly maxBatch?: number;
  readonly linger?: number;
  handle?(message: unknown, ctx: unknown): unknown;
  handleBatch?(batch: BatchView, ctx: unknown): unknown;
}

/** Completion.complete: one delivery's handler returned (its circuit, its reply, the counts). */
export type CompleteDelivery = (
  topic: TopicRuntime, slot: number, stats: number, correlation: number, replyTo: number, priority: number, deliveries: number, result: unknown, failed: boolean,
) => void;

/** The lanes a consumer takes runs from, by inbound key: the ring, and its READ word (an i32 index). */
export interface InboundLanes {
  readonly ringFrom: readonly number[];
  readonly readFrom: readonly number[];
}

export class BatchRuns {
  /** The batch view handed to batch handlers (a new one once an async batch keeps it). */
  view: BatchView;
  /**
   * The earliest performance.now() at which a lingering run is due (Infinity: none lingers). The
   * worker parks no longer than this; each pass over the lanes clears it (newPass) and take()
   * lowers it again.
   */
  lingerDeadline = Infinity;
  /** The promise the last handle() got from a handler, until the consumer takes it (takeStarted). */
  private started: PromiseLike<unknown> | undefined;
  /** While a batch handler runs inside another's call (caller-runs): the outer call's view and batchLane. */
  private outer: { view: BatchView; batchLane: number } | undefined;
  /** Per slot: performance.now() when its lingering run was first found, 0 when none lingers. */
  private readonly lingerSince: Float64Array;
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;

  constructor(
    private readonly core: CoreOps,
    private readonly memory: WebAssembly.Memory,
    /** The engine's `batch`: a batch handler's maxBatch by default. */
    private readonly batch: number,
    capacity: number,
    slots: number,
    private readonly lanes: InboundLanes,
    private readonly controls0: ControlBlock,
    private readonly table: SubscriptionTable,
    private readonly topics: TopicSet,
    private readonly pending: AsyncDeliveries,
    private readonly admission: Admission,
    /** Whether some topic has an admission limit (records carry ADMITTED). */
    private readonly admits: boolean,
    private readonly latency: LatencyProbe,
    private readonly context: HandlerContext<TopicMap>,
    private readonly complete: CompleteDelivery,
    private readonly settle: (delivery: AsyncDelivery, value: unknown, failed: boolean) => void,
    /** The fan-out pool: where a pooled record's message is, and its slot's release (fan-out-pool.ts). */
    private readonly pool: FanOutPool,
  ) {
    this.u16 = new Uint16Array(memory.buffer);
    this.u32 = new Uint32Array(memory.buffer);
    this.i32 = new Int32Array(memory.buffer);
    this.view = new BatchView(capacity, pool);
    this.lingerSince = new Float64Array(slots);
  }

  /**
   * handleRecord's other path: runs the record at `record` (of `slot`, its topic's stats at
   * `stats`) with `def`, a batch handler — with the run of records behind it in lane `laneKey`
   * (-1: none) — or one of the engine thread's own message handlers (engine.consume's). Returns
   * the records it took: 0 when the run lingers (given back to the lane), else 1 or the run's
   * length. A handler that returned a Promise leaves it for takeStarted(); its records stay
   * pending (the consumer follows them), else they are complete.
   */
  /**
   * The lane of the batch being handled (class · threads + producer: its producer is
   * batchLane % threads), −1 for a run inline (caller-runs, stolen). The journal thread reads it
   * to record each message's publishing thread (src/journal/journal-thread.ts).
   */
  batchLane = -1;

  handle(record: number, slot: number, topic: TopicRuntime, stats: number, def: AnyHandlerDef, laneKey: number): number {
    const u16 = this.u16;
    const batch = def.handleBatch !== undefined;
    if (batch && this.view.running) {
      // A batch handler's publish ran this one inline (caller-runs, inside the outer call): it gets
      // a view of its own, and the outer view (and batchLane) come back when it completes, or once
      // followBatch took its view if it returned a Promise. Sharing the view would make the outer
      // call complete only this call's records.
      this.outer = { view: this.view, batchLane: this.batchLane };
      this.view = new BatchView(1, this.pool);
    }
    const deliveries = u16[(record + RECORD_CRASHES_OFFSET) >> 1]! + 1;
    let result: unknown;
    let failed = false;
    const context = this.context as { topic: string; deliveries: number };
    context.topic = topic.name;
    context.deliveries = deliveries;
    try {
      if (!batch) result = def.handle!(topic.reader.at(this.pool.messageAt(record)), this.context);
      else {
        const view = this.take(record, slot, topic, def, laneKey);
        if (view.length === 0) return 0; // lingering: drainLane stops at it
        this.batchLane = laneKey;
        result = def.handleBatch!(view, this.context);
      }
      if (result !== undefined && result !== null && typeof (result as { then?: unknown }).then === 'function') {
        this.started = result as PromiseLike<unknown>;
        return batch ? this.view.length : 1;
      }
    } catch (error) {
      failed = true;
      result = error;
    }
    if (batch) {
      this.completeBatch(topic, slot, stats, result, failed);
      const taken = this.view.length;
      this.restoreOuter();
      return taken;
    }
    this.complete(
      topic, slot, stats, this.u32[(record + RECORD_CORRELATION_OFFSET) >> 2]!, u16[(record + RECORD_REPLY_TO_OFFSET) >> 1]!,
      u16[(record + RECORD_FLAGS_OFFSET) >> 1]! >> RECORD_PRIORITY_SHIFT, deliveries, result, failed,
    );
    return 1;
  }

  /** A nested batch call's way back to the outer call's view (handle): put it back. */
  private restoreOuter(): void {
    const outer = this.outer;
    if (outer === undefined) return;
    this.outer = undefined;
    this.view = outer.view;
    this.batchLane = outer.batchLane;
  }

  /** The promise the last handle() got (undefined: its delivery completed); handed over once. */
  takeStarted(): PromiseLike<unknown> | undefined {
    const started = this.started;
    this.started = undefined;
    return started;
  }

  /** A new pass over the lanes: a lingering run it finds sets lingerDeadline again. */
  newPass(): void {
    this.lingerDeadline = Infinity;
  }

  /**
   * The batch of a batch handler's call: the record at `first` and the run of records behind it
   * in the same lane (inbound key `key`; -1: none, the record alone) that are for the same slot
   * (taken from the lane now: READ moves past them), up to the handler's maxBatch. A record for
   * another slot, one a thief has or that completed, or one that must wait (async limits) ends
   * the run, unread. A run that lingers goes back to the lane: the view's length is then 0.
   */
  private take(first: number, slot: number, topic: TopicRuntime, def: AnyHandlerDef, key: number): BatchView {
    const view = this.view;
    view.reader = topic.reader;
    const records = view.records;
    records[0] = first;
    let count = 1;
    const max = Math.min(def.maxBatch ?? this.batch, records.length);
    if (key >= 0) {
      const ring = this.lanes.ringFrom[key]!;
      const read = this.lanes.readFrom[key]!;
      const claims = Atomics.load(this.controls0.i32, this.controls0.steal) !== 0;
      const u16 = this.u16;
      while (count < max) {
        const record = this.core.ringTryPeek(ring);
        if (record < ADDRESS_MIN) break;
        if (u16[(record + RECORD_SUBSCRIPTION_OFFSET) >> 1] !== slot || (this.pending.count !== 0 && this.pending.mustWait(record))
          || (claims && ownerClaim(u16, this.table, record) >= CLAIM_STOLEN)) {
          this.i32[read] = (this.i32[read]! - 1) | 0;
          break;
        }
        // The run is timed by its first record: a stamped one behind it is not.
        if ((u16[(record + RECORD_FLAGS_OFFSET) >> 1]! & RECORD_FLAG_STAMPED) !== 0) this.latency.skip();
        records[count++] = record;
      }
    }
    if (key >= 0 && (def.linger ?? 0) > 0 && this.lingers(slot, key, count, max, def.linger!)) {
      view.length = 0;
      return view;
    }
    view.length = count;
    view.running = true;
    return view;
  }

  /**
   * Whether the run of `count` records of `slot` just taken from lane `key` waits for more (linger):
   * shorter than `max`, and found less than `linger` ms ago. If so, the run goes back to the lane
   * (READ moves back over it; its stamped records stay stamped, their waits recorded once).
   */
  private lingers(slot: number, key: number, count: number, max: number, linger: number): boolean {
    if (count >= max) {
      this.lingerSince[slot] = 0;
      return false;
    }
    const now = performance.now();
    const since = this.lingerSince[slot]!;
    if (since === 0) this.lingerSince[slot] = now;
    else if (now - since >= linger) {
      this.lingerSince[slot] = 0;
      return false;
    }
    const deadline = (since === 0 ? now : since) + linger;
    if (deadline < this.lingerDeadline) this.lingerDeadline = deadline;
    const records = this.view.records;
    for (let i = 0; i < count; i++) this.u16[(records[i]! + RECORD_FLAGS_OFFSET) >> 1] &= ~RECORD_FLAG_STAMPED;
    const read = this.lanes.readFrom[key]!;
    this.i32[read] = (this.i32[read]! - count) | 0;
    return true;
  }

  /** A batch handler returned (or threw): each of its records completes, a request with element i of the result. */
  private completeBatch(topic: TopicRuntime, slot: number, stats: number, result: unknown, failed: boolean): void {
    const view = this.view;
    view.running = false;
    const u16 = this.u16;
    const replies = !failed && Array.isArray(result) ? result : undefined;
    for (let i = 0; i < view.length; i++) {
      const record = view.records[i]!;
      this.complete(
        topic, slot, stats, this.u32[(record + RECORD_CORRELATION_OFFSET) >> 2]!, u16[(record + RECORD_REPLY_TO_OFFSET) >> 1]!,
        u16[(record + RECORD_FLAGS_OFFSET) >> 1]! >> RECORD_PRIORITY_SHIFT, u16[(record + RECORD_CRASHES_OFFSET) >> 1]! + 1,
        failed ? result : replies?.[i], failed,
      );
    }
  }

  /** drainLane, after a batch call of `taken` records completed: the records after its first (given back their in-flight places; DONE if `held`). */
  completeRun(taken: number, held: boolean): void {
    const records = this.view.records;
    for (let i = 1; i < taken; i++) {
      const record = records[i]!;
      if (this.admits && (this.u16[(record + RECORD_FLAGS_OFFSET) >> 1]! & RECORD_FLAG_ADMITTED) !== 0) this.admission.release(this.u16[(record + RECORD_TOPIC_OFFSET) >> 1]!);
      if (held) this.pending.markDone(record);
    }
  }

  /** drainLane, after the handled cursor passed a batch call's `taken` records: the pool slots of the records after its first go back (fan-out-pool.ts). */
  releaseRun(taken: number): void {
    const records = this.view.records;
    for (let i = 1; i < taken; i++) {
      const record = records[i]!;
      if ((this.u16[(record + RECORD_FLAGS_OFFSET) >> 1]! & RECORD_FLAG_POOLED) !== 0) this.pool.release(record);
    }
  }

  /** A batch handler returned `promise`: every record of its batch is a pending delivery (the view is theirs: a new one for the next call). */
  followBatch(from: number, promise: PromiseLike<unknown>, onDone: (() => void) | undefined): void {
    const view = this.view;
    view.running = false;
    if (this.outer !== undefined) this.restoreOuter();
    else this.view = new BatchView(view.records.length, this.pool);
    // The view keeps its reader until the batch settles: the topic's next records get another.
    const topic = this.topics.byId[this.u16[(view.records[0]! + RECORD_TOPIC_OFFSET) >> 1]!]!;
    const reader = topic.reader;
    topic.reader = topic.spareReaders.pop() ?? (topic.schema.reader(this.memory) as TopicReaderFlyweight);
    const u16 = this.u16;
    for (let i = 0; i < view.length; i++) {
      const record = view.records[i]!;
      const flags = u16[(record + RECORD_FLAGS_OFFSET) >> 1]!;
      // Each record settles with its own element of the result (a rejection rejects them all).
      const own = view.length === 1 ? promise : Promise.resolve(promise).then((replies) => (Array.isArray(replies) ? replies[i] : undefined));
      this.pending.start(
        record, from, own, u16[(record + RECORD_CRASHES_OFFSET) >> 1]! + 1, this.u32[(record + RECORD_CORRELATION_OFFSET) >> 2]!,
        u16[(record + RECORD_REPLY_TO_OFFSET) >> 1]!, flags >> RECORD_PRIORITY_SHIFT, (flags & RECORD_FLAG_ADMITTED) !== 0, i === 0 ? reader : undefined, this.settle,
        i === 0 ? onDone : undefined,
      );
    }
  }
}

/**
 * A batch handler's batch (TopicBatch): the records of one call, and the topic's reader flyweight
 * re-pointed by at(i). An async batch keeps its view and that reader until it settles.
 */
export class BatchView {
  length = 0;
  /** Whether a batch handler's call is using it (between take and its completion or follow). */
  running = false;
  readonly records: Int32Array;
  reader: TopicReaderFlyweight | undefined;

  constructor(capacity: number, private readonly pool: FanOutPool) {
    this.records = new Int32Array(capacity);
  }

  at(index: number): unknown {
    if (!(index >= 0 && index < this.length)) return undefined;
    return this.reader!.at(this.pool.messageAt(this.records[index]!));
  }

  *[Symbol.iterator](): Iterator<unknown> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }
}
