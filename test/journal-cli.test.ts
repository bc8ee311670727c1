/**
 * The command line (src/cli.ts) as a user runs it, in a child process: `journal <dir>` describes a
 * journal an engine wrote, `replay <dir> --engine <module>` re-publishes a range of it into the
 * module's engine (every order of the range handled once, a progress line on stderr), and a bad
 * command line exits with code 2 and the usage.
 */
import { afterAll, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine } from '../src/index.ts';
import { journalTopics } from './engine/journal-topics.ts';
import { CORE_BUILD } from './harness.ts';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const REPLICA = fileURLToPath(new URL('./workers/journal-replica.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'wd-cli-'));
const log = mkdtempSync(join(tmpdir(), 'wd-cli-log-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(log, { recursive: true, force: true });
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 60_000, env: { ...process.env, WD_JOURNAL_LOG: log } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

test('journal describes, replay re-publishes a range, bad command lines exit 2', async () => {
  const engine = await createEngine({
    topics: journalTopics, handlers: new URL('./engine/journal-handlers.js', import.meta.url), workers: 1, coreBuild: CORE_BUILD,
    journal: { dir, topics: ['order', 'fill'] },
  });
  for (let id = 0; id < 1000; id++) engine.publish('order', { id, customer: id % 13, amount: 2 });
  await engine.close();

  const described = await cli(['journal', dir]);
  expect(described.code).toBe(0);
  expect(described.stdout).toContain('records 0..999');
  expect(described.stdout).toMatch(/topic order: 1000 records of 16 bytes/);
  expect(described.stdout).toMatch(/topic fill: 0 records/);

  mkdirSync(log, { recursive: true });
  const replayed = await cli(['replay', dir, '--engine', REPLICA, '--from', '250', '--to', '750']);
  expect(replayed.stderr).toContain('500/500 records');
  expect(replayed.stdout).toContain('replayed 500 records (index 250..749)');
  expect(replayed.code).toBe(0);
  const ids = readdirSync(log).flatMap((file) => readFileSync(join(log, file), 'utf8').split('\n').filter((line) => line !== '').map((line) => Number(line.split(' ')[0])));
  expect(ids.sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => 250 + i));

  const bad = await cli(['replay', dir]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('--engine');
  expect((await cli(['frobnicate', dir])).code).toBe(2);
  expect((await cli(['replay', dir, '--engine', REPLICA, '--from', 'x'])).code).toBe(2);
}, 120_000);
