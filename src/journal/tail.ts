/**
 * JournalTail: follows a journal that is still being written, record by record from a given index
 * — the durable forwarder's read head (durable.ts). It seeks once with the index files (through a
 * JournalReader opened for the seek), then reads on with a SegmentScanner of its own: when the
 * segment it reads has grown since it looked, it reads the new bytes; when the record it expects
 * next starts a new segment, it moves to that file. It is only asked for records below the
 * writer's committed index, so it never meets a record that is still being written.
 */
import { closeSync, existsSync, fstatSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { SEGMENT_HEADER_BYTES, recordBytes, segmentName } from './format.ts';
import { openJournal } from './reader.ts';
import { SegmentScanner } from './scan.ts';

export class JournalTail {
  /** The current record, after next() returned true: the scanner's fields and payload (scanner.chunk at payloadAt). */
  readonly scanner: SegmentScanner;
  private segment = '';
  private fd = -1;
  private size = 0;
  /** Where the record after the current one starts, and its index. */
  private position = 0;
  private expected = 0;

  constructor(private readonly dir: string, onCorrupt: (segment: string, offset: number, reason: string) => void) {
    this.scanner = new SegmentScanner(onCorrupt, 256 * 1024);
  }

  /** The index the next record read will have. */
  get nextIndex(): number {
    return this.expected;
  }

  /**
   * Positions the tail at index `from`; returns the index it will actually read next: `from`, or
   * the journal's first index if retention removed the records before it.
   */
  seek(from: number): number {
    this.close();
    const reader = openJournal(this.dir);
    try {
      const start = Math.max(from, reader.firstIndex);
      const at = reader.seek({ from: start }, this.scanner);
      const segment = reader.segmentAt(at.segment);
      if (segment === undefined) {
        this.expected = start; // an empty journal: its first segment comes later
        return start;
      }
      this.openSegment(segment.name, at.offset, at.index);
      while (this.expected < start && this.next(start)) { /* skip to `start` */ }
      return start;
    } finally {
      reader.close();
    }
  }

  /** Moves to the next record if its index is below `limit`: true with the scanner's fields set. */
  next(limit: number): boolean {
    if (this.expected >= limit) return false;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (this.fd >= 0 && this.scanner.next()) {
        this.position = this.scanner.offset + recordBytes(this.scanner.length);
        this.expected = this.scanner.index + 1;
        return true;
      }
      // The end of what was read: the segment grew, or the next record opens the next segment.
      if (this.fd >= 0) {
        const size = fstatSync(this.fd).size;
        if (size > this.size) {
          this.size = size;
          this.scanner.attach(this.segment, this.fd, size);
          this.scanner.start(this.position, this.expected);
          continue;
        }
      }
      const name = segmentName(this.expected);
      if (name === this.segment || !existsSync(join(this.dir, name))) return false;
      this.openSegment(name, SEGMENT_HEADER_BYTES, this.expected);
    }
    return false;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    this.segment = '';
  }

  private openSegment(name: string, offset: number, index: number): void {
    this.close();
    this.fd = openSync(join(this.dir, name), 'r');
    this.segment = name;
    this.size = fstatSync(this.fd).size;
    this.position = offset;
    this.expected = index;
    this.scanner.attach(name, this.fd, this.size);
    this.scanner.start(offset, index);
  }
}
