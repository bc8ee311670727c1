/**
 * The engine's latency histograms as OpenTelemetry histograms, with their buckets.
 *
 * The OpenTelemetry API has no asynchronous histogram: an instrument records values one by one,
 * and the engine's histograms are already aggregated (in shared memory, by the workers). The SDK's
 * way in for pre-aggregated data is a MetricProducer, handed to a MetricReader
 * (`new PeriodicExportingMetricReader({ exporter, metricProducers: [producer] })`): at each
 * collection it returns finished HistogramMetricData, which the reader exports beside what the
 * SDK's own instruments collected. So this needs @opentelemetry/sdk-metrics (types only: nothing
 * here imports it at run time), while registerOpenTelemetry (otel.ts) needs only the API.
 *
 * Instruments (unit `s`, cumulative since the engine started, explicit bounds LATENCY_BUCKETS;
 * attributes messaging.system and messaging.destination.name, the topic):
 *   messaging.process.duration   handler time (the messaging conventions' name; operation `process`)
 *   <prefix>.queue_wait          publish → handler start
 *   <prefix>.request.duration    request() → the reply that settles it
 * A topic's series appears once it has samples (engine.latency(): sampled, see README "Latency").
 */
import type { Attributes, HrTime } from '@opentelemetry/api';
import type { CollectionResult, DataPoint, HistogramMetricData, MetricData, MetricProducer } from '@opentelemetry/sdk-metrics';
import type { Histogram } from '../histogram.ts';
import type { LatencyReport } from '../engine/types.ts';
import { ConfigError } from '../errors.ts';
import { LATENCY_BUCKETS, LATENCY_FAMILIES } from './latency.ts';

/** The SDK's enum values (sdk-metrics: DataPointType.HISTOGRAM, AggregationTemporality.CUMULATIVE; api: ValueType.DOUBLE), so no run-time import is needed. */
const HISTOGRAM = 0;
const CUMULATIVE = 1;
const DOUBLE = 1;

export interface LatencyProducerOptions {
  /** Namespace of the instruments that no convention names; default 'wasm_dispatch'. */
  readonly prefix?: string;
  /** `messaging.system`; default 'wasm-dispatch'. */
  readonly system?: string;
  /** Instrumentation scope name; default 'wasm-dispatch'. */
  readonly scope?: string;
}

/** Anything with the engine's latency(): an Engine. */
export interface LatencySource {
  latency(): LatencyReport;
}

const NAME = /^[A-Za-z][A-Za-z0-9_.\-/]*$/;

/**
 * A MetricProducer of `engine`'s latency histograms (see the file header). Throws ConfigError when
 * the engine has none (made with latency: false) or an option is bad.
 */
export function createLatencyMetricProducer(engine: LatencySource, options: LatencyProducerOptions = {}): MetricProducer {
  if (engine === null || typeof engine !== 'object' || typeof engine.latency !== 'function') {
    throw new ConfigError('engine', engine, 'must be an engine (anything with latency())');
  }
  const first = engine.latency(); // an engine made with latency: false throws its ConfigError here
  const prefix = options.prefix ?? 'wasm_dispatch';
  if (typeof prefix !== 'string' || !NAME.test(prefix)) throw new ConfigError('prefix', prefix, 'must be an instrument name: a letter, then letters, digits, _ . - /');
  const system = options.system ?? 'wasm-dispatch';
  const scope = { name: options.scope ?? 'wasm-dispatch' };
  const start = hrTime(first.since);
  const boundsNs = LATENCY_BUCKETS.map((seconds) => Math.round(seconds * 1e9));
  const kinds = LATENCY_FAMILIES.map(({ key, help, otel }) => ({
    key, name: otel.prefixed ? `${prefix}.${otel.name}` : otel.name, description: help, operation: otel.operation,
  }));
  const attributes = new Map<string, Attributes>();

  return {
    async collect(): Promise<CollectionResult> {
      const report = engine.latency();
      const end = hrTime(performance.timeOrigin + performance.now());
      const metrics: MetricData[] = [];
      for (const kind of kinds) {
        const dataPoints: DataPoint<HistogramMetricData['dataPoints'][number]['value']>[] = [];
        for (const [topic, latency] of Object.entries(report.topics)) {
          const histogram = latency[kind.key];
          if (histogram.count === 0) continue;
          const key = `${kind.key}\u0000${topic}`;
          let a = attributes.get(key);
          if (a === undefined) {
            a = { 'messaging.system': system, 'messaging.destination.name': topic, ...(kind.operation !== undefined ? { 'messaging.operation.name': kind.operation } : {}) };
            attributes.set(key, a);
          }
          dataPoints.push({
            startTime: start, endTime: end, attributes: a,
            value: {
              buckets: { boundaries: [...LATENCY_BUCKETS], counts: countsAt(histogram, boundsNs) },
              count: histogram.count, sum: histogram.sum / 1e9, min: histogram.min / 1e9, max: histogram.max / 1e9,
            },
          });
        }
        if (dataPoints.length === 0) continue;
        metrics.push({
          descriptor: { name: kind.name, description: kind.description, unit: 's', valueType: DOUBLE },
          aggregationTemporality: CUMULATIVE, dataPointType: HISTOGRAM, dataPoints,
        } as unknown as HistogramMetricData);
      }
      // The reader keeps its own resource and takes only scopeMetrics from a producer.
      return { resourceMetrics: { resource: undefined as never, scopeMetrics: [{ scope, metrics }] }, errors: [] };
    },
  };
}

/**
 * Counts per explicit bucket (n bounds → n + 1 counts, the last above every bound) of a histogram
 * of nanoseconds: a source bucket counts in the first bound at or above its highest value, as
 * formatPrometheus places it.
 */
export function countsAt(histogram: Histogram, boundsNs: readonly number[]): number[] {
  const counts = new Array<number>(boundsNs.length + 1).fill(0);
  let next = 0;
  let below = 0;
  histogram.forEachBucket((le, cumulative) => {
    while (next < boundsNs.length && boundsNs[next]! < le) next++;
    counts[next]! += cumulative - below;
    below = cumulative;
  });
  return counts;
}

/** Epoch ms → HrTime [seconds, nanoseconds]. */
function hrTime(epochMs: number): HrTime {
  const seconds = Math.floor(epochMs / 1000);
  return [seconds, Math.min(999_999_999, Math.round((epochMs - seconds * 1000) * 1e6))];
}
