/**
 * Handlers of the cluster suites. `order` and `tick` write one line per message they handle, with
 * a synchronous write to a file of their own thread in handledDir() — what a killed node handled
 * survives it — before returning (the bridge acknowledges only after that):
 *
 *   o <producer> <seq> <key> <deliveries> <ms since epoch>      (order)
 *   t <n> <deliveries> <ms since epoch>                         (tick)
 *
 * WD_CLUSTER_SLOW_US makes each `order` busy-wait that long (work stays in flight).
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { defineHandlers } from '../../src/engine/types.ts';
import { clusterTopics } from './cluster-topics.ts';

/** Where handlers write: WD_CLUSTER_LOG (a node process's, set by its parent), else a directory of this process. */
export function handledDir(): string {
  return process.env.WD_CLUSTER_LOG ?? join(tmpdir(), `wd-cluster-log-${process.pid}`);
}

let fd = -1;
const slowUs = Number(process.env.WD_CLUSTER_SLOW_US ?? 0);

function write(line: string): void {
  if (fd < 0) {
    mkdirSync(handledDir(), { recursive: true });
    fd = openSync(join(handledDir(), `${process.pid}-${threadId}.log`), 'a');
  }
  writeSync(fd, line);
}

export default defineHandlers(clusterTopics, {
  order: {
    topic: 'order',
    handle(m, ctx) {
      if (slowUs > 0) {
        const until = performance.now() + slowUs / 1000;
        while (performance.now() < until);
      }
      write(`o ${m.producer} ${m.seq} ${m.key} ${ctx.deliveries} ${Date.now()}\n`);
    },
  },
  /** `limited`, logged as `order`, 200 µs each: admission refuses what comes meanwhile. */
  limited: {
    topic: 'limited',
    handle(m, ctx) {
      const until = performance.now() + 0.2;
      while (performance.now() < until);
      write(`o ${m.producer} ${m.seq} ${m.key} ${ctx.deliveries} ${Date.now()}\n`);
    },
  },
  tick: {
    topic: 'tick',
    handle(m, ctx) {
      write(`t ${m.n} ${ctx.deliveries} ${Date.now()}\n`);
    },
  },
}, {
  setup() {
    process.once('exit', () => {
      if (fd >= 0) closeSync(fd);
    });
  },
});
