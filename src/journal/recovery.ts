/**
 * Opening an existing journal for writing: recovery. Only the last segment is read (survey.ts):
 * a torn tail is cut off, corrupt records are reported and left in place, its index file is
 * rewritten, and the writer's state (next index, each thread's next sequence, last time, where
 * the segment ends) is taken from it. A last segment whose header never fully reached the disk is
 * removed. Older segments are only checked for a missing or partly written index file, which is
 * rebuilt from the segment.
 */
import { fdatasyncSync, ftruncateSync, openSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { JournalError } from '../errors.ts';
import { syncDirectory, type SegmentFile } from './directory.ts';
import { INDEX_ENTRY_BYTES, MAX_THREADS, SEGMENT_HEADER_BYTES, indexNameOf } from './format.ts';
import type { CorruptRecord } from './scan.ts';
import { NO_ENTRY, surveySegment, writeIndexFile } from './survey.ts';

/** What opening found and repaired. */
export interface RecoveryReport {
  /** Bytes cut off the end of the last segment (a torn record), plus any segment whose header was torn. */
  truncatedBytes: number;
  /** Where the cut was made, if any. */
  tornAt?: { segment: string; offset: number };
  /** Corrupt records (bad, with good records after them): kept on disk, skipped by readers. */
  corrupt: CorruptRecord[];
}

/** The segment being written: its files, open, and where the next writes go in each. */
export interface OpenSegment {
  name: string;
  fd: number;
  indexFd: number;
  fileOffset: number;
  indexOffset: number;
}

/** The writer's state after recovery. */
export interface Recovered {
  report: RecoveryReport;
  /** The last segment, opened for writing at its end; null if the journal has none (left). */
  segment: OpenSegment | null;
  /** Where that segment's good records end. */
  tailOffset: number;
  /** Where its last index entry's record starts (NO_ENTRY if none). */
  lastEntryOffset: number;
  nextIndex: number;
  lastTime: number;
  sequences: Uint32Array;
}

/** Recovers the journal in `dir`, whose segments (oldest first) are `segments`. */
export function recoverJournal(dir: string, segments: readonly SegmentFile[]): Recovered {
  const recovered: Recovered = {
    report: { truncatedBytes: 0, corrupt: [] },
    segment: null, tailOffset: 0, lastEntryOffset: NO_ENTRY, nextIndex: 0, lastTime: 0, sequences: new Uint32Array(MAX_THREADS),
  };
  const { report } = recovered;
  const cut = (segment: string, offset: number, bytes: number): void => {
    report.truncatedBytes += bytes;
    report.tornAt = { segment, offset };
  };
  let count = segments.length;
  while (count > 0) {
    const last = segments[count - 1]!;
    const path = join(dir, last.name);
    const survey = surveySegment(path, last.name);
    if (survey.header === null || survey.header.firstIndex !== last.firstIndex) {
      // The header goes out in the same write as the segment's first records, so a file no
      // longer than a header with a bad one is a creation that was cut short: drop it. A longer
      // one was damaged after the fact, and dropping it could drop good records.
      if (survey.size > SEGMENT_HEADER_BYTES) {
        throw new JournalError('ERR_JOURNAL_CORRUPT', 'segment', path, 'the last segment\'s header is damaged; move the file aside to write on');
      }
      unlinkSync(path);
      unlinkIfPresent(join(dir, indexNameOf(last.name)));
      syncDirectory(dir);
      cut(last.name, 0, survey.size);
      recovered.nextIndex = last.firstIndex;
      count--;
      continue;
    }
    report.corrupt.push(...survey.corrupt);
    const fd = openSync(path, 'r+');
    if (survey.tornAt >= 0) {
      ftruncateSync(fd, survey.tornAt);
      cut(last.name, survey.tornAt, survey.size - survey.tornAt);
    }
    // What a previous writer left may still be only in the page cache (under 'none', or if it was
    // killed between a commit and its sync): one fdatasync here makes durableIndex = nextIndex true.
    fdatasyncSync(fd);
    const indexPath = join(dir, indexNameOf(last.name));
    writeIndexFile(indexPath, survey.entries);
    recovered.segment = { name: last.name, fd, indexFd: openSync(indexPath, 'r+'), fileOffset: survey.end, indexOffset: survey.entries.length };
    recovered.tailOffset = survey.end;
    recovered.lastEntryOffset = survey.lastEntryOffset;
    recovered.nextIndex = survey.nextIndex;
    recovered.lastTime = survey.lastTime;
    recovered.sequences.set(survey.sequences);
    break;
  }
  // Older segments keep their index files; rebuild only a missing or partly written one.
  for (let s = 0; s < count - 1; s++) {
    const name = segments[s]!.name;
    const indexPath = join(dir, indexNameOf(name));
    if (indexFileIsWhole(indexPath)) continue;
    const survey = surveySegment(join(dir, name), name);
    report.corrupt.push(...survey.corrupt);
    if (survey.header !== null) writeIndexFile(indexPath, survey.entries);
  }
  return recovered;
}

function unlinkIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** An index file exists and holds whole entries only. */
function indexFileIsWhole(path: string): boolean {
  try {
    const { size } = statSync(path);
    return size > 0 && size % INDEX_ENTRY_BYTES === 0;
  } catch {
    return false;
  }
}
