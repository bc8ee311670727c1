/**
 * Handler module of the ping-pong benchmark. Worker A (subscribed to start, pong, report, echo)
 * serves: it stamps performance.now(), publishes ping; worker B (subscribed to ping) answers with
 * pong; A's pong handler scores it (GameScore, bench/workers/pp-histogram.ts: the round trip in
 * ns into an HdrHistogram, the seq checked, the pong value folded into a checksum) and serves the
 * next ping until `rounds` are done. `report` returns the score and its RTT spectrum (p50 … p99.99,
 * max) in µs.
 */
import { defineHandlers, type HandlerContext } from '../../src/engine/types.ts';
import { valueOf } from './checksum.ts';
import { pingPongTopics, type PingPongTopics } from './pingpong-topics.ts';
import { GameScore } from '../workers/pp-histogram.ts';

/** What B answers to a ping carrying `value`. */
export function pongValue(value: number): number {
  return (Math.imul(value, 3) + 1) >>> 0;
}

const score = new GameScore();
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
      score.start(q.rounds);
      if (q.rounds > 0) serve(ctx, 0);
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
      if (score.pong(m.seq, m.value, now - sentAt)) serve(ctx, score.count);
    },
  },
  report: {
    topic: 'report',
    handle(q) {
      const reply = score.report();
      if (q.reset) score.start(0);
      return reply;
    },
  },
  echo: { topic: 'echo', handle(q) { return { y: (q.x + 1) >>> 0 }; } },
});
