/**
 * Durable subscriptions (issue 17, store-and-forward), on both backends: a durable subscription
 * receives every order published while it was subscribed, while it was unsubscribed and while its
 * engine was closed — from its acknowledged position, then the new ones, with no gap; in a keyed
 * one each key's orders arrive in order; retention that removes records it had not received
 * counts them as dropped, and what it handled plus what was dropped is exactly what was published;
 * and a process killed with SIGKILL mid-stream, again and again, resumes where its saved position
 * says, handling every journaled order at least once and inventing none.
 *
 * The `logged` handler appends every id it handles to a file per thread (WD_JOURNAL_LOG), so the
 * accounting survives closed engines and killed processes.
 */
import { afterAll, afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine, type Engine } from '../src/index.ts';
import { openJournal } from '../src/journal/reader.ts';
import { within } from './engine/harness.ts';
import { loggedDir } from './engine/journal-handlers.ts';
import { journalTopics, type JournalTopics } from './engine/journal-topics.ts';
import { BACKENDS, CORE_BUILD, STRESS } from './harness.ts';

const HANDLERS = new URL('./engine/journal-handlers.js', import.meta.url);
const ORDERS = Math.round(4000 * STRESS);
const KILLS = Math.max(4, Math.round(5 * STRESS));

const dirs: string[] = [];
const engines: Engine<JournalTopics>[] = [];
// The engines' workers log here (jest's process.env does not reach worker threads).
const log = loggedDir();
beforeEach(() => {
  rmSync(log, { recursive: true, force: true });
  mkdirSync(log, { recursive: true });
});
afterAll(() => rmSync(log, { recursive: true, force: true }));
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close({ timeout: 5000 })));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wd-durable-'));
  dirs.push(dir);
  return dir;
}

type Journal = { dir: string; segmentBytes?: number; retention?: { maxBytes?: number } };

/** What the engines of the current test reported (onError): a killed journal thread is ERR_WORKER_CRASHED. */
let reported: Error[] = [];
beforeEach(() => {
  reported = [];
});

async function start(backend: 'wasm' | 'js', journal: Journal, workers = 2): Promise<Engine<JournalTopics>> {
  const engine = await createEngine<JournalTopics>({
    topics: journalTopics, handlers: HANDLERS, backend, workers, coreBuild: CORE_BUILD, journal: { topics: ['order'], fsync: 'none', ...journal },
    onError: (error) => reported.push(error),
  });
  engines.push(engine);
  return engine;
}

async function publish(engine: Engine<JournalTopics>, from: number, to: number): Promise<void> {
  for (let id = from; id < to; id++) {
    if (!engine.publish('order', { id, customer: id % 13, amount: 1 })) await engine.whenWritable();
  }
}

/** Every logged delivery, in each thread's order: [id, customer, deliveries]. */
function logged(dir: string = log): { id: number; customer: number; deliveries: number; file: string }[] {
  const out = [];
  for (const file of readdirSync(dir)) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      if (line === '') continue;
      const [id, customer, deliveries] = line.split(' ').map(Number);
      out.push({ id: id!, customer: customer!, deliveries: deliveries!, file });
    }
  }
  return out;
}

/** The ids 0..n-1 each exactly `once` times? Returns a description of the first problem, or undefined. */
function exactly(ids: readonly number[], n: number): string | undefined {
  const counts = new Uint32Array(n);
  for (const id of ids) {
    if (!(id >= 0 && id < n)) return `id ${id} was never published`;
    counts[id]!++;
  }
  const missing = counts.indexOf(0);
  if (missing >= 0) return `id ${missing} never handled`;
  const twice = counts.findIndex((c) => c > 1);
  return twice >= 0 ? `id ${twice} handled ${counts[twice]} times` : undefined;
}

describe.each(BACKENDS)('durable subscriptions (%s)', (backend) => {
  test('kept while unsubscribed and while the engine is closed; resumed with no gap, exactly once', async () => {
    const dir = tempDir();
    const q = Math.floor(ORDERS / 4);
    await within(90_000, 'four phases', (async () => {
      let engine = await start(backend, { dir });
      let sub = await engine.subscribe('order', { handler: 'logged', durable: 'ledger' });
      expect(sub).toMatchObject({ durable: 'ledger', mode: 'group' });
      await publish(engine, 0, q);
      await engine.drain();
      expect(logged().length).toBe(q);
      await sub.unsubscribe();
      await publish(engine, q, 2 * q); // nobody durable listens: kept in the journal
      await engine.drain();
      expect(logged().length).toBe(q);
      await engine.close();
      engine = await start(backend, { dir });
      await publish(engine, 2 * q, 3 * q); // before it comes back
      await engine.drain();
      sub = await engine.subscribe('order', { handler: 'logged', durable: 'ledger' });
      await publish(engine, 3 * q, ORDERS);
      await engine.drain();
      // The journal thread acknowledges within milliseconds of the handling (durable.ts).
      for (let i = 0; i < 200 && engine.stats().journal!.durable.ledger!.acked < ORDERS; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      const stats = engine.stats().journal!;
      expect(stats.durable.ledger).toMatchObject({ topic: 'order', acked: ORDERS, forwarded: ORDERS, behind: 0, dropped: 0 });
      expect(stats.next).toBe(ORDERS);
    })());
    expect(exactly(logged().map((e) => e.id), ORDERS)).toBeUndefined();
  }, 120_000);

  test('keyed: every key on one worker, in publishing order; a new name starts at the end', async () => {
    const dir = tempDir();
    const engine = await start(backend, { dir });
    await publish(engine, 0, 100); // before the name exists: not for it
    await engine.drain();
    await engine.subscribe('order', { handler: 'logged', durable: 'by-customer', mode: 'keyed' });
    await within(60_000, 'publish', publish(engine, 100, 100 + ORDERS));
    await engine.drain();
    const entries = logged();
    expect(exactly(entries.map((e) => e.id - 100), ORDERS)).toBeUndefined();
    const fileOf = new Map<number, string>();
    const last = new Map<number, number>();
    for (const e of entries) {
      expect(fileOf.get(e.customer) ?? e.file).toBe(e.file); // one thread per key
      fileOf.set(e.customer, e.file);
      expect(e.id).toBeGreaterThan(last.get(e.customer) ?? -1); // that thread saw the key's orders in order
      last.set(e.customer, e.id);
    }
    expect(new Set(fileOf.values()).size).toBe(2); // 13 keys over both workers
  }, 90_000);

  test('retention removes what an absent subscription missed: handled + dropped = published', async () => {
    const dir = tempDir();
    const segmentBytes = 64 * 1024; // ~1300 orders of 48 bytes per segment
    const engine = await start(backend, { dir, segmentBytes, retention: { maxBytes: 2 * segmentBytes } });
    const sub = await engine.subscribe('order', { handler: 'logged', durable: 'late' });
    await publish(engine, 0, 10);
    await engine.drain();
    await sub.unsubscribe();
    const half = 10 + Math.round(10_000 * Math.max(1, STRESS / 4));
    const total = 2 * half - 10;
    await within(60_000, 'publish while absent', (async () => {
      // Retention looks once a second: publish in two halves, a second apart.
      await publish(engine, 10, half);
      await engine.drain();
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await publish(engine, half, total);
      await engine.drain();
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await publish(engine, total, total + 1); // a commit after the second: retention runs
      await engine.drain();
    })());
    const first = engine.stats().journal!.first;
    expect(first).toBeGreaterThan(10);
    await engine.subscribe('order', { handler: 'logged', durable: 'late' });
    await engine.drain();
    const durable = engine.stats().journal!.durable.late!;
    const ids = logged().map((e) => e.id);
    expect(durable.dropped).toBe(first - 10);
    expect(ids.length + durable.dropped).toBe(total + 1);
    expect(exactly(ids.filter((id) => id < 10 || id >= first).map((id) => (id < 10 ? id : id - first + 10)), total + 1 - durable.dropped)).toBeUndefined();
  }, 120_000);

  test('the journal thread killed while it forwards: its successor resumes, every order handled at least once', async () => {
    const dir = tempDir();
    const engine = await start(backend, { dir });
    await engine.subscribe('order', { handler: 'logged', durable: 'survivor' });
    const journalWorker = engine.workers; // the last worker
    const threads = (engine as unknown as { workerThreads: { records: { handle?: { terminate(): unknown } }[] } }).workerThreads;
    const kills = 3;
    const step = Math.floor(ORDERS / (kills + 1));
    await within(90_000, 'publish with kills', (async () => {
      for (let k = 0; k <= kills; k++) {
        await publish(engine, k * step, k < kills ? (k + 1) * step : ORDERS);
        if (k < kills) await threads.records[journalWorker]!.handle!.terminate();
      }
      await engine.drain();
    })());
    expect(engine.stats().workers[journalWorker]!.restarts).toBe(kills);
    expect(reported.map((e) => (e as { code?: string }).code)).toEqual(Array(kills).fill('ERR_WORKER_CRASHED'));
    const ids = new Set(logged().map((e) => e.id));
    expect(ids.size).toBe(ORDERS);
    // The successor acknowledges once its predecessor's records have left the lanes.
    for (let i = 0; i < 200 && engine.stats().journal!.durable.survivor!.acked < engine.stats().journal!.next; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    const durable = engine.stats().journal!.durable.survivor!;
    expect(durable.acked).toBe(durable.forwarded);
    expect(durable.forwarded).toBe(engine.stats().journal!.next);
  }, 120_000);

  test('bad durable options are typed errors naming the field', async () => {
    const engine = await start(backend, { dir: tempDir() });
    await expect(engine.subscribe('fill', { handler: 'fill', durable: 'x' })).rejects.toMatchObject({ field: 'durable' }); // not journaled
    await expect(engine.subscribe('order', { handler: 'logged', durable: 'a/b' })).rejects.toMatchObject({ field: 'durable' });
    await expect(engine.subscribe('order', { handler: 'logged', durable: 'x', mode: 'broadcast' })).rejects.toMatchObject({ field: 'mode' });
    await engine.subscribe('order', { handler: 'logged', durable: 'x' });
    await expect(engine.subscribe('order', { handler: 'logged', durable: 'x' })).rejects.toMatchObject({ field: 'durable' });
    const plain = await createEngine<JournalTopics>({ topics: journalTopics, handlers: HANDLERS, backend, workers: 1, coreBuild: CORE_BUILD });
    engines.push(plain);
    await expect(plain.subscribe('order', { handler: 'logged', durable: 'x' })).rejects.toMatchObject({ field: 'durable' });
  }, 60_000);
});

/**
 * A process with a durable subscription killed with SIGKILL at random points, KILLS times, each
 * run publishing more orders into the same journal; then one run that only resubscribes and
 * drains. Every journaled order was handled at least once and nothing was handled that was not
 * journaled (at-least-once); how many deliveries were repeats — handled after the last saved
 * position of a killed run — is printed.
 */
describe('durable subscription: process killed with SIGKILL', () => {
  test(`${KILLS} kills mid-stream, then a run that catches up`, async () => {
    const dir = tempDir();
    const script = fileURLToPath(new URL('./workers/journal-durable-child.js', import.meta.url));
    for (let round = 0; round < KILLS; round++) {
      await within(60_000, `round ${round}`, runChild(script, dir, 'publish', 200 + ((round * 7919) % 500)));
    }
    await within(60_000, 'catch-up run', runChild(script, dir, 'catch-up', -1));
    const journal = openJournal(dir);
    const journaled = new Set<number>();
    for (const record of journal.records()) journaled.add(journalTopics.order.schema.decode(new Uint8Array(record.payload).buffer, 0).id);
    journal.close();
    const handled = logged();
    const ids = new Set(handled.map((e) => e.id));
    expect(journaled.size).toBeGreaterThan(0);
    expect([...journaled].filter((id) => !ids.has(id))).toEqual([]); // at least once
    expect([...ids].filter((id) => !journaled.has(id))).toEqual([]); // nothing invented
    const repeats = handled.length - ids.size;
    console.log(`durable SIGKILL: ${journaled.size} orders journaled, ${handled.length} deliveries, ${repeats} repeated after a kill`);
  }, 600_000);
});

/** Runs the child; 'publish' is killed `afterMs` after it reports "started"; 'catch-up' exits by itself. */
function runChild(script: string, dir: string, mode: 'publish' | 'catch-up', afterMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, dir, mode, CORE_BUILD], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, WD_JOURNAL_LOG: log } });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (afterMs >= 0 && chunk.includes('started')) setTimeout(() => child.kill('SIGKILL'), afterMs);
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (mode === 'publish' ? signal === 'SIGKILL' : code === 0) resolve();
      else reject(new Error(`child (${mode}) exited ${code} ${signal}`));
    });
  });
}
