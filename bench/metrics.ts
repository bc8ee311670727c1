/**
 * What a metrics scrape costs the engine's thread: formatPrometheus at 64 topics × 8 workers, and
 * the stats() read before it, over a real engine of that shape.
 *
 *   engine thread:  stats() ──▶ EngineStats ──▶ formatPrometheus ──▶ text (a scrape's body)
 *                   (shared-memory loads)        (string building)
 *
 * Cases, each timed per call as the median over RUNS runs of about RUN_MS each (after a warm-up run):
 *   format, synthetic:   formatPrometheus of a made-up EngineStats of 64 topics, 8 workers, the 81
 *                        normal-class lanes of 9 threads plus 9 high-class ones, 16 circuits — the
 *                        formatter's own cost, independent of what the engine holds
 *   format + histograms: the same plus 3 histograms per topic (192 series: queue wait, handler
 *                        time, round trip as the later latency change will record them), each
 *                        holding 10 000 log-uniform values from 1 µs to 100 ms: sparse buckets
 *                        (every non-empty one) and 14 fixed bounds (the messaging conventions')
 *   stats(), real engine: engine.stats() of a running engine with 64 generated topics and 8 workers
 *                        (idle after 64 000 publishes, so every counter is non-zero)
 *   format, real engine: formatPrometheus of that snapshot
 *   latency, metrics:    engine.latency() (every histogram of every thread merged) and
 *                        engine.metrics() (stats, latency and the text) of that engine
 * The check: the synthetic text parses back to its 64 × 17 topic counters (a count of series).
 *
 *   node build/bench/metrics.js
 */
import { createEngine } from '../src/index.ts';
import type { EngineStats, LaneStats, TopicStats, WorkerStats } from '../src/engine/types.ts';
import { Histogram } from '../src/histogram.ts';
import { formatPrometheus, MESSAGING_DURATION_BUCKETS, type HistogramExport } from '../src/metrics/prometheus.ts';
import { TOPIC_COUNTERS } from '../src/metrics/instruments.ts';
import { collectEnv, describeEnv, busyWarning } from './env.ts';
import { median } from './results.ts';
import { METRICS_TOPICS, metricsBenchTopics } from './engine/metrics-topics.ts';

const WORKERS = 8;
const RUNS = 21;
/** Milliseconds one run aims at (it makes at least one call, at most MAX_CALLS). */
const RUN_MS = 100;
const MAX_CALLS = 1000;

function syntheticStats(): EngineStats {
  const topics: Record<string, TopicStats> = {};
  for (let t = 0; t < METRICS_TOPICS; t++) {
    const n = 1_000_000 + t * 7919;
    topics[`bench.t${String(t).padStart(2, '0')}`] = {
      published: n, unrouted: t, routed: n * 2, delivered: n * 2 - t, droppedOldest: t, droppedNewest: 0, rejected: 3 * t, callerRuns: 0,
      handlerErrors: t % 5, redelivered: 0, crashed: 0, deadLettered: 0, circuitOpen: 0, lost: 0, admissionRefused: 0, stolen: t * 11,
      rateLimited: 0, pooled: t, poolExhausted: 0, inFlight: t % 3, shed: { high: 0, normal: t, low: 2 * t },
    };
  }
  const threads = WORKERS + 1;
  const lanes: LaneStats[] = [];
  for (let from = 0; from < threads; from++) {
    for (let to = 0; to < threads; to++) lanes.push({ from, to, priority: 'normal', published: from * 1000 + to, depth: to, highWater: 64 });
    lanes.push({ from, to: (from + 1) % threads, priority: 'high', published: 10, depth: 0, highWater: 3 });
  }
  const workers: WorkerStats[] = Array.from({ length: WORKERS }, (_, worker) => ({ worker, state: 'running', restarts: worker % 2, busyMs: 12_345.678, idleMs: 98_765.4321 }));
  const circuits = Array.from({ length: 16 }, (_, i) => ({ subscription: i, topic: `bench.t${String(i).padStart(2, '0')}`, handler: 'any', worker: i % WORKERS, state: 'closed' as const, opened: i }));
  return { topics, lanes, workers, lateReplies: 5, backlog: 0, lostToCrashes: 0, poolSlots: 256, poolInUse: 3, circuits, spin: 20_000, adaptiveSpin: true };
}

function latencyHistograms(fixed: boolean): HistogramExport[] {
  const exports: HistogramExport[] = [];
  let seed = 12345;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let t = 0; t < METRICS_TOPICS; t++) {
    for (const name of ['queue_wait', 'handler_duration', 'request_duration']) {
      const h = new Histogram();
      for (let i = 0; i < 10_000; i++) h.record(1e3 * 10 ** (5 * random())); // 1 µs .. 100 ms, in ns
      exports.push({
        name, help: `${name} of a topic's messages.`, unit: 'seconds', divideBy: 1e9, labels: { topic: `bench.t${String(t).padStart(2, '0')}` },
        histogram: h, ...(fixed ? { buckets: MESSAGING_DURATION_BUCKETS } : {}),
      });
    }
  }
  return exports;
}

/**
 * Median (and min, max) µs per call of `fn` over RUNS runs; a run makes as many calls as the
 * warm-up fitted in RUN_MS (at least one, at most MAX_CALLS).
 */
function time(fn: () => unknown): { median: number; min: number; max: number; calls: number } {
  // Warm-up: calls for RUN_MS (at least one); the runs then make as many calls as it did.
  let calls = 0;
  const warm = performance.now();
  do {
    fn();
    calls++;
  } while (performance.now() - warm < RUN_MS && calls < MAX_CALLS);
  const perCall: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const start = performance.now();
    for (let i = 0; i < calls; i++) fn();
    perCall.push(((performance.now() - start) * 1000) / calls);
  }
  return { median: median(perCall), min: Math.min(...perCall), max: Math.max(...perCall), calls };
}

function row(name: string, t: { median: number; min: number; max: number; calls: number }, text?: string): string {
  const size = text === undefined ? '' : `${(text.length / 1024).toFixed(0)} KiB, ${text.split('\n').length - 1} lines`;
  const us = (v: number): string => (v >= 10_000 ? `${(v / 1000).toFixed(1)} ms` : `${v.toFixed(0)} µs`);
  return `| ${name} | ${us(t.median)} | ${us(t.min)} – ${us(t.max)} | ${t.calls} | ${size} |`;
}

const env = await collectEnv();
console.log(describeEnv(env));
const warning = busyWarning(env);
if (warning !== null) console.log(warning);

const stats = syntheticStats();
const text = formatPrometheus(stats);
const topicSeries = text.split('\n').filter((line) => /^wasm_dispatch_topic_[a-z_]+_total\{topic="[^"]+"\} /.test(line) && !line.startsWith('wasm_dispatch_topic_shed_total')).length;
if (topicSeries !== METRICS_TOPICS * TOPIC_COUNTERS.length) throw new Error(`check failed: ${topicSeries} topic counter series, expected ${METRICS_TOPICS * TOPIC_COUNTERS.length}`);
const sparse = latencyHistograms(false);
const fixed = latencyHistograms(true);

const rows = [
  '| case | per call (median) | min – max of runs | calls per run | output |',
  '|---|---:|---:|---:|---|',
  row(`format, synthetic (${METRICS_TOPICS} topics × ${WORKERS} workers)`, time(() => formatPrometheus(stats)), text),
  row('format + 192 histograms, every non-empty bucket', time(() => formatPrometheus(stats, { histograms: sparse })), formatPrometheus(stats, { histograms: sparse })),
  row('format + 192 histograms, 14 fixed bounds', time(() => formatPrometheus(stats, { histograms: fixed })), formatPrometheus(stats, { histograms: fixed })),
];

const engine = await createEngine({ topics: metricsBenchTopics, handlers: new URL('./engine/metrics-handlers.js', import.meta.url), workers: WORKERS });
try {
  await engine.subscribe('bench.>', { handler: 'any', mode: 'group' });
  const names = Object.keys(metricsBenchTopics);
  for (let i = 0; i < 1000 * METRICS_TOPICS; i++) if (!engine.publish(names[i % METRICS_TOPICS]!, { seq: i })) await engine.whenWritable();
  await engine.drain({ timeout: 60_000 });
  await new Promise((resolve) => setTimeout(resolve, 200)); // let the workers park
  const real = engine.stats();
  rows.push(row(`stats(), real engine (${METRICS_TOPICS} topics, ${WORKERS} workers, ${real.lanes.length} lanes)`, time(() => engine.stats())));
  rows.push(row('format, real engine snapshot', time(() => formatPrometheus(real)), formatPrometheus(real)));
  rows.push(row('stats() + format (a scrape)', time(() => formatPrometheus(engine.stats()))));
  rows.push(row('engine.latency(): 64 topics × 3 histograms, merged over 9 threads', time(() => engine.latency())));
  rows.push(row('engine.metrics(): a scrape with the latency families', time(() => engine.metrics()), engine.metrics()));
} finally {
  await engine.close();
}
console.log(`check: ${topicSeries} topic counter series (${METRICS_TOPICS} × ${TOPIC_COUNTERS.length}) verified`);
console.log(rows.join('\n'));
