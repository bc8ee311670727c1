/**
 * The handler module: every engine worker runs it (engine-worker.js imports it, so the bundler
 * bundles it into the worker script), each with its own counters. Handlers read the message in
 * place in shared memory; a handler's return value is the reply of a request.
 */
import { defineHandlers } from 'wasm-dispatch';
import { topics } from './topics.js';

let worker = -1;
let count = 0;
let sum = 0;

export default defineHandlers(topics, {
  sum: {
    topic: 'sample',
    handle(sample) {
      count++;
      sum += sample.value;
    },
  },
  report: {
    topic: 'report',
    handle(query) {
      const reply = { worker, count, sum };
      if (query.reset) count = sum = 0;
      return reply;
    },
  },
  square: {
    topic: 'square',
    handle(query) {
      return { y: query.x * query.x, worker };
    },
  },
}, {
  setup(ctx) {
    worker = ctx.worker;
  },
});
