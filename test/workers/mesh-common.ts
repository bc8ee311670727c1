/**
 * The mesh test's message plan, shared by producers, consumers and the test: every field of every
 * message is a pure function of (producer, seq), so consumers can check each record on arrival.
 *
 * Record (MESH_RECORD_SIZE bytes): producer u32 | seq u32 | key u32 | topic u32 | slot u32 | check u32
 * Topics: TOPIC_KEYED (keyed over both consumers), TOPIC_BROADCAST (both consumers), TOPIC_GROUP
 * (one consumer, round-robin; the payload travels in a pool slot the consumer releases).
 */
export const MESH_RECORD_SIZE = 24;
export const PRODUCERS = 2;
export const CONSUMERS = 2;
export const KEYS = 64;
export const TOPIC_KEYED = 0;
export const TOPIC_BROADCAST = 1;
export const TOPIC_GROUP = 2;
export const TOPICS = 3;
/** Thread ids: 0 = main (router writer), then producers, then consumers. */
export const producerThread = (p: number): number => 1 + p;
export const consumerThread = (c: number): number => 1 + PRODUCERS + c;
/** Ring index of the lane from producer p to consumer c. */
export const ringIndex = (p: number, c: number): number => p * CONSUMERS + c;

export const topicOf = (seq: number): number => seq % TOPICS;
export const keyOf = (seq: number): number => Math.imul(seq, 0x9e3779b1) >>> 26; // 0..63
/** Ties every field of a record together: a torn or mixed-up record fails this check. */
export const checkOf = (producer: number, seq: number): number => (Math.imul(seq ^ 0x5bd1e995, 0x27d4eb2d) + producer * 0x165667b1) | 0;

export interface ProducerData { producer: number; messages: number; deadline: number }
export interface ConsumerData { consumer: number; deadline: number }

export interface ConsumerReport {
  errors: string[];
  /** [producer][topic] messages received. */
  counts: number[][];
  /** [producer][topic] sum of seq received, mod 2^32. */
  sums: number[][];
  /** [producer] bitmask pieces: keys (0..63) of TOPIC_KEYED this consumer saw, as two u32. */
  keys: number[][];
}
