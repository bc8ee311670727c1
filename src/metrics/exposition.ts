/**
 * A writer of the Prometheus text exposition format, version 0.0.4 (prometheus.io/docs/instrumenting/
 * exposition_formats): families of samples with `# HELP` and `# TYPE` lines, label values escaped,
 * histograms as cumulative `_bucket{le}` series with `+Inf`, `_sum` and `_count`. Output is
 * deterministic: families sorted by name, each family's series by label values (numbers as numbers,
 * strings by UTF-16 code unit), whatever order they were added in.
 *
 * It knows nothing of the engine: prometheus.ts decides what goes in.
 */
import { ConfigError } from '../errors.ts';

/** The Content-Type an HTTP endpoint serving this text sends. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type MetricType = 'counter' | 'gauge' | 'histogram';
export type LabelValue = string | number;

/**
 * Anything with the shape of src/histogram.ts's Histogram: a count, a sum, and the non-empty
 * buckets in ascending order with their cumulative counts (`le`: the largest value a bucket holds).
 */
export interface HistogramSource {
  readonly count: number;
  readonly sum: number;
  forEachBucket(visit: (le: number, cumulative: number) => void): unknown;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Throws ConfigError unless `name` is a valid metric name. */
export function checkMetricName(field: string, name: string): void {
  if (typeof name !== 'string' || !METRIC_NAME.test(name)) throw new ConfigError(field, name, 'must match [a-zA-Z_:][a-zA-Z0-9_:]* (a Prometheus metric name)');
}

/** Throws ConfigError unless `name` may name a label (not `le`, not reserved `__…`). */
export function checkLabelName(field: string, name: string): void {
  if (!LABEL_NAME.test(name) || name.startsWith('__') || name === 'le') {
    throw new ConfigError(field, name, "must match [a-zA-Z_][a-zA-Z0-9_]*, not start with '__' and not be 'le'");
  }
}

const LABEL_SPECIAL = /[\\"\n]/;
const LABEL_SPECIAL_ALL = /[\\"\n]/g;
const HELP_SPECIAL = /[\\\n]/;
const HELP_SPECIAL_ALL = /[\\\n]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '"': '\\"', '\n': '\\n' };
const escapeChar = (c: string): string => ESCAPES[c]!;

/** A label value as the format writes it between its quotes: `\` → `\\`, `"` → `\"`, newline → `\n`. */
export function escapeLabelValue(value: string): string {
  return LABEL_SPECIAL.test(value) ? value.replace(LABEL_SPECIAL_ALL, escapeChar) : value;
}

/** HELP text: `\` → `\\`, newline → `\n` (quotes stay). */
export function escapeHelp(text: string): string {
  return HELP_SPECIAL.test(text) ? text.replace(HELP_SPECIAL_ALL, escapeChar) : text;
}

/** A sample value: Go's ParseFloat reads every form this returns (`+Inf`, `-Inf`, `NaN`, `1e-7`). */
export function formatNumber(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value); // NaN → 'NaN'; integers to 2^53 in plain digits
}

/** `{a="x",b="2"}`, or '' for no labels. */
export function labelText(names: readonly string[], values: readonly LabelValue[]): string {
  if (names.length === 0) return '';
  let text = '{';
  for (let i = 0; i < names.length; i++) {
    const v = values[i]!;
    text += `${i === 0 ? '' : ','}${names[i]}="${typeof v === 'number' ? formatNumber(v) : escapeLabelValue(v)}"`;
  }
  return `${text}}`;
}

/** One series of a family: its sort key and its lines. */
interface Row {
  readonly key: readonly LabelValue[];
  readonly text: string;
}

function compareKeys(a: readonly LabelValue[], b: readonly LabelValue[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    const sx = String(x);
    const sy = String(y);
    if (sx !== sy) return sx < sy ? -1 : 1;
  }
  return a.length - b.length;
}

/**
 * How a histogram's recorded values become the exposed ones: divided by `divideBy` (1e9 when
 * nanoseconds are recorded and seconds exposed), folded into `buckets` if given.
 */
export interface HistogramScale {
  readonly divideBy: number;
  /**
   * Upper bounds in the exposed unit, ascending: every series then has the same `le` set, which
   * sums across series need. Each counts the source buckets whose largest value is ≤ the bound,
   * so a source bucket that straddles a bound counts in the next one (at most one source bucket
   * off: 1/128 of the value for src/histogram.ts). Default: every non-empty source bucket, exact.
   */
  readonly buckets?: readonly number[];
}

/** One family: name, type, help, label names, and the series added to it. */
export class Family {
  private readonly rows: Row[] = [];

  constructor(
    readonly name: string,
    readonly type: MetricType,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  get size(): number {
    return this.rows.length;
  }

  /** One sample: `name{labels} value`. */
  sample(values: readonly LabelValue[], value: number): void {
    this.rows.push({ key: values, text: `${this.name}${labelText(this.labelNames, values)} ${formatNumber(value)}\n` });
  }

  /**
   * One histogram series: cumulative `_bucket{…,le}` lines ending with `le="+Inf"` (the count),
   * then `_sum` and `_count`. `labels` are written before `le`, in the order given.
   */
  histogram(names: readonly string[], values: readonly LabelValue[], source: HistogramSource, scale: HistogramScale): void {
    const base = labelText(names, values);
    const open = base === '' ? '{' : `${base.slice(0, -1)},`;
    const bucket = `${this.name}_bucket${open}le="`;
    let text = '';
    const { divideBy, buckets } = scale;
    if (buckets === undefined) {
      source.forEachBucket((le, cumulative) => {
        text += `${bucket}${formatNumber(le / divideBy)}"} ${formatNumber(cumulative)}\n`;
      });
    } else {
      let next = 0;
      let below = 0;
      source.forEachBucket((le, cumulative) => {
        const v = le / divideBy;
        for (; next < buckets.length && buckets[next]! < v; next++) text += `${bucket}${formatNumber(buckets[next]!)}"} ${formatNumber(below)}\n`;
        below = cumulative;
      });
      for (; next < buckets.length; next++) text += `${bucket}${formatNumber(buckets[next]!)}"} ${formatNumber(below)}\n`;
    }
    const count = source.count;
    text += `${bucket}+Inf"} ${formatNumber(count)}\n`;
    text += `${this.name}_sum${base} ${formatNumber(source.sum / divideBy)}\n`;
    text += `${this.name}_count${base} ${formatNumber(count)}\n`;
    this.rows.push({ key: [base], text });
  }

  /** HELP, TYPE and the series sorted; '' for a family with no series. */
  render(): string {
    if (this.rows.length === 0) return '';
    this.rows.sort((a, b) => compareKeys(a.key, b.key));
    let text = `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`;
    for (const row of this.rows) text += row.text;
    return text;
  }
}

/** Families by name; render() writes them sorted by name. */
export class Exposition {
  private readonly families = new Map<string, Family>();

  /** The family `name` (created on first use; a second use must agree on type and help). */
  family(name: string, type: MetricType, help: string, labelNames: readonly string[] = []): Family {
    let family = this.families.get(name);
    if (family === undefined) {
      family = new Family(name, type, help, labelNames);
      this.families.set(name, family);
    } else if (family.type !== type || family.help !== help) {
      throw new ConfigError(`metric ${name}`, `${type}: ${help}`, `is already a ${family.type} with help "${family.help}"`);
    }
    return family;
  }

  render(): string {
    const names = [...this.families.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    let text = '';
    for (const name of names) text += this.families.get(name)!.render();
    return text;
  }
}
