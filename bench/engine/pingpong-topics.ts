/** Topics of the ping-pong latency benchmark (bench/engine-pingpong.ts). */
import { defineSchema } from '../../src/schema.ts';
import { defineTopics } from '../../src/engine/types.ts';

const Ball = defineSchema({ seq: 'u32', value: 'u32' });

export const pingPongTopics = defineTopics({
  /** To worker A: reset, then play `rounds` round trips (A serves the first ping). */
  start: { schema: defineSchema({ rounds: 'u32' }) },
  /** A → B: seq 0, 1, 2 …; value = valueOf(seq). */
  ping: { schema: Ball },
  /** B → A: the same seq; value = pongValue(ping's value). */
  pong: { schema: Ball },
  /**
   * A's score of the last game (GameReport, bench/workers/pp-histogram.ts): count, checksum of pong
   * values, order errors, and the RTT spectrum of its HdrHistogram in µs (the RttSpectrum fields).
   */
  report: {
    schema: defineSchema({ reset: 'bool' }),
    reply: defineSchema({
      count: 'u32', checksum: 'u32', errors: 'u32',
      p50: 'f64', p75: 'f64', p90: 'f64', p99: 'f64', p999: 'f64', p9999: 'f64', max: 'f64',
    }),
  },
  /** Request/response from the main thread: y = x + 1. */
  echo: { schema: defineSchema({ x: 'u32' }), reply: defineSchema({ y: 'u32' }) },
});
export type PingPongTopics = typeof pingPongTopics;
