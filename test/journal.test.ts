/**
 * The journal's storage layer (src/journal/): the layout's offsets; the CRC against zlib; round
 * trips across many segments (payloads, topics, threads, contiguous per-thread sequences,
 * non-decreasing times); seeks by index and by time against a filtered full read; reopening;
 * durableIndex per fsync policy; options; torn tails cut at seeded random byte positions; single
 * bit flips at seeded random positions; a length field flipped to point at a later record; index
 * files deleted or cut short and rebuilt. Seeded (WD_SEED=… repeats a run; the seed is printed),
 * sizes scale with WD_STRESS. Process crashes with real processes are in journal-crash.test.ts.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { ConfigError } from '../src/errors.ts';
import { crc32, crc32Js } from '../src/journal/crc32.ts';
import {
  CRC_OFFSET, CRC_START, ENTRY_POSITION_OFFSET, ENTRY_TIME_OFFSET, FIRST_INDEX_OFFSET, FLOOR_TIME_OFFSET, HEADER_CRC_OFFSET,
  INDEX_ENTRY_BYTES, INDEX_OFFSET, LENGTH_OFFSET, RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES, SEQUENCES_OFFSET, SEQUENCE_OFFSET,
  THREAD_OFFSET, TIME_OFFSET, TOPIC_OFFSET, indexNameOf, parseSegmentName, recordBytes, segmentName,
} from '../src/journal/format.ts';
import { JournalWriter, openJournal, type JournalWriterOptions } from '../src/journal/index.ts';
import { STRESS } from './harness.ts';
import { MAX_TEST_PAYLOAD, TOPICS, checkPayload, fillPayload, payloadLength, random, threadOf, topicOf } from './journal/records.ts';

const SEED = Number(process.env.WD_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`journal.test: WD_SEED=${SEED}`);

const THREADS = 64;
const T0 = 1_700_000_000_000;
/** Record i's time as appended: steps back now and then, which the writer must flatten. */
const appendTime = (i: number): number => T0 + i * 0.25 - (i % 50 === 49 ? 7 : 0);

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wd-journal-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Appends records [writer.nextIndex, to) in seeded random batches, committing each. */
function appendUpTo(writer: JournalWriter, to: number, next: () => number): void {
  const payload = new Uint8Array(MAX_TEST_PAYLOAD);
  while (writer.nextIndex < to) {
    const batch = Math.min(to - writer.nextIndex, 1 + Math.floor(next() ** 3 * 300));
    for (let b = 0; b < batch; b++) {
      const i = writer.nextIndex;
      const length = fillPayload(i, payload);
      expect(writer.append(topicOf(i), threadOf(i, THREADS), appendTime(i), payload, 0, length)).toBe(i);
    }
    writer.commit();
  }
}

function writeJournal(dir: string, count: number, options: Partial<JournalWriterOptions> = {}, seed = SEED): void {
  const writer = JournalWriter.open({ dir, topics: TOPICS, segmentBytes: 8192, bufferBytes: 16384, fsync: 'none', ...options });
  appendUpTo(writer, count, random(seed));
  writer.close();
}

interface Read {
  indexes: number[];
  times: number[];
  corrupt: { segment: string; offset: number; reason: string }[];
}

/** Reads `range` and checks every record against what was appended. */
function readChecked(dir: string, range: Parameters<ReturnType<typeof openJournal>['records']>[0] = {}): Read {
  const reader = openJournal(dir);
  const read: Read = { indexes: [], times: [], corrupt: reader.corrupt };
  for (const record of reader.records(range)) {
    const problem = checkPayload(record.index, record.payload);
    if (problem !== null) throw new Error(problem);
    if (record.topic !== topicOf(record.index) || record.thread !== threadOf(record.index, THREADS)) {
      throw new Error(`record ${record.index}: topic ${record.topic} thread ${record.thread}`);
    }
    read.indexes.push(record.index);
    read.times.push(record.time);
  }
  reader.close();
  return read;
}

/** The times the writer stores: appendTime made non-decreasing. */
function storedTimes(count: number): number[] {
  const times: number[] = [];
  let last = 0;
  for (let i = 0; i < count; i++) times.push((last = Math.max(last, appendTime(i))));
  return times;
}

const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from) }, (_, k) => from + k);
const segmentsOf = (dir: string): string[] => readdirSync(dir).filter((name) => parseSegmentName(name) >= 0).sort();

/** Byte offsets of each record in the segment that starts at `first` and holds records [first, end). */
function recordOffsets(first: number, end: number): number[] {
  const offsets: number[] = [];
  let at = SEGMENT_HEADER_BYTES;
  for (let i = first; i < end; i++) {
    offsets.push(at);
    at += recordBytes(payloadLength(i));
  }
  offsets.push(at);
  return offsets;
}

describe('layout', () => {
  test('offsets and sizes are the documented ones (format.ts\'s table): records and headers 8-aligned', () => {
    expect([LENGTH_OFFSET, CRC_OFFSET, INDEX_OFFSET, TIME_OFFSET, TOPIC_OFFSET, THREAD_OFFSET, SEQUENCE_OFFSET, RECORD_HEADER_BYTES])
      .toEqual([0, 4, 8, 16, 24, 26, 28, 32]);
    expect(CRC_START).toBe(8);
    expect([FIRST_INDEX_OFFSET, FLOOR_TIME_OFFSET, SEQUENCES_OFFSET, HEADER_CRC_OFFSET, SEGMENT_HEADER_BYTES]).toEqual([8, 16, 24, 280, 288]);
    expect([ENTRY_POSITION_OFFSET, ENTRY_TIME_OFFSET, INDEX_ENTRY_BYTES]).toEqual([8, 16, 24]);
    for (let length = 0; length < 40; length++) expect(recordBytes(length) % 8 === 0 && recordBytes(length) - 32 - length < 8).toBe(true);
    expect(segmentName(4711)).toBe('00000000000000004711.seg');
    expect(parseSegmentName(segmentName(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
    expect(parseSegmentName('4711.seg')).toBe(-1);
  });
});

describe('crc32', () => {
  test('the table loop and the hybrid equal zlib.crc32 at every length 0..300 and several offsets', () => {
    const bytes = new Uint8Array(400);
    const next = random(SEED);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(next() * 256);
    for (const start of [0, 1, 3, 8]) {
      for (let length = 0; length <= 300; length++) {
        const expected = zlibCrc32(bytes.subarray(start, start + length));
        expect(crc32Js(bytes, start, start + length)).toBe(expected);
        expect(crc32(bytes, start, start + length)).toBe(expected);
      }
    }
  });
});

describe('round trip', () => {
  test('across many segments: payloads, topics, threads, contiguous per-thread sequences, non-decreasing times', () => {
    const dir = tempDir();
    const count = Math.round(4000 * STRESS);
    writeJournal(dir, count);
    expect(segmentsOf(dir).length).toBeGreaterThan(20);
    const reader = openJournal(dir);
    expect(reader.firstIndex).toBe(0);
    expect(reader.nextIndex).toBe(count);
    expect(reader.topics).toEqual(TOPICS.map((t) => ({ ...t })));
    const sequences = new Array<number>(THREADS).fill(0);
    const times = storedTimes(count);
    let expected = 0;
    for (const record of reader.records()) {
      expect(record.index).toBe(expected);
      const problem = checkPayload(record.index, record.payload);
      if (problem !== null) throw new Error(problem);
      expect(record.topic).toBe(topicOf(record.index));
      expect(record.thread).toBe(threadOf(record.index, THREADS));
      expect(record.sequence).toBe(sequences[record.thread]!++);
      expect(record.time).toBe(times[record.index]);
      expected++;
    }
    expect(expected).toBe(count);
    expect(reader.corrupt).toEqual([]);
    reader.close();
  });

  test('seeks by index, by time and by both equal a filtered full read', () => {
    const dir = tempDir();
    const count = Math.round(3000 * STRESS);
    // Larger segments than the round trip's, so the index files hold several entries each.
    writeJournal(dir, count, { segmentBytes: 192 * 1024, bufferBytes: 64 * 1024 });
    const times = storedTimes(count);
    const next = random(SEED + 1);
    const pick = (): number => Math.floor(next() * (count + 20)) - 10;
    for (let c = 0; c < 60; c++) {
      const [a, b] = [pick(), pick()].sort((x, y) => x - y) as [number, number];
      const byTime = next() < 0.5;
      const both = next() < 0.3;
      const rangeOf = byTime
        ? { fromTime: T0 + a * 0.25, toTime: T0 + b * 0.25 + (next() < 0.5 ? 0.1 : 0), ...(both ? { from: a + 3 } : {}) }
        : { from: a, to: b, ...(both ? { fromTime: T0 + (a + 5) * 0.25 } : {}) };
      const expected = range(0, count).filter((i) =>
        i >= (rangeOf.from ?? -Infinity) && i < ((rangeOf as { to?: number }).to ?? Infinity) &&
        times[i]! >= (rangeOf.fromTime ?? -Infinity) && times[i]! < ((rangeOf as { toTime?: number }).toTime ?? Infinity));
      expect({ range: rangeOf, indexes: readChecked(dir, rangeOf).indexes }).toEqual({ range: rangeOf, indexes: expected });
    }
  });

  test('reopening continues the index and every thread\'s sequence; the recovery report is clean', () => {
    const dir = tempDir();
    writeJournal(dir, 1000);
    const writer = JournalWriter.open({ dir, topics: TOPICS, segmentBytes: 8192, fsync: 'always' });
    expect(writer.recovery).toEqual({ truncatedBytes: 0, corrupt: [] });
    expect(writer.nextIndex).toBe(1000);
    const sequences = new Array<number>(THREADS).fill(0);
    for (let i = 0; i < 1000; i++) sequences[threadOf(i, THREADS)]!++;
    for (let t = 0; t < THREADS; t++) expect(writer.nextSequence(t)).toBe(sequences[t]);
    appendUpTo(writer, 1500, random(SEED));
    expect(writer.durableIndex).toBe(1500);
    writer.close();
    const read = readChecked(dir);
    expect(read.indexes).toEqual(range(0, 1500));
    expect(read.times).toEqual(storedTimes(1500));
    const reader = openJournal(dir);
    const seen = new Array<number>(THREADS).fill(0);
    for (const record of reader.records()) expect(record.sequence).toBe(seen[record.thread]!++);
    reader.close();
  });

  test('an empty journal: created, reopened, read', () => {
    const dir = tempDir();
    JournalWriter.open({ dir, topics: TOPICS }).close();
    const writer = JournalWriter.open({ dir, topics: TOPICS });
    expect(writer.nextIndex).toBe(0);
    writer.close();
    const reader = openJournal(dir);
    expect([reader.firstIndex, reader.nextIndex, [...reader.records()].length]).toEqual([0, 0, 0]);
  });

  test('durableIndex per policy: always after each commit, none only at sync and close', () => {
    const payload = new Uint8Array(8);
    const always = JournalWriter.open({ dir: tempDir(), topics: TOPICS, fsync: 'always' });
    always.append(0, 0, T0, payload, 0, 8);
    expect([always.committedIndex, always.durableIndex]).toEqual([0, 0]);
    always.commit();
    expect([always.committedIndex, always.durableIndex]).toEqual([1, 1]);
    always.close();
    const none = JournalWriter.open({ dir: tempDir(), topics: TOPICS, fsync: 'none' });
    none.append(0, 0, T0, payload, 0, 8);
    none.commit();
    expect([none.committedIndex, none.durableIndex]).toEqual([1, 0]);
    none.sync();
    expect(none.durableIndex).toBe(1);
    none.close();
  });
  test('durableIndex under an interval: a commit syncs only once the interval has passed since the last sync; so does syncIfDue', async () => {
    const payload = new Uint8Array(8);
    const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
    // An interval no test run reaches: commits and syncIfDue leave durableIndex alone.
    const slow = JournalWriter.open({ dir: tempDir(), topics: TOPICS, fsync: { intervalMs: 3_600_000 } });
    slow.append(0, 0, T0, payload, 0, 8);
    slow.commit();
    slow.syncIfDue();
    expect([slow.committedIndex, slow.durableIndex]).toEqual([1, 0]);
    slow.sync();
    expect(slow.durableIndex).toBe(1);
    slow.close();
    // An interval every pause exceeds: the next commit, or syncIfDue, syncs.
    const fast = JournalWriter.open({ dir: tempDir(), topics: TOPICS, fsync: { intervalMs: 1 } });
    await pause(5);
    fast.append(0, 0, T0, payload, 0, 8);
    fast.commit();
    expect(fast.durableIndex).toBe(1);
    fast.append(0, 0, T0, payload, 0, 8);
    await pause(5);
    fast.commit();
    expect(fast.durableIndex).toBe(2);
    fast.close();
  });
});

describe('options and arguments', () => {
  test('topics that differ from the manifest: ConfigError naming topics', () => {
    const dir = tempDir();
    writeJournal(dir, 10);
    const changed = [TOPICS[0], { ...TOPICS[1], size: 8 }, TOPICS[2]];
    expect(() => JournalWriter.open({ dir, topics: changed })).toThrow(ConfigError);
    try {
      JournalWriter.open({ dir, topics: changed });
    } catch (error) {
      expect((error as ConfigError).field).toBe('topics');
    }
    expect(() => JournalWriter.open({ dir, topics: TOPICS.slice(0, 2) })).toThrow(/topics=/);
  });

  test.each([
    [{ segmentBytes: 1024 }, 'segmentBytes'],
    [{ segmentBytes: 2 ** 31 }, 'segmentBytes'],
    [{ segmentBytes: 8193 }, 'segmentBytes'],
    [{ bufferBytes: 100 }, 'bufferBytes'],
    [{ fsync: { intervalMs: 0 } }, 'fsync'],
    [{ fsync: 'sometimes' }, 'fsync'],
    [{ topics: [] }, 'topics'],
    [{ topics: [{ name: 'x', spec: null, size: -1 }] }, 'topics[0].size'],
  ])('%j: ConfigError naming %s', (options, field) => {
    const open = (): JournalWriter => JournalWriter.open({ dir: tempDir(), topics: TOPICS, ...(options as object) });
    expect(open).toThrow(ConfigError);
    expect(open).toThrow(new RegExp(`^${field.replace(/[[\]]/g, '\\$&')}=`));
  });

  test('append: a payload over maxPayloadBytes, a bad topic, thread or range are ConfigErrors; nothing is appended', () => {
    const writer = JournalWriter.open({ dir: tempDir(), topics: TOPICS, segmentBytes: 8192, bufferBytes: 8192 });
    const big = new Uint8Array(writer.maxPayloadBytes + 1);
    expect(writer.maxPayloadBytes).toBe(8192 - SEGMENT_HEADER_BYTES - 32);
    expect(() => writer.append(0, 0, T0, big, 0, big.length)).toThrow(/^length=/);
    expect(() => writer.append(3, 0, T0, big, 0, 1)).toThrow(/^topic=/);
    expect(() => writer.append(0, 64, T0, big, 0, 1)).toThrow(/^thread=/);
    expect(() => writer.append(0, 0, T0, big, big.length - 1, 2)).toThrow(/^offset=/);
    expect(writer.nextIndex).toBe(0);
    // The largest payload fits, in a segment of its own.
    expect(writer.append(0, 0, T0, big, 0, writer.maxPayloadBytes)).toBe(0);
    expect(writer.append(0, 0, T0, big, 0, writer.maxPayloadBytes)).toBe(1);
    writer.close();
    expect(() => writer.append(0, 0, T0, big, 0, 1)).toThrow(/closed/);
    const reader = openJournal(writer.dir);
    expect([...reader.records()].length).toBe(2);
  });
});

describe('torn tail', () => {
  test('the last segment cut at random byte positions: the reader stops at the cut, reopening truncates to the last whole record, writing continues', () => {
    const next = random(SEED + 2);
    const rounds = Math.round(40 * STRESS);
    for (let round = 0; round < rounds; round++) {
      const dir = tempDir();
      const count = 200 + Math.floor(next() * 300);
      writeJournal(dir, count, {}, SEED + round);
      const segments = segmentsOf(dir);
      const last = segments[segments.length - 1]!;
      const first = parseSegmentName(last);
      const offsets = recordOffsets(first, count);
      const size = statSync(join(dir, last)).size;
      expect(size).toBe(offsets[offsets.length - 1]);
      const cut = Math.floor(next() * size);
      truncateSync(join(dir, last), cut);
      // Records whose last byte is before the cut survive.
      const whole = offsets.filter((end, k) => k > 0 && end <= cut).length;
      const survivors = cut < SEGMENT_HEADER_BYTES ? first : first + whole;
      const before = readChecked(dir);
      expect(before.indexes).toEqual(range(0, survivors));
      expect(before.corrupt).toEqual([]);

      const writer = JournalWriter.open({ dir, topics: TOPICS, segmentBytes: 8192, fsync: 'none' });
      const keptBytes = cut < SEGMENT_HEADER_BYTES ? 0 : offsets[whole]!;
      expect(writer.recovery.truncatedBytes).toBe(cut - keptBytes);
      if (cut !== keptBytes) expect(writer.recovery.tornAt).toEqual({ segment: last, offset: keptBytes });
      expect(writer.recovery.corrupt).toEqual([]);
      expect(writer.nextIndex).toBe(survivors);
      appendUpTo(writer, survivors + 50, next);
      writer.close();
      expect(readChecked(dir).indexes).toEqual(range(0, survivors + 50));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('corruption', () => {
  test('single bit flips at random positions inside records: reported by segment and offset, every other record read', () => {
    const dir = tempDir();
    const count = 1200;
    writeJournal(dir, count);
    const segments = segmentsOf(dir);
    // Every record's segment and offset, from the known payload lengths.
    const where: { segment: string; offset: number; length: number }[] = [];
    for (let s = 0; s < segments.length; s++) {
      const first = parseSegmentName(segments[s]!);
      const end = s + 1 < segments.length ? parseSegmentName(segments[s + 1]!) : count;
      const offsets = recordOffsets(first, end);
      for (let i = first; i < end; i++) where.push({ segment: segments[s]!, offset: offsets[i - first]!, length: 32 + payloadLength(i) });
    }
    const next = random(SEED + 3);
    const flips = Math.round(40 * STRESS);
    for (let f = 0; f < flips; f++) {
      // Not the journal's last record: damage there is indistinguishable from a torn tail.
      const victim = Math.floor(next() * (count - 1));
      const { segment, offset, length } = where[victim]!;
      const at = offset + Math.floor(next() * length);
      const bit = 1 << Math.floor(next() * 8);
      const path = join(dir, segment);
      const bytes = readFileSync(path);
      bytes[at]! ^= bit;
      writeFileSync(path, bytes);

      const read = readChecked(dir);
      expect(read.indexes).toEqual(range(0, count).filter((i) => i !== victim));
      expect(read.corrupt.map(({ segment, offset }) => ({ segment, offset }))).toEqual([{ segment, offset }]);

      if (segment === segments[segments.length - 1]) {
        // The writer reports it too, and cuts nothing.
        const writer = JournalWriter.open({ dir, topics: TOPICS, segmentBytes: 8192, fsync: 'none' });
        expect(writer.recovery.truncatedBytes).toBe(0);
        expect(writer.recovery.corrupt.map(({ segment, offset }) => ({ segment, offset }))).toEqual([{ segment, offset }]);
        expect(writer.nextIndex).toBe(count);
        writer.close();
      }
      bytes[at]! ^= bit;
      writeFileSync(path, bytes);
    }
    expect(readChecked(dir).indexes).toEqual(range(0, count));
  });

  test('a stretch of garbage over several records (the length field included): one report, the records after it read', () => {
    const dir = tempDir();
    writeJournal(dir, 300, { segmentBytes: 1024 * 1024 });
    const [segment] = segmentsOf(dir);
    const offsets = recordOffsets(0, 300);
    const path = join(dir, segment!);
    const bytes = readFileSync(path);
    const next = random(SEED + 4);
    for (let at = offsets[100]!; at < offsets[104]! + 5; at++) bytes[at] = Math.floor(next() * 256);
    writeFileSync(path, bytes);
    const read = readChecked(dir);
    expect(read.indexes).toEqual(range(0, 300).filter((i) => i < 100 || i > 104));
    expect(read.corrupt.map((c) => c.offset)).toEqual([offsets[100]]);
  });

  test('a length field flipped to point exactly at a later record: the records in between are still read', () => {
    const dir = tempDir();
    writeJournal(dir, 300, { segmentBytes: 1024 * 1024 });
    const [segment] = segmentsOf(dir);
    const offsets = recordOffsets(0, 300);
    const path = join(dir, segment!);
    const bytes = readFileSync(path);
    // Record 100 now claims to end where record 110 starts; its CRC fails, record 110 verifies.
    bytes.writeUInt32LE(offsets[110]! - offsets[100]! - 32, offsets[100]!);
    writeFileSync(path, bytes);
    const read = readChecked(dir);
    expect(read.indexes).toEqual(range(0, 300).filter((i) => i !== 100));
    expect(read.corrupt.map((c) => [c.offset, c.reason])).toEqual([[offsets[100], 'CRC mismatch']]);
  });
});

describe('index files', () => {
  test('deleted or cut short: seeks stay right, reopening the writer rebuilds them byte for byte', () => {
    const dir = tempDir();
    const count = Math.round(6000 * STRESS);
    writeJournal(dir, count, { segmentBytes: 256 * 1024, bufferBytes: 64 * 1024 });
    const segments = segmentsOf(dir);
    expect(segments.length).toBeGreaterThanOrEqual(3);
    const originals = new Map(segments.map((s) => [s, readFileSync(join(dir, indexNameOf(s)))]));
    for (const original of originals.values()) expect(original.length).toBeGreaterThanOrEqual(24 * 2);

    const probe = { from: Math.floor(count * 0.7), to: Math.floor(count * 0.7) + 100 };
    const probeTime = { fromTime: T0 + count * 0.1, toTime: T0 + count * 0.1 + 10 };
    const expected = [readChecked(dir, probe).indexes, readChecked(dir, probeTime).indexes];
    unlinkSync(join(dir, indexNameOf(segments[0]!)));
    unlinkSync(join(dir, indexNameOf(segments[segments.length - 1]!)));
    truncateSync(join(dir, indexNameOf(segments[1]!)), originals.get(segments[1]!)!.length - 30);
    expect([readChecked(dir, probe).indexes, readChecked(dir, probeTime).indexes]).toEqual(expected);

    JournalWriter.open({ dir, topics: TOPICS, segmentBytes: 256 * 1024 }).close();
    for (const [segment, original] of originals) expect(readFileSync(join(dir, indexNameOf(segment))).equals(original)).toBe(true);
  });
});
