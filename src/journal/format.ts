/**
 * The journal's on-disk layout: the directory, the segment header, the record and the index entry,
 * each as named offsets built one after another (the one source of truth; writer.ts, scan.ts and
 * reader.ts use these names, never bare numbers), and the accessors that read and write them.
 * After the record layouts of Aeron's archive and Chronicle Queue: a length word first, a checksum
 * that covers everything after it, and records padded so every header is 8-aligned.
 *
 * Directory
 *
 *   manifest.json                      { version, topics: [{ name, spec, size }] } as given at creation
 *   00000000000000000000.seg           a segment: header, then records; named by its first record index
 *   00000000000000000000.idx           its index: derived data, rebuilt when missing
 *   00000000000000004711.seg …         the next segment begins where the previous one ended
 *
 * Segment header (SEGMENT_HEADER_BYTES = 288, 8-aligned). Written once, in the same write as the
 * segment's first records; never rewritten.
 *
 *   offset  size  field            meaning
 *   0       4     magic            SEGMENT_MAGIC ('WDJ1' little-endian)
 *   4       4     version          FORMAT_VERSION
 *   8       8     firstIndex       index of the segment's first record, as two u32 (low, high)
 *   16      8     floorTime        f64: the time of the last record before this segment (0 if none);
 *                                  every record in it and after has time ≥ floorTime
 *   24      256   nextSequence[64] u32 per thread 0..63: the sequence that thread's next record gets,
 *                                  as of the segment's start (so opening scans only the last segment)
 *   280     4     headerCrc        CRC-32 of bytes 0..280
 *   284     4     reserved         0
 *
 * Record (RECORD_HEADER_BYTES = 32, then the payload zero-padded to a multiple of 8; little-endian)
 *
 *   offset  size  field     meaning
 *   0       4     length    payload bytes (the padding excluded)
 *   4       4     crc       CRC-32 (zlib's polynomial) of bytes 8 .. 32 + length: header and payload
 *   8       8     index     journal-wide record number from 0, the logical timestamp; two u32 (low, high)
 *   16      8     time      f64 wall-clock ms when appended, made non-decreasing by the writer
 *   24      2     topic     index into the manifest's topics
 *   26      2     thread    publishing thread 0..MAX_THREADS-1
 *   28      4     sequence  per-thread record number from 0 (wraps at 2^32)
 *   32      len   payload   then 0..7 zero bytes to the next multiple of 8
 *
 * Index entry (INDEX_ENTRY_BYTES = 24). A segment's first record gets one, and then the first record
 * that starts INDEX_INTERVAL bytes or more after the last entry's record: about one per 64 KiB. The
 * rule depends only on record offsets, so a rebuilt index equals the one written as records came.
 *
 *   offset  size  field    meaning
 *   0       8     index    the record's index, two u32 (low, high)
 *   8       4     offset   the record's byte offset in the segment
 *   12      4     reserved 0
 *   16      8     time     f64, the record's time
 */
import { crc32 } from './crc32.ts';

export const MANIFEST_FILE = 'manifest.json';
export const SEGMENT_SUFFIX = '.seg';
export const INDEX_SUFFIX = '.idx';
/** Digits of a segment's name: every safe integer fits, and names sort as their numbers do. */
export const SEGMENT_NAME_DIGITS = 20;
const SEGMENT_NAME = /^(\d{20})\.seg$/;

/** 'WDJ1', read as a little-endian u32. */
export const SEGMENT_MAGIC = 0x314a4457;
/** Bumped on any change to the layouts above; the manifest carries it too. */
export const FORMAT_VERSION = 1;
/** Threads a journal tracks sequences for (the engine's thread limit). */
export const MAX_THREADS = 64;
/** Records, headers and index entries start at multiples of this. */
export const RECORD_ALIGN = 8;

const U32 = 4;
const U64 = 8;
const F64 = 8;
const U16 = 2;

// Segment header.
export const MAGIC_OFFSET = 0;
export const VERSION_OFFSET = MAGIC_OFFSET + U32;
export const FIRST_INDEX_OFFSET = VERSION_OFFSET + U32;
export const FLOOR_TIME_OFFSET = FIRST_INDEX_OFFSET + U64;
export const SEQUENCES_OFFSET = FLOOR_TIME_OFFSET + F64;
export const HEADER_CRC_OFFSET = SEQUENCES_OFFSET + MAX_THREADS * U32;
const HEADER_RESERVED_OFFSET = HEADER_CRC_OFFSET + U32;
export const SEGMENT_HEADER_BYTES = HEADER_RESERVED_OFFSET + U32;

// Record header.
export const LENGTH_OFFSET = 0;
export const CRC_OFFSET = LENGTH_OFFSET + U32;
export const INDEX_OFFSET = CRC_OFFSET + U32;
export const TIME_OFFSET = INDEX_OFFSET + U64;
export const TOPIC_OFFSET = TIME_OFFSET + F64;
export const THREAD_OFFSET = TOPIC_OFFSET + U16;
export const SEQUENCE_OFFSET = THREAD_OFFSET + U16;
export const RECORD_HEADER_BYTES = SEQUENCE_OFFSET + U32;
/** The CRC covers the record from here (the index) to the payload's end. */
export const CRC_START = INDEX_OFFSET;

// Index entry.
export const ENTRY_INDEX_OFFSET = 0;
export const ENTRY_POSITION_OFFSET = ENTRY_INDEX_OFFSET + U64;
const ENTRY_RESERVED_OFFSET = ENTRY_POSITION_OFFSET + U32;
export const ENTRY_TIME_OFFSET = ENTRY_RESERVED_OFFSET + U32;
export const INDEX_ENTRY_BYTES = ENTRY_TIME_OFFSET + F64;
/** Bytes of segment between index entries, at least. */
export const INDEX_INTERVAL = 64 * 1024;

const TWO_32 = 4294967296;

/** Bytes a record with `length` payload bytes occupies: header and payload, padded to RECORD_ALIGN. */
export function recordBytes(length: number): number {
  return (RECORD_HEADER_BYTES + length + RECORD_ALIGN - 1) & ~(RECORD_ALIGN - 1);
}

/** A u64 stored as two u32 (low, high) at `at`. Exact up to 2^53. */
export function getU64(view: DataView, at: number): number {
  return view.getUint32(at, true) + view.getUint32(at + U32, true) * TWO_32;
}

export function setU64(view: DataView, at: number, value: number): void {
  view.setUint32(at, value >>> 0, true);
  view.setUint32(at + U32, Math.floor(value / TWO_32), true);
}

/** Writes a segment header at `at`: magic, version, first index, floor time, sequences, CRC. */
export function writeSegmentHeader(
  view: DataView, bytes: Uint8Array, at: number, firstIndex: number, floorTime: number, sequences: Uint32Array,
): void {
  view.setUint32(at + MAGIC_OFFSET, SEGMENT_MAGIC, true);
  view.setUint32(at + VERSION_OFFSET, FORMAT_VERSION, true);
  setU64(view, at + FIRST_INDEX_OFFSET, firstIndex);
  view.setFloat64(at + FLOOR_TIME_OFFSET, floorTime, true);
  for (let t = 0; t < MAX_THREADS; t++) view.setUint32(at + SEQUENCES_OFFSET + t * U32, sequences[t]!, true);
  view.setUint32(at + HEADER_RESERVED_OFFSET, 0, true);
  view.setUint32(at + HEADER_CRC_OFFSET, crc32(bytes, at, at + HEADER_CRC_OFFSET), true);
}

/** A segment header as read back; `sequences` is a fresh array. */
export interface SegmentHeader {
  firstIndex: number;
  floorTime: number;
  sequences: Uint32Array;
}

/** Reads and checks the header at `at`; null if its magic, version or CRC is wrong. */
export function readSegmentHeader(view: DataView, bytes: Uint8Array, at: number): SegmentHeader | null {
  if (view.getUint32(at + MAGIC_OFFSET, true) !== SEGMENT_MAGIC) return null;
  if (view.getUint32(at + VERSION_OFFSET, true) !== FORMAT_VERSION) return null;
  if (view.getUint32(at + HEADER_CRC_OFFSET, true) !== crc32(bytes, at, at + HEADER_CRC_OFFSET)) return null;
  const sequences = new Uint32Array(MAX_THREADS);
  for (let t = 0; t < MAX_THREADS; t++) sequences[t] = view.getUint32(at + SEQUENCES_OFFSET + t * U32, true);
  return { firstIndex: getU64(view, at + FIRST_INDEX_OFFSET), floorTime: view.getFloat64(at + FLOOR_TIME_OFFSET, true), sequences };
}

/** Writes an index entry at `at`. */
export function writeIndexEntry(view: DataView, at: number, index: number, position: number, time: number): void {
  setU64(view, at + ENTRY_INDEX_OFFSET, index);
  view.setUint32(at + ENTRY_POSITION_OFFSET, position, true);
  view.setUint32(at + ENTRY_RESERVED_OFFSET, 0, true);
  view.setFloat64(at + ENTRY_TIME_OFFSET, time, true);
}

/** The segment file name for a first record index: 20 digits, zero-padded. */
export function segmentName(firstIndex: number): string {
  return `${String(firstIndex).padStart(SEGMENT_NAME_DIGITS, '0')}${SEGMENT_SUFFIX}`;
}

/** The index file beside a segment. */
export function indexNameOf(segment: string): string {
  return segment.slice(0, -SEGMENT_SUFFIX.length) + INDEX_SUFFIX;
}

/** The first record index a segment's name says, or -1 if the name is not a segment's. */
export function parseSegmentName(name: string): number {
  const match = SEGMENT_NAME.exec(name);
  return match === null ? -1 : Number(match[1]);
}
