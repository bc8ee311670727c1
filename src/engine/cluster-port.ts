/**
 * ClusterPort: what the cluster bridge (src/cluster/) needs of an engine's own thread, and nothing
 * more — not public API. It stages a message to learn its bytes and key hash (the bridge appends
 * those bytes to a Redis stream partition chosen by the hash), publishes bytes read back from a
 * stream into the engine with a delivery count, and takes HandledMarks (handled-marks.ts) so the
 * bridge acknowledges an entry only once local handlers finished it.
 *
 * The bytes are the topic's encoded message (schema.ts: fixed size, `schema.size`), exactly what a
 * lane record carries after its header, so nodes exchange them without decoding. The delivery
 * count travels in the record's CRASHES word (layout.ts) as the engine's own redeliveries do:
 * a handler sees ctx.deliveries > 1 for an entry claimed from a node that failed over.
 */
import { KEY_NONE } from '../../assembly/layout/dispatch.ts';
import type { CoreOps } from '../../bindings/core-ops.ts';
import { HandledMarks } from './handled-marks.ts';
import { POLICY_BLOCK, RECORD_CRASHES_OFFSET, RECORD_HEADER_BYTES } from './layout.ts';
import { RouteResult } from './producer.ts';
import { SLOT_ACTIVE } from './subscription-table.ts';
import type { ThreadRuntime } from './thread.ts';
import type { TopicRuntime } from './topic-runtime.ts';

/** Most deliveries the CRASHES word (u16) can say. */
const MAX_DELIVERIES = 0xffff;

/**
 * What sendBytes did: SENT, handed to every receiver; SENT_WAIT, handed on, but wait for
 * whenWritable before more; UNROUTED, no subscription here; REFUSED, every receiver refused it
 * (admission, shedding, a rate limit; a full lane never refuses: see sendBytes): not handed on.
 */
export const SENT = 0;
export const SENT_WAIT = 1;
export const UNROUTED = 2;
export const REFUSED = 3;
export type SendOutcome = typeof SENT | typeof SENT_WAIT | typeof UNROUTED | typeof REFUSED;

export class ClusterPort {
  readonly marks: HandledMarks;
  private readonly u8: Uint8Array;
  private readonly u16: Uint16Array;
  private readonly core: CoreOps;
  private readonly result: RouteResult;

  constructor(private readonly runtime: ThreadRuntime) {
    this.marks = new HandledMarks(runtime.arena, runtime.shape.threads, runtime.producer, runtime.backpressure);
    this.u8 = new Uint8Array(runtime.arena.memory.buffer);
    this.u16 = new Uint16Array(runtime.arena.memory.buffer);
    this.core = runtime.core;
    this.result = new RouteResult(runtime.shape.routerSubscriptions);
  }

  /** Whether some subscription of this engine (any mode, the journal's included) takes `topic`'s messages now. */
  subscribed(topic: TopicRuntime): boolean {
    const table = this.runtime.subscriptions;
    for (let slot = 0; slot < table.slots; slot++) {
      if (table.state(slot) === SLOT_ACTIVE && table.topic(slot) === topic.id) return true;
    }
    return false;
  }

  /** The topic named `name` (ConfigError if the engine has none). */
  topic(name: string): TopicRuntime {
    return this.runtime.topics.get(name);
  }

  /** Validates `fields` and writes them into the topic's staging record (ConfigError naming a bad field). */
  stage(topic: TopicRuntime, fields: Record<string, unknown>): void {
    this.runtime.stage(topic, fields);
  }

  /** The staged message's key hash (MurmurHash3 of the key field, as keyed routing computes it); 0 for a topic without a key. */
  stagedKeyHash(topic: TopicRuntime): number {
    if (topic.keyKind === KEY_NONE) return 0;
    return this.core.keyHash(topic.staging + RECORD_HEADER_BYTES, topic.keyKind, topic.keyOffset, topic.keyLength) >>> 0;
  }

  /** The staged message's bytes (a view into shared memory: copy before the next stage). */
  stagedBytes(topic: TopicRuntime): Uint8Array {
    const at = topic.staging + RECORD_HEADER_BYTES;
    return this.u8.subarray(at, at + topic.schema.size);
  }

  /**
   * Publishes `bytes` (a message of `topic`, schema.size bytes) as delivery number `deliveries`:
   * SENT, SENT_WAIT (as Engine.publish's false: wait for whenWritable before more), UNROUTED or
   * REFUSED (nothing was handed on). A message some receivers took and others refused is SENT_WAIT.
   */
  sendBytes(topic: TopicRuntime, bytes: Uint8Array, deliveries: number): SendOutcome {
    this.u8.set(bytes, topic.staging + RECORD_HEADER_BYTES);
    const crashes = (topic.staging + RECORD_CRASHES_OFFSET) >> 1;
    this.u16[crashes] = Math.min(Math.max(deliveries, 1), MAX_DELIVERIES) - 1;
    // Under 'block' whatever the subscription's policy: a full lane keeps the entry in this
    // thread's backlog, in order, where a HandledMarks mark counts it. Dropping it (drop-*,
    // reject) would let its mark pass unhandled; caller-runs would run an async handler no lane
    // TAIL waits for. The reader waits for whenWritable instead: back-pressure toward Redis.
    const all = this.runtime.producer.route(topic, 0, topic.staging, POLICY_BLOCK, this.result);
    this.u16[crashes] = 0;
    const result = this.result;
    if (result.accepted === 0) return result.refused > 0 ? REFUSED : UNROUTED;
    return all ? SENT : SENT_WAIT;
  }
}
