/**
 * The journal inside an engine (issue 17), on both backends: the journal thread records what the
 * engine's thread and the workers publish (topic, publishing thread, per-thread sequence, bytes),
 * replay re-publishes it into a fresh engine and every worker ends in the same state, a journal
 * thread killed mid-stream loses nothing (at-least-once), and a whole process killed with SIGKILL
 * mid-stream, again and again, leaves a journal holding every order it had drained — exactly
 * those ids, in order, nothing invented. WD_STRESS scales the traffic and the kills.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../src/errors.ts';
import { createEngine, type Engine } from '../src/index.ts';
import { createEngineWith } from '../src/engine/create-engine.ts';
import { nodePlatform } from '../src/engine/platform-node.ts';
import { openJournal } from '../src/journal/reader.ts';
import { replayJournal } from '../src/journal/replay.ts';
import { within } from './engine/harness.ts';
import { journalTopics, type JournalTopics } from './engine/journal-topics.ts';
import { BACKENDS, CORE_BUILD, STRESS } from './harness.ts';

const HANDLERS = new URL('./engine/journal-handlers.js', import.meta.url);
const ORDERS = Math.round(20_000 * STRESS);
const KILLS = Math.max(4, Math.round(4 * STRESS));

const dirs: string[] = [];
const engines: Engine<JournalTopics>[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close({ timeout: 5000 })));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wd-journal-'));
  dirs.push(dir);
  return dir;
}

async function start(backend: 'wasm' | 'js', journal?: { dir: string; topics?: ('order' | 'fill' | 'audit')[]; fsync?: 'none' | 'always' }): Promise<Engine<JournalTopics>> {
  const engine = await createEngine<JournalTopics>({ topics: journalTopics, handlers: HANDLERS, backend, workers: 2, coreBuild: CORE_BUILD, journal });
  engines.push(engine);
  await engine.subscribe('order', { handler: 'order', mode: 'keyed' });
  await engine.subscribe('fill', { handler: 'fill', mode: 'group' });
  await engine.subscribe('audit', { handler: 'audit', mode: 'broadcast' });
  return engine;
}

async function publishOrders(engine: Engine<JournalTopics>, from: number, count: number): Promise<void> {
  for (let id = from; id < from + count; id++) {
    if (!engine.publish('order', { id, customer: (id * 7919) % 97, amount: (id % 1000) / 4 })) await engine.whenWritable();
  }
}

async function audit(engine: Engine<JournalTopics>): Promise<{ worker: number; orders: number; checksum: number; fills: number }[]> {
  const replies = await engine.requestAll('audit', { nonce: 1 }, { timeout: 20_000 });
  return [...replies].sort((a, b) => a.worker - b.worker);
}

/** Every record of the journal in `dir`, decoded. */
function readAll(dir: string) {
  const journal = openJournal(dir);
  try {
    const records = [];
    for (const r of journal.records()) {
      const topic = journal.topics[r.topic]!.name as 'order' | 'fill';
      const bytes = new Uint8Array(r.payload); // a copy (payload is a view, valid until the next record)
      records.push({ index: r.index, thread: r.thread, sequence: r.sequence, topic, message: journalTopics[topic].schema.decode(bytes.buffer, 0) as Record<string, number> });
    }
    return { records, corrupt: [...journal.corrupt], topics: journal.topics.map((t) => t.name) };
  } finally {
    journal.close();
  }
}

/** The first element (as `{ at, element }`) failing `ok`, or undefined: one expect per list, not per element. */
function firstMismatch<E>(list: readonly E[], ok: (element: E, i: number) => boolean): { at: number; element: E } | undefined {
  const at = list.findIndex((element, i) => !ok(element, i));
  return at < 0 ? undefined : { at, element: list[at]! };
}

describe.each(BACKENDS)('journal in an engine (%s)', (backend) => {
  test('records every order and fill: publishing thread, per-thread sequences, bytes', async () => {
    const dir = tempDir();
    const engine = await start(backend, { dir, topics: ['order', 'fill'], fsync: 'none' });
    await within(60_000, 'publish and drain', (async () => {
      await publishOrders(engine, 0, ORDERS);
      await engine.drain();
    })());
    const stats = engine.stats();
    await engine.close();
    const { records, corrupt, topics } = readAll(dir);
    expect(corrupt).toEqual([]);
    expect(topics).toEqual(['order', 'fill']);
    const orders = records.filter((r) => r.topic === 'order');
    const fills = records.filter((r) => r.topic === 'fill');
    // The engine's thread published every order, in order: its sequences are 0..N-1 and so are the ids.
    expect(orders.length).toBe(ORDERS);
    expect(firstMismatch(orders, (r, i) => r.thread === 0 && r.sequence === i && r.message.id === i && r.message.customer === (i * 7919) % 97)).toBeUndefined();
    // Each fill was published by worker w (thread w + 1), with that worker's own sequence: the
    // journal's per-thread sequence must be the same number (per-producer order kept).
    expect(fills.length).toBe(ORDERS);
    expect(firstMismatch(fills, (r) => r.thread === r.message.worker! + 1 && r.sequence === r.message.seq)).toBeUndefined();
    expect(new Set(fills.map((r) => r.message.order)).size).toBe(ORDERS);
    // Indexes are the journal's own order: contiguous from 0.
    expect(firstMismatch(records, (r, i) => r.index === i)).toBeUndefined();
    // The journal thread is the last worker; the application's are untouched.
    expect(stats.workers.length).toBe(3);
    expect(engine.workers).toBe(2);
  }, 90_000);

  test('replay into a fresh engine: every worker ends in the same state', async () => {
    const dir = tempDir();
    const original = await start(backend, { dir, topics: ['order'] });
    await within(60_000, 'original run', (async () => {
      await publishOrders(original, 0, ORDERS);
      await original.drain();
    })());
    const before = await audit(original);
    await original.close();
    expect(before.reduce((n, w) => n + w.orders, 0)).toBe(ORDERS);

    const replica = await start(backend);
    const progress: number[] = [];
    const result = await within(60_000, 'replay', replayJournal(replica, dir, { onProgress: (p) => progress.push(p.replayed), progressEveryMs: 0 }));
    await replica.drain();
    expect(result).toMatchObject({ replayed: ORDERS, skipped: 0, first: 0, last: ORDERS - 1, corrupt: [] });
    expect(progress.at(-1)).toBe(ORDERS);
    expect(await audit(replica)).toEqual(before);

    // A range: by index.
    const partial = await start(backend);
    const half = Math.floor(ORDERS / 2);
    expect((await replayJournal(partial, dir, { from: half })).replayed).toBe(ORDERS - half);
    await partial.drain();
    expect((await audit(partial)).reduce((n, w) => n + w.orders, 0)).toBe(ORDERS - half);
  }, 120_000);

  test('a journal thread killed mid-stream loses nothing (at-least-once)', async () => {
    const dir = tempDir();
    const engine = await start(backend, { dir, topics: ['order'], fsync: 'none' });
    const journalWorker = engine.workers; // the last worker
    const threads = (engine as unknown as { workerThreads: { records: { handle?: { terminate(): unknown } }[] } }).workerThreads;
    const kills = 3;
    await within(90_000, 'publish with kills', (async () => {
      const step = Math.floor(ORDERS / (kills + 1));
      for (let k = 0; k <= kills; k++) {
        await publishOrders(engine, k * step, k < kills ? step : ORDERS - k * step);
        if (k < kills) await threads.records[journalWorker]!.handle!.terminate();
      }
      await engine.drain();
    })());
    expect(engine.stats().workers[journalWorker]!.restarts).toBe(kills);
    await engine.close();
    const { records, corrupt } = readAll(dir);
    expect(corrupt).toEqual([]);
    // Every order at least once; a repeat only of an order the killed thread had written but not
    // yet counted handled; the first delivery of each id comes in id order.
    const seen = new Set<number>();
    let next = 0;
    let outOfOrder: number | undefined;
    for (const r of records) {
      const id = r.message.id!;
      if (seen.has(id)) continue;
      if (id !== next++) outOfOrder ??= r.index;
      seen.add(id);
    }
    expect(outOfOrder).toBeUndefined();
    expect(seen.size).toBe(ORDERS);
    expect(firstMismatch(records, (r, i) => r.index === i)).toBeUndefined();
  }, 120_000);

  test('damage found on opening reaches onError: a torn tail cut off, a corrupt record skipped', async () => {
    const dir = tempDir();
    const first = await start(backend, { dir, topics: ['order'] });
    await publishOrders(first, 0, 1000);
    await first.close();
    const [segment] = readdirSync(dir).filter((name) => name.endsWith('.seg'));
    const path = join(dir, segment!);
    const bytes = readFileSync(path);
    bytes[bytes.length - 48 * 500 + 20]! ^= 0x10; // inside record 500 (48 bytes each): its CRC fails
    writeFileSync(path, Buffer.concat([bytes, Buffer.alloc(20, 0xab)])); // and a torn tail after the last one
    const errors: Error[] = [];
    const engine = await createEngine<JournalTopics>({
      topics: journalTopics, handlers: HANDLERS, backend, workers: 1, coreBuild: CORE_BUILD, journal: { dir, topics: ['order'] }, onError: (e) => errors.push(e),
    });
    engines.push(engine);
    await within(10_000, 'the reports', (async () => {
      while (errors.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    })());
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual(['ERR_JOURNAL', 'ERR_JOURNAL']);
    expect(errors[0]!.message).toMatch(/torn record was cut off .*\(20 bytes/);
    expect(errors[1]!.message).toMatch(/corrupt record in .* at byte \d+ \(CRC mismatch\) is skipped/);
    await engine.close();
    const { records, corrupt } = readAll(dir);
    expect(records.length).toBe(999);
    expect(corrupt.length).toBe(1);
  }, 60_000);

  test('bad journal options are typed errors naming the field', async () => {
    const base = { topics: journalTopics, handlers: HANDLERS, backend, workers: 1 } as const;
    await expect(createEngine({ ...base, journal: { dir: '' } })).rejects.toMatchObject({ field: 'journal.dir' });
    await expect(createEngine({ ...base, journal: { dir: tempDir(), topics: ['nope' as 'order'] } })).rejects.toMatchObject({ field: 'journal.topics' });
    await expect(createEngine({ ...base, journal: { dir: tempDir(), fsync: 'sometimes' as 'none' } })).rejects.toMatchObject({ field: 'journal.fsync' });
    await expect(createEngine({ ...base, journal: { dir: tempDir(), segmentBytes: 10 } })).rejects.toBeInstanceOf(ConfigError);
    // A host that cannot write a journal (a browser: no durablePositions) refuses the option.
    const browserLike = { ...nodePlatform, name: 'browser' as const, durablePositions: undefined };
    await expect(createEngineWith(browserLike, { ...base, journal: { dir: tempDir() } })).rejects.toMatchObject({ field: 'journal' });
    // Request topics are not journaled (the journal's copy would be one more receiver to answer).
    await expect(createEngine({ ...base, journal: { dir: tempDir(), topics: ['audit'] } })).rejects.toMatchObject({ field: 'journal.topics' });
    const engine = await start(backend, { dir: tempDir() });
    // The journal's thread takes no subscriptions of the application's.
    await expect(engine.subscribe('order', { handler: 'order', workers: [2] })).rejects.toMatchObject({ field: 'workers' });
  }, 60_000);
});

/**
 * The engine process itself killed with SIGKILL while it publishes, KILLS times in the same
 * journal: after each kill the journal is reopened by the next run, which continues the ids from
 * its end. Every order a run saw drained (its child printed the count after drain() resolved, and
 * with fsync 'always' a drained order is on disk) is in the journal; ids are exactly 0..M-1, once
 * each, in order: nothing lost before the last drain, nothing invented, a torn tail cut off.
 */
describe('journal: engine process killed with SIGKILL', () => {
  test(`${KILLS} kills mid-stream, fsync 'always'`, async () => {
    const dir = tempDir();
    const script = fileURLToPath(new URL('./workers/journal-engine-child.js', import.meta.url));
    let drained = 0;
    for (let round = 0; round < KILLS; round++) {
      drained = await within(60_000, `round ${round}`, runAndKill(script, dir, 150 + ((round * 7919) % 400)));
      const { records, corrupt } = readAll(dir);
      expect(corrupt).toEqual([]);
      expect(records.length).toBeGreaterThanOrEqual(drained);
      expect(firstMismatch(records, (r, i) => r.message.id === i && r.index === i)).toBeUndefined();
    }
    expect(drained).toBeGreaterThan(0);
  }, 600_000);
});

/** Runs the child on `dir`, kills it `afterMs` after it reports its engine started; resolves with the last drained count it printed. */
function runAndKill(script: string, dir: string, afterMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, dir, CORE_BUILD], { stdio: ['ignore', 'pipe', 'inherit'] });
    let drained = 0;
    let buffered = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line === 'started') setTimeout(() => child.kill('SIGKILL'), afterMs);
        else if (line.startsWith('drained ')) drained = Number(line.slice(8));
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve(drained) : reject(new Error(`child exited ${code} ${signal} before the kill`))));
  });
}
