/**
 * What the memory suite (bench/memory.ts), its publisher process (mem-publisher.ts) and its
 * consumers (engine/mem-handlers.ts, mem-postmessage.ts) agree on: the message's checksum, the
 * postMessage flow control and the line protocol between the suite and a publisher process.
 *
 * Protocol: the suite starts `node mem-publisher.js '<PublisherData JSON>'`; the process prints
 * `{"ready":true}`, then answers every stdin line `{"messages":n}` with one PublisherReport line
 * and leaves on `{"quit":true}` (or when stdin closes).
 */
import type { HeapWindowReport } from '../heap-window.ts';

/** postMessage consumer acks every this many messages; the publisher keeps ≤ 2 × this in flight. */
export const ACK_EVERY = 10_000;

/** The checksum both sides fold, per message (exact: every term is a multiple of 0.5 below 2^33). */
export function foldTick(acc: number, seq: number, value: number, x: number, stamp: number): number {
  return (acc + seq + value + x + stamp) % 4294967296;
}

export type MemWho = 'wasm' | 'js' | 'postMessage';

export interface PublisherData { who: MemWho }

/** What the suite reads of one thread's heap window. */
export type WindowCounts = Pick<HeapWindowReport, 'gcEvents' | 'allocatedBytes'>;

export interface PublisherReport {
  messages: number;
  publisher: WindowCounts;
  consumer: WindowCounts;
  /** Messages the consumer handled in the window, and whether its checksum equals the publisher's. */
  count: number;
  checksumMatches: boolean;
  error: string | null;
}
