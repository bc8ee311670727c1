/**
 * Handlers of the fan-out pool suite: three kinds of receiver of `big` — a message handler, a
 * batch handler and an async handler that reads its message only after an await (its record, and
 * so its slot, must outlive the call) — each checking sequence order from `first` on and every
 * payload byte; `report` returns a worker's counts. A worker's counts die with it: a successor
 * reports what it handled since it started (`first`: the seq it started at).
 */
import { defineHandlers } from '../../src/engine/types.ts';
import { badBytes } from './sizes-topics.ts';
import { EXIT_ALWAYS, EXIT_ONCE, POOL_PAYLOAD, poolTopics } from './pool-topics.ts';

const copy = new Uint8Array(POOL_PAYLOAD);
let worker = -1;
let count = 0;
let first = -1;
let next = 0;
let orderErrors = 0;
let bad = 0;
let redelivered = 0;

interface Big { seq: number; fault: number; copyPayloadTo(target: Uint8Array): void }

function take(m: Big, deliveries: number): void {
  const seq = m.seq;
  if (m.fault === EXIT_ALWAYS + worker || (m.fault === EXIT_ONCE + worker && deliveries === 1)) process.exit(70);
  if (first < 0) first = seq;
  else if (seq !== next) orderErrors++;
  next = seq + 1;
  m.copyPayloadTo(copy);
  bad += badBytes(copy, seq);
  if (deliveries > 1) redelivered++;
  count++;
}

export default defineHandlers(poolTopics, {
  sink: {
    topic: 'big',
    handle(m, ctx) { take(m, ctx.deliveries); },
  },
  batchSink: {
    topic: 'big',
    maxBatch: 32,
    handleBatch(batch, ctx) {
      for (const m of batch) take(m, ctx.deliveries);
    },
  },
  /** The message handler after a 30 µs busy wait: a receiver that lags behind the others. */
  slowSink: {
    topic: 'big',
    handle(m, ctx) {
      const until = performance.now() + 0.03;
      while (performance.now() < until) { /* a slow receiver */ }
      take(m, ctx.deliveries);
    },
  },
  asyncSink: {
    topic: 'big',
    async handle(m, ctx) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      take(m, ctx.deliveries);
    },
  },
  /**
   * An async handler whose every 64th message takes 3 ms: the ones behind it complete first (DONE
   * in the lane behind a pending one). It dies like take() says; it checks no order.
   */
  asyncHoldSink: {
    topic: 'big',
    async handle(m, ctx) {
      const seq = m.seq;
      if (m.fault === EXIT_ALWAYS + worker || (m.fault === EXIT_ONCE + worker && ctx.deliveries === 1)) process.exit(70);
      await new Promise<void>((resolve) => (seq % 64 === 0 ? setTimeout(resolve, 3) : setImmediate(resolve)));
      m.copyPayloadTo(copy);
      bad += badBytes(copy, seq);
      count++;
    },
  },
  /** A batch handler that publishes `relay` per message (from inside its call). */
  batchRelay: {
    topic: 'big',
    maxBatch: 16,
    handleBatch(batch, ctx) {
      for (const m of batch) {
        take(m, ctx.deliveries);
        ctx.publish('relay', { seq: m.seq });
      }
    },
  },
  /** A slow batch handler of `relay` (50 µs a message), so its lane fills and caller-runs runs it in the publisher. */
  relayBatchSink: {
    topic: 'relay',
    handleBatch(batch) {
      const until = performance.now() + 0.05 * batch.length;
      while (performance.now() < until) { /* slow */ }
    },
  },
  report: {
    topic: 'report',
    handle(q) {
      const r = { worker, count, first, orderErrors, bad, redelivered };
      if (q.reset) { count = orderErrors = bad = redelivered = 0; first = -1; next = 0; }
      return r;
    },
  },
}, {
  setup(ctx) { worker = ctx.worker; },
});
