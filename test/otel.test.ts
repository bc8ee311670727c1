/**
 * The OpenTelemetry adapter (wasm-dispatch/otel) against the real SDK: a MeterProvider whose
 * PeriodicExportingMetricReader exports to an InMemoryMetricExporter, flushed by hand. On both
 * backends, after publish and drain, the exported data points carry the stats() values with the
 * messaging semantic conventions' names and attributes; histograms arrive as count and sum;
 * unregister() stops the callback. And the package keeps @opentelemetry/api out of its main entry:
 * no module reachable from build/src/index.js or browser.js imports it, while `wasm-dispatch/otel`
 * resolves through package.json's exports.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  AggregationTemporality, DataPointType, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type MetricData,
} from '@opentelemetry/sdk-metrics';
import { createEngine } from '../src/index.ts';
import { ConfigError } from '../src/errors.ts';
import { Histogram } from '../src/histogram.ts';
import { TOPIC_COUNTERS } from '../src/metrics/instruments.ts';
import { createLatencyMetricProducer, registerOpenTelemetry } from '../src/metrics/otel.ts';
import { LATENCY_BUCKETS } from '../src/metrics/latency.ts';
import { BACKENDS, CORE_BUILD, STRESS } from './harness.ts';
import { metricsTopics, ODD_TOPIC, type MetricsTopics } from './engine/metrics-topics.ts';
import type metricsHandlers from './engine/metrics-handlers.ts';

const HANDLERS = new URL('./engine/metrics-handlers.js', import.meta.url);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const N = Math.round(1_000 * STRESS);

interface Sdk { provider: MeterProvider; exporter: InMemoryMetricExporter; reader: PeriodicExportingMetricReader }
const open: Sdk[] = [];
afterEach(async () => {
  for (const sdk of open.splice(0)) await sdk.provider.shutdown();
});

function sdk(): Sdk {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  // Exports only when flushed: the interval is longer than any test.
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  const made = { provider, exporter, reader };
  open.push(made);
  return made;
}

/** The metrics of the latest export, by instrument name. */
async function collect(s: Sdk): Promise<Map<string, MetricData>> {
  s.exporter.reset();
  await s.reader.forceFlush();
  const byName = new Map<string, MetricData>();
  for (const resource of s.exporter.getMetrics()) {
    for (const scope of resource.scopeMetrics) for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
  }
  return byName;
}

/** The value of the data point of `name` whose attributes include `attributes`. */
function point(metrics: Map<string, MetricData>, name: string, attributes: Record<string, unknown>): number {
  const metric = metrics.get(name);
  if (metric === undefined) throw new Error(`no instrument ${name}`);
  const points = metric.dataPoints.filter((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v));
  if (points.length !== 1) throw new Error(`${name} ${JSON.stringify(attributes)}: ${points.length} data points`);
  return points[0]!.value as number;
}

describe.each(BACKENDS)('OpenTelemetry adapter over a real engine (%s)', (backend) => {
  test('instruments carry the stats() values with the messaging conventions\' names and attributes', async () => {
    const engine = await createEngine<MetricsTopics, typeof metricsHandlers>({
      topics: metricsTopics, handlers: HANDLERS, backend, coreBuild: CORE_BUILD, workers: 2, onError: () => undefined,
    });
    try {
      await engine.subscribe('orders.created', { handler: 'orders', mode: 'group' });
      await engine.subscribe(ODD_TOPIC, { handler: 'odd', mode: 'broadcast' });
      for (let n = 0; n < N; n++) {
        if (!engine.publish('orders.created', { n, fail: n % 10 === 3, busyMs: 0 })) await engine.whenWritable();
        if (!engine.publish(ODD_TOPIC, { n, fail: false, busyMs: 0 })) await engine.whenWritable();
      }
      engine.publish('audit.log', { n: 0, fail: false, busyMs: 0 });
      await engine.drain({ timeout: 60_000 });
      const stats = engine.stats();

      const s = sdk();
      const latency = new Histogram();
      for (let v = 1; v <= 100; v++) latency.record(v * 1000);
      const registration = registerOpenTelemetry(engine, s.provider.getMeter('wasm-dispatch'), {
        histograms: [{ name: 'handler_duration', help: 'Handler time.', unit: 'seconds', divideBy: 1e9, labels: { topic: 'orders.created' }, histogram: latency }],
      });
      const metrics = await collect(s);

      const sent = metrics.get('messaging.client.sent.messages')!;
      expect(sent.descriptor.unit).toBe('{message}');
      for (const topic of Object.keys(stats.topics)) {
        const destination = { 'messaging.system': 'wasm-dispatch', 'messaging.destination.name': topic };
        expect(point(metrics, 'messaging.client.sent.messages', { ...destination, 'messaging.operation.name': 'publish' })).toBe(stats.topics[topic]!.published);
        expect(point(metrics, 'messaging.client.consumed.messages', { ...destination, 'messaging.operation.name': 'process' })).toBe(stats.topics[topic]!.delivered);
        for (const spec of TOPIC_COUNTERS) {
          const name = spec.convention?.name ?? `wasm_dispatch.topic.${spec.snake}`;
          expect([name, topic, point(metrics, name, destination)]).toEqual([name, topic, stats.topics[topic]![spec.field]]);
        }
        expect(point(metrics, 'wasm_dispatch.topic.shed', { ...destination, 'wasm_dispatch.priority': 'low' })).toBe(stats.topics[topic]!.shed.low);
        expect(point(metrics, 'wasm_dispatch.topic.in_flight', destination)).toBe(0);
      }
      expect(point(metrics, 'messaging.client.consumed.messages', { 'messaging.destination.name': ODD_TOPIC })).toBe(2 * N);
      expect(point(metrics, 'wasm_dispatch.topic.handler_errors', { 'messaging.destination.name': 'orders.created' })).toBe(Math.ceil((N - 3) / 10));
      expect(point(metrics, 'wasm_dispatch.topic.unrouted', { 'messaging.destination.name': 'audit.log' })).toBe(1);
      expect((metrics.get('messaging.client.sent.messages') as MetricData & { isMonotonic?: boolean }).isMonotonic).toBe(true);

      for (const lane of stats.lanes) {
        const attributes = { 'wasm_dispatch.lane.from': lane.from, 'wasm_dispatch.lane.to': lane.to, 'wasm_dispatch.priority': lane.priority };
        expect(point(metrics, 'wasm_dispatch.lane.published', attributes)).toBe(lane.published);
        expect(point(metrics, 'wasm_dispatch.lane.depth', attributes)).toBe(lane.depth);
      }
      for (const w of stats.workers) {
        expect(point(metrics, 'wasm_dispatch.worker.state', { 'wasm_dispatch.worker': w.worker, 'wasm_dispatch.worker.state': 'running' })).toBe(1);
        expect(point(metrics, 'wasm_dispatch.worker.restarts', { 'wasm_dispatch.worker': w.worker })).toBe(w.restarts);
        // Read a moment later than `stats`: busy and idle only grow.
        expect(point(metrics, 'wasm_dispatch.worker.idle', { 'wasm_dispatch.worker': w.worker })).toBeGreaterThanOrEqual(w.idleMs / 1000);
        expect(metrics.get('wasm_dispatch.worker.busy')!.descriptor.unit).toBe('s');
        const utilization = point(metrics, 'wasm_dispatch.worker.utilization', { 'wasm_dispatch.worker': w.worker });
        expect(utilization).toBeGreaterThanOrEqual(0);
        expect(utilization).toBeLessThanOrEqual(1);
      }
      const elu = point(metrics, 'nodejs.eventloop.utilization', {});
      expect(elu).toBeGreaterThanOrEqual(0);
      expect(elu).toBeLessThanOrEqual(1);
      expect(point(metrics, 'wasm_dispatch.late_replies', {})).toBe(stats.lateReplies);
      expect(point(metrics, 'wasm_dispatch.backlog', {})).toBe(stats.backlog);
      expect(point(metrics, 'wasm_dispatch.handler_duration.count', { topic: 'orders.created' })).toBe(100);
      expect(point(metrics, 'wasm_dispatch.handler_duration.sum', { topic: 'orders.created' })).toBeCloseTo(latency.sum / 1e9, 12);
      expect(metrics.get('wasm_dispatch.handler_duration.sum')!.descriptor.unit).toBe('s');
      // The engine's own latency histograms (its handler_duration gave way to the one above).
      const wait = engine.latency('orders.created').topics['orders.created']!.queueWait;
      expect(wait.count).toBeGreaterThan(0);
      const orders = { 'messaging.system': 'wasm-dispatch', 'messaging.destination.name': 'orders.created' };
      expect(point(metrics, 'wasm_dispatch.queue_wait.count', orders)).toBe(wait.count);
      expect(point(metrics, 'wasm_dispatch.queue_wait.sum', orders)).toBeCloseTo(wait.sum / 1e9, 12);
      expect(metrics.get('wasm_dispatch.queue_wait.sum')!.descriptor.unit).toBe('s');

      // Counters keep up with the engine between collections.
      for (let n = 0; n < 10; n++) engine.publish('orders.created', { n, fail: false, busyMs: 0 });
      await engine.drain({ timeout: 60_000 });
      expect(point(await collect(s), 'messaging.client.sent.messages', { 'messaging.destination.name': 'orders.created' })).toBe(N + 10);

      // After unregister() the callback is not called: the SDK repeats the last cumulative value.
      registration.unregister();
      for (let n = 0; n < 10; n++) engine.publish('orders.created', { n, fail: false, busyMs: 0 });
      await engine.drain({ timeout: 60_000 });
      expect(engine.stats().topics['orders.created']!.published).toBe(N + 20);
      expect(point(await collect(s), 'messaging.client.sent.messages', { 'messaging.destination.name': 'orders.created' })).toBe(N + 10);
    } finally {
      await engine.close();
    }
  });
});

describe.each(BACKENDS)('OpenTelemetry latency histograms: a MetricProducer (%s)', (backend) => {
  test('messaging.process.duration, queue wait and request duration arrive with their buckets; counts, sums and bounds equal engine.latency()', async () => {
    const engine = await createEngine<MetricsTopics, typeof metricsHandlers>({
      topics: metricsTopics, handlers: HANDLERS, backend, coreBuild: CORE_BUILD, workers: 2, onError: () => undefined, latency: { sampleEvery: 3 },
    });
    try {
      await engine.subscribe('orders.created', { handler: 'orders', mode: 'group' });
      for (let n = 0; n < N; n++) if (!engine.publish('orders.created', { n, fail: false, busyMs: n % 100 === 0 ? 1 : 0 })) await engine.whenWritable();
      await engine.drain({ timeout: 60_000 });
      const producer = createLatencyMetricProducer(engine);
      const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
      const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000, metricProducers: [producer] });
      const provider = new MeterProvider({ readers: [reader] });
      open.push({ provider, exporter, reader });
      await reader.forceFlush();
      const byName = new Map<string, MetricData>();
      for (const resource of exporter.getMetrics()) for (const scope of resource.scopeMetrics) for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
      const { queueWait, handler } = engine.latency().topics['orders.created']!;
      expect(handler.count).toBeGreaterThan(0);
      for (const [name, histogram, operation] of [['messaging.process.duration', handler, 'process'], ['wasm_dispatch.queue_wait', queueWait, undefined]] as const) {
        const metric = byName.get(name)!;
        expect(metric.dataPointType).toBe(DataPointType.HISTOGRAM);
        expect(metric.descriptor.unit).toBe('s');
        expect(metric.dataPoints).toHaveLength(1); // only the topic with samples
        const point = metric.dataPoints[0]! as { attributes: Record<string, unknown>; value: { count: number; sum: number; max: number; buckets: { boundaries: number[]; counts: number[] } } };
        expect(point.attributes).toEqual({
          'messaging.system': 'wasm-dispatch', 'messaging.destination.name': 'orders.created', ...(operation !== undefined ? { 'messaging.operation.name': operation } : {}),
        });
        expect(point.value.count).toBe(histogram.count);
        expect(point.value.sum).toBeCloseTo(histogram.sum / 1e9, 12);
        expect(point.value.max).toBeCloseTo(histogram.max / 1e9, 12);
        expect(point.value.buckets.boundaries).toEqual([...LATENCY_BUCKETS]);
        expect(point.value.buckets.counts.reduce((a, b) => a + b, 0)).toBe(histogram.count);
        // Each explicit bucket holds the source buckets whose values lie in (previous bound, bound].
        const atOrBelow = (seconds: number): number => { let n = 0; histogram.forEachBucket((le, cumulative) => { if (le <= Math.round(seconds * 1e9)) n = cumulative; }); return n; };
        let cumulative = 0;
        point.value.buckets.boundaries.forEach((bound, i) => {
          cumulative += point.value.buckets.counts[i]!;
          expect([bound, cumulative]).toEqual([bound, atOrBelow(bound)]);
        });
      }
      expect(byName.has('wasm_dispatch.request.duration')).toBe(false); // no requests: no series
    } finally {
      await engine.close();
    }
  });

  test('an engine without latency histograms, or something else, is a ConfigError', async () => {
    const engine = await createEngine<MetricsTopics, typeof metricsHandlers>({
      topics: metricsTopics, handlers: HANDLERS, backend, coreBuild: CORE_BUILD, workers: 1, latency: false,
    });
    try {
      expect(() => createLatencyMetricProducer(engine)).toThrow(ConfigError);
      expect(() => createLatencyMetricProducer({} as never)).toThrow(ConfigError);
    } finally {
      await engine.close();
    }
  });
});

describe('OpenTelemetry adapter without an engine', () => {
  test('a function source, utilization off, a custom prefix and system', async () => {
    const s = sdk();
    const stats = {
      topics: {}, lanes: [], workers: [], lateReplies: 3, backlog: 0, lostToCrashes: 0, poolSlots: 0, poolInUse: 0, circuits: [
        { subscription: 2, topic: 't', handler: 'h', worker: 0, state: 'open' as const, opened: 4 },
      ], spin: 0, adaptiveSpin: false,
    };
    registerOpenTelemetry(() => stats, s.provider.getMeter('x'), { prefix: 'bus', system: 'my-bus', utilization: false });
    const metrics = await collect(s);
    expect(point(metrics, 'bus.late_replies', { 'messaging.system': 'my-bus' })).toBe(3);
    expect(point(metrics, 'bus.circuit.opened', { 'bus.worker': 0, 'bus.handler': 'h', 'messaging.destination.name': 't' })).toBe(4);
    expect(point(metrics, 'bus.circuit.state', { 'bus.circuit.state': 'open' })).toBe(1);
    expect(point(metrics, 'bus.circuit.state', { 'bus.circuit.state': 'closed' })).toBe(0);
    expect(metrics.has('bus.worker.utilization')).toBe(false);
    expect(metrics.has('nodejs.eventloop.utilization')).toBe(false);
  });

  test('bad arguments are ConfigErrors naming them', () => {
    const meter = sdk().provider.getMeter('x');
    expect(() => registerOpenTelemetry({} as never, meter)).toThrow(ConfigError);
    expect(() => registerOpenTelemetry(() => ({}) as never, {} as never)).toThrow(ConfigError);
    expect(() => registerOpenTelemetry(() => ({}) as never, meter, { prefix: '1x' })).toThrow(ConfigError);
  });
});

describe('packaging', () => {
  /** Every module reachable from `entry` through relative imports (the build's own files). */
  function reachable(entry: string): Map<string, string> {
    const seen = new Map<string, string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      const text = readFileSync(file, 'utf8');
      seen.set(file, text);
      for (const match of text.matchAll(/(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
        const specifier = match[1] ?? match[2]!;
        if (specifier.startsWith('.')) visit(fileURLToPath(new URL(specifier, `file://${file}`)));
      }
    };
    visit(entry);
    return seen;
  }

  test('the main and browser entries never import @opentelemetry/api; wasm-dispatch/otel resolves and loads', () => {
    for (const entry of ['build/src/index.js', 'build/src/browser.js']) {
      const modules = reachable(`${ROOT}${entry}`);
      expect(modules.size).toBeGreaterThan(10);
      const importers = [...modules].filter(([, text]) => text.includes('@opentelemetry/')).map(([file]) => file);
      expect([entry, importers]).toEqual([entry, []]);
      expect([...modules.keys()].some((file) => file.endsWith('metrics/prometheus.js'))).toBe(true);
    }
    // Self-reference through package.json's "exports" (a child Node: jest's resolver is not Node's).
    const kind = execFileSync(process.execPath, ['--input-type=module', '-e', "const m = await import('wasm-dispatch/otel'); console.log(typeof m.registerOpenTelemetry)"], { cwd: ROOT, encoding: 'utf8' });
    expect(kind.trim()).toBe('function');
  });
});
