/**
 * What the two parts of bench/async.ts share: run counts, the verification that fails a run
 * loudly, the engine errors a run must not have, medians and the markdown tables they print.
 */

/** Timed runs per variant, after a warm-up; each figure is their median. */
export const RUNS = Number(process.env.ASYNC_RUNS ?? 3);
/** Messages per publishBatch call. */
export const BATCH = 256;
/** Every run's drain and report must finish within this (ms). */
export const DEADLINE_MS = 60_000;

export const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1]!;

/** Thrown by a run whose messages do not add up: the process exits non-zero. */
export class VerificationError extends Error {}

/** Throws `problems` as one VerificationError naming `what`; returns when there are none. */
export function check(what: string, problems: readonly string[]): void {
  if (problems.length > 0) throw new VerificationError(`${what}: ${problems.join('; ')}`);
}

/** Engine errors (handler rejections, crashes) collected through onError; any one fails the run. */
export class EngineErrors {
  readonly seen: Error[] = [];
  readonly onError = (error: Error): void => { this.seen.push(error); };
  check(what: string): void {
    if (this.seen.length > 0) throw new VerificationError(`${what}: the engine reported ${this.seen.length} error(s), the first: ${this.seen[0]!.message}`);
  }
}

/** Prints a markdown table, the first column left-aligned, the rest right-aligned. */
export function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w, c) => (c === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const row of rows) console.log(line(row));
}
