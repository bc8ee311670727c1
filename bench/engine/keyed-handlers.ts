/**
 * Handler module of the keyed many-to-many benchmark (bench/keyed.ts). Every worker is both a
 * producer and a receiver:
 *
 *   producer (start / moreN): publishes CHUNK moves with ctx.writer('move') + ctx.send, then sends
 *     itself `moreN` with what remains, so its own lanes are drained between chunks (a producer
 *     that published everything in one call would fill the lane to itself and stall).
 *   receiver (move): checks seq against the next expected seq of (producer, player), and adds the
 *     move's hash to an order-insensitive sum (the two receivers' sums add up to the sender's).
 *
 * The moves a producer sends are fixed by (producer, i): see moveOf(), which bench/keyed.ts uses
 * to compute the expected count and checksum. Per-thread state, no allocation per message.
 */
import { defineHandlers, type HandlerContext } from '../../src/engine/types.ts';
import { CHECKSUM_SEED, checksumStep, valueOf } from './checksum.ts';
import { keyedTopics, type KeyedTopics } from './keyed-topics.ts';

/** Distinct players (keys). */
export const KEYS = 1000;
/** Producers: the two workers. */
export const PRODUCERS = 2;
/** Moves a producer publishes per handler call. */
const CHUNK = 256;

/** Player of producer p's i-th move (spread over KEYS, different sequence per producer). */
export function playerOf(producer: number, i: number): number {
  return valueOf((i ^ (producer << 28)) >>> 0) % KEYS;
}
/** Value of producer p's i-th move. */
export function moveValue(producer: number, i: number): number {
  return valueOf((i * PRODUCERS + producer) >>> 0);
}
/** What a receiver adds to its sum for one move (mod 2^32). */
export function moveHash(producer: number, player: number, seq: number, value: number): number {
  return checksumStep(checksumStep(checksumStep(checksumStep(CHECKSUM_SEED, producer), player), seq), value);
}

let worker = -1;
// Producer state.
const sent = new Uint32Array(KEYS);
let produced = 0;
// Receiver state.
const expected = new Uint32Array(PRODUCERS * KEYS);
let count = 0;
let checksum = 0;
let orderErrors = 0;

function produce(ctx: HandlerContext<KeyedTopics>, remaining: number): void {
  const producer = worker;
  const move = ctx.writer('move');
  const n = Math.min(CHUNK, remaining);
  for (let k = 0; k < n; k++) {
    const i = produced++;
    const player = playerOf(producer, i);
    move.producer = producer;
    move.player = player;
    const seq = sent[player]!;
    sent[player] = seq + 1;
    move.seq = seq;
    move.value = moveValue(producer, i);
    ctx.send('move');
  }
  if (remaining > n) {
    const topic = producer === 0 ? 'more0' : 'more1';
    ctx.writer(topic).remaining = remaining - n;
    ctx.send(topic);
  }
}

export default defineHandlers(keyedTopics, {
  start: {
    topic: 'start',
    handle(m, ctx) {
      sent.fill(0);
      produced = 0;
      produce(ctx, m.remaining);
    },
  },
  more0: { topic: 'more0', handle(m, ctx) { produce(ctx, m.remaining); } },
  more1: { topic: 'more1', handle(m, ctx) { produce(ctx, m.remaining); } },
  move: {
    topic: 'move',
    handle(m) {
      const producer = m.producer;
      const player = m.player;
      const seq = m.seq;
      const slot = (producer % PRODUCERS) * KEYS + (player % KEYS);
      if (producer >= PRODUCERS || player >= KEYS || seq !== expected[slot]) orderErrors++;
      expected[slot] = seq + 1;
      checksum = (checksum + moveHash(producer, player, seq, m.value)) >>> 0;
      count++;
    },
  },
  report: {
    topic: 'report',
    handle(q) {
      let players = 0;
      for (let player = 0; player < KEYS; player++) {
        for (let producer = 0; producer < PRODUCERS; producer++) {
          if (expected[producer * KEYS + player] !== 0) { players++; break; }
        }
      }
      const reply = { worker, count, checksum, orderErrors, players };
      if (q.reset) {
        expected.fill(0);
        count = 0;
        checksum = 0;
        orderErrors = 0;
      }
      return reply;
    },
  },
}, {
  setup(ctx) { worker = ctx.worker; },
});
