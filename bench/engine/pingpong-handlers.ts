/**
 * Handler module of the ping-pong benchmark. Worker A (subscribed to start, pong, report, echo)
 * serves: it stamps performance.now(), publishes ping; worker B (subscribed to ping) answers with
 * pong; A's pong handler records the round trip (ns) into an HdrHistogram (bench/workers/
 * pp-histogram.ts), checks the seq and folds the pong value into a checksum, and serves the next
 * ping until `rounds` are done. `report` returns p50/p99/p99.9/max of the histogram in µs.
 */
import { defineHandlers, type HandlerContext } from '../../src/engine/types.ts';
import { CHECKSUM_SEED, checksumStep, valueOf } from './checksum.ts';
import { pingPongTopics, type PingPongTopics } from './pingpong-topics.ts';
import { recordRttMs, rttHistogram, rttPercentilesUs } from '../workers/pp-histogram.ts';

/** What B answers to a ping carrying `value`. */
export function pongValue(value: number): number {
  return (Math.imul(value, 3) + 1) >>> 0;
}

const histogram = rttHistogram();
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

export default defineHandlers(pingPongTopics, {
  start: {
    topic: 'start',
    handle(q, ctx) {
      rounds = q.rounds;
      histogram.reset();
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
      recordRttMs(histogram, now - sentAt);
      if (m.seq !== count) errors++;
      checksum = checksumStep(checksum, m.value);
      count++;
      if (count < rounds) serve(ctx, count);
    },
  },
  report: {
    topic: 'report',
    handle(q) {
      const reply = { count, checksum, errors, ...rttPercentilesUs(histogram), max: histogram.totalCount > 0 ? histogram.maxValue / 1000 : NaN };
      if (q.reset) {
        count = 0;
        rounds = 0;
        checksum = CHECKSUM_SEED;
        errors = 0;
        histogram.reset();
      }
      return reply;
    },
  },
  echo: { topic: 'echo', handle(q) { return { y: (q.x + 1) >>> 0 }; } },
});
