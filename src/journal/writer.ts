/**
 * The journal's writer: appends records into one in-memory batch and writes the batch with one
 * write per segment it touches, rolling segments as they fill, then makes it durable per the fsync
 * policy (group commit: one fdatasync covers the whole batch). Opening an existing journal
 * recovers it first (recovery.ts). One writer per directory (not enforced: nothing locks the directory).
 *
 * The batch buffer holds the bytes of the segment being written and, when a batch crosses a roll,
 * the next segments' too, each beginning with its header: `breaks` marks where. Headers are built
 * in append (the per-thread sequences they carry are known there), the files created in commit.
 *
 *   buffer  [ records of segment A ... | header B | records of B ... | header C | records ... ]
 *                                      ^ breaks[0]                   ^ breaks[1]
 *           commit: write → A's fd; create B; write → B's fd; create C; write → C's fd; fdatasync
 */
import { closeSync, fdatasyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, JournalError } from '../errors.ts';
import {
  listSegments, normalizeTopics, readManifest, sameTopics, syncDirectory, writeManifest, type JournalTopic,
} from './directory.ts';
import { crc32 } from './crc32.ts';
import {
  CRC_OFFSET, CRC_START, INDEX_ENTRY_BYTES, INDEX_INTERVAL, LENGTH_OFFSET, MAX_THREADS, RECORD_ALIGN, RECORD_HEADER_BYTES,
  SEGMENT_HEADER_BYTES, SEQUENCE_OFFSET, THREAD_OFFSET, TIME_OFFSET, TOPIC_OFFSET, INDEX_OFFSET, indexNameOf, recordBytes,
  segmentName, setU64, writeIndexEntry, writeSegmentHeader,
} from './format.ts';
import { recoverJournal, type OpenSegment, type RecoveryReport } from './recovery.ts';
import { needsEntry, NO_ENTRY } from './survey.ts';

export type { JournalTopic } from './directory.ts';
export type { CorruptRecord } from './scan.ts';
export type { RecoveryReport } from './recovery.ts';

/**
 * When committed records are made durable, and so what a crash can lose. commit() always hands the
 * batch to the OS before it returns, so a *process* crash (SIGKILL, OOM kill, a throw) loses only
 * what was appended and not yet committed, under every policy. An *OS* crash or power loss can
 * also lose what was committed since the last fdatasync:
 *
 *   'always'           fdatasync at the end of every commit (one for the whole batch: group
 *                      commit): nothing committed is lost. Costs one fdatasync per commit
 *                      (~0.2 ms measured on the project's VM disk; far more on spinning disks).
 *   { intervalMs }     fdatasync in the first commit (or syncIfDue call) at least intervalMs after
 *                      the last one: up to intervalMs of commits, plus whatever was committed after
 *                      the last commit if commits then stop (call syncIfDue from a timer to bound it).
 *                      The fdatasync runs in that commit, on the caller's thread, and flushes all
 *                      the interval's writes: at full rate (bench/journal.ts, ~400 MB/s) a 100 ms
 *                      interval made single commits take 40–80 ms.
 *   'none'             never, except sync() and close(): whatever the OS had not yet flushed
 *                      (Linux: dirty pages older than ~30 s at most, by default).
 *
 * The default is { intervalMs: 100 }.
 */
export type FsyncPolicy = 'none' | 'always' | { readonly intervalMs: number };

export interface JournalWriterOptions {
  /** The journal's directory; created if missing. */
  readonly dir: string;
  /** The topics; must equal the manifest's if the journal exists (else ConfigError naming 'topics'). */
  readonly topics: readonly JournalTopic[];
  /** When commits are fdatasynced; see FsyncPolicy. Default { intervalMs: 100 }. */
  readonly fsync?: FsyncPolicy;
  /** A segment is rolled before it would exceed this many bytes. Default 64 MiB; MIN_SEGMENT_BYTES .. MAX_SEGMENT_BYTES. */
  readonly segmentBytes?: number;
  /** The batch buffer: a batch larger than this is written before commit. Default 1 MiB; MIN_BUFFER_BYTES .. MAX_BUFFER_BYTES. */
  readonly bufferBytes?: number;
}

export const DEFAULT_FSYNC: FsyncPolicy = { intervalMs: 100 };
export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
export const MIN_SEGMENT_BYTES = 4096;
/** Record offsets in index entries are u32; 1 GiB keeps well inside. */
export const MAX_SEGMENT_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_BUFFER_BYTES = 1024 * 1024;
export const MIN_BUFFER_BYTES = 4096;
export const MAX_BUFFER_BYTES = 256 * 1024 * 1024;

/** The policy as numbers: NEVER, ALWAYS or an interval in ms. */
const NEVER = -1;
const ALWAYS = 0;

export class JournalWriter {
  /** What opening found and repaired. */
  readonly recovery: RecoveryReport;
  /** The largest payload append takes: set by segmentBytes and bufferBytes. */
  readonly maxPayloadBytes: number;
  readonly dir: string;

  private readonly topicCount: number;
  /** NEVER, ALWAYS or the interval in ms. */
  private readonly syncEvery: number;
  private readonly segmentBytes: number;

  private readonly buffer: Buffer;
  /**
   * The same bytes as a plain Uint8Array: its subarray (the view zlib.crc32 needs for long
   * records) is a plain typed-array view: measured 7–18 % cheaper per CRC than Buffer's FastBuffer.
   */
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private used = 0;
  /** Buffer positions where a new segment's header begins, and that segment's first index. */
  private readonly breaks: Int32Array;
  private readonly breakFirstIndex: Float64Array;
  private breakCount = 0;
  /** Index entries of the batch, and the portion of the buffer (0 .. breakCount) each belongs to. */
  private readonly entries: Buffer;
  private readonly entriesView: DataView;
  private readonly entryPortion: Int32Array;
  private entryCount = 0;

  /** The logical end of the segment being appended to (written bytes and buffered ones). */
  private tailOffset: number;
  private lastEntryOffset: number;
  private readonly sequences: Uint32Array;
  /** The last record's time: appends are made non-decreasing from it. */
  private lastTime: number;
  private next: number;
  private written: number;
  private durable: number;
  /** Bytes have been written to `segment.fd` since its last fdatasync. */
  private dirty = false;
  private lastSyncAt: number;
  private segment: OpenSegment | null;
  private closed = false;
  /** append's payload source, wrapped once as a Buffer so large payloads copy natively. */
  private source: Uint8Array | null = null;
  private sourceBuffer: Buffer = Buffer.alloc(0);

  /**
   * Opens the journal in options.dir for writing, creating it if needed. Synchronous. An existing
   * journal is recovered first (see RecoveryReport and surveySegment): only its last segment is
   * read, plus any older segment whose index file is missing.
   */
  static open(options: JournalWriterOptions): JournalWriter {
    return new JournalWriter(options);
  }

  private constructor(options: JournalWriterOptions) {
    if (options === null || typeof options !== 'object') throw new ConfigError('options', options, 'must be an object');
    if (typeof options.dir !== 'string' || options.dir === '') throw new ConfigError('dir', options.dir, 'must be a non-empty path');
    this.dir = options.dir;
    this.syncEvery = parseFsync(options.fsync ?? DEFAULT_FSYNC);
    this.segmentBytes = sizeOption('segmentBytes', options.segmentBytes, DEFAULT_SEGMENT_BYTES, MIN_SEGMENT_BYTES, MAX_SEGMENT_BYTES);
    const bufferBytes = sizeOption('bufferBytes', options.bufferBytes, DEFAULT_BUFFER_BYTES, MIN_BUFFER_BYTES, MAX_BUFFER_BYTES);
    const topics = normalizeTopics(options.topics);
    this.topicCount = topics.length;
    this.maxPayloadBytes = Math.min(bufferBytes, this.segmentBytes) - SEGMENT_HEADER_BYTES - RECORD_HEADER_BYTES;

    this.buffer = Buffer.alloc(bufferBytes);
    this.bytes = new Uint8Array(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
    this.view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
    // A portion of the buffer per segment: two consecutive segments hold more than segmentBytes
    // together (the second was started because a record did not fit in the first).
    const maxBreaks = Math.ceil((2 * bufferBytes) / this.segmentBytes) + 2;
    this.breaks = new Int32Array(maxBreaks);
    this.breakFirstIndex = new Float64Array(maxBreaks);
    const maxEntries = Math.ceil(bufferBytes / INDEX_INTERVAL) + maxBreaks + 2;
    this.entries = Buffer.alloc(maxEntries * INDEX_ENTRY_BYTES);
    this.entriesView = new DataView(this.entries.buffer, this.entries.byteOffset, this.entries.byteLength);
    this.entryPortion = new Int32Array(maxEntries);

    mkdirSync(this.dir, { recursive: true });
    const manifest = readManifest(this.dir);
    const segments = listSegments(this.dir);
    if (manifest === null) {
      if (segments.length > 0) throw new JournalError('ERR_JOURNAL_MANIFEST', 'manifest', join(this.dir, 'manifest.json'), 'missing beside segment files');
      writeManifest(this.dir, topics);
    } else if (!sameTopics(manifest.topics, topics)) {
      throw new ConfigError('topics', options.topics, `differ from the journal's manifest (${JSON.stringify(manifest.topics).slice(0, 200)})`);
    }

    const recovered = recoverJournal(this.dir, segments);
    this.recovery = recovered.report;
    this.segment = recovered.segment;
    this.tailOffset = recovered.tailOffset;
    this.lastEntryOffset = recovered.lastEntryOffset;
    this.next = recovered.nextIndex;
    this.lastTime = recovered.lastTime;
    this.sequences = recovered.sequences;
    this.written = this.next;
    this.durable = this.next;
    this.lastSyncAt = performance.now();
    if (this.segment === null) this.startSegment();
  }

  /** The index the next append gets. */
  get nextIndex(): number {
    return this.next;
  }

  /** Records [0, committedIndex) have been written to the OS: a process crash no longer loses them. */
  get committedIndex(): number {
    return this.written;
  }

  /**
   * Records [0, durableIndex) are known fdatasynced: an OS crash no longer loses them. Under
   * 'always' equal to committedIndex after every commit; under an interval it may be late by up
   * to the interval; under 'none' it moves only at sync() and close().
   */
  get durableIndex(): number {
    return this.durable;
  }

  /** The sequence `thread`'s next record gets (0 .. 2^32 - 1; recovered from the journal on open). */
  nextSequence(thread: number): number {
    if (!isThread(thread)) throw new ConfigError('thread', thread, `must be an integer 0..${MAX_THREADS - 1}`);
    return this.sequences[thread]!;
  }

  /**
   * Copies source[offset, offset + length) into the batch as a record and returns its index. It
   * takes the thread's next sequence and time made non-decreasing (max of `time` and the last
   * record's, so seeks by time stay binary searches; a NaN takes the last). Allocates nothing for
   * payloads under crc32.ts's NATIVE_MIN_BYTES - 24 bytes (above, one short-lived view for zlib's
   * CRC). Does no I/O, except when the batch is full (bufferBytes): then it writes the batch to
   * the OS first, as commit does, without an fdatasync. Throws ConfigError on a bad topic,
   * thread, range or a payload over maxPayloadBytes; JournalError after close.
   */
  append(topic: number, thread: number, time: number, source: Uint8Array, offset: number, length: number): number {
    if (this.closed) throw closedError(this.dir);
    if (!((topic >>> 0) === topic && topic < this.topicCount)) throw new ConfigError('topic', topic, `must be an integer 0..${this.topicCount - 1}`);
    if (!isThread(thread)) throw new ConfigError('thread', thread, `must be an integer 0..${MAX_THREADS - 1}`);
    if (!((length >>> 0) === length && length <= this.maxPayloadBytes)) {
      throw new ConfigError('length', length, `must be an integer 0..maxPayloadBytes=${this.maxPayloadBytes}`);
    }
    if (!((offset >>> 0) === offset && offset + length <= source.length)) throw new ConfigError('offset', offset, `range past the source's ${source.length} bytes`);

    const bytes = recordBytes(length);
    if (this.tailOffset + bytes > this.segmentBytes) this.startSegment(bytes);
    else if (this.used + bytes > this.buffer.length || this.entryCount === this.entryPortion.length) this.flush();

    const at = this.used;
    const segmentOffset = this.tailOffset;
    const index = this.next;
    const t = time >= this.lastTime ? time : this.lastTime;
    if (needsEntry(segmentOffset, this.lastEntryOffset)) {
      writeIndexEntry(this.entriesView, this.entryCount * INDEX_ENTRY_BYTES, index, segmentOffset, t);
      this.entryPortion[this.entryCount++] = this.breakCount;
      this.lastEntryOffset = segmentOffset;
    }
    const view = this.view;
    const buffer = this.buffer;
    view.setUint32(at + LENGTH_OFFSET, length, true);
    setU64(view, at + INDEX_OFFSET, index);
    view.setFloat64(at + TIME_OFFSET, t, true);
    view.setUint16(at + TOPIC_OFFSET, topic, true);
    view.setUint16(at + THREAD_OFFSET, thread, true);
    view.setUint32(at + SEQUENCE_OFFSET, this.sequences[thread]!, true);
    const payloadAt = at + RECORD_HEADER_BYTES;
    if (length <= SMALL_COPY_BYTES) {
      for (let i = 0; i < length; i++) buffer[payloadAt + i] = source[offset + i]!;
    } else {
      if (source !== this.source) {
        this.sourceBuffer = Buffer.from(source.buffer, source.byteOffset, source.byteLength);
        this.source = source;
      }
      this.sourceBuffer.copy(buffer, payloadAt, offset, offset + length);
    }
    for (let i = payloadAt + length; i < at + bytes; i++) buffer[i] = 0;
    view.setUint32(at + CRC_OFFSET, crc32(this.bytes, at + CRC_START, payloadAt + length), true);

    this.sequences[thread] = (this.sequences[thread]! + 1) >>> 0;
    this.lastTime = t;
    this.used = at + bytes;
    this.tailOffset = segmentOffset + bytes;
    this.next = index + 1;
    return index;
  }

  /**
   * Writes the batch (one write per segment it touches; creating the segments it rolls into) and
   * then fdatasyncs per the policy. When it returns, records [0, nextIndex) survive a process
   * crash, and under 'always' an OS crash too. Throws the file system's error if a write or sync
   * fails; the writer should then be closed and reopened (reopening recovers).
   */
  commit(): void {
    if (this.closed) throw closedError(this.dir);
    this.flush();
    if (this.syncEvery === ALWAYS || (this.syncEvery > 0 && performance.now() - this.lastSyncAt >= this.syncEvery)) this.sync();
  }

  /** Under an interval policy, fdatasyncs committed records if the interval has passed since the last sync; for a timer while commits pause. */
  syncIfDue(): void {
    if (this.closed) throw closedError(this.dir);
    if (this.syncEvery > 0 && performance.now() - this.lastSyncAt >= this.syncEvery) this.sync();
  }

  /** fdatasyncs the committed records now (not the batch still being appended): durableIndex becomes committedIndex. */
  sync(): void {
    if (this.closed) throw closedError(this.dir);
    if (this.dirty && this.segment !== null) fdatasyncSync(this.segment.fd);
    this.dirty = false;
    this.durable = this.written;
    this.lastSyncAt = performance.now();
  }

  /** Commits, syncs and closes the files. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.sync();
    this.closed = true;
    if (this.segment !== null) {
      closeSync(this.segment.fd);
      closeSync(this.segment.indexFd);
      this.segment = null;
    }
  }

  /**
   * Begins a new segment in the buffer: its header at the current position, marked as a break.
   * `room` is the record about to go in, so the flush that may come first happens here, once.
   */
  private startSegment(room = 0): void {
    if (this.used + SEGMENT_HEADER_BYTES + room > this.buffer.length || this.breakCount === this.breaks.length ||
      this.entryCount === this.entryPortion.length) this.flush();
    const at = this.used;
    writeSegmentHeader(this.view, this.buffer, at, this.next, this.lastTime, this.sequences);
    this.breaks[this.breakCount] = at;
    this.breakFirstIndex[this.breakCount] = this.next;
    this.breakCount++;
    this.used = at + SEGMENT_HEADER_BYTES;
    this.tailOffset = SEGMENT_HEADER_BYTES;
    this.lastEntryOffset = NO_ENTRY;
  }

  /** Writes the buffer out: each portion to its segment (created here), with its index entries. */
  private flush(): void {
    let from = 0;
    let entry = 0;
    for (let k = 0; k <= this.breakCount; k++) {
      const to = k < this.breakCount ? this.breaks[k]! : this.used;
      const firstEntry = entry;
      while (entry < this.entryCount && this.entryPortion[entry] === k) entry++;
      const segment = this.segment;
      if (segment !== null) {
        if (to > from) {
          writeFully(segment.fd, this.buffer, from, to - from, segment.fileOffset);
          segment.fileOffset += to - from;
          this.dirty = true;
        }
        if (entry > firstEntry) {
          const bytes = (entry - firstEntry) * INDEX_ENTRY_BYTES;
          writeFully(segment.indexFd, this.entries, firstEntry * INDEX_ENTRY_BYTES, bytes, segment.indexOffset);
          segment.indexOffset += bytes;
        }
      }
      if (k < this.breakCount) {
        this.retireSegment();
        this.createSegment(this.breakFirstIndex[k]!);
      }
      from = to;
    }
    this.used = 0;
    this.breakCount = 0;
    this.entryCount = 0;
    this.written = this.next;
  }

  /** Closes the current segment, fdatasynced first unless the policy is 'none'. */
  private retireSegment(): void {
    const segment = this.segment;
    if (segment === null) return;
    if (this.syncEvery !== NEVER) {
      if (this.dirty) fdatasyncSync(segment.fd);
      fdatasyncSync(segment.indexFd);
    }
    this.dirty = false;
    closeSync(segment.fd);
    closeSync(segment.indexFd);
    this.segment = null;
  }

  /** Creates a segment's files (its header is the first thing the next write puts in it). */
  private createSegment(firstIndex: number): void {
    const name = segmentName(firstIndex);
    const fd = openSync(join(this.dir, name), 'wx');
    const indexFd = openSync(join(this.dir, indexNameOf(name)), 'w');
    this.segment = { name, fd, indexFd, fileOffset: 0, indexOffset: 0 };
    // The new name must be durable before a commit that relies on it returns.
    if (this.syncEvery !== NEVER) syncDirectory(this.dir);
  }
}

/** Payloads up to this many bytes are copied by a loop: cheaper than a native call at that size. */
const SMALL_COPY_BYTES = 64;

function isThread(thread: number): boolean {
  return (thread >>> 0) === thread && thread < MAX_THREADS;
}

function closedError(dir: string): JournalError {
  return new JournalError('ERR_JOURNAL_CLOSED', 'dir', dir, 'the journal writer is closed');
}

function parseFsync(policy: FsyncPolicy): number {
  if (policy === 'none') return NEVER;
  if (policy === 'always') return ALWAYS;
  const ms = (policy as { intervalMs?: unknown } | null)?.intervalMs;
  if (typeof ms === 'number' && Number.isFinite(ms) && ms > 0) return ms;
  throw new ConfigError('fsync', policy, "must be 'none', 'always' or { intervalMs: a number > 0 }");
}

function sizeOption(field: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min || value > max || value % RECORD_ALIGN !== 0) {
    throw new ConfigError(field, value, `must be a multiple of ${RECORD_ALIGN} in ${min}..${max}`);
  }
  return value;
}

function writeFully(fd: number, bytes: Uint8Array, offset: number, length: number, position: number): void {
  let done = 0;
  while (done < length) done += writeSync(fd, bytes, offset + done, length - done, position + done);
}
