/**
 * The journal's reader: iterates records in index order over a range of indexes and times, seeking
 * with the index files and reading segments in large chunks (scan.ts). Read-only: it never
 * truncates or repairs. A torn tail on the last segment just ends the read (a writer may be in
 * the middle of it); corrupt records are skipped and listed in `corrupt`.
 *
 * What a read sees: the segments present when the reader was opened, each up to its size when the
 * iteration reaches it, so records a live writer commits meanwhile may appear beyond `nextIndex`.
 * Every record returned verified its CRC and came in strictly increasing index order; an index
 * skipped over follows a reported corruption or a missing stretch of segment (also reported).
 */
import { closeSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { JournalError } from '../errors.ts';
import { listSegments, readManifest, type JournalTopic } from './directory.ts';
import { SEGMENT_HEADER_BYTES, indexNameOf, readSegmentHeader } from './format.ts';
import { SegmentScanner, openSegment, type CorruptRecord } from './scan.ts';
import { readIndexFile, type IndexEntries } from './survey.ts';

/**
 * One record. A reader's iteration hands out one object, updated in place: copy what must outlive
 * the step. `payload` is a view of the reader's chunk, valid until the next record.
 */
export interface JournalRecord {
  index: number;
  /** Wall-clock ms when appended (non-decreasing along the journal). */
  time: number;
  /** Index into the reader's `topics`. */
  topic: number;
  thread: number;
  /** The thread's record number, from 0. */
  sequence: number;
  payload: Uint8Array;
}

/** Which records: index in [from, to) and time in [fromTime, toTime); every bound optional. */
export interface RecordRange {
  readonly from?: number;
  readonly to?: number;
  readonly fromTime?: number;
  readonly toTime?: number;
}

/** A segment as the reader found it when opened. */
interface SegmentInfo {
  readonly name: string;
  /** From the header (or the name, if the header is bad). */
  readonly firstIndex: number;
  /** The header's floor time: every record in this segment and after has time ≥ it; NaN if the header is bad. */
  readonly floorTime: number;
  readonly headerOk: boolean;
  readonly size: number;
  /** Loaded on the first seek into this segment. */
  entries: IndexEntries | null;
}

/** Opens the journal in `dir` read-only. */
export function openJournal(dir: string): JournalReader {
  return new JournalReader(dir);
}

export class JournalReader {
  readonly dir: string;
  /** The manifest's topics. */
  readonly topics: readonly JournalTopic[];
  /** The first record's index (0 unless older segments were removed). */
  readonly firstIndex: number;
  /** One past the last whole record when the reader was opened. */
  readonly nextIndex: number;
  /** Corrupt records met so far (each once), by segment and offset. */
  readonly corrupt: CorruptRecord[] = [];
  private readonly seen = new Set<string>();
  private readonly segments: SegmentInfo[];
  private readonly open = new Set<RecordIterator>();
  private closed = false;

  /** Use openJournal. */
  constructor(dir: string) {
    this.dir = dir;
    const manifest = readManifest(dir);
    if (manifest === null) throw new JournalError('ERR_JOURNAL_MANIFEST', 'manifest', join(dir, 'manifest.json'), 'missing: not a journal directory');
    this.topics = manifest.topics;
    this.segments = listSegments(dir).map(({ name, firstIndex }) => readSegmentInfo(dir, name, firstIndex));
    this.firstIndex = this.segments[0]?.firstIndex ?? 0;
    this.nextIndex = this.findNextIndex();
  }

  /**
   * The records in `range`, in index order, as one reused JournalRecord. Seeks to the range's start
   * with the index files (a missing or short index file only makes the seek start earlier);
   * corrupt records on the way are skipped and added to `corrupt`. The iteration holds one
   * segment file open until it ends: leaving a for-of loop early (break, throw) closes it, as do
   * the iterator's return() and the reader's close().
   */
  records(range: RecordRange = {}): IterableIterator<JournalRecord> {
    if (this.closed) throw new JournalError('ERR_JOURNAL_CLOSED', 'dir', this.dir, 'the journal reader is closed');
    const iterator = new RecordIterator(this, range);
    iterator.begin(this.seek(range, iterator.scanner));
    this.open.add(iterator);
    return iterator;
  }

  /** Closes the files of iterations still open; records() then throws. */
  close(): void {
    this.closed = true;
    for (const iterator of this.open) iterator.return();
  }

  /** @internal */
  segmentAt(i: number): SegmentInfo | undefined {
    return this.segments[i];
  }

  /** @internal Where to start for `range`: a segment, an offset in it and the index there. */
  seek(range: RecordRange, scanner: SegmentScanner): SeekPosition {
    const from = range.from ?? -Infinity;
    const fromTime = range.fromTime ?? -Infinity;
    for (let s = this.segments.length - 1; s > 0; s--) {
      const segment = this.segments[s]!;
      // Every record before this segment has index < firstIndex ≤ from and time ≤ floorTime < fromTime.
      if (segment.headerOk && segment.firstIndex <= from && segment.floorTime < fromTime) return this.seekIn(s, from, fromTime, scanner);
    }
    return this.seekIn(0, from, fromTime, scanner);
  }

  /** @internal Where to start in segment `s` for records from index `from` and time `fromTime` on. */
  seekIn(s: number, from: number, fromTime: number, scanner: SegmentScanner): SeekPosition {
    const segment = this.segments[s];
    if (segment === undefined || !segment.headerOk) return { segment: s, offset: SEGMENT_HEADER_BYTES, index: segment?.firstIndex ?? 0 };
    segment.entries ??= readIndexFile(join(this.dir, indexNameOf(segment.name)));
    const { indexes, offsets, times } = segment.entries;
    // The last entry at or before both bounds: index and time only grow along a segment.
    for (let e = indexes.length - 1; e >= 0; e--) {
      if (indexes[e]! > from || !(times[e]! < fromTime)) continue;
      const { fd, size } = openSegment(join(this.dir, segment.name));
      try {
        scanner.attach(segment.name, fd, size);
        if (scanner.verify(offsets[e]!, indexes[e]!)) return { segment: s, offset: offsets[e]!, index: indexes[e]! };
      } finally {
        closeSync(fd);
      }
      break; // a stale entry: the segment's start is always right
    }
    return { segment: s, offset: SEGMENT_HEADER_BYTES, index: segment.firstIndex };
  }

  /** @internal */
  report(segment: string, offset: number, reason: string): void {
    const key = `${segment}@${offset}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.corrupt.push({ segment, offset, reason });
  }

  /** @internal */
  finished(iterator: RecordIterator): void {
    this.open.delete(iterator);
  }

  /** Reads the last segment with a good header from its last index entry to its end. */
  private findNextIndex(): number {
    for (let s = this.segments.length - 1; s >= 0; s--) {
      if (!this.segments[s]!.headerOk) continue;
      const iterator = new RecordIterator(this, {});
      iterator.begin(this.seekIn(s, Infinity, Infinity, iterator.scanner));
      let next = this.segments[s]!.firstIndex;
      while (iterator.step()) next = iterator.record.index + 1;
      iterator.return();
      return next;
    }
    return this.firstIndex;
  }
}

/** Where an iteration starts: a segment, an offset in it, and the index of the record there. */
interface SeekPosition {
  segment: number;
  offset: number;
  index: number;
}

/** One pass over the records of a range: a scanner of its own, one segment file open at a time. */
class RecordIterator implements IterableIterator<JournalRecord> {
  readonly record: JournalRecord = { index: 0, time: 0, topic: 0, thread: 0, sequence: 0, payload: new Uint8Array(0) };
  private readonly result: IteratorResult<JournalRecord> = { done: false, value: this.record };
  readonly scanner: SegmentScanner;
  private readonly from: number;
  private readonly to: number;
  private readonly fromTime: number;
  private readonly toTime: number;
  private segment = 0;
  private fd = -1;
  private done = false;
  /** The index the next record should have, to notice a stretch missing between segments; -1 if unknown. */
  private expected = -1;
  private startOffset = 0;
  private startIndex = 0;

  constructor(private readonly reader: JournalReader, range: RecordRange) {
    this.scanner = new SegmentScanner((segment, offset, reason) => reader.report(segment, offset, reason));
    this.from = range.from ?? -Infinity;
    this.to = range.to ?? Infinity;
    this.fromTime = range.fromTime ?? -Infinity;
    this.toTime = range.toTime ?? Infinity;
  }

  /** Sets where the first step reads. */
  begin(start: SeekPosition): void {
    this.segment = start.segment;
    this.startOffset = start.offset;
    this.startIndex = start.index;
  }

  [Symbol.iterator](): IterableIterator<JournalRecord> {
    return this;
  }

  next(): IteratorResult<JournalRecord> {
    if (this.step()) return this.result;
    return { done: true, value: undefined };
  }

  return(): IteratorResult<JournalRecord> {
    this.done = true;
    this.closeSegment();
    this.reader.finished(this);
    return { done: true, value: undefined };
  }

  /** Moves to the next record in range; false when there is none (and the iteration is closed). */
  step(): boolean {
    const scanner = this.scanner;
    while (!this.done) {
      if (this.fd < 0 && !this.openSegment()) break;
      if (scanner.next()) {
        this.expected = scanner.index + 1;
        if (scanner.index >= this.to || scanner.time >= this.toTime) break;
        if (scanner.index < this.from || scanner.time < this.fromTime) continue;
        const record = this.record;
        record.index = scanner.index;
        record.time = scanner.time;
        record.topic = scanner.topic;
        record.thread = scanner.thread;
        record.sequence = scanner.sequence;
        record.payload = scanner.chunk.subarray(scanner.payloadAt, scanner.payloadAt + scanner.length);
        return true;
      }
      if (scanner.tornAt >= 0) {
        // On the last segment a torn tail is where a writer is (or was when it died): the end.
        // Before it, records are missing; the next segment's first is taken after this report.
        if (this.reader.segmentAt(this.segment + 1) === undefined) break;
        this.reader.report(this.reader.segmentAt(this.segment)!.name, scanner.tornAt, 'partial record: the segment ends early');
        this.expected = -1;
      }
      this.closeSegment();
      this.segment++;
    }
    this.return();
    return false;
  }

  /** Opens segment `this.segment` and positions the scanner; false past the last segment. */
  private openSegment(): boolean {
    for (; ; this.segment++) {
      const info = this.reader.segmentAt(this.segment);
      if (info === undefined) return false;
      const last = this.reader.segmentAt(this.segment + 1) === undefined;
      if (!info.headerOk) {
        // A last segment no longer than a header is one being created (or whose creation was cut).
        if (!(last && info.size <= SEGMENT_HEADER_BYTES)) this.reader.report(info.name, 0, 'segment header is damaged; segment skipped');
        this.expected = -1;
        continue;
      }
      if (this.expected >= 0 && info.firstIndex > this.expected) {
        this.reader.report(info.name, 0, `records ${this.expected}..${info.firstIndex - 1} are missing before this segment`);
      }
      const { fd, size } = openSegment(join(this.reader.dir, info.name));
      this.fd = fd;
      this.scanner.attach(info.name, fd, size);
      const resume = this.startOffset > 0;
      this.expected = resume ? this.startIndex : info.firstIndex;
      this.scanner.start(resume ? this.startOffset : SEGMENT_HEADER_BYTES, this.expected);
      this.startOffset = 0;
      return true;
    }
  }

  private closeSegment(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** A segment's header and size, read once when the reader opens. */
function readSegmentInfo(dir: string, name: string, nameIndex: number): SegmentInfo {
  const { fd, size } = openSegment(join(dir, name));
  try {
    const bytes = Buffer.alloc(SEGMENT_HEADER_BYTES);
    const read = size >= SEGMENT_HEADER_BYTES ? readSync(fd, bytes, 0, SEGMENT_HEADER_BYTES, 0) : 0;
    const header = read === SEGMENT_HEADER_BYTES ? readSegmentHeader(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), bytes, 0) : null;
    const headerOk = header !== null && header.firstIndex === nameIndex;
    return { name, firstIndex: nameIndex, floorTime: headerOk ? header.floorTime : NaN, headerOk, size, entries: null };
  } finally {
    closeSync(fd);
  }
}
