/**
 * Handler module of the engine tests. Every worker (and the engine's thread, for caller-runs)
 * imports it and keeps its own counters per handler name: count, checksums (sum, sum of squares),
 * order errors (per (producer, key) sequences must rise by exactly 1 for broadcast and keyed, and
 * rise for group) and the set of keys seen. The `report` request returns them.
 */
import { defineHandlers, type HandlerContext } from '../../src/engine/types.ts';
import { topics, type Topics } from './topics.ts';

interface Counters { count: number; sum: number; sumSquares: number; orderErrors: number; keysLow: number; keysHigh: number; last: Map<number, number> }
const counters = new Map<string, Counters>();
function countersOf(name: string): Counters {
  let c = counters.get(name);
  if (c === undefined) {
    c = { count: 0, sum: 0, sumSquares: 0, orderErrors: 0, keysLow: 0, keysHigh: 0, last: new Map() };
    counters.set(name, c);
  }
  return c;
}

/** Counts a tick; `strict`: sequence must be exactly last + 1 (per producer and key), else just rising. */
function countTick(name: string, t: { producer: number; seq: number; value: number; key: number }, strict: boolean): void {
  const c = countersOf(name);
  c.count++;
  c.sum += t.value;
  c.sumSquares += t.value * t.value;
  if (t.key < 32) c.keysLow |= 1 << t.key;
  else c.keysHigh |= 1 << (t.key - 32);
  const stream = t.producer * 65536 + t.key;
  const last = c.last.get(stream);
  if (last !== undefined && (strict ? t.seq !== last + 1 : t.seq <= last)) c.orderErrors++;
  c.last.set(stream, t.seq);
}

let worker = -2;
const relaySeq = new Map<number, number>();

function busyWait(micros: number): void {
  const end = performance.now() + micros / 1000;
  while (performance.now() < end) { /* CPU-bound handler */ }
}

export default defineHandlers(topics, {
  /** broadcast and keyed: every (producer, key) stream must arrive complete and in order. */
  tickStrict: { topic: 'tick', handle(t) { countTick('tickStrict', t, true); } },
  tickStrict2: { topic: 'tick', handle(t) { countTick('tickStrict2', t, true); } },
  /** group: each message to exactly one member; per member, sequences rise. */
  tickGroup: { topic: 'tick', handle(t) { countTick('tickGroup', t, false); } },
  relay: {
    topic: 'relay',
    handle(r, ctx: HandlerContext<Topics>) {
      const producer = 100 + ctx.worker;
      let seq = relaySeq.get(r.key) ?? 0;
      for (let i = 0; i < r.count; i++) ctx.publish('tick', { producer, seq: seq++, value: producer * 1000 + i, key: r.key });
      relaySeq.set(r.key, seq);
    },
  },
  load: {
    topic: 'load',
    handle(m) {
      busyWait(m.micros);
      const c = countersOf('load');
      c.count++;
      c.sum += m.seq;
      c.sumSquares += m.seq * m.seq;
    },
  },
  report: {
    topic: 'report',
    handle(q) {
      const c = countersOf(q.handler);
      const reply = { worker, count: c.count, sum: c.sum, sumSquares: c.sumSquares, orderErrors: c.orderErrors, keysLow: c.keysLow >>> 0, keysHigh: c.keysHigh >>> 0 };
      if (q.reset) counters.delete(q.handler);
      return reply;
    },
  },
  add: {
    topic: 'add',
    handle(q) {
      if (q.a < 0) throw new RangeError(`a=${q.a} is negative`);
      if (q.delayMs > 0) busyWait(q.delayMs * 1000);
      return { sum: q.a + q.b, worker };
    },
  },
  /**
   * Ends the worker: process.exit under Node; a Web Worker cannot exit itself, so in a browser an
   * error thrown outside any handler (from a timer) is the crash the platform must detect.
   */
  crash: {
    topic: 'crash',
    handle(m) {
      if (typeof process !== 'undefined' && typeof process.exit === 'function') process.exit(m.code);
      const code = m.code; // read now: the message is only valid during the call
      setTimeout(() => { throw new Error(`crash ${code}`); }, 0);
    },
  },
  named: { topic: 'named', handle() { countersOf('named').count++; } },
}, {
  setup(ctx) { worker = ctx.worker; },
});
