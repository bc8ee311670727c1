/**
 * formatPrometheus: an engine's stats() snapshot (and, optionally, histograms and window readings)
 * as Prometheus text exposition. A pure function of its arguments: it reads nothing else, so
 * `formatPrometheus(engine.stats())` costs the data path exactly what stats() does — shared-memory
 * loads on the calling thread, no message to any worker — and the string building happens on the
 * caller's thread. The families and their names are listed in instruments.ts and the README
 * ("Metrics").
 */
import type { EngineStats } from '../engine/types.ts';
import { ConfigError } from '../errors.ts';
import {
  checkLabelName, checkMetricName, Exposition, type HistogramSource, type LabelValue,
} from './exposition.ts';
import { CIRCUIT_STATES, HELP, PRIORITIES, TOPIC_COUNTERS, WORKER_STATES } from './instruments.ts';
import type { WindowReading } from './window.ts';

export { PROMETHEUS_CONTENT_TYPE, type HistogramSource } from './exposition.ts';

/**
 * The messaging semantic conventions' bucket bounds for durations, seconds (`buckets` of a
 * HistogramExport in seconds). Fixed bounds keep a scrape small: 192 histograms of 10 000
 * log-uniform latencies (1 µs – 100 ms) are 31 MB of text with every non-empty bucket (~2 000
 * each), 0.36 MB with these 14 (bench/metrics.ts).
 */
export const MESSAGING_DURATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** One histogram to expose (the latency histograms the workers will record, a batcher's...). */
export interface HistogramExport {
  /** Family name after the prefix and before the unit: `handler_duration`. */
  readonly name: string;
  readonly help: string;
  /** Base unit, appended to the name: 'seconds', 'bytes'; '' or absent for a plain count. */
  readonly unit?: string;
  /**
   * Recorded units per exposed unit: bucket bounds and the sum are divided by it. 1e9 when the
   * histogram records nanoseconds and `unit` is 'seconds'. Default 1.
   */
  readonly divideBy?: number;
  /** Labels of this series (histograms of one name form one family: one series per label set). */
  readonly labels?: Readonly<Record<string, LabelValue>>;
  readonly histogram: HistogramSource;
  /**
   * Fixed `le` bounds in the exposed unit, ascending (each series of a family then has the same
   * buckets, which `sum by (le)` needs; e.g. MESSAGING_DURATION_BUCKETS). A source bucket that
   * straddles a bound counts in the next one. Default: every non-empty bucket of the source, exact
   * but as many lines as the source has non-empty buckets (up to thousands for latencies): give
   * bounds for anything scraped regularly.
   */
  readonly buckets?: readonly number[];
}

export interface PrometheusOptions {
  /** Family name prefix; default 'wasm_dispatch'. */
  readonly prefix?: string;
  /** Histograms to expose beside the counters. */
  readonly histograms?: readonly HistogramExport[];
  /** Window readings (metrics window read()) whose rates and ratios to expose, labelled `window`. */
  readonly windows?: readonly WindowReading[];
}

const STATE_VALUE = (actual: string, state: string): number => (actual === state ? 1 : 0);

/**
 * The Prometheus text exposition (format 0.0.4; serve it as PROMETHEUS_CONTENT_TYPE) of `stats`:
 * per-topic counters `<prefix>_topic_<counter>_total{topic}`, lanes, workers, circuits and engine
 * totals, then `options.histograms` and `options.windows`. Counters in base units with `_total`,
 * gauges without; families sorted by name, series by labels. Throws ConfigError for a bad prefix
 * or histogram name, label name or bounds.
 */
export function formatPrometheus(stats: EngineStats, options: PrometheusOptions = {}): string {
  const prefix = options.prefix ?? 'wasm_dispatch';
  checkMetricName('prefix', prefix);
  const out = new Exposition();
  const p = `${prefix}_`;

  // Topics.
  const topicNames = Object.keys(stats.topics);
  for (const spec of TOPIC_COUNTERS) {
    const family = out.family(`${p}topic_${spec.snake}_total`, 'counter', spec.help, ['topic']);
    for (const topic of topicNames) family.sample([topic], stats.topics[topic]![spec.field]);
  }
  const shed = out.family(`${p}topic_shed_total`, 'counter', HELP.topic_shed_total, ['topic', 'priority']);
  const inFlight = out.family(`${p}topic_in_flight`, 'gauge', HELP.topic_in_flight, ['topic']);
  for (const topic of topicNames) {
    const t = stats.topics[topic]!;
    for (const priority of PRIORITIES) shed.sample([topic, priority], t.shed[priority]);
    inFlight.sample([topic], t.inFlight);
  }

  // Lanes.
  const laneLabels = ['from', 'to', 'priority'];
  const lanePublished = out.family(`${p}lane_published_total`, 'counter', HELP.lane_published_total, laneLabels);
  const laneDepth = out.family(`${p}lane_depth`, 'gauge', HELP.lane_depth, laneLabels);
  const laneHigh = out.family(`${p}lane_high_water`, 'gauge', HELP.lane_high_water, laneLabels);
  for (const lane of stats.lanes) {
    const key = [lane.from, lane.to, lane.priority];
    lanePublished.sample(key, lane.published);
    laneDepth.sample(key, lane.depth);
    laneHigh.sample(key, lane.highWater);
  }

  // Workers.
  const state = out.family(`${p}worker_state`, 'gauge', HELP.worker_state, ['worker', 'state']);
  const restarts = out.family(`${p}worker_restarts_total`, 'counter', HELP.worker_restarts_total, ['worker']);
  const busy = out.family(`${p}worker_busy_seconds_total`, 'counter', HELP.worker_busy_seconds_total, ['worker']);
  const idle = out.family(`${p}worker_idle_seconds_total`, 'counter', HELP.worker_idle_seconds_total, ['worker']);
  for (const w of stats.workers) {
    for (const s of WORKER_STATES) state.sample([w.worker, s], STATE_VALUE(w.state, s));
    restarts.sample([w.worker], w.restarts);
    busy.sample([w.worker], w.busyMs / 1000);
    idle.sample([w.worker], w.idleMs / 1000);
  }

  // Circuits.
  const circuitLabels = ['subscription', 'topic', 'handler', 'worker'];
  const circuitState = out.family(`${p}circuit_state`, 'gauge', HELP.circuit_state, [...circuitLabels, 'state']);
  const opened = out.family(`${p}circuit_opened_total`, 'counter', HELP.circuit_opened_total, circuitLabels);
  for (const c of stats.circuits) {
    for (const s of CIRCUIT_STATES) circuitState.sample([c.subscription, c.topic, c.handler, c.worker, s], STATE_VALUE(c.state, s));
    opened.sample([c.subscription, c.topic, c.handler, c.worker], c.opened);
  }

  // Engine totals.
  out.family(`${p}late_replies_total`, 'counter', HELP.late_replies_total).sample([], stats.lateReplies);
  out.family(`${p}backlog`, 'gauge', HELP.backlog).sample([], stats.backlog);
  out.family(`${p}lost_to_crashes_total`, 'counter', HELP.lost_to_crashes_total).sample([], stats.lostToCrashes);
  out.family(`${p}pool_slots`, 'gauge', HELP.pool_slots).sample([], stats.poolSlots);
  out.family(`${p}pool_in_use`, 'gauge', HELP.pool_in_use).sample([], stats.poolInUse);
  out.family(`${p}spin_polls`, 'gauge', HELP.spin_polls, ['adaptive']).sample([String(stats.adaptiveSpin)], stats.spin);

  for (const [i, h] of (options.histograms ?? []).entries()) addHistogram(out, p, h, i);
  for (const reading of options.windows ?? []) addWindow(out, p, reading);
  return out.render();
}

function addHistogram(out: Exposition, p: string, h: HistogramExport, i: number): void {
  const field = `histograms[${i}]`;
  const unit = h.unit ?? '';
  const name = `${p}${h.name}${unit === '' ? '' : `_${unit}`}`;
  checkMetricName(`${field}.name`, name);
  const divideBy = h.divideBy ?? 1;
  if (!(divideBy > 0) || !Number.isFinite(divideBy)) throw new ConfigError(`${field}.divideBy`, divideBy, 'must be a positive finite number');
  const buckets = h.buckets;
  if (buckets !== undefined) {
    for (let b = 0; b < buckets.length; b++) {
      if (!Number.isFinite(buckets[b]) || (b > 0 && !(buckets[b]! > buckets[b - 1]!))) {
        throw new ConfigError(`${field}.buckets`, buckets, 'must be finite and strictly ascending (+Inf is always added)');
      }
    }
  }
  const labels = h.labels ?? {};
  const names = Object.keys(labels);
  for (const label of names) checkLabelName(`${field}.labels`, label);
  out.family(name, 'histogram', h.help).histogram(names, names.map((label) => labels[label]!), h.histogram, { divideBy, buckets });
}

function addWindow(out: Exposition, p: string, reading: WindowReading): void {
  const name = reading.name;
  out.family(`${p}window_seconds`, 'gauge', HELP.window_seconds, ['window']).sample([name], reading.seconds);
  const published = out.family(`${p}topic_published_per_second`, 'gauge', HELP.topic_published_per_second, ['window', 'topic']);
  const delivered = out.family(`${p}topic_delivered_per_second`, 'gauge', HELP.topic_delivered_per_second, ['window', 'topic']);
  for (const [topic, t] of Object.entries(reading.topics)) {
    published.sample([name, topic], t.perSecond.published);
    delivered.sample([name, topic], t.perSecond.delivered);
  }
  const utilization = out.family(`${p}worker_utilization_ratio`, 'gauge', HELP.worker_utilization_ratio, ['window', 'worker']);
  for (const w of reading.workers) if (w.busyFraction !== undefined) utilization.sample([name, w.worker], w.busyFraction);
  if (reading.eventLoop !== undefined) {
    out.family(`${p}event_loop_utilization_ratio`, 'gauge', HELP.event_loop_utilization_ratio, ['window']).sample([name], reading.eventLoop.utilization);
  }
}
