/**
 * Handler module of the ping-pong benchmark. Worker A (subscribed to start, pong, report, echo)
 * serves: it stamps performance.now(), publishes ping; worker B (subscribed to ping) answers with
 * pong; A's pong handler records the round trip in µs into a preallocated Float64Array, checks
 * the seq and folds the pong value into a checksum, and serves the next ping until `rounds` are
 * done. `report` sorts the samples and returns p50/p99/max (nearest rank).
 */
import { defineHandlers, type HandlerContext } from '../../src/engine/types.ts';
import { CHECKSUM_SEED, checksumStep, valueOf } from './checksum.ts';
import { pingPongTopics, type PingPongTopics } from './pingpong-topics.ts';

/** What B answers to a ping carrying `value`. */
export function pongValue(value: number): number {
  return (Math.imul(value, 3) + 1) >>> 0;
}

let samples = new Float64Array(0);
let rounds = 0;
let count = 0;
let checksum = CHECKSUM_SEED;
let errors = 0;
let sentAt = 0;

function serve(ctx: HandlerContext<PingPongTopics>, seq: number): void {
  const ping = ctx.writer('ping');
  ping.seq = seq;
  ping.value = valueOf(seq);
  sentAt = performance.now();
  ctx.send('ping');
}

function nearestRank(sorted: Float64Array, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  return sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]!;
}

export default defineHandlers(pingPongTopics, {
  start: {
    topic: 'start',
    handle(q, ctx) {
      rounds = q.rounds;
      if (samples.length < rounds) samples = new Float64Array(rounds);
      count = 0;
      checksum = CHECKSUM_SEED;
      errors = 0;
      if (rounds > 0) serve(ctx, 0);
    },
  },
  ping: {
    topic: 'ping',
    handle(m, ctx) {
      const pong = ctx.writer('pong');
      pong.seq = m.seq;
      pong.value = pongValue(m.value);
      ctx.send('pong');
    },
  },
  pong: {
    topic: 'pong',
    handle(m, ctx) {
      const now = performance.now();
      if (count < samples.length) samples[count] = (now - sentAt) * 1000;
      if (m.seq !== count) errors++;
      checksum = checksumStep(checksum, m.value);
      count++;
      if (count < rounds) serve(ctx, count);
    },
  },
  report: {
    topic: 'report',
    handle(q) {
      const sorted = samples.slice(0, Math.min(count, samples.length)).sort();
      const reply = { count, checksum, errors, p50: nearestRank(sorted, 50), p99: nearestRank(sorted, 99), max: sorted.length > 0 ? sorted[sorted.length - 1]! : NaN };
      if (q.reset) {
        count = 0;
        rounds = 0;
        checksum = CHECKSUM_SEED;
        errors = 0;
      }
      return reply;
    },
  },
  echo: { topic: 'echo', handle(q) { return { y: (q.x + 1) >>> 0 }; } },
});
