/**
 * The base of every typed error wasm-dispatch throws, and the two the bindings throw themselves
 * (ConfigError, ModuleError). They live here so that bindings/ imports nothing from src/;
 * src/errors.ts re-exports these very classes (so `instanceof` holds across both paths) and adds
 * the rest (ArenaError, EngineError).
 *
 * Thrown only at configuration and API boundaries; hot paths return status codes instead
 * (assembly/layout/status.ts). Every error names the offending field and value, so `err.field` /
 * `err.value` can be matched programmatically and the message reads `field=value: reason`.
 */

/** Base class of every error wasm-dispatch throws. */
export class DispatchError extends Error {
  /** Stable machine-readable code, e.g. 'ERR_CONFIG'. */
  readonly code: string;
  /** The option, header field or argument that is wrong. */
  readonly field: string;
  /** The value it had. */
  readonly value: unknown;

  /** `options.cause`, if given (even undefined), becomes `cause`: what led to this error. */
  constructor(code: string, field: string, value: unknown, reason: string, options?: { cause?: unknown }) {
    super(`${field}=${formatValue(value)}: ${reason}`);
    // Each subclass sets its name as a literal: bundlers minify class names (new.target.name
    // would read 'Zt' in a production bundle).
    this.name = 'DispatchError';
    this.code = code;
    this.field = field;
    this.value = value;
    if (options !== undefined && 'cause' in options) (this as { cause?: unknown }).cause = options.cause;
  }
}

/** An option or argument is invalid (wrong type, out of range, not a power of two...). */
export class ConfigError extends DispatchError {
  constructor(field: string, value: unknown, reason: string) {
    super('ERR_CONFIG', field, value, reason);
    this.name = 'ConfigError';
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
