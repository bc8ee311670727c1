/** Helpers of the engine suites: engines on a backend, reports from every worker, bounded waits. */
import { createEngine, type Engine } from '../../src/index.ts';
import type { EngineOptions } from '../../src/engine/types.ts';
import { CORE_BUILD } from '../harness.ts';
import { topics, type Topics } from './topics.ts';

export const HANDLERS = new URL('./handlers.js', import.meta.url);
export type TestEngine = Engine<Topics>;

/** An engine over the test topics and handlers; errors reported to it are collected in `errors`. */
export async function startEngine(
  backend: 'wasm' | 'js',
  options: Partial<EngineOptions<Topics>> = {},
): Promise<TestEngine & { errors: Error[] }> {
  const errors: Error[] = [];
  const engine = await createEngine<Topics>({
    topics, handlers: HANDLERS, backend, workers: 2, coreBuild: CORE_BUILD, onError: (e) => errors.push(e), ...options,
  });
  await engine.subscribe('report', { handler: 'report', mode: 'broadcast' });
  return Object.assign(engine, { errors });
}

export interface WorkerReport {
  worker: number; count: number; sum: number; sumSquares: number; orderErrors: number; keysLow: number; keysHigh: number;
}

/** Every worker's counters of `handler` (one reply per worker, sorted), then resets them. */
export async function reports(engine: TestEngine, handler: string, reset = true): Promise<WorkerReport[]> {
  const replies = await engine.requestAll('report', { handler, reset }, { timeout: 20_000 });
  return (replies as WorkerReport[]).sort((a, b) => a.worker - b.worker);
}

/** Publishes ticks (producer 0) with per-key consecutive sequences; honours back-pressure. */
export async function publishTicks(engine: TestEngine, count: number, keys: number, start = 0): Promise<{ sum: number; sumSquares: number }> {
  const seq = new Array<number>(keys).fill(start);
  let sum = 0;
  let sumSquares = 0;
  const message = { producer: 0, seq: 0, value: 0, key: 0 };
  for (let i = 0; i < count; i++) {
    message.key = i % keys;
    message.seq = seq[message.key]!++;
    message.value = (i * 2654435761) >>> 16;
    sum += message.value;
    sumSquares += message.value * message.value;
    if (!engine.publish('tick', message)) await engine.whenWritable();
  }
  return { sum, sumSquares };
}

/** Resolves `promise`, or rejects after `ms` naming `what`: no test waits forever. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}
