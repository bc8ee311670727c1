/**
 * Typed errors. Thrown only at configuration and API boundaries (creating or attaching an arena,
 * validating options); hot paths return status codes instead (assembly/layout/status.ts).
 * Every error names the offending field and value, so `err.field` / `err.value` can be matched
 * programmatically and the message reads `field=value: reason`.
 */

/** Base class of every error wasm-dispatch throws. */
export class DispatchError extends Error {
  /** Stable machine-readable code, e.g. 'ERR_CONFIG'. */
  readonly code: string;
  /** The option, header field or argument that is wrong. */
  readonly field: string;
  /** The value it had. */
  readonly value: unknown;

  constructor(code: string, field: string, value: unknown, reason: string) {
    super(`${field}=${formatValue(value)}: ${reason}`);
    // Each subclass sets its name as a literal: bundlers minify class names (new.target.name
    // would read 'Zt' in a production bundle).
    this.name = 'DispatchError';
    this.code = code;
    this.field = field;
    this.value = value;
  }
}

/** An option or argument is invalid (wrong type, out of range, not a power of two...). */
export class ConfigError extends DispatchError {
  constructor(field: string, value: unknown, reason: string) {
    super('ERR_CONFIG', field, value, reason);
    this.name = 'ConfigError';
  }
}

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

/** The Wasm module cannot be used with this build of the bindings. */
export class ModuleError extends DispatchError {
  constructor(field: string, value: unknown, reason: string) {
    super('ERR_MODULE', field, value, reason);
    this.name = 'ModuleError';
  }
}

function formatValue(value: unknown): string {
  if (typeof value === 'number' && Number.isInteger(value) && value > 0xffff) {
    return `${value} (0x${value.toString(16)})`;
  }
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  const tag = Object.prototype.toString.call(value).slice(8, -1);
  return tag === 'Object' || tag === 'Array' ? safeJson(value) : tag;
}

function safeJson(value: unknown): string {
  try {
    const text = JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return '[unserialisable]';
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
  | 'ERR_WORKER_START'
  | 'ERR_HANDLER'
  | 'ERR_DRAIN_TIMEOUT'
  | 'ERR_NOT_ISOLATED';

/**
 * The engine could not do what was asked: it is closed, a request timed out, was aborted or found
 * no subscriber, a handler threw, or a worker crashed or failed to start. `field` and `value` name
 * what it concerns (e.g. field 'topic', value 'moves'; field 'worker', value 1).
 */
export class EngineError extends DispatchError {
  declare readonly code: EngineErrorCode;
  constructor(code: EngineErrorCode, field: string, value: unknown, reason: string, options?: { cause?: unknown }) {
    super(code, field, value, reason);
    this.name = 'EngineError';
    if (options && 'cause' in options) (this as { cause?: unknown }).cause = options.cause;
  }
}
