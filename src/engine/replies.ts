/**
 * Replies: what a consumer sends back on its own — a request's reply to the requesting thread, and
 * a dead letter (a record of an open circuit) to thread 0 — each staged in this thread's reply
 * staging record and pushed under 'block' (never dropped), or handled here when addressed to this
 * thread.
 */
import type { Arena } from '../arena.ts';
import type { ControlBlock } from './control-block.ts';
import type { FanOutPool } from './fan-out-pool.ts';
import {
  DEAD_LETTER_SUBSCRIPTION, LETTER_THREAD_SHIFT, POLICY_BLOCK, RECORD_CORRELATION_OFFSET, RECORD_FLAGS_OFFSET, RECORD_FLAG_FAILED,
  RECORD_HEADER_BYTES, RECORD_LETTER_OFFSET, RECORD_PRIORITY_SHIFT, RECORD_REPLY_TO_OFFSET, RECORD_SUBSCRIPTION_OFFSET, RECORD_TOPIC_OFFSET,
  REPLY_SUBSCRIPTION,
} from './layout.ts';
import type { Producer } from './producer.ts';
import type { TopicRuntime } from './topic-runtime.ts';

export class Replies {
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;

  constructor(
    private readonly thread: number,
    private readonly arena: Arena,
    /** Per topic id: the bytes its records use (EngineShape.topicRecordBytes: a dead letter copies its record's). */
    private readonly recordBytes: readonly number[],
    private readonly control: ControlBlock,
    private readonly producer: Producer,
    /** Where a reply or dead letter is staged before it is pushed (or handled here). */
    private readonly staging: number,
    /** Handles a record addressed to this thread (Consumer.handleRecord). */
    private readonly handleHere: (record: number) => boolean,
    /** A reply the topic's reply schema refused: counted and reported as a handler error (Consumer). */
    private readonly onEncodeError: (topic: TopicRuntime, stats: number, error: unknown) => void,
    /** The fan-out pool: a dead letter's message is copied out of a pooled record's slot. */
    private readonly pool: FanOutPool,
  ) {
    const buffer = arena.memory.buffer;
    this.u16 = new Uint16Array(buffer);
    this.u32 = new Uint32Array(buffer);
  }

  /** Sends the reply of request `correlation` to thread `to` in class `priority` (the request's): never dropped (waits for space). */
  reply(topic: TopicRuntime, correlation: number, to: number, result: unknown, failed: boolean, priority: number): void {
    const at = this.staging;
    this.u16[(at + RECORD_TOPIC_OFFSET) >> 1] = topic.id;
    this.u16[(at + RECORD_SUBSCRIPTION_OFFSET) >> 1] = REPLY_SUBSCRIPTION;
    this.u32[(at + RECORD_CORRELATION_OFFSET) >> 2] = correlation;
    this.u16[(at + RECORD_REPLY_TO_OFFSET) >> 1] = this.thread;
    const stats = this.control.topicStats(topic.id);
    let flags = failed ? RECORD_FLAG_FAILED : 0;
    if (!failed && topic.reply !== undefined) {
      try {
        topic.reply.encode(this.arena.memory, at + RECORD_HEADER_BYTES, result as never);
      } catch (error) {
        flags = RECORD_FLAG_FAILED;
        this.onEncodeError(topic, stats, error);
      }
    }
    this.u16[(at + RECORD_FLAGS_OFFSET) >> 1] = flags | (priority << RECORD_PRIORITY_SHIFT);
    if (to === this.thread) {
      this.handleHere(at);
      return;
    }
    // Replies are never dropped: a worker waits for space; thread 0 keeps it in its backlog.
    this.producer.pushLane(to, at, POLICY_BLOCK, stats, 0);
  }

  /**
   * Sends the record at `record` (meant for `slot`) to thread 0 as a dead letter with `reason`,
   * staged in the reply staging record; never dropped (waits for space, like a reply). On thread 0
   * itself it is handled at once (handleRecord hands it to the engine's onDeadLetter hook).
   */
  deadLetter(record: number, slot: number, reason: number): void {
    const at = this.staging;
    // Inline: a dead letter keeps its message after its record's slot is released (fan-out-pool.ts).
    this.pool.copyInline(record, at, this.recordBytes[this.u16[(record + RECORD_TOPIC_OFFSET) >> 1]!]!);
    this.u16[(at + RECORD_SUBSCRIPTION_OFFSET) >> 1] = DEAD_LETTER_SUBSCRIPTION;
    this.u16[(at + RECORD_LETTER_OFFSET) >> 1] = slot | (this.thread << LETTER_THREAD_SHIFT);
    this.u16[(at + RECORD_FLAGS_OFFSET) >> 1] = reason;
    if (this.thread === 0) {
      this.handleHere(at);
      return;
    }
    this.producer.pushLane(0, at, POLICY_BLOCK, this.control.topicStats(this.u16[(at + RECORD_TOPIC_OFFSET) >> 1]!), 0);
  }
}
