/**
 * Typed errors. Thrown only at configuration and API boundaries (creating or attaching an arena,
 * validating options); hot paths return status codes instead (assembly/layout/status.ts).
 * Every error names the offending field and value, so `err.field` / `err.value` can be matched
 * programmatically and the message reads `field=value: reason`.
 *
 * The base class and the errors the bindings throw (DispatchError, ConfigError, ModuleError) live
 * in bindings/errors.ts, so that bindings/ imports nothing from src/; they are re-exported here as
 * the same class objects. This file adds the errors of the arena, the engine and the batcher.
 */
import { DispatchError } from '../bindings/errors.ts';

export { DispatchError, ConfigError, ModuleError } from '../bindings/errors.ts';

/** Reasons an existing memory cannot be used as an arena. */
export type ArenaErrorCode =
  | 'ERR_ARENA_NOT_SHARED'
  | 'ERR_ARENA_TOO_SMALL'
  | 'ERR_ARENA_MAGIC'
  | 'ERR_ARENA_VERSION'
  | 'ERR_ARENA_SIZE'
  | 'ERR_ARENA_NOT_READY'
  | 'ERR_ARENA_CORRUPT';

/** A memory is not (or no longer) a valid arena: foreign, corrupted, too small, wrong version. */
export class ArenaError extends DispatchError {
  declare readonly code: ArenaErrorCode;
  constructor(code: ArenaErrorCode, field: string, value: unknown, reason: string) {
    super(code, field, value, reason);
    this.name = 'ArenaError';
  }
}

/** Reasons an engine call failed at run time (as opposed to a bad option or argument). */
export type EngineErrorCode =
  | 'ERR_ENGINE_CLOSED'
  | 'ERR_NO_SUBSCRIBER'
  | 'ERR_REQUEST_TIMEOUT'
  | 'ERR_REQUEST_ABORTED'
  | 'ERR_REQUEST_FAILED'
  | 'ERR_WORKER_CRASHED'
  | 'ERR_WORKER_RESTART_LIMIT'
  | 'ERR_HANDLER_TIMEOUT'
  | 'ERR_WORKER_START'
  | 'ERR_HANDLER'
  | 'ERR_DRAIN_TIMEOUT'
  | 'ERR_NOT_ISOLATED'
  | 'ERR_JOURNAL';

/**
 * The engine could not do what was asked: it is closed, a request timed out, was aborted or found
 * no subscriber, a handler threw, or a worker crashed or failed to start. `field` and `value` name
 * what it concerns (e.g. field 'topic', value 'moves'; field 'worker', value 1).
 */
export class EngineError extends DispatchError {
  declare readonly code: EngineErrorCode;
  constructor(code: EngineErrorCode, field: string, value: unknown, reason: string, options?: { cause?: unknown }) {
    super(code, field, value, reason, options);
    this.name = 'EngineError';
  }
}

/** Reasons a batcher's load (src/batcher.ts) was rejected by the batcher itself, not by its fn. */
export type BatcherErrorCode =
  | 'ERR_BATCHER_CLOSED'
  | 'ERR_BATCH_RESULT'
  | 'ERR_BATCH_FAILED';

/**
 * A batcher could not answer a load: it was closed before the key's call was made
 * (ERR_BATCHER_CLOSED), its fn returned something other than one result per key
 * (ERR_BATCH_RESULT, field 'result' or 'result.length'), or, in loadMany's results only, fn
 * failed with a value that is not an Error (ERR_BATCH_FAILED, the value as `cause`).
 */
export class BatcherError extends DispatchError {
  declare readonly code: BatcherErrorCode;
  constructor(code: BatcherErrorCode, field: string, value: unknown, reason: string, options?: { cause?: unknown }) {
    super(code, field, value, reason, options);
    this.name = 'BatcherError';
  }
}

/** Reasons a journal (src/journal/) cannot be opened or written. */
export type JournalErrorCode =
  | 'ERR_JOURNAL_CLOSED'
  | 'ERR_JOURNAL_MANIFEST'
  | 'ERR_JOURNAL_CORRUPT';

/**
 * A journal directory cannot be used: its manifest is missing or unreadable
 * (ERR_JOURNAL_MANIFEST, field 'manifest'), the last segment's header is damaged beyond a torn
 * creation (ERR_JOURNAL_CORRUPT, field 'segment', the file name as value), or the writer or reader
 * was used after close (ERR_JOURNAL_CLOSED). Bad options and arguments are ConfigErrors.
 */
export class JournalError extends DispatchError {
  declare readonly code: JournalErrorCode;
  constructor(code: JournalErrorCode, field: string, value: unknown, reason: string, options?: { cause?: unknown }) {
    super(code, field, value, reason, options);
    this.name = 'JournalError';
  }
}
