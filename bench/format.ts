/**
 * How the benchmark's numbers read, in one place: the console summary, the report and its chart
 * (bench/summary.ts, bench/report.ts) and the demo page (web/demo/demo.ts) all format through these
 * Intl.NumberFormat formats. Plain ECMAScript, no Node built-in: the page imports it as it is.
 *
 *   rate      10019408 → '10.0M'   936097 → '936K'   512 → '512'      (compact, 3 significant digits)
 *   µs        0.64 → '0.64'        28.03 → '28'      1395.2 → '1,395' (3 significant digits, whole above 100)
 *   ratio     1.7 → '1.70'         22.93 → '22.9'                     (3 significant digits)
 *   count     100000 → '100,000'
 */

const LOCALE = 'en-US';

const RATE = new Intl.NumberFormat(LOCALE, { notation: 'compact', minimumSignificantDigits: 3, maximumSignificantDigits: 3 });
/** Three significant digits, but never fewer than the whole number (1395, not 1,400). */
const MICROS = new Intl.NumberFormat(LOCALE, { maximumSignificantDigits: 3, maximumFractionDigits: 0, roundingPriority: 'morePrecision' });
const RATIO = new Intl.NumberFormat(LOCALE, { minimumSignificantDigits: 3, maximumSignificantDigits: 3 });
const FRACTION = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 2 });
const COUNT = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 0 });
const SCALE = new Intl.NumberFormat(LOCALE, { notation: 'compact' });

/** What a number shows when there is none (NaN, ±Infinity). */
export const NO_VALUE = '—';

function finite(value: number, format: Intl.NumberFormat): string {
  return Number.isFinite(value) ? format.format(value) : NO_VALUE;
}

/** Per-second rates (messages, requests), compact: '10.0M', '936K'. */
export function formatRate(perSecond: number): string {
  return finite(perSecond, RATE);
}

/** Durations in µs: '0.64', '28', '1,395'. */
export function formatMicros(us: number): string {
  return finite(us, MICROS);
}

/** A ratio without its '×': '1.70', '22.9'. */
export function formatRatio(ratio: number): string {
  return finite(ratio, RATIO);
}

/** A round number on a scale (an axis tick), compact with no more digits than it has: '10K', '1M'. */
export function formatScale(value: number): string {
  return finite(value, SCALE);
}

/** Whole counts with grouping: '100,000'. */
export function formatCount(count: number): string {
  return finite(count, COUNT);
}

/**
 * A value in its unit, the unit itself left out (tables print it in a column of its own):
 * 'msg/s' as a rate, 'µs' as a duration, '×' as a ratio, 'events' as a count, anything else
 * (bytes, …) with at most two decimals.
 */
export function formatNumber(value: number, unit: string): string {
  switch (unit) {
    case 'msg/s': return formatRate(value);
    case 'µs': return formatMicros(value);
    case '×': return formatRatio(value);
    case 'events': return formatCount(value);
    default: return finite(value, FRACTION);
  }
}

/** formatNumber with its unit after it: '10.0M msg/s', '0.64 µs', '1.70×'. */
export function formatWithUnit(value: number, unit: string): string {
  const number = formatNumber(value, unit);
  if (number === NO_VALUE) return number;
  return unit === '×' ? `${number}×` : `${number} ${unit}`;
}
