/**
 * Handler module of the request/response benchmark: `add` answers (a + b) mod 2^32 and names the
 * worker that answered (so the benchmark can check that both group members served). Stateless.
 */
import { defineHandlers } from '../../src/engine/types.ts';
import { rrTopics } from './rr-topics.ts';

let worker = 0;

export default defineHandlers(rrTopics, {
  add: { topic: 'add', handle(q) { return { sum: (q.a + q.b) >>> 0, worker }; } },
}, {
  setup(ctx) { worker = ctx.worker; },
});
