/**
 * The journal's public API (`wasm-dispatch/journal`, Node only): an append-only, crash-safe record
 * journal on files. JournalWriter appends and commits batches; openJournal reads them back by index
 * or time range. The layout is in format.ts; the loss window of each fsync policy at FsyncPolicy.
 */
export {
  JournalWriter, DEFAULT_FSYNC, DEFAULT_SEGMENT_BYTES, DEFAULT_BUFFER_BYTES, MIN_SEGMENT_BYTES, MAX_SEGMENT_BYTES,
  MIN_BUFFER_BYTES, MAX_BUFFER_BYTES,
  type FsyncPolicy, type JournalWriterOptions, type RecoveryReport,
} from './writer.ts';
export { openJournal, JournalReader, type JournalRecord, type RecordRange } from './reader.ts';
export type { JournalTopic } from './directory.ts';
export type { CorruptRecord } from './scan.ts';
export { MAX_THREADS, FORMAT_VERSION } from './format.ts';
export { DispatchError, ConfigError, JournalError, type JournalErrorCode } from '../errors.ts';
export { replayJournal, type ReplayOptions, type ReplayProgress, type ReplayResult } from './replay.ts';
