/**
 * A whole segment read once, end to end, and what that tells (format.ts has the layout): where its
 * good records end, the torn tail if any, each thread's next sequence, the last record's time and
 * the segment's index entries. The writer surveys the last segment when it opens (to recover) and
 * any segment whose index file is missing (to rebuild it); both write the entries out with
 * writeIndexFile. Also here: reading an index file back.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import {
  ENTRY_INDEX_OFFSET, ENTRY_POSITION_OFFSET, ENTRY_TIME_OFFSET, INDEX_ENTRY_BYTES, INDEX_INTERVAL, MAX_THREADS,
  SEGMENT_HEADER_BYTES, getU64, recordBytes, writeIndexEntry, type SegmentHeader,
} from './format.ts';
import { SegmentScanner, openSegment, type CorruptRecord } from './scan.ts';

/** Where the last index entry's record starts before a segment has any: the first record always gets one. */
export const NO_ENTRY = -INDEX_INTERVAL;

/** The index-entry rule (format.ts): a record gets an entry if it starts INDEX_INTERVAL or more after the last entry's. */
export function needsEntry(offset: number, lastEntryOffset: number): boolean {
  return offset - lastEntryOffset >= INDEX_INTERVAL;
}

/** What surveying a segment found. */
export interface SegmentSurvey {
  /** The segment's header; null if the file is shorter than one or it does not check (then nothing else is filled in). */
  header: SegmentHeader | null;
  /** The file's size when surveyed. */
  size: number;
  /** Where the last good record ends: the size, unless the segment has a torn tail. */
  end: number;
  /** Where the torn tail starts, or -1. */
  tornAt: number;
  /** The index the next record gets (the header's first index if the segment has no good record). */
  nextIndex: number;
  /** The last good record's time (the header's floor time if none). */
  lastTime: number;
  /** Each thread's next sequence after the segment's last good record. */
  sequences: Uint32Array;
  /** The segment's index file contents, and where its last entry's record starts (NO_ENTRY if none). */
  entries: Buffer;
  lastEntryOffset: number;
  /** Corrupt records: bad, with good records after them. */
  corrupt: CorruptRecord[];
}

/** Reads the whole segment at `path` (named `segment` in reports). */
export function surveySegment(path: string, segment: string): SegmentSurvey {
  const corrupt: CorruptRecord[] = [];
  const scanner = new SegmentScanner((name, offset, reason) => corrupt.push({ segment: name, offset, reason }));
  const { fd, size } = openSegment(path);
  try {
    scanner.attach(segment, fd, size);
    const header = scanner.header();
    const survey: SegmentSurvey = {
      header, size, end: size, tornAt: -1, nextIndex: 0, lastTime: 0, sequences: new Uint32Array(MAX_THREADS),
      entries: Buffer.alloc(0), lastEntryOffset: NO_ENTRY, corrupt,
    };
    if (header === null) return survey;
    survey.nextIndex = header.firstIndex;
    survey.lastTime = header.floorTime;
    survey.sequences.set(header.sequences);
    survey.end = SEGMENT_HEADER_BYTES;
    const entries: number[] = [];
    scanner.start(SEGMENT_HEADER_BYTES, header.firstIndex);
    while (scanner.next()) {
      if (needsEntry(scanner.offset, survey.lastEntryOffset)) {
        entries.push(scanner.index, scanner.offset, scanner.time);
        survey.lastEntryOffset = scanner.offset;
      }
      // The last record of a thread says its next sequence; corrupt records in between cannot
      // move it back, and sequences wrap at 2^32 (so no max()).
      if (scanner.thread < MAX_THREADS) survey.sequences[scanner.thread] = (scanner.sequence + 1) >>> 0;
      survey.nextIndex = scanner.index + 1;
      survey.lastTime = scanner.time;
      survey.end = scanner.offset + recordBytes(scanner.length);
    }
    survey.tornAt = scanner.tornAt;
    if (scanner.tornAt < 0) survey.end = size;
    survey.entries = Buffer.alloc((entries.length / 3) * INDEX_ENTRY_BYTES);
    const view = new DataView(survey.entries.buffer, survey.entries.byteOffset, survey.entries.byteLength);
    for (let e = 0; e < entries.length; e += 3) writeIndexEntry(view, (e / 3) * INDEX_ENTRY_BYTES, entries[e]!, entries[e + 1]!, entries[e + 2]!);
    return survey;
  } finally {
    closeSync(fd);
  }
}

/** Replaces an index file with `entries`. Not fsynced: an index is derived data, rebuilt when lost. */
export function writeIndexFile(path: string, entries: Uint8Array): void {
  const fd = openSync(path, 'w');
  try {
    let written = 0;
    while (written < entries.length) written += writeSync(fd, entries, written, entries.length - written);
  } finally {
    closeSync(fd);
  }
}

/** An index file read back: parallel arrays, one element per entry. */
export interface IndexEntries {
  readonly indexes: Float64Array;
  readonly offsets: Float64Array;
  readonly times: Float64Array;
}

const NO_ENTRIES: IndexEntries = { indexes: new Float64Array(0), offsets: new Float64Array(0), times: new Float64Array(0) };

/**
 * The entries of an index file; none if it is missing. A partial last entry is ignored. Entries
 * are hints: the reader verifies the record an entry points at before trusting it.
 */
export function readIndexFile(path: string): IndexEntries {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    return NO_ENTRIES;
  }
  const count = Math.floor(bytes.length / INDEX_ENTRY_BYTES);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries = { indexes: new Float64Array(count), offsets: new Float64Array(count), times: new Float64Array(count) };
  for (let e = 0; e < count; e++) {
    const at = e * INDEX_ENTRY_BYTES;
    entries.indexes[e] = getU64(view, at + ENTRY_INDEX_OFFSET);
    entries.offsets[e] = view.getUint32(at + ENTRY_POSITION_OFFSET, true);
    entries.times[e] = view.getFloat64(at + ENTRY_TIME_OFFSET, true);
  }
  return entries;
}
