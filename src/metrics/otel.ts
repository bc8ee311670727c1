/**
 * The OpenTelemetry adapter (`wasm-dispatch/otel`): registers the engine's figures as asynchronous
 * instruments on a Meter of `@opentelemetry/api` (an optional peer dependency: this entry imports
 * only its types, and the package's main entry never imports this file). One batch callback reads
 * stats() once per collection — shared memory on the collecting thread, no message to any worker —
 * and observes every instrument from that one snapshot.
 *
 * Names follow the messaging semantic conventions where one fits: published is
 * `messaging.client.sent.messages` (messaging.operation.name 'publish'), delivered is
 * `messaging.client.consumed.messages` ('process'), each with `messaging.system` and
 * `messaging.destination.name` (the topic). The rest are `<prefix>.<thing>` (instruments.ts), which
 * an OpenTelemetry-to-Prometheus exporter turns into the families formatPrometheus writes.
 *
 * Histograms: the API has no asynchronous histogram, so a histogram source (count, sum, buckets)
 * cannot be observed as one. Here each is exported as two observable counters, `<prefix>.<name>.count`
 * and `<prefix>.<name>.sum` (the mean over any interval is Δsum ÷ Δcount, and both aggregate
 * across attributes). Buckets would need an SDK-side MetricProducer (sdk-metrics' MetricReader
 * option `metricProducers`) emitting histogram data points with the source's bounds; that is where
 * `messaging.process.duration` belongs once the workers record handler time, and why that name is
 * not used for a count/sum pair here.
 */
import type { Attributes, BatchObservableResult, Meter, Observable } from '@opentelemetry/api';
import type { EngineStats, LatencyReport, TopicLatency } from '../engine/types.ts';
import { ConfigError } from '../errors.ts';
import { CIRCUIT_STATES, HELP, PRIORITIES, readStats, TOPIC_COUNTERS, WORKER_STATES, type StatsSource } from './instruments.ts';
import { LATENCY_FAMILIES } from './latency.ts';
import type { HistogramExport } from './prometheus.ts';
import { createMetricsWindow, type MetricsWindow, type WindowReading } from './window.ts';

export type { StatsSource } from './instruments.ts';
export { createLatencyMetricProducer, type LatencyProducerOptions, type LatencySource } from './otel-latency.ts';

export interface OpenTelemetryOptions {
  /** Namespace of the instruments that no convention names; default 'wasm_dispatch'. */
  readonly prefix?: string;
  /** `messaging.system`; default 'wasm-dispatch'. */
  readonly system?: string;
  /**
   * Worker busy fraction (`<prefix>.worker.utilization`) and the collecting thread's
   * `nodejs.eventloop.utilization` (Node only), over the interval since the previous collection
   * (every reader's collections share it). Default true.
   */
  readonly utilization?: boolean;
  /** Histograms to export as `.count` and `.sum` counters (see the file header); read at each collection. */
  readonly histograms?: readonly HistogramExport[];
  /**
   * When `source` is an engine with latency histograms: export them per topic as `.count` and
   * `.sum` counters (`<prefix>.queue_wait`, `.handler_duration`, `.request_duration`, seconds),
   * read with engine.latency() at each collection. Default true.
   */
  readonly latency?: boolean;
}

export interface OpenTelemetryRegistration {
  /** Removes the callback: the instruments stop reporting. */
  unregister(): void;
}

const NAME = /^[A-Za-z][A-Za-z0-9_.\-/]*$/;

/** UCUM units for the Prometheus base units histograms name. */
function ucum(unit: string | undefined): string {
  if (unit === undefined || unit === '') return '1';
  return unit === 'seconds' ? 's' : unit === 'bytes' ? 'By' : unit;
}

/**
 * Registers the engine's instruments on `meter` and returns how to remove them. `source`: the
 * engine (anything with stats()) or a function returning EngineStats.
 */
export function registerOpenTelemetry(source: StatsSource, meter: Meter, options: OpenTelemetryOptions = {}): OpenTelemetryRegistration {
  if (source === null || (typeof source !== 'function' && typeof (source as { stats?: unknown }).stats !== 'function')) {
    throw new ConfigError('source', source, 'must be an engine (anything with stats()) or a function returning EngineStats');
  }
  if (meter === null || typeof meter !== 'object' || typeof meter.addBatchObservableCallback !== 'function') {
    throw new ConfigError('meter', meter, 'must be a Meter of @opentelemetry/api 1.3 or later');
  }
  const prefix = options.prefix ?? 'wasm_dispatch';
  if (typeof prefix !== 'string' || !NAME.test(prefix)) throw new ConfigError('prefix', prefix, 'must be an instrument name: a letter, then letters, digits, _ . - /');
  const system = options.system ?? 'wasm-dispatch';
  const histograms = options.histograms ?? [];
  const ns = `${prefix}.`;

  const observables: Observable[] = [];
  const counter = (name: string, unit: string, description: string): Observable => {
    const o = meter.createObservableCounter(name, { unit, description });
    observables.push(o);
    return o;
  };
  const upDown = (name: string, unit: string, description: string): Observable => {
    const o = meter.createObservableUpDownCounter(name, { unit, description });
    observables.push(o);
    return o;
  };
  const gauge = (name: string, unit: string, description: string): Observable => {
    const o = meter.createObservableGauge(name, { unit, description });
    observables.push(o);
    return o;
  };

  const topicCounters = TOPIC_COUNTERS.map((spec) => ({
    spec,
    instrument: counter(spec.convention?.name ?? `${ns}topic.${spec.snake}`, '{message}', spec.help),
  }));
  const shed = counter(`${ns}topic.shed`, '{message}', HELP.topic_shed_total);
  const inFlight = upDown(`${ns}topic.in_flight`, '{message}', HELP.topic_in_flight);
  const lanePublished = counter(`${ns}lane.published`, '{record}', HELP.lane_published_total);
  const laneDepth = upDown(`${ns}lane.depth`, '{record}', HELP.lane_depth);
  const laneHigh = gauge(`${ns}lane.high_water`, '{record}', HELP.lane_high_water);
  const workerState = gauge(`${ns}worker.state`, '1', HELP.worker_state);
  const restarts = counter(`${ns}worker.restarts`, '{restart}', HELP.worker_restarts_total);
  const busy = counter(`${ns}worker.busy`, 's', HELP.worker_busy_seconds_total);
  const idle = counter(`${ns}worker.idle`, 's', HELP.worker_idle_seconds_total);
  const circuitState = gauge(`${ns}circuit.state`, '1', HELP.circuit_state);
  const opened = counter(`${ns}circuit.opened`, '{open}', HELP.circuit_opened_total);
  const lateReplies = counter(`${ns}late_replies`, '{reply}', HELP.late_replies_total);
  const backlog = upDown(`${ns}backlog`, '{record}', HELP.backlog);
  const lost = counter(`${ns}lost_to_crashes`, '{message}', HELP.lost_to_crashes_total);
  const poolSlots = gauge(`${ns}pool.slots`, '{slot}', HELP.pool_slots);
  const poolInUse = upDown(`${ns}pool.in_use`, '{slot}', HELP.pool_in_use);
  const spin = gauge(`${ns}spin`, '{poll}', HELP.spin_polls);

  let window: MetricsWindow | undefined;
  let utilization: Observable | undefined;
  let eventLoop: Observable | undefined;
  if (options.utilization !== false) {
    window = createMetricsWindow(source);
    utilization = gauge(`${ns}worker.utilization`, '1', HELP.worker_utilization_ratio);
    const hasElu = typeof (globalThis as { performance?: { eventLoopUtilization?: unknown } }).performance?.eventLoopUtilization === 'function';
    if (hasElu) eventLoop = gauge('nodejs.eventloop.utilization', '1', HELP.event_loop_utilization_ratio);
  }

  const histogramInstruments = new Map<string, { count: Observable; sum: Observable }>();
  for (const [i, h] of histograms.entries()) {
    const name = `${ns}${h.name}`;
    if (typeof h.name !== 'string' || !NAME.test(name)) throw new ConfigError(`histograms[${i}].name`, h.name, 'must make an instrument name');
    if (!histogramInstruments.has(name)) {
      histogramInstruments.set(name, {
        count: counter(`${name}.count`, '{value}', `${h.help} (values recorded)`),
        sum: counter(`${name}.sum`, ucum(h.unit), `${h.help} (sum of the values)`),
      });
    }
  }

  // The engine's latency histograms, when it has them (an engine made with latency: false throws).
  const latencySource = options.latency !== false && typeof (source as { latency?: unknown }).latency === 'function' ? (source as unknown as { latency(): LatencyReport }) : undefined;
  let latencyInstruments: { key: keyof TopicLatency; count: Observable; sum: Observable }[] = [];
  if (latencySource !== undefined) {
    try {
      latencySource.latency();
      // A histogram of `histograms` with the same name wins (one instrument per name).
      latencyInstruments = LATENCY_FAMILIES
        .filter(({ name }) => !histogramInstruments.has(`${ns}${name}`))
        .map(({ key, name, help }) => ({
          key, count: counter(`${ns}${name}.count`, '{value}', `${help} (values recorded)`), sum: counter(`${ns}${name}.sum`, 's', `${help} (sum of the values)`),
        }));
    } catch {
      // latency: false: nothing to export
    }
  }

  // Attribute objects are made once per topic, lane, worker... and reused by every collection.
  const cache = new Map<string, Attributes>();
  const attributes = (key: string, make: () => Attributes): Attributes => {
    let a = cache.get(key);
    if (a === undefined) {
      a = make();
      cache.set(key, a);
    }
    return a;
  };
  const destination = (topic: string, operation?: string): Attributes => attributes(`t\u0000${topic}\u0000${operation ?? ''}`, () => ({
    'messaging.system': system, 'messaging.destination.name': topic,
    ...(operation !== undefined ? { 'messaging.operation.name': operation } : {}),
  }));

  const collect = (result: BatchObservableResult): void => {
    let reading: WindowReading | undefined;
    let stats: EngineStats;
    if (window !== undefined) {
      reading = window.read();
      stats = reading.stats;
    } else {
      stats = readStats(source);
    }
    for (const [topic, t] of Object.entries(stats.topics)) {
      for (const { spec, instrument } of topicCounters) result.observe(instrument, t[spec.field], destination(topic, spec.convention?.operation));
      const plain = destination(topic);
      for (const priority of PRIORITIES) {
        result.observe(shed, t.shed[priority], attributes(`s\u0000${topic}\u0000${priority}`, () => ({ ...plain, [`${ns}priority`]: priority })));
      }
      result.observe(inFlight, t.inFlight, plain);
    }
    for (const lane of stats.lanes) {
      const a = attributes(`l\u0000${lane.from}\u0000${lane.to}\u0000${lane.priority}`, () => ({
        'messaging.system': system, [`${ns}lane.from`]: lane.from, [`${ns}lane.to`]: lane.to, [`${ns}priority`]: lane.priority,
      }));
      result.observe(lanePublished, lane.published, a);
      result.observe(laneDepth, lane.depth, a);
      result.observe(laneHigh, lane.highWater, a);
    }
    for (const w of stats.workers) {
      const a = attributes(`w\u0000${w.worker}`, () => ({ 'messaging.system': system, [`${ns}worker`]: w.worker }));
      for (const s of WORKER_STATES) {
        result.observe(workerState, w.state === s ? 1 : 0, attributes(`ws\u0000${w.worker}\u0000${s}`, () => ({ ...a, [`${ns}worker.state`]: s })));
      }
      result.observe(restarts, w.restarts, a);
      result.observe(busy, w.busyMs / 1000, a);
      result.observe(idle, w.idleMs / 1000, a);
    }
    for (const c of stats.circuits) {
      const a = attributes(`c\u0000${c.subscription}\u0000${c.worker}`, () => ({
        'messaging.system': system, 'messaging.destination.name': c.topic, [`${ns}subscription`]: c.subscription,
        [`${ns}handler`]: c.handler, [`${ns}worker`]: c.worker,
      }));
      for (const s of CIRCUIT_STATES) {
        result.observe(circuitState, c.state === s ? 1 : 0, attributes(`cs\u0000${c.subscription}\u0000${c.worker}\u0000${s}`, () => ({ ...a, [`${ns}circuit.state`]: s })));
      }
      result.observe(opened, c.opened, a);
    }
    const engine = attributes('e', () => ({ 'messaging.system': system }));
    result.observe(lateReplies, stats.lateReplies, engine);
    result.observe(backlog, stats.backlog, engine);
    result.observe(lost, stats.lostToCrashes, engine);
    result.observe(poolSlots, stats.poolSlots, engine);
    result.observe(poolInUse, stats.poolInUse, engine);
    result.observe(spin, stats.spin, attributes('spin', () => ({ 'messaging.system': system, [`${ns}adaptive`]: stats.adaptiveSpin })));
    if (reading !== undefined) {
      for (const w of reading.workers) {
        if (w.busyFraction === undefined) continue;
        result.observe(utilization!, w.busyFraction, attributes(`w\u0000${w.worker}`, () => ({ 'messaging.system': system, [`${ns}worker`]: w.worker })));
      }
      if (eventLoop !== undefined && reading.eventLoop !== undefined) result.observe(eventLoop, reading.eventLoop.utilization, engine);
    }
    if (latencyInstruments.length > 0) {
      for (const [topic, latency] of Object.entries(latencySource!.latency().topics)) {
        const a = destination(topic);
        for (const { key, count, sum } of latencyInstruments) {
          const h = latency[key];
          if (h.count === 0) continue;
          result.observe(count, h.count, a);
          result.observe(sum, h.sum / 1e9, a);
        }
      }
    }
    for (const h of histograms) {
      const instruments = histogramInstruments.get(`${ns}${h.name}`)!;
      const a: Attributes = { ...(h.labels ?? {}) };
      result.observe(instruments.count, h.histogram.count, a);
      result.observe(instruments.sum, h.histogram.sum / (h.divideBy ?? 1), a);
    }
  };
  meter.addBatchObservableCallback(collect, observables);
  return {
    unregister(): void {
      meter.removeBatchObservableCallback(collect, observables);
    },
  };
}
