/**
 * Reads what the cluster handlers wrote (cluster-handlers.ts) and checks the at-least-once
 * accounting the cluster promises, as identities over every line of every node:
 *
 * - every published order was handled at least once;
 * - nothing was handled that was not published;
 * - duplicates are flagged: of an order's handlings at most one has deliveries = 1 (a first
 *   delivery), the others came from a claim after a failover (deliveries > 1);
 * - per key, per file (one worker of one node), first deliveries come in publish order.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Handled {
  readonly producer: number;
  readonly seq: number;
  readonly key: number;
  readonly deliveries: number;
  readonly time: number;
  /** The file (pid-thread) that wrote it. */
  readonly file: string;
}

export function readHandled(dir: string): Handled[] {
  if (!existsSync(dir)) return [];
  const out: Handled[] = [];
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.log') || file.includes('own')) continue;
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      const f = line.split(' ');
      // A node killed mid-write can leave its last line cut short: it did not finish handling that order.
      if (f[0] !== 'o' || f.length !== 6 || f[5] === '') continue;
      out.push({ producer: Number(f[1]), seq: Number(f[2]), key: Number(f[3]), deliveries: Number(f[4]), time: Number(f[5]), file });
    }
  }
  return out;
}

export interface Accounting {
  readonly handled: number;
  readonly distinct: number;
  readonly missing: number;
  readonly unknown: number;
  /** Handlings beyond the first of an order. */
  readonly duplicates: number;
  /** Orders with more than one first delivery (an unflagged duplicate). */
  readonly unflagged: number;
  /** First deliveries of a key, in one file, that came after a later sequence of the same producer. */
  readonly outOfOrder: number;
  /** Handlings with deliveries > 1. */
  readonly redelivered: number;
}

/** `published[p]`: how many orders producer p published (sequences 0..n-1). */
export function account(handled: readonly Handled[], published: readonly number[]): Accounting {
  const seen = published.map((n) => new Uint16Array(n));
  const firsts = published.map((n) => new Uint16Array(n));
  let unknown = 0;
  let redelivered = 0;
  const last = new Map<string, number>();
  let outOfOrder = 0;
  for (const h of handled) {
    const row = seen[h.producer];
    if (row === undefined || h.seq >= row.length) {
      unknown++;
      continue;
    }
    row[h.seq]!++;
    if (h.deliveries > 1) redelivered++;
    else {
      firsts[h.producer]![h.seq]!++;
      const k = `${h.file}/${h.producer}/${h.key}`;
      const before = last.get(k);
      if (before !== undefined && h.seq < before) outOfOrder++;
      last.set(k, h.seq);
    }
  }
  let distinct = 0;
  let missing = 0;
  let unflagged = 0;
  for (let p = 0; p < published.length; p++) {
    for (let s = 0; s < published[p]!; s++) {
      if (seen[p]![s]! > 0) distinct++;
      else missing++;
      if (firsts[p]![s]! > 1) unflagged++;
    }
  }
  return { handled: handled.length, distinct, missing, unknown, duplicates: handled.length - unknown - distinct, unflagged, outOfOrder, redelivered };
}
