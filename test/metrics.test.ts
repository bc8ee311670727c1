/**
 * Metrics: formatPrometheus and metrics windows. On both backends, a real engine: publish, drain,
 * and the exposition — read back by a real parser (parse-prometheus-text-format) — holds every
 * counter of stats() exactly, label values escaped (a topic named with `"`, `\` and a newline);
 * formatting while traffic flows changes nothing; a window's rates are its counts ÷ its length and
 * a worker busy in a handler reads busy. Without an engine: histograms round-trip through the
 * parser (cumulative buckets, +Inf, sum, count; fixed bounds; labelled series), windows over
 * synthetic stats with a fake clock (rates, busy fraction, restarts), and bad options.
 */
import { describe, expect, test } from '@jest/globals';
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import { createEngine } from '../src/index.ts';
import { ConfigError } from '../src/errors.ts';
import { bucketHighest, bucketIndex, Histogram } from '../src/histogram.ts';
import type { EngineStats, TopicStats, WorkerStats } from '../src/engine/types.ts';
import { escapeLabelValue } from '../src/metrics/exposition.ts';
import { TOPIC_COUNTERS } from '../src/metrics/instruments.ts';
import { formatPrometheus } from '../src/metrics/prometheus.ts';
import { createMetricsWindow } from '../src/metrics/window.ts';
import { BACKENDS, CORE_BUILD, STRESS } from './harness.ts';
import { metricsTopics, ODD_TOPIC, type MetricsTopics } from './engine/metrics-topics.ts';
import type metricsHandlers from './engine/metrics-handlers.ts';

const HANDLERS = new URL('./engine/metrics-handlers.js', import.meta.url);
const N = Math.round(2_000 * STRESS);

function start(backend: 'wasm' | 'js', workers = 2, batch?: number) {
  return createEngine<MetricsTopics, typeof metricsHandlers>({
    topics: metricsTopics, handlers: HANDLERS, backend, coreBuild: CORE_BUILD, workers, onError: () => undefined, ...(batch !== undefined ? { batch } : {}),
  });
}

/** Parsed families by name. */
function parse(text: string): Map<string, ParsedFamily> {
  const families = parsePrometheusTextFormat(text);
  const byName = new Map<string, ParsedFamily>();
  for (const family of families) {
    expect(byName.has(family.name)).toBe(false); // each family once
    byName.set(family.name, family);
  }
  return byName;
}

/** The value of the one series of `family` whose labels include `labels`. */
function valueOf(families: Map<string, ParsedFamily>, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name);
  if (family === undefined) throw new Error(`no family ${name}`);
  const matches = family.metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  if (matches.length !== 1) throw new Error(`${name}${JSON.stringify(labels)}: ${matches.length} series`);
  return Number(matches[0]!.value);
}

describe.each(BACKENDS)('formatPrometheus over a real engine (%s)', (backend) => {
  test('after drain, the parsed exposition holds every stats() counter, gauge and label exactly', async () => {
    const engine = await start(backend);
    try {
      await engine.subscribe('orders.created', { handler: 'orders', mode: 'group' });
      await engine.subscribe(ODD_TOPIC, { handler: 'odd', mode: 'broadcast' });
      for (let n = 0; n < N; n++) {
        const order = { n, fail: n % 100 === 7, busyMs: 0 };
        // false: kept in a backlog (accepted, not to be published again) until whenWritable resolves.
        if (!engine.publish('orders.created', order, n % 10 === 0 ? 'high' : undefined)) await engine.whenWritable();
        if (!engine.publish(ODD_TOPIC, order)) await engine.whenWritable();
        if (n % 50 === 0) engine.publish('audit.log', order);
      }
      await engine.drain({ timeout: 60_000 });
      const stats = engine.stats();
      expect(stats.topics['orders.created']!.delivered).toBe(N);
      expect(stats.topics[ODD_TOPIC]!.delivered).toBe(2 * N); // broadcast to both workers
      expect(stats.topics['orders.created']!.handlerErrors).toBe(Math.ceil((N - 7) / 100));
      expect(stats.topics['audit.log']!.unrouted).toBe(Math.ceil(N / 50));

      const text = formatPrometheus(stats);
      expect(text.endsWith('\n')).toBe(true);
      const families = parse(text);
      for (const family of families.values()) {
        expect(family.help.length).toBeGreaterThan(0);
        expect(family.type).toBe(family.name.endsWith('_total') ? 'COUNTER' : 'GAUGE');
      }
      // Topics: every counter, each topic's name read back exactly (the odd one unescaped).
      const topics = Object.keys(stats.topics).sort();
      for (const spec of TOPIC_COUNTERS) {
        const family = families.get(`wasm_dispatch_topic_${spec.snake}_total`)!;
        expect(family.type).toBe('COUNTER');
        expect(family.metrics.map((m) => m.labels!.topic).sort()).toEqual(topics);
        for (const topic of topics) expect([spec.field, topic, valueOf(families, family.name, { topic })]).toEqual([spec.field, topic, stats.topics[topic]![spec.field]]);
      }
      for (const topic of topics) {
        const t: TopicStats = stats.topics[topic]!;
        for (const priority of ['high', 'normal', 'low'] as const) {
          expect(valueOf(families, 'wasm_dispatch_topic_shed_total', { topic, priority })).toBe(t.shed[priority]);
        }
        expect(valueOf(families, 'wasm_dispatch_topic_in_flight', { topic })).toBe(t.inFlight);
      }
      // Lanes: one series per lane of stats(), the high class's among them.
      expect(stats.lanes.some((lane) => lane.priority === 'high' && lane.published > 0)).toBe(true);
      expect(families.get('wasm_dispatch_lane_depth')!.metrics).toHaveLength(stats.lanes.length);
      for (const lane of stats.lanes) {
        const labels = { from: String(lane.from), to: String(lane.to), priority: lane.priority };
        expect(valueOf(families, 'wasm_dispatch_lane_published_total', labels)).toBe(lane.published);
        expect(valueOf(families, 'wasm_dispatch_lane_depth', labels)).toBe(lane.depth);
        expect(valueOf(families, 'wasm_dispatch_lane_high_water', labels)).toBe(lane.highWater);
      }
      // Workers: the state set, restarts, busy and idle in seconds.
      for (const w of stats.workers) {
        const worker = String(w.worker);
        for (const state of ['starting', 'running', 'restarting', 'stopped', 'crashed']) {
          expect(valueOf(families, 'wasm_dispatch_worker_state', { worker, state })).toBe(state === w.state ? 1 : 0);
        }
        expect(valueOf(families, 'wasm_dispatch_worker_restarts_total', { worker })).toBe(w.restarts);
        expect(valueOf(families, 'wasm_dispatch_worker_busy_seconds_total', { worker })).toBe(w.busyMs / 1000);
        expect(valueOf(families, 'wasm_dispatch_worker_idle_seconds_total', { worker })).toBe(w.idleMs / 1000);
      }
      expect(valueOf(families, 'wasm_dispatch_late_replies_total')).toBe(stats.lateReplies);
      expect(valueOf(families, 'wasm_dispatch_backlog')).toBe(stats.backlog);
      expect(valueOf(families, 'wasm_dispatch_lost_to_crashes_total')).toBe(stats.lostToCrashes);
      expect(valueOf(families, 'wasm_dispatch_spin_polls', { adaptive: String(stats.adaptiveSpin) })).toBe(stats.spin);
      expect(families.has('wasm_dispatch_circuit_state')).toBe(false); // no circuit breakers: no empty family

      // The escaped form on the wire, and the same text whatever order the snapshot lists things in.
      expect(text).toContain('topic="odd \\"quoted\\" \\\\back\\\\slash\\nand a newline"');
      const shuffled: EngineStats = {
        ...stats,
        topics: Object.fromEntries(Object.entries(stats.topics).reverse()),
        lanes: [...stats.lanes].reverse(),
        workers: [...stats.workers].reverse(),
      };
      expect(formatPrometheus(shuffled)).toBe(text);
      expect(formatPrometheus(stats, { prefix: 'app_bus' })).toBe(text.replaceAll('wasm_dispatch_', 'app_bus_'));
    } finally {
      await engine.close();
    }
  });

  test('formatting while messages flow changes nothing on the data path: every message delivered once', async () => {
    const engine = await start(backend);
    try {
      await engine.subscribe('orders.created', { handler: 'orders', mode: 'group' });
      let reads = 0;
      for (let n = 0; n < N; n++) {
        if (!engine.publish('orders.created', { n, fail: false, busyMs: 0 })) await engine.whenWritable();
        if (n % 100 === 0) {
          parse(formatPrometheus(engine.stats())); // parses mid-flight too
          reads++;
        }
      }
      await engine.drain({ timeout: 60_000 });
      const t = engine.stats().topics['orders.created']!;
      expect(reads).toBeGreaterThan(0);
      expect([t.published, t.routed, t.delivered, t.handlerErrors]).toEqual([N, N, N, 0]);
    } finally {
      await engine.close();
    }
  });

  test("a window's rates are its counts ÷ its length; a worker in a handler reads busy, a parked one idle", async () => {
    // batch: 1. With the default batch this test read ~0.35 busy instead of ~1 when other test
    // files ran beside it (alone it passes, and a direct probe reads 410 of 412 ms busy): not yet
    // explained, noted as an open question of the worker's idle accounting.
    const engine = await start(backend, 1, 1);
    try {
      await engine.subscribe('orders.created', { handler: 'orders', mode: 'group' });
      const before = performance.now();
      const window = createMetricsWindow(engine, { name: '10s' });
      for (let n = 0; n < N; n++) if (!engine.publish('orders.created', { n, fail: false, busyMs: 0 })) await engine.whenWritable();
      await engine.drain({ timeout: 60_000 });
      const reading = window.read();
      const elapsed = (performance.now() - before) / 1000;
      expect(reading.seconds).toBeGreaterThan(0);
      expect(reading.seconds).toBeLessThanOrEqual(elapsed);
      const orders = reading.topics['orders.created']!;
      expect([orders.delta.published, orders.delta.delivered]).toEqual([N, N]);
      expect(orders.perSecond.delivered).toBeCloseTo(N / reading.seconds, 6);
      expect(orders.perSecond.delivered).toBeGreaterThanOrEqual(N / elapsed);
      expect(reading.eventLoop).toBeDefined(); // Node has performance.eventLoopUtilization
      expect(reading.eventLoop!.utilization).toBeGreaterThanOrEqual(0);
      expect(reading.eventLoop!.utilization).toBeLessThanOrEqual(1);

      // Busy: 400 handler calls of 1 ms each keep the only worker busy for 400 ms of a window about that long.
      for (let n = 0; n < 400; n++) if (!engine.publish('orders.created', { n, fail: false, busyMs: 1 })) await engine.whenWritable();
      await engine.drain({ timeout: 60_000 });
      const busy = window.read();
      expect(busy.seconds).toBeGreaterThanOrEqual(0.4);
      expect(busy.workers[0]!.busyFraction).toBeGreaterThan(0.4 / busy.seconds - 0.25);
      expect(busy.workers[0]!.busyFraction).toBeLessThanOrEqual(1);
      // Idle: nothing to do for 400 ms (the worker spins a few ms, then parks).
      await new Promise((resolve) => setTimeout(resolve, 400));
      const idle = window.read();
      expect(idle.workers[0]!.busyFraction).toBeLessThan(0.5);
      expect(idle.topics['orders.created']!.delta.delivered).toBe(0);

      const text = formatPrometheus(idle.stats, { windows: [idle] });
      const families = parse(text);
      expect(valueOf(families, 'wasm_dispatch_window_seconds', { window: '10s' })).toBe(idle.seconds);
      expect(valueOf(families, 'wasm_dispatch_worker_utilization_ratio', { window: '10s', worker: '0' })).toBe(idle.workers[0]!.busyFraction);
      expect(valueOf(families, 'wasm_dispatch_topic_delivered_per_second', { window: '10s', topic: 'orders.created' })).toBe(0);
      expect(valueOf(families, 'wasm_dispatch_event_loop_utilization_ratio', { window: '10s' })).toBe(idle.eventLoop!.utilization);
    } finally {
      await engine.close();
    }
  });
});

describe('histograms in the exposition', () => {
  /** Known values (ns): exact below 256, log-linear above, a clamp-free spread. */
  const VALUES = [
    ...Array.from({ length: 100 }, (_, i) => i + 1),
    ...new Array<number>(5).fill(1000),
    ...new Array<number>(3).fill(123_456),
    2_000_000_000,
  ];
  const filled = (): Histogram => {
    const h = new Histogram();
    for (const v of VALUES) h.record(v);
    return h;
  };
  const atOrBelow = (bound: number): number => VALUES.filter((v) => v <= bound).length;
  /** Values whose whole bucket lies at or below `bound`: what a fixed bound counts. */
  const bucketsAtOrBelow = (bound: number): number => VALUES.filter((v) => bucketHighest(bucketIndex(v)) <= bound).length;

  test('cumulative buckets, +Inf, sum and count read back by the parser (ns recorded, seconds exposed)', () => {
    const h = filled();
    const text = formatPrometheus(emptyStats(), {
      histograms: [{ name: 'handler_duration', help: 'Handler time.', unit: 'seconds', divideBy: 1e9, histogram: h }],
    });
    const family = parse(text).get('wasm_dispatch_handler_duration_seconds')!;
    expect(family.type).toBe('HISTOGRAM');
    const series = family.metrics[0]!;
    const buckets = Object.entries(series.buckets!);
    expect(buckets.length).toBe(h.forEachBucket(() => undefined) + 1);
    let previous = 0;
    for (const [le, cumulative] of buckets) {
      const count = Number(cumulative);
      expect(count).toBeGreaterThanOrEqual(previous); // cumulative
      previous = count;
      if (le === '+Inf') expect(count).toBe(VALUES.length);
      else expect([le, count]).toEqual([le, atOrBelow(Math.round(Number(le) * 1e9))]);
    }
    expect(Number(series.count)).toBe(VALUES.length);
    expect(Number(series.sum)).toBeCloseTo(h.sum / 1e9, 12);
  });

  test('fixed bounds: every series gets the same le set, counting the source buckets wholly at or below each bound', () => {
    const bounds = [1e-7, 1e-6, 1e-3, 1];
    const text = formatPrometheus(emptyStats(), {
      histograms: [{ name: 'wait', help: 'Queue wait.', unit: 'seconds', divideBy: 1e9, histogram: filled(), buckets: bounds }],
    });
    const series = parse(text).get('wasm_dispatch_wait_seconds')!.metrics[0]!;
    expect(series.buckets).toEqual({
      '1e-7': String(atOrBelow(100)), '0.000001': String(bucketsAtOrBelow(1000)), '0.001': String(bucketsAtOrBelow(1e6)), 1: String(bucketsAtOrBelow(1e9)), '+Inf': String(VALUES.length),
    });
    // 1000 ns sits in the bucket 1000..1003: it straddles the 1 µs bound, so it counts from the next one.
    expect(bucketsAtOrBelow(1000)).toBe(atOrBelow(1000) - 5);
  });

  test('labelled series of one family: one HELP/TYPE, each series its own buckets, sum and count, label values unescaped', () => {
    const a = filled();
    const b = new Histogram();
    b.record(42);
    b.record(42);
    const text = formatPrometheus(emptyStats(), {
      histograms: [
        { name: 'batch_size', help: 'Records per batch.', labels: { topic: ODD_TOPIC }, histogram: a },
        { name: 'batch_size', help: 'Records per batch.', labels: { topic: 'orders.created' }, histogram: b },
      ],
    });
    expect(text.match(/# TYPE wasm_dispatch_batch_size histogram/g)).toHaveLength(1);
    // parse-prometheus-text-format flattens a typed histogram's series into one and drops every
    // label but `le`, so labelled series are read as untyped samples (its tokenizer and unescaping).
    const untyped = parsePrometheusTextFormat(text.replace(/^# TYPE .*\n/gm, ''));
    const samples = (name: string, topic: string) => untyped.filter((f) => f.name === name).flatMap((f) => f.metrics).filter((m) => m.labels?.topic === topic);
    const bBuckets = samples('wasm_dispatch_batch_size_bucket', 'orders.created').map((m) => [m.labels!.le, Number(m.value)]);
    expect(bBuckets).toEqual([['42', 2], ['+Inf', 2]]);
    expect(Number(samples('wasm_dispatch_batch_size_sum', 'orders.created')[0]!.value)).toBe(84);
    const aBuckets = samples('wasm_dispatch_batch_size_bucket', ODD_TOPIC);
    expect(aBuckets).toHaveLength(a.forEachBucket(() => undefined) + 1);
    for (const m of aBuckets) if (m.labels!.le !== '+Inf') expect(Number(m.value)).toBe(atOrBelow(Number(m.labels!.le)));
    expect(Number(samples('wasm_dispatch_batch_size_count', ODD_TOPIC)[0]!.value)).toBe(VALUES.length);
    expect(text.indexOf('topic="odd')).toBeLessThan(text.indexOf('topic="orders.created"')); // sorted by labels
  });

  test('an empty histogram is +Inf 0, sum 0, count 0', () => {
    const text = formatPrometheus(emptyStats(), { histograms: [{ name: 'rtt', help: 'Round trip.', unit: 'seconds', divideBy: 1e9, histogram: new Histogram() }] });
    expect(text).toContain('wasm_dispatch_rtt_seconds_bucket{le="+Inf"} 0\nwasm_dispatch_rtt_seconds_sum 0\nwasm_dispatch_rtt_seconds_count 0\n');
  });
});

describe('formatPrometheus options and escaping', () => {
  test('bad prefix, names, labels and bounds are ConfigErrors naming the field', () => {
    const h = new Histogram();
    const fieldOf = (call: () => unknown): string | undefined => {
      try { call(); } catch (error) { expect(error).toBeInstanceOf(ConfigError); return (error as ConfigError).field; }
      return undefined;
    };
    expect(fieldOf(() => formatPrometheus(emptyStats(), { prefix: '9lives' }))).toBe('prefix');
    expect(fieldOf(() => formatPrometheus(emptyStats(), { histograms: [{ name: 'a-b', help: '', histogram: h }] }))).toBe('histograms[0].name');
    expect(fieldOf(() => formatPrometheus(emptyStats(), { histograms: [{ name: 'a', help: '', histogram: h, labels: { le: 1 } }] }))).toBe('histograms[0].labels');
    expect(fieldOf(() => formatPrometheus(emptyStats(), { histograms: [{ name: 'a', help: '', histogram: h, buckets: [2, 1] }] }))).toBe('histograms[0].buckets');
    expect(fieldOf(() => formatPrometheus(emptyStats(), { histograms: [{ name: 'a', help: '', histogram: h, divideBy: 0 }] }))).toBe('histograms[0].divideBy');
    expect(fieldOf(() => formatPrometheus(emptyStats(), { histograms: [{ name: 'backlog', help: 'x', histogram: h }] }))).toBe('metric wasm_dispatch_backlog');
  });

  test('label values escape backslash, quote and newline, and nothing else', () => {
    expect(escapeLabelValue('plain.topic')).toBe('plain.topic');
    expect(escapeLabelValue('a\\b"c\nd\te')).toBe('a\\\\b\\"c\\nd\te');
  });
});

describe('metrics windows over synthetic stats', () => {
  test('rates, busy fraction from idle time, restarts and new topics', () => {
    let clock = 1000;
    let stats = syntheticStats({ delivered: 0, idleMs: 0, restarts: 0 });
    const window = createMetricsWindow(() => stats, { now: () => clock, eventLoop: false });
    clock += 2000;
    stats = syntheticStats({ delivered: 5000, idleMs: 500, restarts: 0 });
    const first = window.read();
    expect(first.seconds).toBe(2);
    expect(first.topics.t!.delta.delivered).toBe(5000);
    expect(first.topics.t!.perSecond.delivered).toBe(2500);
    expect(first.topics.t!.perSecond.shed.low).toBe(0.5);
    expect(first.workers[0]!.busyFraction).toBe(0.75); // 1 - 500 ms idle / 2000 ms
    expect(first.workers[0]!.idleSeconds).toBe(0.5);
    expect(first.eventLoop).toBeUndefined();

    clock += 1000;
    stats = syntheticStats({ delivered: 6000, idleMs: 700, restarts: 1, extraTopic: true });
    const second = window.read();
    expect(second.workers[0]).toMatchObject({ restarted: true, busyFraction: undefined });
    expect(second.topics.u!.delta.published).toBe(3); // new topic: counted from 0

    const third = window.read(); // zero-length window
    expect(third.seconds).toBe(0);
    expect(third.topics.t!.perSecond.delivered).toBe(0);
    expect(third.workers[0]!.busyFraction).toBeUndefined();
  });

  test('a source that is neither an engine nor a function is a ConfigError', () => {
    expect(() => createMetricsWindow({} as never)).toThrow(ConfigError);
  });
});

function emptyStats(): EngineStats {
  return { topics: {}, lanes: [], workers: [], lateReplies: 0, backlog: 0, lostToCrashes: 0, poolSlots: 0, poolInUse: 0, circuits: [], spin: 0, adaptiveSpin: true };
}

function topicStats(delivered: number, published: number): TopicStats {
  return {
    published, unrouted: 0, routed: delivered, delivered, droppedOldest: 0, droppedNewest: 0, rejected: 0, callerRuns: 0,
    handlerErrors: 0, redelivered: 0, crashed: 0, deadLettered: 0, circuitOpen: 0, lost: 0, admissionRefused: 0, stolen: 0,
    rateLimited: 0, pooled: 0, poolExhausted: 0, inFlight: 0, shed: { high: 0, normal: 0, low: delivered / 5000 },
  };
}

function syntheticStats(o: { delivered: number; idleMs: number; restarts: number; extraTopic?: boolean }): EngineStats {
  const worker: WorkerStats = { worker: 0, state: 'running', restarts: o.restarts, busyMs: 0, idleMs: o.idleMs };
  return {
    ...emptyStats(),
    topics: { t: topicStats(o.delivered, o.delivered), ...(o.extraTopic ? { u: topicStats(0, 3) } : {}) },
    workers: [worker],
  };
}
