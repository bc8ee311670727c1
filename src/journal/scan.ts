/**
 * Reading one segment record by record (format.ts has the layout): large readSync chunks, every
 * record's CRC and index checked, and the two kinds of damage told apart. The writer's recovery,
 * the index rebuild and the reader all walk segments through this one scanner.
 *
 * A record is accepted only if its length stays inside the segment, its CRC verifies and its index
 * is the one expected: the previous record's plus one. Nothing is invented: a record that fails
 * is never returned, and bytes are never guessed at.
 *
 * A record that fails is either
 *   - a torn tail: nothing after it verifies. That is what a process or machine that died mid-write
 *     leaves (a short record, or one whose CRC is bad because its end never reached the disk). The
 *     scanner ends at it and says where (`tornAt`); the writer truncates there, the reader stops.
 *   - corruption: a record further on verifies (a bit flip, a bad sector). It is reported by
 *     segment and offset (`onCorrupt`) and skipped; the records after it are read as usual.
 *
 * Finding the record after a damaged one (resync): every 8-aligned offset after it in turn, the
 * first good record wins. A candidate must verify and carry a plausible index: at least the one
 * expected, and at most one more per RECORD_HEADER_BYTES skipped (no record is smaller), so a
 * payload that happens to contain a whole record (a journal of journals) is not taken for one
 * unless its index also fits. The damaged record's length field is not used to jump ahead, even
 * when it looks sane: a flipped bit in it can point at a later record boundary that verifies
 * (seen in the bit-flip test: bit 3 of the length's second byte jumped 2 KiB, over 17 good
 * records). Scanning from the start finds the same next record when the length was right, at
 * the cost of a few cheap header checks per 8 bytes of the damaged record.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { crc32 } from './crc32.ts';
import {
  CRC_OFFSET, CRC_START, INDEX_OFFSET, LENGTH_OFFSET, RECORD_ALIGN, RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES,
  SEQUENCE_OFFSET, THREAD_OFFSET, TIME_OFFSET, TOPIC_OFFSET, getU64, readSegmentHeader, recordBytes,
  type SegmentHeader,
} from './format.ts';

/** A damaged record: the segment's file name, its byte offset there, and what was wrong. */
export interface CorruptRecord {
  readonly segment: string;
  readonly offset: number;
  readonly reason: string;
}

/** Default read size: large reads, few syscalls. */
export const SCAN_CHUNK_BYTES = 1024 * 1024;

const SHORT_HEADER = 'partial record header at the end of the segment';
const BAD_LENGTH = 'length field runs past the end of the segment';
const SHORT_RECORD = 'partial record at the end of the segment';
const BAD_INDEX = 'index out of sequence';
const BAD_CRC = 'CRC mismatch';

/** One segment file being read; reusable across segments (attach), so its chunk is allocated once. */
export class SegmentScanner {
  /** The current record (after next() returned true): its offset in the segment and its fields. */
  offset = 0;
  index = 0;
  time = 0;
  topic = 0;
  thread = 0;
  sequence = 0;
  length = 0;
  /** Where the current record's payload starts in `chunk`. */
  payloadAt = 0;
  /** After next() returned false: where the undecodable tail begins, or -1 if the segment ended cleanly. */
  tornAt = -1;
  /** The read buffer; grows if a record is larger. Valid until the next call. */
  chunk: Buffer;
  private view: DataView;
  private chunkStart = 0;
  private chunkLength = 0;
  private segment = '';
  private fd = -1;
  private size = 0;
  private position = 0;
  private expected = 0;
  /** The index a failed check found, for the corruption report. */
  private badIndex = 0;

  constructor(
    private readonly onCorrupt: (segment: string, offset: number, reason: string) => void,
    chunkBytes = SCAN_CHUNK_BYTES,
  ) {
    this.chunk = Buffer.allocUnsafe(chunkBytes);
    this.view = new DataView(this.chunk.buffer, this.chunk.byteOffset, this.chunk.byteLength);
  }

  /** Reads `segment` (its name, for reports) through `fd`, of `size` bytes; position it with start(). */
  attach(segment: string, fd: number, size: number): void {
    this.segment = segment;
    this.fd = fd;
    this.size = size;
    this.chunkLength = 0;
    this.tornAt = -1;
  }

  /** The segment's header, or null if the file is shorter than one or it does not check. */
  header(): SegmentHeader | null {
    if (this.size < SEGMENT_HEADER_BYTES) return null;
    const at = this.ensure(0, SEGMENT_HEADER_BYTES);
    return at < 0 ? null : readSegmentHeader(this.view, this.chunk, at);
  }

  /** The next next() reads the record at `offset`, which must carry index `expected`. */
  start(offset: number, expected: number): void {
    this.position = offset;
    this.expected = expected;
    this.tornAt = -1;
  }

  /** True if a whole, verifying record with index `index` sits at `offset` (an index file's hint). */
  verify(offset: number, index: number): boolean {
    return this.check(offset, index, index) === null;
  }

  /**
   * Moves to the next good record: true with its fields set, false at the segment's end (tornAt
   * says whether that end was clean). Corrupt records on the way are reported and skipped.
   */
  next(): boolean {
    const at = this.position;
    if (at >= this.size) {
      this.position = this.size;
      return false;
    }
    const reason = this.check(at, this.expected, this.expected);
    if (reason === null) return this.accept(at);
    const badIndex = this.badIndex;
    const found = this.resync(at);
    if (found < 0) {
      this.tornAt = at;
      this.position = this.size;
      return false;
    }
    this.onCorrupt(this.segment, at, reason === BAD_INDEX ? `${BAD_INDEX}: ${badIndex} where ${this.expected} was expected` : reason);
    return this.accept(found); // resync's last check verified it and set the fields
  }

  private accept(at: number): true {
    this.offset = at;
    this.position = at + recordBytes(this.length);
    this.expected = this.index + 1;
    return true;
  }

  /** The offset of the first good record after the damaged one at `at`, or -1 if there is none. */
  private resync(at: number): number {
    for (let c = at + RECORD_ALIGN; c + RECORD_HEADER_BYTES <= this.size; c += RECORD_ALIGN) {
      if (this.plausible(at, c)) return c;
    }
    return -1;
  }

  /** A good record at `candidate` whose index could follow the damage that starts at `at`. */
  private plausible(at: number, candidate: number): boolean {
    return this.check(candidate, this.expected, this.expected + Math.floor((candidate - at) / RECORD_HEADER_BYTES)) === null;
  }

  /** null if a good record with index in [minIndex, maxIndex] sits at `at` (its fields are then set), else why not. */
  private check(at: number, minIndex: number, maxIndex: number): string | null {
    if (at + RECORD_HEADER_BYTES > this.size) return SHORT_HEADER;
    let p = this.ensure(at, RECORD_HEADER_BYTES);
    if (p < 0) return SHORT_HEADER;
    const view = this.view;
    const length = view.getUint32(p + LENGTH_OFFSET, true);
    if (length > this.size - at - RECORD_HEADER_BYTES) return BAD_LENGTH;
    const index = getU64(view, p + INDEX_OFFSET);
    if (index < minIndex || index > maxIndex) {
      this.badIndex = index;
      return BAD_INDEX;
    }
    const bytes = recordBytes(length);
    if (at + bytes > this.size) return SHORT_RECORD;
    p = this.ensure(at, bytes);
    if (p < 0) return SHORT_RECORD;
    if (crc32(this.chunk, p + CRC_START, p + RECORD_HEADER_BYTES + length) !== view.getUint32(p + CRC_OFFSET, true)) return BAD_CRC;
    this.index = index;
    this.length = length;
    this.time = view.getFloat64(p + TIME_OFFSET, true);
    this.topic = view.getUint16(p + TOPIC_OFFSET, true);
    this.thread = view.getUint16(p + THREAD_OFFSET, true);
    this.sequence = view.getUint32(p + SEQUENCE_OFFSET, true);
    this.payloadAt = p + RECORD_HEADER_BYTES;
    return null;
  }

  /**
   * Makes bytes [at, at + n) of the file present in the chunk and returns where they start in it;
   * -1 if the file turned out shorter (a reader racing a writer's truncation), which then ends it.
   */
  private ensure(at: number, n: number): number {
    if (at >= this.chunkStart && at + n <= this.chunkStart + this.chunkLength) return at - this.chunkStart;
    if (n > this.chunk.length) {
      let bytes = this.chunk.length;
      while (bytes < n) bytes *= 2;
      this.chunk = Buffer.allocUnsafe(bytes);
      this.view = new DataView(this.chunk.buffer, this.chunk.byteOffset, this.chunk.byteLength);
    }
    const want = Math.min(this.chunk.length, this.size - at);
    let got = 0;
    while (got < want) {
      const read = readSync(this.fd, this.chunk, got, want - got, at + got);
      if (read === 0) break;
      got += read;
    }
    this.chunkStart = at;
    this.chunkLength = got;
    if (got < n) {
      this.size = at + got;
      return -1;
    }
    return 0;
  }
}

/** Opens a segment for reading; returns its fd and size. */
export function openSegment(path: string): { fd: number; size: number } {
  const fd = openSync(path, 'r');
  try {
    return { fd, size: fstatSync(fd).size };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}
