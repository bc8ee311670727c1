/**
 * The benchmark's number formats (bench/format.ts): what the console summary, the report, the
 * chart and the demo page print for rates, µs, ratios and counts, and '—' for no value.
 */
import { describe, expect, test } from '@jest/globals';
import { NO_VALUE, formatCount, formatMicros, formatNumber, formatRate, formatRatio, formatScale, formatWithUnit } from '../bench/format.ts';

describe('bench number formats', () => {
  test('rates: compact, 3 significant digits', () => {
    expect(formatRate(10_019_408)).toBe('10.0M');
    expect(formatRate(936_097)).toBe('936K');
    expect(formatRate(512)).toBe('512');
    expect(formatRate(56e6)).toBe('56.0M');
  });

  test('µs: 3 significant digits, whole numbers above 100', () => {
    expect(formatMicros(0.64)).toBe('0.64');
    expect(formatMicros(3.861)).toBe('3.86');
    expect(formatMicros(28.03)).toBe('28');
    expect(formatMicros(1395.2)).toBe('1,395');
  });

  test('ratios, counts, scale', () => {
    expect(formatRatio(1.7)).toBe('1.70');
    expect(formatRatio(22.93)).toBe('22.9');
    expect(formatCount(100_000)).toBe('100,000');
    expect(formatScale(1e4)).toBe('10K');
    expect(formatScale(1e6)).toBe('1M');
  });

  test('by unit, with and without the unit', () => {
    expect(formatNumber(10_019_408, 'msg/s')).toBe('10.0M');
    expect(formatNumber(2.345, 'B')).toBe('2.35');
    expect(formatNumber(18, 'events')).toBe('18');
    expect(formatWithUnit(10_019_408, 'msg/s')).toBe('10.0M msg/s');
    expect(formatWithUnit(0.64, 'µs')).toBe('0.64 µs');
    expect(formatWithUnit(1.7, '×')).toBe('1.70×');
  });

  test('no value', () => {
    for (const value of [NaN, Infinity, -Infinity]) {
      expect(formatRate(value)).toBe(NO_VALUE);
      expect(formatWithUnit(value, 'µs')).toBe(NO_VALUE);
    }
  });
});
