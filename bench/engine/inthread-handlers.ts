/**
 * Handler module of the in-thread dispatch benchmark. Everything runs on one worker (0):
 *
 *   kick{MODE_ENGINE, n}: stamp t0, publish items 0..CHUNK-1 with writer+send to `item`, then a
 *     `next` marker, all on this worker's own lane (worker 0 → worker 0); `next` publishes the
 *     following chunk and marker, so the lane never holds more than about two chunks (it never
 *     spills into the backlog). `sink` (subscribed to item on worker 0) tallies each item and
 *     stamps t1 at the n-th; `report` returns the tally and t1 − t0.
 *   kick{MODE_EVENTS | MODE_EVENTEMITTER3 | MODE_MITT, n}: emits n fresh `{ seq, value }` objects
 *     on a Node EventEmitter / eventemitter3 / mitt with one listener doing the same tally, timed
 *     around the loop, and replies with it.
 *
 * The tally is the same everywhere: count, seq order errors, FNV-1a of the values.
 */
import { EventEmitter as NodeEventEmitter } from 'node:events';
import { EventEmitter as EventEmitter3 } from 'eventemitter3';
import mittModule from 'mitt';
import { defineHandlers, type HandlerContext } from '../../src/engine/types.ts';
import { CHECKSUM_SEED, checksumStep, valueOf } from './checksum.ts';
import { MODE_ENGINE, MODE_EVENTEMITTER3, MODE_EVENTS, MODE_MITT, inThreadTopics, type InThreadTopics } from './inthread-topics.ts';

/** Items published per chunk before the `next` marker (the lane holds 1024 records). */
export const CHUNK = 256;

interface Item { seq: number; value: number }
type Mitt = <E extends Record<string, unknown>>() => {
  on<K extends keyof E>(type: K, handler: (event: E[K]) => void): void;
  emit<K extends keyof E>(type: K, event: E[K]): void;
};
// mitt's typings are CommonJS-shaped (`export default` read as module.exports under NodeNext);
// at run time the ESM import's default is the factory itself.
const mitt = ((mittModule as unknown as { default?: Mitt }).default ?? mittModule) as unknown as Mitt;

let count = 0;
let checksum = CHECKSUM_SEED;
let orderErrors = 0;
let nextSeq = 0;
let spills = 0;
let target = 0;
let startedAt = 0;
let endedAt = 0;

function reset(): void {
  count = 0;
  checksum = CHECKSUM_SEED;
  orderErrors = 0;
  nextSeq = 0;
  spills = 0;
  endedAt = 0;
}

function tally(seq: number, value: number): void {
  if (seq !== nextSeq) orderErrors++;
  nextSeq = seq + 1;
  checksum = checksumStep(checksum, value);
  count++;
}

function snapshot(): { count: number; checksum: number; orderErrors: number; spills: number; ms: number } {
  return { count, checksum, orderErrors, spills, ms: endedAt - startedAt };
}

const listener = (m: Item): void => tally(m.seq, m.value);
const nodeEmitter = new NodeEventEmitter();
nodeEmitter.on('item', listener);
const emitter3 = new EventEmitter3();
emitter3.on('item', listener);
const mittEmitter = mitt<{ item: Item }>();
mittEmitter.on('item', listener);

function emitLoop(mode: number, n: number): void {
  switch (mode) {
    case MODE_EVENTS:
      for (let seq = 0; seq < n; seq++) nodeEmitter.emit('item', { seq, value: valueOf(seq) });
      break;
    case MODE_EVENTEMITTER3:
      for (let seq = 0; seq < n; seq++) emitter3.emit('item', { seq, value: valueOf(seq) });
      break;
    case MODE_MITT:
      for (let seq = 0; seq < n; seq++) mittEmitter.emit('item', { seq, value: valueOf(seq) });
      break;
    default:
      throw new Error(`mode=${mode}: not an emitter mode`);
  }
}

/** Publishes items from..from+CHUNK-1 (at most `target`) to this worker's own lane, then a `next` marker if more remain. */
function publishChunk(ctx: HandlerContext<InThreadTopics>, from: number): void {
  const end = Math.min(target, from + CHUNK);
  const item = ctx.writer('item');
  for (let seq = from; seq < end; seq++) {
    item.seq = seq;
    item.value = valueOf(seq);
    if (!ctx.send('item')) spills++;
  }
  if (end < target) {
    ctx.writer('next').published = end;
    if (!ctx.send('next')) spills++;
  }
}

export default defineHandlers(inThreadTopics, {
  kick: {
    topic: 'kick',
    handle(q, ctx) {
      const mode = q.mode;
      const n = q.n;
      reset();
      target = n;
      if (mode === MODE_ENGINE) {
        startedAt = performance.now();
        if (n === 0) endedAt = startedAt;
        else publishChunk(ctx, 0);
        return snapshot();
      }
      startedAt = performance.now();
      emitLoop(mode, n);
      endedAt = performance.now();
      return snapshot();
    },
  },
  sink: {
    topic: 'item',
    handle(m) {
      tally(m.seq, m.value);
      if (count === target) endedAt = performance.now();
    },
  },
  next: { topic: 'next', handle(m, ctx) { publishChunk(ctx, m.published); } },
  report: {
    topic: 'report',
    handle(q) {
      const reply = snapshot();
      if (q.reset) {
        reset();
        target = 0;
      }
      return reply;
    },
  },
});
