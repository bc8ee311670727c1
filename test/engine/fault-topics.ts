/**
 * Topics of the supervision suite (test/engine-supervision.test.ts), imported by the tests and by
 * the handler module fault-handlers.ts. Every message that can hurt its worker carries a fault
 * kind (FAULT), the handler it is meant to hurt (`target`, a HANDLER code; ANY: every handler that
 * receives it) and the worker (`victim`; ANY: whichever receives it).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineSchema } from '../../src/schema.ts';
import { defineTopics } from '../../src/engine/types.ts';

/** What a message does to the handler (and worker) it hits. */
export const FAULT = {
  none: 0,
  /** process.exit(70) in the handler, first delivery only (a later delivery handles it). */
  exit: 1,
  /** Schedules an uncaught throw from a setTimeout callback (out of the worker's loop); first delivery only. The handler itself returns normally. */
  loopThrow: 2,
  /** Spins forever in the handler (handlerTimeout must catch it), first delivery only. */
  hang: 3,
  /** process.exit(71) on every delivery: a poison message. */
  exitAlways: 4,
  /** Throws an ordinary error out of the handler (a handler error, not a crash): every delivery. */
  throw: 5,
  /** Spins forever on every delivery: a hung poison message. */
  hangAlways: 6,
  /** Like exit; a fan dies after publishing half without flushing it (the dead worker's unflushed pushes). */
  exitNoFlush: 7,
  /** process.exit(0) in the handler, first delivery only: an exit code that looks like success is still a crash. */
  exitZero: 8,
} as const;
export type FaultKind = (typeof FAULT)[keyof typeof FAULT];

/** Handler codes (the `target` of a fault, and the first column of the delivery logs). */
export const HANDLER = {
  /** jobBroadcast: job, broadcast. */
  B: 1,
  /** jobGroup: job, group round-robin. */
  G: 2,
  /** jobLeast: job, group least-loaded. */
  L: 3,
  /** jobKeyed: job, keyed. */
  K: 4,
  /** ask: request/response. */
  R: 5,
  /** fan: publishes `count` children (jobs) from the worker. */
  F: 6,
  /** flaky: throws when told (circuit breaker tests). */
  C: 7,
} as const;
/** `target` / `victim` value: any handler / any worker. */
export const ANY = 255;

/** Producer ids of the jobs a fan publishes: CHILD_BASE + parent id × 8 + the parent's delivery (1..7). */
export const CHILD_BASE = 100_000;

/** The file that names the current engine's log directory (see fault-handlers.ts). */
export function faultDirPointer(): string {
  return join(tmpdir(), `wd-sup-current-${process.pid}`);
}

/** The value of child `i` of fan `id` (the tests recompute it). */
export function childValue(id: number, i: number): number {
  return (Math.imul(id, 2654435761) ^ Math.imul(i, 40503)) >>> 12;
}

export const faultTopics = defineTopics({
  /**
   * Traffic: a producer id, a per-(producer, key) sequence, a value for checksums, the key (its
   * hash picks the keyed member), and the fault.
   */
  job: {
    schema: defineSchema({ producer: 'u32', seq: 'u32', value: 'u32', key: 'u32', fault: 'u8', target: 'u8', victim: 'u8' }),
    key: 'key',
  },
  /** A request: the reply says who answered, on which delivery. */
  ask: {
    schema: defineSchema({ id: 'u32', a: 'f64', fault: 'u8', victim: 'u8' }),
    reply: defineSchema({ id: 'u32', twice: 'f64', worker: 'i32', deliveries: 'u32' }),
  },
  /**
   * Publishing from a worker: the handler publishes `count` jobs (producer CHILD_BASE + id × 8 +
   * ctx.deliveries, seq 0..count-1, key `key`). With fault exit or hang it publishes the first
   * half, flushes, then dies: a crashed delivery's children stay published.
   */
  fan: { schema: defineSchema({ id: 'u32', count: 'u32', key: 'u32', fault: 'u8', victim: 'u8' }) },
  /** Circuit breaker traffic: throws when `fail`; busy-waits `busyMs` first. Replies for requests. */
  flaky: {
    schema: defineSchema({ seq: 'u32', fail: 'bool', busyMs: 'u32' }),
    reply: defineSchema({ seq: 'u32', worker: 'i32' }),
  },
  /** Who is this worker: thread id of this incarnation, and counters since it started. */
  whoami: {
    schema: defineSchema({ nonce: 'u32' }),
    reply: defineSchema({ worker: 'i32', threadId: 'u32', handled: 'f64', redelivered: 'f64' }),
  },
});
export type FaultTopics = typeof faultTopics;
