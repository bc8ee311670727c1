/**
 * The benchmark's report files (bench/report.ts, bench/latency-chart.ts) from synthetic results:
 * with latency distributions, the markdown links and tabulates them and `<name>-latency.svg`
 * draws one line per side per case on a percentile axis; without them (a results file from
 * before distributions) the report still renders, says there is no latency chart and leaves none
 * behind. No engine runs: the results are made up here.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { whereFilesWent, writeReport, writeRun } from '../bench/report.ts';
import { medianSpectrum, type LatencyDistribution, type ResultEntry } from '../bench/results.ts';

const ENV = { date: '2026-01-01T00:00:00.000Z', machine: { cpus: 2 }, runtime: { node: 'v20' } };

function entry(suite: string, name: string, who: string, metric: string, unit: string, median: number): ResultEntry {
  return { suite, case: name, who, metric, unit, median, min: median, max: median, runs: 5, verified: true };
}

const ENTRIES: ResultEntry[] = [
  entry('one-to-one', 'engine publish', 'wasm', 'msgs_per_s', 'msg/s', 9.5e6),
  entry('one-to-one', 'engine publish', 'js', 'msgs_per_s', 'msg/s', 3.9e6),
  entry('ping-pong', 'worker↔worker', 'wasm', 'rtt_p50_us', 'µs', 0.64),
  entry('ping-pong', 'worker↔worker', 'js', 'rtt_p50_us', 'µs', 0.93),
];

function spectrum(p50: number): Array<[number, number]> {
  return [[50, p50], [75, p50 * 1.1], [90, p50 * 1.3], [99, p50 * 2], [99.9, p50 * 5], [99.99, p50 * 20], [100, p50 * 60]];
}

function distribution(name: string, who: string, p50: number, verified = true): LatencyDistribution {
  return { suite: 'ping-pong', case: name, who, unit: 'µs', runs: 5, verified, points: spectrum(p50) };
}

const DISTRIBUTIONS: LatencyDistribution[] = [
  distribution('worker↔worker', 'wasm', 0.64),
  distribution('worker↔worker', 'js', 0.93),
  distribution('worker↔worker parked', 'wasm', 43),
  distribution('worker↔worker parked', 'js', 18),
  distribution('worker↔worker parked', 'postMessage', 66, false),
  distribution('request() main→worker', 'wasm', 12.345),
];

/** Throws unless every tag of `svg` closes in order (self-closing tags count as closed). */
function checkTagsBalance(svg: string): void {
  const stack: string[] = [];
  for (const [, close, name, selfClosing] of svg.replace(/<\?xml[^>]*\?>/, '').matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    if (close === '/') {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else if (selfClosing !== '/') {
      stack.push(name!);
    }
  }
  if (stack.length > 0) throw new Error(`unclosed: ${stack.join(', ')}`);
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'wd-report-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});
const dirUrl = (): URL => pathToFileURL(`${dir}/`);

describe('latency distributions in the report', () => {
  test('per-percentile median over runs', () => {
    const runs: Array<Array<[number, number]>> = [
      [[50, 1], [99, 9], [100, 30]],
      [[50, 3], [99, 5], [100, 10]],
      [[50, 2], [99, 7], [100, 20]],
    ];
    expect(medianSpectrum(runs)).toEqual([[50, 2], [99, 7], [100, 20]]);
  });

  test('the latency chart: an svg with a line per side per case, percentile and µs axes, a legend', () => {
    const files = writeReport({ env: ENV, entries: ENTRIES, distributions: DISTRIBUTIONS }, dirUrl(), 'with');
    expect(files.latencySvg?.href).toBe(new URL('with-latency.svg', dirUrl()).href);
    const svg = readFileSync(files.latencySvg!, 'utf8');
    expect(svg.startsWith('<?xml')).toBe(true);
    expect(svg).toContain('<svg xmlns="http://www.w3.org/2000/svg"');
    expect(() => checkTagsBalance(svg)).not.toThrow();

    // One group per side per case, each with a line through the percentiles and a dashed one to max.
    const sides = [...svg.matchAll(/<g class="side" data-who="([^"]+)">([\s\S]*?)<\/g>/g)];
    expect(sides.map(([, who]) => who)).toEqual(['wasm', 'js', 'wasm', 'js', 'postMessage', 'wasm']);
    for (const [, , body] of sides) {
      expect(body!.match(/class="line"/g)).toHaveLength(1);
      expect(body!.match(/class="line tomax"/g)).toHaveLength(1);
      expect(body!.match(/<circle /g)).toHaveLength(7);
    }
    // The unverified side is drawn faint.
    expect(sides[4]![2]).toContain('stroke-opacity="0.35"');
    expect(sides[0]![2]).not.toContain('stroke-opacity');

    for (const label of ['50', '90', '99', '99.9', '99.99', 'max']) expect(svg).toContain(`class="axis">${label}</text>`);
    expect(svg).toMatch(/class="axis">1 µs<\/text>/);
    expect(svg).toMatch(/class="axis">1 ms<\/text>/);
    for (const name of ['worker↔worker', 'worker↔worker parked', 'request() main→worker']) expect(svg).toContain(`</tspan>${name}</text>`);
    for (const who of ['wasm', 'js', 'postMessage']) expect(svg).toContain(`class="lbl">${who}</text>`);
    expect(svg).toContain('wasm · request() main→worker: p99.9 61.7 µs (median of 5 runs)');
  });

  test('the markdown links the latency chart and lists the spectra', () => {
    const files = writeReport({ env: ENV, entries: ENTRIES, distributions: DISTRIBUTIONS }, dirUrl(), 'with');
    const md = readFileSync(files.markdown, 'utf8');
    expect(md).toContain('Throughput chart: [with.svg](with.svg)');
    expect(md).toContain('Latency chart: [with-latency.svg](with-latency.svg)');
    expect(md).toContain('## Round-trip latency by percentile');
    expect(md).toContain('| case | who | p50 | p75 | p90 | p99 | p99.9 | p99.99 | max | runs |');
    expect(md).toContain('| request() main→worker | wasm | 12.3 | 13.6 | 16 | 24.7 | 61.7 | 247 | 741 | 5 |');
    expect(md).toContain('| worker↔worker parked | postMessage ⚠ |');
  });

  test('results without distributions still render, with no latency chart', () => {
    // An earlier run of the same name left a latency chart: it must not outlive its results.
    const earlier = writeReport({ env: ENV, entries: ENTRIES, distributions: DISTRIBUTIONS }, dirUrl(), 'old');
    expect(existsSync(earlier.latencySvg!)).toBe(true);
    const files = writeReport({ env: ENV, entries: ENTRIES }, dirUrl(), 'old');
    expect(files.latencySvg).toBeNull();
    expect(existsSync(earlier.latencySvg!)).toBe(false);
    const md = readFileSync(files.markdown, 'utf8');
    expect(md).toContain('Latency chart: none (no latency distributions in this run).');
    expect(md).not.toContain('-latency.svg');
    expect(md).not.toContain('## Round-trip latency by percentile');
    expect(readFileSync(files.svg, 'utf8')).toContain('<svg');
    expect(whereFilesWent({ json: new URL('old.json', dirUrl()), ...files }, true, 'npm run bench --').join('\n')).not.toContain('latency');
  });

  test('malformed distributions are skipped, missing values tolerated', () => {
    const raw = [null, 7, { who: 'wasm' }, { unit: 'ms', points: [[50, 1]] }, { suite: 'ping-pong', case: 'c', who: 'js', unit: 'µs', points: [[99, null], [50, 2], ['x', 3], [101, 4]] }];
    const files = writeReport({ env: null, entries: [], distributions: raw as unknown as LatencyDistribution[] }, dirUrl(), 'odd');
    const svg = readFileSync(files.latencySvg!, 'utf8');
    expect(() => checkTagsBalance(svg)).not.toThrow();
    expect(svg.match(/<g class="side"/g)).toHaveLength(1);
    expect(readFileSync(files.markdown, 'utf8')).toContain('| c | js ⚠ | 2 | — |  |');
  });

  test('writeRun stores the distributions rounded, and the console names the latency chart', () => {
    const files = writeRun({ env: ENV, entries: ENTRIES, distributions: DISTRIBUTIONS }, dirUrl(), 'run');
    const saved = JSON.parse(readFileSync(files.json, 'utf8')) as { distributions: LatencyDistribution[] };
    expect(saved.distributions).toHaveLength(DISTRIBUTIONS.length);
    expect(saved.distributions[5]).toEqual({ ...DISTRIBUTIONS[5], points: [[50, 12.35], [75, 13.58], [90, 16.05], [99, 24.69], [99.9, 61.73], [99.99, 246.9], [100, 740.7]] });
    expect(whereFilesWent(files, true, 'npm run bench --')[0]).toContain('a latency chart (');
    expect(files.latencySvg!.href.endsWith('run-latency.svg')).toBe(true);
  });
});
