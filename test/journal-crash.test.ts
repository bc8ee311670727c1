/**
 * Crash safety with real processes: a child (test/journal/crash-writer.ts) appends and commits
 * batches and reports each commit on stdout; the parent SIGKILLs it at a seeded random point
 * (after a random number of commits, or during start-up and recovery), then reads the journal:
 * every index the child reported committed is there with its payload intact, indexes are
 * contiguous from 0, per-thread sequences are contiguous, nothing lies beyond the last batch begun,
 * and no record is reported corrupt. The next round's child reopens (recovers) and goes on. Run
 * for 'always' and for 'none': after a process crash, committed means handed to the OS, which
 * keeps it under either policy. Rounds scale with WD_STRESS (default ~10 s for the file); every
 * wait is bounded.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openJournal } from '../src/journal/index.ts';
import { STRESS } from './harness.ts';
import { checkPayload, random, threadOf, topicOf } from './journal/records.ts';

const SEED = Number(process.env.WD_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`journal-crash.test: WD_SEED=${SEED}`);

const CHILD = new URL('./journal/crash-writer.js', import.meta.url);
const CRASH_THREADS = 8;
const ROUNDS = Math.max(2, Math.round(10 * STRESS));
/** No child may take longer than this to report or to die. */
const WAIT_MS = 15_000;

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Round {
  opened: { nextIndex: number; truncatedBytes: number; corrupt: number } | null;
  begun: number;
  committed: number;
}

/**
 * Runs one child until it is killed: after `killAfterCommits` commit lines (0: `killAfterMs` after
 * spawning, which may land during start-up or recovery). Resolves with what it reported.
 */
function runChild(dir: string, policy: string, seed: number, killAfterCommits: number, killAfterMs: number): Promise<Round> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD.pathname, dir, policy, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const round: Round = { opened: null, begun: -1, committed: -1 };
    let commits = 0;
    let text = '';
    let errors = '';
    let killed = false;
    const kill = (): void => {
      if (!killed) child.kill('SIGKILL');
      killed = true;
    };
    const timer = setTimeout(() => {
      kill();
      reject(new Error(`child did not finish within ${WAIT_MS} ms (stderr: ${errors})`));
    }, WAIT_MS);
    if (killAfterCommits === 0) setTimeout(kill, killAfterMs);
    child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      let newline: number;
      while ((newline = text.indexOf('\n')) >= 0) {
        const [word, ...numbers] = text.slice(0, newline).split(' ');
        text = text.slice(newline + 1);
        const values = numbers.map(Number);
        if (word === 'open') round.opened = { nextIndex: values[0]!, truncatedBytes: values[1]!, corrupt: values[2]! };
        else if (word === 'appending') round.begun = values[0]!;
        else if (word === 'committed') {
          round.committed = values[0]!;
          if (++commits === killAfterCommits) kill();
        }
      }
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`child exited by itself (code ${code}, signal ${signal}): ${errors}`));
      else resolve(round);
    });
  });
}

/** Reads the whole journal and checks it; returns how many records it holds. */
function verify(dir: string, committed: number, begun: number): number {
  if (!existsSync(join(dir, 'manifest.json'))) {
    // Killed before the first open finished creating the journal: nothing can have been committed.
    expect(committed).toBe(-1);
    return 0;
  }
  const reader = openJournal(dir);
  const sequences = new Array<number>(CRASH_THREADS).fill(0);
  let count = 0;
  for (const record of reader.records()) {
    if (record.index !== count) throw new Error(`record ${count} missing: read ${record.index} next`);
    const problem = checkPayload(record.index, record.payload);
    if (problem !== null) throw new Error(problem);
    // Plain comparisons: an expect() per field per record would dominate the file's run time.
    if (record.topic !== topicOf(record.index) || record.thread !== threadOf(record.index, CRASH_THREADS)) {
      throw new Error(`record ${record.index}: topic ${record.topic}, thread ${record.thread}`);
    }
    if (record.sequence !== sequences[record.thread]) {
      throw new Error(`record ${record.index}: thread ${record.thread} sequence ${record.sequence}, expected ${sequences[record.thread]}`);
    }
    sequences[record.thread]!++;
    count++;
  }
  expect(reader.corrupt).toEqual([]);
  expect(reader.nextIndex).toBe(count);
  reader.close();
  // Every committed record is there; nothing beyond the last batch begun is.
  expect(count).toBeGreaterThanOrEqual(committed + 1);
  expect(count).toBeLessThanOrEqual(begun + 1);
  return count;
}

describe.each(['always', 'none'])('fsync %s: SIGKILL at random points', (policy) => {
  test(`${ROUNDS} rounds: everything committed survives, contiguous and intact, nothing invented`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wd-journal-crash-'));
    dirs.push(dir);
    const next = random(SEED + (policy === 'always' ? 0 : 1));
    let committed = -1;
    let begun = -1;
    let count = 0;
    let recoveries = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const early = next() < 0.2;
      const round = await runChild(dir, policy, SEED + r, early ? 0 : 1 + Math.floor(next() * 150), Math.floor(next() * 120));
      if (round.opened !== null) {
        // The child resumed exactly where the last verified read ended.
        expect(round.opened.nextIndex).toBe(count);
        expect(round.opened.corrupt).toBe(0);
        if (round.opened.truncatedBytes > 0) recoveries++;
      }
      committed = Math.max(committed, round.committed);
      begun = Math.max(begun, round.begun);
      count = verify(dir, committed, begun);
    }
    console.log(`fsync ${policy}: ${ROUNDS} rounds, ${count} records, ${recoveries} torn tails truncated`);
    expect(count).toBeGreaterThan(0);
  });
});
