/**
 * Topics of the async-handler suite (engine-async.test.ts): `io` messages whose async handler
 * waits `delayMs` (a timer: I/O's shape) and checks its message is unchanged after the wait,
 * `ioDone` (what an io handler publishes once it completed, to a tracker on another worker, whose
 * memory survives the io worker's crash), a request topic with an async handler, and the report.
 * Imported by the test and by the handler module (async-handlers.ts).
 */
import { defineSchema } from '../../src/schema.ts';
import { defineTopics } from '../../src/engine/types.ts';

/** io.mode bits. */
export const IO_ORDERED = 1; // check per-key order and overlap (keyed subscriptions)
export const IO_TRACK = 2; // publish ioDone once complete
export const IO_FAIL = 4; // reject after the wait
export const IO_CRASH = 8; // exit the worker's thread in the synchronous part, on the first delivery

const Io = defineSchema({ producer: 'u32', seq: 'u32', key: 'u32', value: 'u32', delayMs: 'u32', mode: 'u8' });

export const AsyncReport = defineSchema({
  worker: 'i32',
  /** io: handler calls, completions (resolved), and of completions the count, sum and sum of squares of seq. */
  starts: 'f64', completed: 'f64', sum: 'f64', sumSquares: 'f64',
  /** io calls that saw ctx.deliveries > 1. */
  redeliveredStarts: 'f64',
  /** io messages whose fields changed across the handler's await (its record was reused). */
  corrupt: 'f64',
  /** Most io handlers pending at once on this worker. */
  maxInFlight: 'u32',
  /** IO_ORDERED: seq not last + 1 per (producer, key); a key started while its previous was pending; most keys pending at once. */
  orderErrors: 'u32', overlaps: 'u32', maxKeys: 'u32',
  /** ioDone (the tracker): messages, distinct seqs, duplicates, and of them with deliveries > 1. */
  done: 'f64', doneDistinct: 'f64', doneDuplicates: 'f64', doneRedelivered: 'f64', doneSum: 'f64',
  /** Batch handlers: calls, messages, their seqs' sum and sum of squares, the largest batch, messages changed across an await. */
  batchCalls: 'f64', batchRecords: 'f64', batchSum: 'f64', batchSumSquares: 'f64', maxBatchSeen: 'u32', batchCorrupt: 'f64',
});

/** maxBatch of the batch handlers. */
export const MAX_BATCH = 32;
/** linger of the `lingering` batch handler, ms: long beside the test's publishing, short beside its timeouts. */
export const LINGER_MS = 1500;

const IoDone = defineSchema({ seq: 'u32', deliveries: 'u32' });
const Ask = defineSchema({ x: 'u32', delayMs: 'u32', fail: 'bool' });
const Answer = defineSchema({ y: 'u32' });
const ReportQuery = defineSchema({ reset: 'bool' });
const Out = defineSchema({ producer: 'u32', seq: 'u32', value: 'u32' });
const Emit = defineSchema({ producer: 'u32', count: 'u32', from: 'u32' });

export const asyncTopics = defineTopics({
  io: { schema: Io, key: 'key' },
  ioDone: { schema: IoDone },
  /** An async request: replies x × 2 after delayMs; fail rejects. */
  ask: { schema: Ask, reply: Answer },
  report: { schema: ReportQuery, reply: AsyncReport },
  /** Consumed on the engine's thread (engine.consume): published by the main thread or by `emit` handlers. */
  out: { schema: Out },
  /** A worker publishes `count` out messages, seq from `from`. */
  emit: { schema: Emit },
  /** For batch handlers (sync and async). */
  batched: { schema: Out },
  /** A request topic served by a batch handler: y = x × 2. */
  twice: { schema: Ask, reply: Answer },
});

export type AsyncTopics = typeof asyncTopics;
