/**
 * The journal's write path (src/journal/writer.ts) against the disk's own sequential write rate,
 * one thread, all in the same run.
 *
 *   one thread                                  a temp dir under os.tmpdir()
 *   ┌─────────┐  append × batch, commit    ┌──────────────────────────────┐
 *   │  loop   │ ─────────────────────────▶ │ JournalWriter: segments, idx │  fsync none / 100 ms / always
 *   └─────────┘                            └──────────────────────────────┘
 *   baseline:   fs.writeSync(1 MiB buffer) × n into one file, with and without one fsync at the end
 *
 * Cases (each writes JOURNAL_MB MiB of records, except 'always', which makes JOURNAL_COMMITS
 * commits, an fdatasync each): fsync 'none' and { intervalMs: 100 } with batches of 256 records;
 * 'always' with batches of 1, 64 and 256; each with 32- and 256-byte payloads. Reported per case,
 * the median of JOURNAL_RUNS timed runs after one warm-up run of every case, the cases taking
 * turns run by run: messages/s, MB/s of file written (record headers and padding included, as
 * the raw rate counts every byte), the ratio to the raw rate without and with its final fsync,
 * and the commit latency p50/p99/max: under 'always' one write and one fdatasync; under 100 ms the
 * max is a commit that carried the interval's fdatasync, a stall the committing thread sees. Times run
 * to the last commit's return; the writer's close (a final fdatasync) is outside them, as the raw
 * rate's "without fsync" leaves out its fsync. The first timed run of each case is read back and
 * every record's index and payload checked. Every run starts after a `sync`, with no dirty pages
 * left by the one before. Target: 'none' at ≥ 50 % of the raw rate. Without its fsync the raw rate
 * is a memcpy into the page cache (GB/s), which a JS loop doing a CRC and a header per record
 * cannot approach at small payloads; with it, it is what the disk sustains. Both ratios are shown.
 *
 * Then the journal inside an engine (bench/journal-engine.ts): the one-to-one batch case with the
 * journal off and under each policy, as a ratio to off.
 *
 *   node build/bench/journal.js
 *   env JOURNAL_MB (128), JOURNAL_COMMITS (1000), JOURNAL_RUNS (5), JOURNAL_ENGINE_MESSAGES (1000000)
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { join } from 'node:path';
import { Histogram } from '../src/histogram.ts';
import { recordBytes } from '../src/journal/format.ts';
import { JournalWriter, openJournal, type FsyncPolicy } from '../src/journal/index.ts';
import { busyWarning, collectEnv, describeEnv } from './env.ts';
import { journalEngineCost } from './journal-engine.ts';
import { formatMicros, formatRate, formatRatio } from './format.ts';

const TOTAL_BYTES = Number(process.env.JOURNAL_MB ?? 128) * 1024 * 1024;
const ALWAYS_COMMITS = Number(process.env.JOURNAL_COMMITS ?? 1000);
const RUNS = Number(process.env.JOURNAL_RUNS ?? 5);
const RAW_CHUNK = 1024 * 1024;
const TOPICS = [{ name: 'bench', spec: null, size: 0 }];

interface Case {
  name: string;
  policy: FsyncPolicy | 'raw' | 'raw+fsync';
  payload: number;
  batch: number;
}

interface Measure {
  seconds: number;
  records: number;
  bytes: number;
  /** Commit latency in µs. */
  p50: number;
  p99: number;
  max: number;
}

const CASES: Case[] = [];
for (const payload of [32, 256]) {
  CASES.push({ name: 'raw writeSync 1 MiB', policy: 'raw', payload, batch: 0 });
  CASES.push({ name: 'raw + final fsync', policy: 'raw+fsync', payload, batch: 0 });
  CASES.push({ name: "journal 'none'", policy: 'none', payload, batch: 256 });
  CASES.push({ name: 'journal 100 ms', policy: { intervalMs: 100 }, payload, batch: 256 });
  for (const batch of [1, 64, 256]) CASES.push({ name: "journal 'always'", policy: 'always', payload, batch });
}

/** The disk's sequential rate: 1 MiB writes into one file, the fsync at the end timed apart. */
function runRaw(dir: string, totalBytes: number, withFsync: boolean): Measure {
  const chunk = Buffer.alloc(RAW_CHUNK, 0x5a);
  const fd = openSync(join(dir, 'raw.bin'), 'w');
  const start = performance.now();
  for (let written = 0; written < totalBytes; written += RAW_CHUNK) writeSync(fd, chunk);
  if (withFsync) fsyncSync(fd);
  const seconds = (performance.now() - start) / 1000;
  closeSync(fd);
  return { seconds, records: 0, bytes: totalBytes, p50: NaN, p99: NaN, max: NaN };
}

/** Appends and commits until the case's size; returns the timing and commit latencies. */
function runJournal(dir: string, c: Case, scale: number): Measure {
  const policy = c.policy as FsyncPolicy;
  const writer = JournalWriter.open({ dir, topics: TOPICS, fsync: policy });
  const payload = new Uint8Array(c.payload);
  const stamp = new DataView(payload.buffer);
  const perRecord = recordBytes(c.payload);
  const records = policy === 'always' ? Math.ceil(ALWAYS_COMMITS * scale) * c.batch : Math.floor((TOTAL_BYTES * scale) / perRecord);
  const latency = new Histogram();
  const start = performance.now();
  for (let i = 0; i < records;) {
    const end = Math.min(records, i + c.batch);
    for (; i < end; i++) {
      stamp.setUint32(0, i, true);
      writer.append(0, i & 63, Date.now(), payload, 0, c.payload);
    }
    const before = performance.now();
    writer.commit();
    latency.record((performance.now() - before) * 1e6);
  }
  const seconds = (performance.now() - start) / 1000;
  writer.close();
  return { seconds, records, bytes: records * perRecord, p50: latency.percentile(50) / 1000, p99: latency.percentile(99) / 1000, max: latency.max / 1000 };
}

/** Reads the journal back: every index in order, every payload stamped with its index. */
function verify(dir: string, c: Case, records: number): void {
  const reader = openJournal(dir);
  let n = 0;
  for (const record of reader.records()) {
    const view = new DataView(record.payload.buffer, record.payload.byteOffset, record.payload.byteLength);
    if (record.index !== n || record.payload.length !== c.payload || view.getUint32(0, true) !== n) {
      throw new Error(`${c.name}: record ${n} read back wrong (index ${record.index}, length ${record.payload.length})`);
    }
    n++;
  }
  reader.close();
  if (n !== records || reader.corrupt.length > 0) throw new Error(`${c.name}: read back ${n} of ${records} records, ${reader.corrupt.length} corrupt`);
}

function runCase(c: Case, scale: number, check: boolean): Measure {
  // Start every case with no dirty pages anywhere: otherwise the kernel's writeback of the
  // previous case's files throttles this one's writes (balance_dirty_pages), whichever it is.
  spawnSync('sync');
  const dir = mkdtempSync(join(os.tmpdir(), 'wd-bench-journal-'));
  try {
    if (c.policy === 'raw' || c.policy === 'raw+fsync') return runRaw(dir, Math.max(RAW_CHUNK, Math.floor(TOTAL_BYTES * scale)), c.policy === 'raw+fsync');
    const measure = runJournal(dir, c, scale);
    if (check) verify(dir, c, measure.records);
    return measure;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1]!;

const env = await collectEnv(500);
const fsInfo = statfsSync(os.tmpdir());
console.log(`journal: ${TOTAL_BYTES / 2 ** 20} MiB per case ('always': ${ALWAYS_COMMITS} commits); median of ${RUNS} runs after one warm-up run of every case`);
console.log(describeEnv(env));
console.log(`temp dir ${os.tmpdir()}: file system type 0x${fsInfo.type.toString(16)}, block size ${fsInfo.bsize}`);
const warning = busyWarning(env);
if (warning !== null) console.log(warning);

for (const c of CASES) runCase(c, 0.25, false);
const runs = CASES.map(() => [] as Measure[]);
for (let r = 0; r < RUNS; r++) {
  for (let i = 0; i < CASES.length; i++) runs[i]!.push(runCase(CASES[i]!, 1, r === 0));
}

const HEADER = ['case', 'payload B', 'batch', 'msg/s', 'MB/s', '÷ raw', '÷ raw+fsync', 'commit p50 µs', 'commit p99 µs', 'commit max µs'];
const table: string[][] = [];
const summary = CASES.map((c, i) => ({
  c,
  runs: runs[i]!,
  mbps: median(runs[i]!.map((m) => m.bytes / m.seconds / 1e6)),
  rate: median(runs[i]!.map((m) => m.records / m.seconds)),
}));
const isRaw = (c: Case): boolean => c.policy === 'raw' || c.policy === 'raw+fsync';
for (const { c, runs: list, mbps, rate } of summary) {
  // Each payload size's journal rows against the raw rows measured beside them.
  const raw = summary.find((s) => s.c.policy === 'raw' && s.c.payload === c.payload)!.mbps;
  const rawFsync = summary.find((s) => s.c.policy === 'raw+fsync' && s.c.payload === c.payload)!.mbps;
  table.push([
    c.name, String(c.payload), isRaw(c) ? '' : String(c.batch), isRaw(c) ? '' : formatRate(rate), mbps.toFixed(0),
    `${formatRatio(mbps / raw)}×`, `${formatRatio(mbps / rawFsync)}×`,
    isRaw(c) ? '' : formatMicros(median(list.map((m) => m.p50))),
    isRaw(c) ? '' : formatMicros(median(list.map((m) => m.p99))),
    isRaw(c) ? '' : formatMicros(median(list.map((m) => m.max))),
  ]);
}
const widths = HEADER.map((h, c) => Math.max(h.length, ...table.map((row) => row[c]!.length)));
const line = (cells: readonly string[]): string => `| ${cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(' | ')} |`;
console.log(`\n${line(HEADER)}`);
console.log(`|${widths.map((w, c) => (c === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
for (const row of table) console.log(line(row));
for (const payload of [32, 256]) {
  const of = (policy: Case['policy']): number => summary.find((s) => s.c.policy === policy && s.c.payload === payload)!.mbps;
  const ratio = of('none') / of('raw');
  console.log(`${payload}-byte payloads: 'none' at ${(ratio * 100).toFixed(0)} % of the raw rate (target ≥ 50 %: ${ratio >= 0.5 ? 'met' : 'not met'}), ` +
    `${((of('none') / of('raw+fsync')) * 100).toFixed(0)} % of the raw rate with its final fsync`);
}

// The journal inside an engine: the one-to-one batch case with the journal off and under each policy.
const ENGINE_MESSAGES = Number(process.env.JOURNAL_ENGINE_MESSAGES ?? 1_000_000);
console.log(`\nengine one-to-one (publishBatch 256 of 24-byte messages, main → 1 worker), ${ENGINE_MESSAGES.toLocaleString('en')} messages a run, median of ${RUNS} after a warm-up, timed to handled and journaled:`);
await journalEngineCost(ENGINE_MESSAGES, RUNS, (text) => console.log(text));
