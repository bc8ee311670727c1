/**
 * Result entries, run options and the side-by-side table every benchmark prints.
 * One entry per (suite, case, backend); bench/results/latest.json holds them all plus the env.
 */
import type { Backend } from '../bindings/core-ops.ts';

/** One measured case on one backend. Rates are records (messages) per second. */
export interface BenchEntry {
  /** 'micro' (one thread, benchmark.js) or 'one-to-one' (producer and consumer workers). */
  suite: 'micro' | 'one-to-one';
  case: string;
  who: Backend;
  metric: 'msgs_per_s';
  unit: 'msg/s';
  median: number;
  min: number;
  max: number;
  /** Timed samples behind median/min/max (benchmark.js samples, or timed cross-thread runs). */
  runs: number;
  /** Every record arrived, in order, with the producer's checksum. */
  verified: boolean;
  /** benchmark.js relative margin of error of the mean, in % (micro only). */
  rme?: number;
  /** Why verification failed or the case did not finish, when it did not. */
  error?: string;
}

export interface BenchOptions {
  quick: boolean;
  full: boolean;
  /** Only cases whose id (`suite/case/who`, e.g. 'one-to-one/batch 256/js') contains this. */
  filter: string | null;
  /** Timed runs per cross-thread case, and minimum benchmark.js samples per micro case. */
  runs: number;
}

export function caseId(suite: string, name: string, who: Backend): string {
  return `${suite}/${name}/${who}`;
}

/** True when the case should run under `options.filter`. */
export function selected(options: BenchOptions, suite: string, name: string, who: Backend): boolean {
  return options.filter === null || caseId(suite, name, who).includes(options.filter);
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** 123456789 → '123.5 M'. */
export function formatRate(rate: number): string {
  if (!Number.isFinite(rate)) return '—';
  if (rate >= 1e9) return `${(rate / 1e9).toFixed(2)} G`;
  if (rate >= 1e6) return `${(rate / 1e6).toFixed(1)} M`;
  if (rate >= 1e3) return `${(rate / 1e3).toFixed(1)} k`;
  return rate.toFixed(0);
}

function describeEntry(entry: BenchEntry | undefined): string {
  if (!entry) return '(not run)';
  const spread = entry.rme !== undefined
    ? `±${entry.rme.toFixed(1)}%`
    : `[${formatRate(entry.min)}–${formatRate(entry.max)}]`;
  return `${formatRate(entry.median)} ${spread}${entry.verified ? '' : ' UNVERIFIED'}`;
}

/** Prints wasm and js of each case side by side, with the wasm/js ratio of the medians. */
export function printTable(title: string, entries: readonly BenchEntry[]): void {
  const cases: string[] = [];
  for (const e of entries) if (!cases.includes(e.case)) cases.push(e.case);
  if (cases.length === 0) return;
  const rows = cases.map((name) => {
    const wasm = entries.find((e) => e.case === name && e.who === 'wasm');
    const js = entries.find((e) => e.case === name && e.who === 'js');
    const ratio = wasm && js && js.median > 0 ? `${(wasm.median / js.median).toFixed(2)}×` : '—';
    return [name, describeEntry(wasm), describeEntry(js), ratio];
  });
  const header = [title, 'wasm msg/s', 'js msg/s', 'wasm/js'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '─'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}
