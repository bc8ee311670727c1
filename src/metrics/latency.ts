/**
 * The engine's latency histograms (engine.latency(): nanoseconds) as Prometheus histogram
 * families, in seconds, over fixed bounds: the same buckets for every topic, so that
 * `histogram_quantile(0.99, sum by (le) (rate(…_bucket[5m])))` works across topics and engines.
 */
import type { LatencyReport, TopicLatency } from '../engine/types.ts';
import type { HistogramExport } from './prometheus.ts';

/**
 * Bounds in seconds, 1 µs – 10 s in 1-2.5-5 steps: a dispatcher's queue waits start near a
 * microsecond, and handlers doing I/O reach seconds. 22 bounds: a topic's three families cost
 * ~75 lines. A source bucket that straddles a bound (the source's buckets are ≤ 0.8 % wide) counts
 * in the next one.
 */
export const LATENCY_BUCKETS: readonly number[] = [
  1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3,
  0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/**
 * The three latency histograms of a topic (TopicLatency) and what each is called outside the
 * engine, in one table for every exposition: `name` the Prometheus family (`<prefix>_<name>_seconds`)
 * and the OpenTelemetry count/sum pair (`<prefix>.<name>.count`), `otel` the bucketed histogram of
 * the MetricProducer (a messaging convention's name where one fits, else after the prefix).
 */
export const LATENCY_FAMILIES: readonly {
  readonly key: keyof TopicLatency;
  readonly name: string;
  readonly help: string;
  readonly otel: { readonly name: string; readonly prefixed: boolean; readonly operation?: string };
}[] = [
  {
    key: 'queueWait', name: 'queue_wait', otel: { name: 'queue_wait', prefixed: true },
    help: 'Sampled deliveries: time from publish (the push into the lane) until the handler started.',
  },
  {
    key: 'handler', name: 'handler_duration', otel: { name: 'messaging.process.duration', prefixed: false, operation: 'process' },
    help: 'Sampled deliveries: handler run time (async handlers: until the promise settled).',
  },
  {
    key: 'roundTrip', name: 'request_duration', otel: { name: 'request.duration', prefixed: true },
    help: 'Request round trips on the engine thread: request() until the reply settled it.',
  },
];

/** The families of `report` for formatPrometheus: per topic, each kind that has samples. */
export function latencyExports(report: LatencyReport): HistogramExport[] {
  const out: HistogramExport[] = [];
  for (const [topic, latency] of Object.entries(report.topics)) {
    for (const { key, name, help } of LATENCY_FAMILIES) {
      const histogram = latency[key];
      if (histogram.count === 0) continue;
      out.push({ name, help, unit: 'seconds', divideBy: 1e9, labels: { topic }, histogram, buckets: LATENCY_BUCKETS });
    }
  }
  return out;
}
