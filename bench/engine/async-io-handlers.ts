/**
 * Handler module of the I/O part of bench/async.ts. Each worker has its own simulated resource
 * (bench/io-resource.ts) and, over it, a DataLoader and two createBatchers (its defaults; no limit
 * on calls in flight); an async handler per way reaches the resource directly or through one of
 * them. A handler reads its message's fields before the first await and checks after it that the
 * message still reads the same (the record stays valid until the promise settles: `stale` counts
 * a message that changed under a pending handler). At completion it checks the answer, adds it to
 * the sum, and records its latency (publish → now) and that latency minus the duration of the
 * call that answered it.
 */
import DataLoader from 'dataloader';
import { createBatcher } from '../../src/batcher.ts';
import { Histogram } from '../../src/histogram.ts';
import { defineHandlers, type HandlerContext } from '../../src/engine/types.ts';
import { DEFAULT_IO_COSTS, ioValueOf, makeIoResource, type IoAnswer } from '../io-resource.ts';
import {
  CALL_WORD, HISTOGRAM_BITS, LATENCY_WORD, MAX_BATCH, OUTSIDE_WORD, PAGE_BYTES, STATS_WORDS, asyncIoTopics, type AsyncIoTopics,
} from './async-io-topics.ts';

const region = new Float64Array(STATS_WORDS);
const latency = new Histogram({ bits: HISTOGRAM_BITS, words: region, offset: LATENCY_WORD });
const outside = new Histogram({ bits: HISTOGRAM_BITS, words: region, offset: OUTSIDE_WORD });
const callTime = new Histogram({ bits: HISTOGRAM_BITS, words: region, offset: CALL_WORD });
/** count, stale, wrong, calls, keys, sum: doubles in a typed array, not boxed module-level lets. */
const tally = new Float64Array(6);
const COUNT = 0;
const STALE = 1;
const WRONG = 2;
const CALLS = 3;
const KEYS = 4;
const SUM = 5;

const resource = makeIoResource(DEFAULT_IO_COSTS, (keys, callMs) => {
  tally[CALLS]! += 1;
  tally[KEYS]! += keys;
  callTime.record(callMs * 1000);
});
// cache: false: createBatcher caches nothing across batches, and a cache would answer repeated
// keys without the resource.
const loader = new DataLoader<number, IoAnswer>(resource, { cache: false, maxBatchSize: MAX_BATCH });
const batcher = createBatcher(resource, { maxBatch: MAX_BATCH });
const unlimited = createBatcher(resource, { maxBatch: MAX_BATCH, concurrency: Infinity });

interface Fields { readonly seq: number; readonly key: number }

function complete(m: Fields, seq: number, key: number, stamp: number, answer: IoAnswer): void {
  const latencyMs = performance.timeOrigin + performance.now() - stamp;
  if (m.seq !== seq || m.key !== key) tally[STALE]! += 1;
  if (answer.value !== ioValueOf(key)) tally[WRONG]! += 1;
  tally[COUNT]! += 1;
  tally[SUM]! += answer.value;
  latency.record(latencyMs * 1000);
  outside.record((latencyMs - answer.callMs) * 1000);
}

/**
 * A handler that loads its message's key through `load` (a DataLoader, a batcher). The fields are
 * read before the await: the message must read the same after it (complete() checks).
 */
function through(load: (key: number) => Promise<IoAnswer>): (m: Fields & { readonly stamp: number }) => Promise<void> {
  return async (m) => {
    const seq = m.seq;
    const key = m.key;
    const stamp = m.stamp;
    complete(m, seq, key, stamp, await load(key));
  };
}

export default defineHandlers(asyncIoTopics, {
  call: {
    topic: 'io.call',
    async handle(m) {
      const seq = m.seq;
      const key = m.key;
      const stamp = m.stamp;
      const answers = await resource([key]);
      complete(m, seq, key, stamp, answers[0]!);
    },
  },
  loader: { topic: 'io.loader', handle: through((key) => loader.load(key)) },
  batcher: { topic: 'io.batcher', handle: through((key) => batcher.load(key)) },
  unlimited: { topic: 'io.unlimited', handle: through((key) => unlimited.load(key)) },
  stats: {
    topic: 'stats',
    handle(q, ctx: HandlerContext<AsyncIoTopics>) {
      const reply = {
        worker: ctx.worker, count: tally[COUNT]!, stale: tally[STALE]!, wrong: tally[WRONG]!, calls: tally[CALLS]!,
        keys: tally[KEYS]!, sum: tally[SUM]!,
        // A copy: reset below empties the region before the reply is encoded.
        words: new Uint8Array(region.buffer, region.byteOffset + q.page * PAGE_BYTES, PAGE_BYTES).slice(),
      };
      if (q.reset) {
        region.fill(0);
        tally.fill(0);
      }
      return reply;
    },
  },
});
