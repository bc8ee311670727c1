/**
 * Handler module of the scheduling suite. Each worker keeps its own state: messages handled per
 * class, in handling order (a log of classes, from which `report` derives how many lows were
 * handled before the last high, and the class shares while both were handled), checksums, order
 * errors per (producer, key, class) stream, the admission-limited topic's count, its sprays'
 * publish outcomes, and when its last hold and spray ran.
 */
import { defineHandlers, type HandlerContext, type Priority } from '../../src/engine/types.ts';
import {
  ANY_WORKER, API_ALTERNATE, CRASH_MICROS, API_PUBLISH, CLASSES, HIGH, HOLDING_MICROS, LOW, MIXED, TARGET_PACED, TARGET_WORK, mixedClass, schedTopics, valueOf, type SchedTopics,
} from './sched-topics.ts';

let worker = -2;
const LOG_CAPACITY = 1 << 20;
const log = new Uint8Array(LOG_CAPACITY);
let logLength = 0;
const perClass = [0, 0, 0];
let sum = 0;
let orderErrors = 0;
let keysLow = 0;
let keysHigh = 0;
const last = new Map<number, number>();
let gated = 0;
let gatedSum = 0;
let attempted = 0;
let accepted = 0;
let acceptedSum = 0;
let holdStart = 0;
let holdEnd = 0;
let sprayStart = 0;
let sprayEnd = 0;
let sprayFrom = 0;
let sprayTo = 0;
/** The sprayer's next seq per (producer, key, cls): kept across resets (tests use fresh producer ids). */
const sprayed = new Map<number, number>();

function reset(): void {
  logLength = 0;
  perClass.fill(0);
  sum = 0;
  orderErrors = 0;
  keysLow = 0;
  keysHigh = 0;
  last.clear();
  gated = 0;
  gatedSum = 0;
  attempted = 0;
  accepted = 0;
  acceptedSum = 0;
}

/** Epoch ms, comparable across threads (each thread's timeOrigin differs). */
function epoch(): number {
  return performance.timeOrigin + performance.now();
}

function busyWait(micros: number): void {
  if (micros === 0) return;
  const end = performance.now() + micros / 1000;
  while (performance.now() < end) { /* CPU-bound handler */ }
}

interface Work { producer: number; key: number; cls: number; seq: number; value: number; micros: number }

const streamOf = (producer: number, key: number, cls: number): number => (producer * 64 + key) * 4 + cls;

/** Order per (producer, key, cls): strict (exactly last + 1, from 0) or rising. */
function checkOrder(m: Work, strict: boolean): void {
  const stream = streamOf(m.producer, m.key, m.cls);
  const previous = last.get(stream) ?? -1;
  if (strict ? m.seq !== previous + 1 : m.seq <= previous) orderErrors++;
  last.set(stream, m.seq);
}

/** Tells the test this worker is about to hold (see the `holding` topic). */
function signalHolding(ctx: HandlerContext<SchedTopics>): void {
  ctx.publish('holding', { worker: ctx.worker });
}

function take(m: Work, strict: boolean, ctx: HandlerContext<SchedTopics>): void {
  const cls = m.cls;
  if (m.micros >= HOLDING_MICROS) signalHolding(ctx);
  perClass[cls]! += 1;
  sum += m.value;
  if (logLength < LOG_CAPACITY) log[logLength++] = cls;
  if (m.key < 32) keysLow |= 1 << m.key;
  else keysHigh |= 1 << (m.key - 32);
  checkOrder(m, strict);
  busyWait(m.micros);
}

function takeGated(m: Work, ctx: HandlerContext<SchedTopics>): void {
  if (m.micros >= HOLDING_MICROS) signalHolding(ctx);
  gated++;
  gatedSum += m.value;
  checkOrder(m, false);
  busyWait(m.micros);
}

/** Lows before the last high, and the classes handled in the window where both were. */
function logMetrics(): { lowsBeforeLastHigh: number; windowHigh: number; windowLow: number } {
  let firstHigh = -1;
  let lastHigh = -1;
  let firstLow = -1;
  let lastLow = -1;
  for (let i = 0; i < logLength; i++) {
    const cls = log[i];
    if (cls === HIGH) {
      if (firstHigh < 0) firstHigh = i;
      lastHigh = i;
    } else if (cls === LOW) {
      if (firstLow < 0) firstLow = i;
      lastLow = i;
    }
  }
  let lowsBeforeLastHigh = 0;
  for (let i = 0; i < lastHigh; i++) if (log[i] === LOW) lowsBeforeLastHigh++;
  let windowHigh = 0;
  let windowLow = 0;
  if (firstHigh >= 0 && firstLow >= 0) {
    const from = Math.max(firstHigh, firstLow);
    const to = Math.min(lastHigh, lastLow);
    for (let i = from; i <= to; i++) {
      if (log[i] === HIGH) windowHigh++;
      else if (log[i] === LOW) windowLow++;
    }
  }
  return { lowsBeforeLastHigh, windowHigh, windowLow };
}

function spray(s: { worker: number; target: number; producer: number; count: number; cls: number; keys: number; micros: number; api: number; flush: boolean }, ctx: HandlerContext<SchedTopics>): void {
  if (s.worker !== ANY_WORKER && s.worker !== ctx.worker) return;
  // Read now: the message is only valid during the call (and publishing does not touch it, but be plain).
  const { target: targetId, count, cls: clsSpec, keys, micros, api, flush } = s;
  const producer = s.producer * 8 + ctx.worker;
  const target = targetId === TARGET_WORK ? 'work' : targetId === TARGET_PACED ? 'paced' : 'gated';
  sprayStart = epoch();
  sprayFrom = Date.now(); // the clock rate buckets keep (admission.ts)
  for (let i = 0; i < count; i++) {
    const cls = clsSpec === MIXED ? mixedClass(producer, i) : clsSpec;
    const key = i % keys;
    const stream = streamOf(producer, key, cls);
    const seq = sprayed.get(stream) ?? 0;
    sprayed.set(stream, seq + 1);
    const value = valueOf(producer, key, cls, seq);
    const priority = CLASSES[cls] as Priority;
    let ok: boolean;
    if (api === API_PUBLISH || (api === API_ALTERNATE && (i & 1) === 0)) {
      ok = ctx.publish(target, { producer, key, cls, seq, value, micros }, priority);
    } else {
      const w = ctx.writer(target);
      w.producer = producer;
      w.key = key;
      w.cls = cls;
      w.seq = seq;
      w.value = value;
      w.micros = micros;
      ok = ctx.send(target, priority);
    }
    if (flush) ctx.flush();
    attempted++;
    if (ok) {
      accepted++;
      acceptedSum += value;
    }
  }
  sprayEnd = epoch();
  sprayTo = Date.now();
}

export default defineHandlers(schedTopics, {
  /** Prioritized traffic; every (producer, key, class) stream complete and in order. */
  work: { topic: 'work', handle(m, ctx) { take(m, true, ctx); } },
  /** Shed traffic: streams have gaps (what was shed), so only rising. */
  shedding: { topic: 'shedding', handle(m, ctx) { take(m, false, ctx); } },
  shedCustom: { topic: 'shedCustom', handle(m, ctx) { take(m, false, ctx); } },
  gated: { topic: 'gated', handle(m, ctx) { takeGated(m, ctx); } },
  gatedWide: { topic: 'gatedWide', handle(m, ctx) { takeGated(m, ctx); } },
  paced: { topic: 'paced', handle(m, ctx) { takeGated(m, ctx); } },
  skewed: {
    topic: 'skewed',
    handle(m, ctx) {
      // Stealing takes queued records newest first: no order to check, only that each runs once.
      if (m.micros === CRASH_MICROS && ctx.deliveries === 1) process.exit(72);
      if (m.micros >= HOLDING_MICROS) signalHolding(ctx);
      gated++;
      gatedSum += m.value;
      busyWait(m.micros);
    },
  },
  hold: {
    topic: 'hold',
    handle(h, ctx) {
      if (h.ms > 0) signalHolding(ctx);
      holdStart = epoch();
      busyWait(h.ms * 1000);
      holdEnd = epoch();
    },
  },
  kick: { topic: 'kick', handle(k, ctx) { ctx.publish('hold', { ms: k.ms }); } },
  spray: { topic: 'spray', handle(s, ctx) { spray(s, ctx); } },
  report: {
    topic: 'report',
    handle(q) {
      const reply = {
        worker, high: perClass[0]!, normal: perClass[1]!, low: perClass[2]!, sum, orderErrors, keysLow: keysLow >>> 0, keysHigh: keysHigh >>> 0,
        ...logMetrics(), gated, gatedSum, attempted, accepted, acceptedSum, holdStart, holdEnd, sprayStart, sprayEnd, sprayFrom, sprayTo,
      };
      if (q.reset) reset();
      return reply;
    },
  },
  probe: {
    topic: 'probe',
    handle(q, ctx) {
      const priority = q.priority as Priority;
      const fieldOf = (error: unknown): string => `${(error as { name?: string }).name}:${(error as { field?: string }).field}`;
      let publishField = '';
      let sendField = '';
      try {
        ctx.publish('work', { producer: 0, key: 0, cls: 1, seq: 0, value: 0, micros: 0 }, priority);
      } catch (error) {
        publishField = fieldOf(error);
      }
      try {
        ctx.send('work', priority);
      } catch (error) {
        sendField = fieldOf(error);
      }
      return { publishField, sendField };
    },
  },
}, {
  setup(ctx) { worker = ctx.worker; },
});
