/**
 * Typed message schemas: a field declaration becomes a fixed-size record layout and a codec that
 * reads and writes messages in place, in shared memory, without allocating.
 *
 * The codec is the flyweight of Simple Binary Encoding (Real Logic's SBE) and FlatBuffers: one
 * reusable reader or writer object is re-pointed at each message with `at(address)`, and its
 * accessors load or store one field straight from or to the buffer. Nothing is decoded up front and
 * nothing is copied, so the numeric and boolean accessors allocate nothing per message (proven by
 * test/schema.test.ts, which counts GC events over a million messages in a worker).
 *
 * Layout of one message (the `Move` example below: 48 bytes):
 *
 *   0          8            12       16       20    22                     38      39              47    48
 *   ┌──────────┬────────────┬────────┬────────┬─────┬──────────────────────┬───────┬───────────────┬─────┐
 *   │ seq  i64 │ player u32 │ x  f32 │ y  f32 │ len │ name: 16 bytes UTF-8 │ alive │ blob: 8 bytes │ pad │
 *   └──────────┴────────────┴────────┴────────┴─────┴──────────────────────┴───────┴───────────────┴─────┘
 *
 *   defineSchema({ player: 'u32', x: 'f32', y: 'f32', seq: 'i64', alive: 'bool',
 *                  name: { type: 'string', maxBytes: 16 }, blob: { type: 'bytes', length: 8 } })
 *
 * | type          | size         | align | encoding                                                       |
 * |---------------|--------------|-------|----------------------------------------------------------------|
 * | `f64`, `i64`  | 8            | 8     | little-endian IEEE 754 binary64 / two's complement              |
 * | `i32`, `u32`, `f32` | 4      | 4     | little-endian two's complement / unsigned / IEEE 754 binary32   |
 * | `string`      | 2 + maxBytes | 2     | u16 LE byte length, then that many UTF-8 bytes; the rest of the field is unspecified |
 * | `u8`, `bool`  | 1            | 1     | unsigned byte; bool is 0 or 1 (any non-zero byte reads as true) |
 * | `bytes`       | length       | 1     | raw bytes, exactly `length` of them                             |
 *
 * Fields are ordered by alignment, largest first, ties in declaration order, so the layout is
 * deterministic and has no padding between fields of the same alignment; the size is rounded up to
 * SCHEMA_MESSAGE_ALIGN. Encoding writes only the fields' bytes: padding and the unused tail of a
 * string field keep whatever was there.
 *
 * Threads: a message is plain (non-atomic) memory. Exactly one thread writes it (the producer that
 * claimed its ring record or pool slot) before the store that publishes it (e.g. the ring's HEAD);
 * readers read it after the load that pairs with that store, and stop before they free it.
 *
 * Access: by default multi-byte fields go through typed-array views (Float64Array, Int32Array...)
 * indexed by `(address >>> shift) + offset / size`, which V8 compiles to one load or store, faster
 * than DataView. That needs the message address to be a multiple of the schema's `align` (the
 * layout makes every field naturally aligned within the message) and a little-endian host (all
 * current WebAssembly hosts). Where that does not hold, DataView with explicit little-endian access
 * takes over: `{ access: 'data-view' }` flyweights accept any address, encode/decode switch to it
 * for an unaligned address, and big-endian hosts always get it. The bytes are the same either way.
 *
 * Zero allocation, and its limits: a numeric accessor allocates nothing once TurboFan has inlined
 * it into the caller's loop; left as a call, a double argument or result is boxed. Accessors are
 * kept small for that (see defineAccessors), but V8 stops inlining large callees into one function
 * once about 920 bytes of bytecode are inlined: a loop touching dozens of fields should be split
 * into functions. Strings use a hand-written UTF-8 encoder (TextEncoder.encodeInto refuses
 * SharedArrayBuffer views in browsers); lone surrogates are stored as U+FFFD, as TextEncoder does.
 */
import { ConfigError } from './errors.ts';

/** Message sizes are rounded up to this many bytes; put messages at multiples of it. */
export const SCHEMA_MESSAGE_ALIGN = 8;
/** Bytes of a string field's little-endian u16 byte-length prefix. */
export const STRING_LENGTH_BYTES = 2;
/** Offset of a string field's UTF-8 bytes from the start of the field. */
export const STRING_BYTES_OFFSET = STRING_LENGTH_BYTES;
/** Smallest `maxBytes` of a string field and `length` of a bytes field. */
export const DECLARED_BYTES_MIN = 1;
/** Largest `maxBytes` of a string field and `length` of a bytes field (fits the u16 prefix). */
export const DECLARED_BYTES_MAX = 0xffff;

/** Field types that take no parameter. `i64` values are bigints; `bool` values are booleans. */
export type ScalarType = 'u8' | 'i32' | 'u32' | 'f32' | 'f64' | 'i64' | 'bool';
/** Every field type. */
export type FieldType = ScalarType | 'string' | 'bytes';

/** One field's declaration: a scalar type name, or an object with `type` and its parameter. */
export type FieldSpec =
  | ScalarType
  | { readonly type: ScalarType }
  | { readonly type: 'string'; /** Largest UTF-8 encoding accepted, bytes (1..65535). */ readonly maxBytes: number }
  | { readonly type: 'bytes'; /** Exact number of bytes (1..65535). */ readonly length: number };

/** A schema declaration: field name → field declaration. */
export type SchemaSpec = { readonly [name: string]: FieldSpec };

/** Where a codec reads and writes: a memory (its current buffer) or a buffer. */
export type SchemaTarget = WebAssembly.Memory | ArrayBuffer | SharedArrayBuffer;

/** Where one field lives inside a message. */
export interface FieldLayout {
  /** Field name, as declared. */
  readonly name: string;
  /** Field type. */
  readonly type: FieldType;
  /** Offset from the start of the message, bytes (a string's offset is that of its length prefix). */
  readonly offset: number;
  /** Bytes the field occupies (a string: STRING_LENGTH_BYTES + maxBytes). */
  readonly size: number;
  /** Alignment of `offset`, bytes. */
  readonly align: number;
  /** string only: largest UTF-8 encoding accepted, bytes. */
  readonly maxBytes?: number;
  /** bytes only: exact length, bytes. */
  readonly length?: number;
}

type TypeOfSpec<F> = F extends FieldType ? F : F extends { readonly type: infer T } ? T : never;
type ValueOfType<T> =
  T extends 'i64' ? bigint
    : T extends 'bool' ? boolean
      : T extends 'string' ? string
        : T extends 'bytes' ? Uint8Array
          : T extends 'u8' | 'i32' | 'u32' | 'f32' | 'f64' ? number
            : never;
type ValueOf<F> = ValueOfType<TypeOfSpec<F>>;
type KeysOfType<S, T> = { [K in keyof S & string]: TypeOfSpec<S[K]> extends T ? K : never }[keyof S & string];

/** The plain-object form of a message declared by spec `S`. */
export type Message<S extends SchemaSpec> = { -readonly [K in keyof S & string]: ValueOf<S[K]> };
/** The plain-object form of the messages of a schema: `MessageOf<typeof Move>`. */
export type MessageOf<T> = T extends { readonly spec: infer S extends SchemaSpec } ? Message<S> : never;

/** Accessors every flyweight has, whatever its schema. */
export interface Flyweight<Self> {
  /** Address of the message this flyweight points at, bytes into the buffer. */
  readonly address: number;
  /**
   * Re-points this flyweight at the message at `address` and returns it (the same object).
   * Throws ConfigError if `address` is not an integer, the message would not fit in the buffer, or
   * (typed-array access) `address` is not a multiple of the schema's `align`. Nothing else on a
   * flyweight allocates or throws, except where documented.
   */
  at(address: number): Self;
}

type StringHelpers<S> =
  & {
    /** The stored UTF-8 byte length of this string field. Allocation-free. */
    readonly [K in KeysOfType<S, 'string'> as `${K}ByteLength`]: number;
  }
  & {
    /**
     * Whether the stored string equals `text` (compared as UTF-8, lone surrogates in `text` as
     * U+FFFD, the way they were stored). Allocation-free.
     */
    readonly [K in KeysOfType<S, 'string'> as `${K}Equals`]: (text: string) => boolean;
  };
type BytesHelpers<S> = {
  /**
   * Copies this bytes field into `target` at `targetOffset` (default 0). Allocation-free. Throws
   * ConfigError if `target` is not a Uint8Array with room for the field.
   */
  readonly [K in KeysOfType<S, 'bytes'> as `copy${Capitalize<K>}To`]: (target: Uint8Array, targetOffset?: number) => void;
};
type I64ReadHelpers<S> = {
  /**
   * `<field>Low32`: low 32 bits, unsigned; `<field>High32`: high 32 bits, signed;
   * `<field>Number`: the value as a number, exact within ±(2^53 - 1), rounded beyond. Allocation-free.
   */
  readonly [K in KeysOfType<S, 'i64'> as `${K}Low32` | `${K}High32` | `${K}Number`]: number;
};
type I64WriteHelpers<S> = {
  /**
   * Setting `<field>Low32` (u32) or `<field>High32` (i32) writes that half only; setting
   * `<field>Number` (a safe integer) writes both. Allocation-free; ConfigError on bad input.
   */
  [K in KeysOfType<S, 'i64'> as `${K}Low32` | `${K}High32` | `${K}Number`]: number;
};

/**
 * A reusable read-only view of one message at a time. Numeric and bool getters and the `*Low32`,
 * `*High32`, `*Number`, `*ByteLength`, `*Equals` and `copy*To` helpers allocate nothing. These
 * allocate, by nature: an i64 getter (a BigInt), a string getter (a JS string) and a bytes getter
 * (a copy, so it stays valid after the message's memory is reused).
 */
export type SchemaReader<S extends SchemaSpec> =
  & Flyweight<SchemaReader<S>>
  & { readonly [K in keyof S & string]: ValueOf<S[K]> }
  & StringHelpers<S>
  & BytesHelpers<S>
  & I64ReadHelpers<S>;

/**
 * A reusable writer of one message at a time: every reader accessor, and setters that validate the
 * value cheaply, throw ConfigError (naming the field and value) only on bad input, and then store
 * it. A rejected value leaves the field untouched. Setters allocate nothing (a string setter
 * encodes UTF-8 with its own loop; pass flat strings, since V8 flattens a concatenated string on
 * first character access).
 */
export type SchemaWriter<S extends SchemaSpec> =
  & Flyweight<SchemaWriter<S>>
  & { -readonly [K in keyof S & string]: ValueOf<S[K]> }
  & StringHelpers<S>
  & BytesHelpers<S>
  & I64WriteHelpers<S>;

/**
 * How a flyweight reaches multi-byte fields. 'typed-array': one element of a Float64Array,
 * Int32Array... per field, the fastest; message addresses must be multiples of the schema's
 * `align`. 'data-view': DataView with explicit little-endian access, at any address. Big-endian
 * hosts always get 'data-view' (typed arrays use the host's byte order).
 */
export type FieldAccess = 'typed-array' | 'data-view';

/** Options of `schema.reader()` and `schema.writer()`. */
export interface FlyweightOptions {
  /** Default 'typed-array'. */
  readonly access?: FieldAccess;
}

/** A defined schema: its layout and its codecs. */
export interface Schema<S extends SchemaSpec> {
  /** The declaration this schema was defined from (a frozen copy). */
  readonly spec: S;
  /** Encoded size of one message, bytes: a multiple of SCHEMA_MESSAGE_ALIGN. */
  readonly size: number;
  /** Largest field alignment, bytes: typed-array flyweights need message addresses that are multiples of it. */
  readonly align: number;
  /** Where each field lives, in layout order (ascending offset). */
  readonly fields: readonly FieldLayout[];
  /**
   * Validates every value of `message` (present, right type, in range, integer where needed,
   * string within maxBytes, bytes of the exact length; no unknown keys) and `address`, then writes
   * the message at `address`. Throws ConfigError naming the field and value; a rejected message
   * leaves memory untouched, since nothing is written before everything is checked.
   */
  encode(target: SchemaTarget, address: number, message: Message<S>): void;
  /**
   * Reads the message at `address` into a new plain object (allocates; use a reader on hot paths).
   * encode and decode take any address: one that is not a multiple of `align` goes through DataView.
   */
  decode(target: SchemaTarget, address: number): Message<S>;
  /**
   * A new reader over `target`'s current buffer (bound to it: make a new one if a memory grows).
   * Make one per thread and loop, not one per message.
   */
  reader(target: SchemaTarget, options?: FlyweightOptions): SchemaReader<S>;
  /**
   * A new writer over `target`'s current buffer (bound to it: make a new one if a memory grows).
   * Make one per thread and loop, not one per message.
   */
  writer(target: SchemaTarget, options?: FlyweightOptions): SchemaWriter<S>;
}

/** Any schema, for code that stores or passes schemas without knowing their fields. */
export type AnySchema = Schema<any>;

const SCALAR_BYTES: Readonly<Record<ScalarType, number>> = { u8: 1, bool: 1, i32: 4, u32: 4, f32: 4, f64: 8, i64: 8 };
const FIELD_TYPES: readonly FieldType[] = ['u8', 'i32', 'u32', 'f32', 'f64', 'i64', 'bool', 'string', 'bytes'];
/** Field names: ASCII identifiers not starting with `_` (the flyweights' internals use none). */
const FIELD_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
/**
 * Names a field (or an accessor derived from one) must not take: the flyweight's own members,
 * Object.prototype's, and names other code probes for (`then` would make a flyweight thenable,
 * `toJSON` would hijack JSON.stringify).
 */
const RESERVED_NAMES: ReadonlySet<string> = new Set([
  'address', 'at', 'then', 'toJSON', ...Object.getOwnPropertyNames(Object.prototype),
]);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const DEFAULT_ACCESS: FieldAccess = 'typed-array';
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
/** U+FFFD REPLACEMENT CHARACTER, what a lone surrogate is stored as. */
const REPLACEMENT = 0xfffd;
/** ignoreBOM: true keeps a leading U+FEFF in the string instead of stripping it. */
const UTF8_DECODER = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * Declares a message schema. Field names and value types are inferred from `spec`, so
 * `MessageOf<typeof schema>`, readers and writers are fully typed. Throws ConfigError for an empty
 * schema, a bad field name (field `fieldName`), an unknown type (field = the field's name), a
 * `maxBytes` or `length` outside 1..65535, unknown keys in a field declaration, or a field name
 * that collides with another field's derived accessor (e.g. a field `nameEquals` beside a string
 * field `name`).
 */
export function defineSchema<const S extends SchemaSpec>(spec: S): Schema<S> {
  const plan = planLayout(spec);
  const codec = compileCodec(plan);
  // encode/decode keep one flyweight per (direction, access mode) for the last target they saw:
  // four slots, index = writable × 2 + typed-array (no key string per call).
  const targets: (SchemaTarget | undefined)[] = [undefined, undefined, undefined, undefined];
  const flyweights: (FlyweightObject | undefined)[] = [undefined, undefined, undefined, undefined];
  const flyweightFor = (target: SchemaTarget, address: unknown, writable: boolean): Flyweight<unknown> => {
    const typed = typeof address === 'number' && (address & (plan.align - 1)) === 0 && LITTLE_ENDIAN;
    const slot = (writable ? 2 : 0) + (typed ? 1 : 0);
    const cached = flyweights[slot];
    if (cached !== undefined && targets[slot] === target && cached.buffer === bufferOf(target)) return cached.view;
    const flyweight = createFlyweight(plan, target, writable, typed ? 'typed-array' : 'data-view');
    targets[slot] = target;
    flyweights[slot] = flyweight;
    return flyweight.view;
  };

  const schema: Schema<SchemaSpec> = {
    spec: plan.spec,
    size: plan.size,
    align: plan.align,
    fields: plan.fields,
    encode(target, address, message) {
      const writer = flyweightFor(target, address, true).at(address) as Record<string, unknown>;
      if (message === null || typeof message !== 'object') {
        throw new ConfigError('message', message, 'must be an object with one property per field');
      }
      const values = message as Record<string, unknown>;
      if (codec !== null && codec.encode(writer, values)) return;
      // The general path, which also names what is wrong.
      for (const key of Object.keys(values)) {
        if (!plan.byName.has(key)) throw new ConfigError(key, values[key], 'is not a field of this schema');
      }
      // Each value is read once, so a getter on `message` cannot pass validation and then change.
      const checked = plan.declared.map((field) => {
        const value = values[field.name];
        const reason = value === undefined && !(field.name in values) ? 'is missing: every field must be given' : field.check(value);
        if (reason !== null) throw new ConfigError(field.name, value, reason);
        return value;
      });
      plan.declared.forEach((field, i) => { writer[field.name] = checked[i]; });
    },
    decode(target, address) {
      const reader = flyweightFor(target, address, false).at(address) as Record<string, unknown>;
      if (codec !== null) return codec.decode(reader) as Message<SchemaSpec>;
      const message: Record<string, unknown> = {};
      for (const field of plan.declared) message[field.name] = reader[field.name];
      return message as Message<SchemaSpec>;
    },
    reader: (target, options) => createFlyweight(plan, target, false, accessOf(options)).view as SchemaReader<SchemaSpec>,
    writer: (target, options) => createFlyweight(plan, target, true, accessOf(options)).view as SchemaWriter<SchemaSpec>,
  };
  return Object.freeze(schema) as unknown as Schema<S>;
}

/** encode's and decode's per-message work for one schema, as straight-line code (compileCodec). */
interface Codec {
  /**
   * Writes `message` through `writer` if it has exactly the schema's fields (counted by for-in)
   * and every value passes its check; each value is read once and nothing is written before all
   * passed. False, with nothing written, otherwise: the general path then names the problem.
   */
  encode(writer: Record<string, unknown>, message: Record<string, unknown>): boolean;
  /** A plain object with every field read through `reader`: one object literal of fixed shape. */
  decode(reader: Record<string, unknown>): Record<string, unknown>;
}

/**
 * Generates the schema's Codec once (field names are ASCII identifiers: FIELD_NAME), so encoding
 * a request's reply or decoding one costs no key array, no check array and no closure per
 * message, and decoded objects share one hidden class. Where code generation is refused (a
 * browser page whose Content-Security-Policy lacks 'unsafe-eval'), null: the general loops serve.
 */
function compileCodec(plan: Plan): Codec | null {
  const names = plan.declared.map((field) => field.name);
  const checks = plan.declared.map((field) => field.check);
  const reads = names.map((name, i) => `const v${i} = m.${name};`).join('\n');
  const tests = names.map((_, i) => `if (v${i} === undefined || c[${i}](v${i}) !== null) return false;`).join('\n');
  const writes = names.map((name, i) => `w.${name} = v${i};`).join('\n');
  const fields = names.map((name) => `${name}: r.${name}`).join(', ');
  try {
    const make = new Function('c', `return {
encode(w, m) {
let n = 0;
for (const k in m) n++;
if (n !== ${names.length}) return false;
${reads}
${tests}
${writes}
return true;
},
decode(r) { return { ${fields} }; },
};`);
    return make(checks) as Codec;
  } catch {
    return null;
  }
}

/** UTF-8 byte length of `text` as a codec stores it (a lone surrogate counts as U+FFFD: 3 bytes). */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (isHighSurrogate(unit) && i + 1 < n && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

// ── layout planning ───────────────────────────────────────────────────────────────────────────

interface PlannedField extends FieldLayout {
  /** Reason `value` cannot be stored in this field, or null. Constant strings: no allocation. */
  readonly check: (value: unknown) => string | null;
}

interface Plan {
  readonly spec: SchemaSpec;
  readonly size: number;
  readonly align: number;
  /** Layout order. */
  readonly fields: readonly FieldLayout[];
  /** Declaration order, with validators. */
  readonly declared: readonly PlannedField[];
  readonly byName: ReadonlyMap<string, PlannedField>;
  /** Largest string maxBytes (the reader's decode scratch size), 0 without strings. */
  readonly scratchBytes: number;
}

function planLayout(spec: unknown): Plan {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    throw new ConfigError('schema', spec, 'must be an object mapping field names to field types');
  }
  const names = Object.keys(spec);
  if (names.length === 0) throw new ConfigError('schema', spec, 'has no fields: declare at least one');

  const declared: Omit<PlannedField, 'offset'>[] = [];
  const taken = new Map<string, string>(); // accessor name → field that owns it
  for (const name of names) {
    if (!FIELD_NAME.test(name)) {
      throw new ConfigError('fieldName', name, `must be an ASCII identifier matching ${FIELD_NAME}`);
    }
    const field = planField(name, (spec as Record<string, unknown>)[name]);
    for (const accessor of accessorNames(name, field.type)) {
      if (RESERVED_NAMES.has(accessor)) {
        throw new ConfigError('fieldName', name, `its accessor "${accessor}" is a reserved name`);
      }
      const owner = taken.get(accessor);
      if (owner !== undefined) {
        throw new ConfigError('fieldName', name, `its accessor "${accessor}" collides with field "${owner}"`);
      }
      taken.set(accessor, name);
    }
    declared.push(field);
  }

  // Stable sort: alignment descending, ties in declaration order.
  const ordered = declared.map((field, index) => ({ field, index }))
    .sort((a, b) => b.field.align - a.field.align || a.index - b.index);
  let offset = 0;
  let align = 1;
  const placed = new Map<Omit<PlannedField, 'offset'>, PlannedField>();
  for (const { field } of ordered) {
    offset = alignUp(offset, field.align);
    placed.set(field, Object.freeze({ ...field, offset }));
    offset += field.size;
    align = Math.max(align, field.align);
  }
  const planned = declared.map((field) => placed.get(field)!);
  const fields = ordered.map(({ field }) => {
    const { check: _, ...layout } = placed.get(field)!;
    return Object.freeze(layout);
  });
  const copy: Record<string, FieldSpec> = {};
  for (const name of names) {
    const declaration = (spec as Record<string, FieldSpec>)[name]!;
    copy[name] = typeof declaration === 'object' ? Object.freeze({ ...declaration }) : declaration;
  }
  return {
    spec: Object.freeze(copy),
    size: alignUp(offset, SCHEMA_MESSAGE_ALIGN),
    align,
    fields: Object.freeze(fields),
    declared: planned,
    byName: new Map(planned.map((field) => [field.name, field])),
    scratchBytes: Math.max(0, ...planned.map((field) => field.maxBytes ?? 0)),
  };
}

function planField(name: string, declaration: unknown): Omit<PlannedField, 'offset'> {
  let type: unknown;
  let typeField = name;
  if (typeof declaration === 'string') {
    type = declaration;
    if (type === 'string' || type === 'bytes') {
      const parameter = type === 'string' ? 'maxBytes' : 'length';
      throw new ConfigError(name, declaration, `needs a size: declare { type: '${type}', ${parameter}: 1..${DECLARED_BYTES_MAX} }`);
    }
  } else if (declaration !== null && typeof declaration === 'object' && !Array.isArray(declaration)) {
    type = (declaration as { type?: unknown }).type;
    typeField = `${name}.type`;
  } else {
    throw new ConfigError(name, declaration, `must be a type name (${FIELD_TYPES.join(', ')}) or { type, ... }`);
  }
  if (typeof type !== 'string' || !(FIELD_TYPES as readonly string[]).includes(type)) {
    throw new ConfigError(typeField, type, `unknown field type: expected one of ${FIELD_TYPES.join(', ')}`);
  }
  const fieldType = type as FieldType;
  const parameter = fieldType === 'string' ? 'maxBytes' : fieldType === 'bytes' ? 'length' : null;
  if (typeof declaration === 'object') {
    for (const key of Object.keys(declaration as object)) {
      if (key !== 'type' && key !== parameter) {
        throw new ConfigError(`${name}.${key}`, (declaration as Record<string, unknown>)[key], `is not an option of a ${fieldType} field`);
      }
    }
  }
  if (parameter === null) {
    const scalar = fieldType as ScalarType;
    const size = SCALAR_BYTES[scalar];
    return { name, type: scalar, size, align: size, check: SCALAR_CHECKS[scalar] };
  }
  const declared = (declaration as Record<string, unknown>)[parameter];
  if (typeof declared !== 'number' || !Number.isInteger(declared) || declared < DECLARED_BYTES_MIN || declared > DECLARED_BYTES_MAX) {
    throw new ConfigError(`${name}.${parameter}`, declared, `must be an integer in ${DECLARED_BYTES_MIN}..${DECLARED_BYTES_MAX}`);
  }
  if (fieldType === 'string') {
    return {
      name, type: 'string', size: STRING_LENGTH_BYTES + declared, align: STRING_LENGTH_BYTES, maxBytes: declared,
      check: (value) => checkString(value, declared),
    };
  }
  return { name, type: 'bytes', size: declared, align: 1, length: declared, check: (value) => checkBytes(value, declared) };
}

/** Every property name a field of `type` adds to a flyweight. */
function accessorNames(name: string, type: FieldType): string[] {
  switch (type) {
    case 'string': return [name, `${name}ByteLength`, `${name}Equals`];
    case 'bytes': return [name, `copy${name[0]!.toUpperCase()}${name.slice(1)}To`];
    case 'i64': return [name, `${name}Low32`, `${name}High32`, `${name}Number`];
    default: return [name];
  }
}

function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}

// ── validation (constant reasons: no allocation unless a value is rejected) ─────────────────────

const U8_REASON = 'must be an integer in 0..255';
const I32_REASON = 'must be an integer in -2147483648..2147483647';
const U32_REASON = 'must be an integer in 0..4294967295';
const F32_REASON = 'must be a number within the f32 range (finite values beyond ±3.4028234663852886e38 would become Infinity)';
const F64_REASON = 'must be a number';
const BOOL_REASON = 'must be a boolean';
const I64_REASON = 'must be a bigint in -9223372036854775808n..9223372036854775807n';
const SAFE_INTEGER_REASON = 'must be a safe integer (|value| <= 2^53 - 1)';

function checkU8(v: unknown): string | null {
  return typeof v === 'number' && (v & 0xff) === v ? null : U8_REASON;
}
function checkI32(v: unknown): string | null {
  return typeof v === 'number' && (v | 0) === v ? null : I32_REASON;
}
function checkU32(v: unknown): string | null {
  return typeof v === 'number' && v >>> 0 === v ? null : U32_REASON;
}
function checkF32(v: unknown): string | null {
  if (typeof v !== 'number') return F32_REASON;
  // A finite value whose f32 rounding is infinite is out of range; NaN and ±Infinity are stored as is.
  const rounded = Math.fround(v);
  return rounded - rounded !== 0 && v - v === 0 ? F32_REASON : null;
}
function checkF64(v: unknown): string | null {
  return typeof v === 'number' ? null : F64_REASON;
}
function checkBool(v: unknown): string | null {
  return typeof v === 'boolean' ? null : BOOL_REASON;
}
function checkI64(v: unknown): string | null {
  return typeof v === 'bigint' && v >= I64_MIN && v <= I64_MAX ? null : I64_REASON;
}
function checkString(v: unknown, maxBytes: number): string | null {
  if (typeof v !== 'string') return 'must be a string';
  if (v.length <= maxBytes / 3) return null; // every UTF-16 unit encodes to at most 3 bytes
  const bytes = utf8ByteLength(v);
  return bytes <= maxBytes ? null : `is ${bytes} bytes as UTF-8: more than maxBytes ${maxBytes}`;
}
function checkBytes(v: unknown, length: number): string | null {
  if (!(v instanceof Uint8Array)) return `must be a Uint8Array of length ${length}`;
  return v.length === length ? null : `has length ${v.length}: must be exactly ${length}`;
}

const SCALAR_CHECKS: Readonly<Record<ScalarType, (value: unknown) => string | null>> = {
  u8: checkU8, i32: checkI32, u32: checkU32, f32: checkF32, f64: checkF64, bool: checkBool, i64: checkI64,
};

function reject(field: string, value: unknown, reason: string): never {
  throw new ConfigError(field, value, reason);
}

// ── flyweights ────────────────────────────────────────────────────────────────────────────────

/**
 * Where a flyweight points and the views it reads through. One class for every schema, so the
 * accessors' property loads on it see a single hidden class whatever the schema (monomorphic).
 */
class Cursor {
  /** Message address, bytes. */
  address = 0;
  /** `address` in 4- and 8-byte units (typed-array access only). */
  index4 = 0;
  index8 = 0;
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  readonly u32: Uint32Array;
  readonly f32: Float32Array;
  readonly f64: Float64Array;
  readonly i64: BigInt64Array;
  readonly dv: DataView;
  /** Non-shared copy target for string decoding (TextDecoder refuses shared views in browsers). */
  readonly scratch: Uint8Array;
  /** Largest valid message address. */
  readonly last: number;
  /** Message addresses must have these bits clear: align - 1 for typed-array access, else 0. */
  readonly alignMask: number;

  constructor(buffer: ArrayBufferLike, size: number, alignMask: number, scratchBytes: number) {
    const bytes = buffer.byteLength;
    this.u8 = new Uint8Array(buffer);
    this.i32 = new Int32Array(buffer, 0, bytes >>> 2);
    this.u32 = new Uint32Array(buffer, 0, bytes >>> 2);
    this.f32 = new Float32Array(buffer, 0, bytes >>> 2);
    this.f64 = new Float64Array(buffer, 0, bytes >>> 3);
    this.i64 = new BigInt64Array(buffer, 0, bytes >>> 3);
    this.dv = new DataView(buffer);
    this.scratch = new Uint8Array(scratchBytes);
    this.last = bytes - size;
    this.alignMask = alignMask;
  }
}

interface FlyweightObject {
  readonly buffer: ArrayBufferLike;
  readonly view: Flyweight<unknown>;
}

function bufferOf(target: SchemaTarget): ArrayBufferLike {
  if (typeof WebAssembly !== 'undefined' && target instanceof WebAssembly.Memory) return target.buffer;
  if (target instanceof ArrayBuffer) return target;
  if (typeof SharedArrayBuffer === 'function' && target instanceof SharedArrayBuffer) return target;
  throw new ConfigError('target', target, 'must be a WebAssembly.Memory, an ArrayBuffer or a SharedArrayBuffer');
}

function accessOf(options: FlyweightOptions | undefined): FieldAccess {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new ConfigError('options', options, 'must be an object');
  }
  const access = options?.access ?? DEFAULT_ACCESS;
  if (access !== 'typed-array' && access !== 'data-view') {
    throw new ConfigError('options.access', access, "must be 'typed-array' or 'data-view'");
  }
  // Typed arrays use the host's byte order; the layout is little-endian.
  return LITTLE_ENDIAN ? access : 'data-view';
}

function createFlyweight(plan: Plan, target: SchemaTarget, writable: boolean, access: FieldAccess): FlyweightObject {
  const buffer = bufferOf(target);
  if (buffer.byteLength < plan.size) {
    throw new ConfigError('target.byteLength', buffer.byteLength, `is smaller than one message (${plan.size} bytes)`);
  }
  const typed = access === 'typed-array';
  const c = new Cursor(buffer, plan.size, typed ? plan.align - 1 : 0, plan.scratchBytes);
  // The accessors live on a prototype of the flyweight's own, not on the flyweight: V8 turns a
  // second object given same-named own accessors (other closures) into a slow dictionary object,
  // whose accessors TurboFan does not inline. A prototype stays fast and its accessors inline.
  const prototype = {};
  const view = Object.create(prototype) as Flyweight<unknown>;
  const properties: PropertyDescriptorMap = {
    address: { get: () => c.address },
    at: { value: atFunction(c, view, plan.size, typed) },
  };
  for (const field of plan.declared) defineAccessors(properties, c, field, writable, typed);
  Object.freeze(Object.defineProperties(prototype, properties));
  Object.freeze(view);
  return { buffer, view };
}

function atFunction(c: Cursor, view: unknown, size: number, typed: boolean): (address: number) => unknown {
  const bad = (address: unknown): never => {
    const aligned = typed ? `, a multiple of ${c.alignMask + 1} (or use { access: 'data-view' })` : '';
    return reject('address', address, `must be an integer in 0..${c.last}${aligned}: the message is ${size} bytes, the buffer ${c.u8.length}`);
  };
  return (address: number) => {
    // `>>> 0 ===` : an integer in 0..2^32-1 (typeof first: a bigint would throw a TypeError here).
    if (typeof address !== 'number' || address >>> 0 !== address || address > c.last || (address & c.alignMask) !== 0) bad(address);
    c.address = address;
    c.index4 = address >>> 2;
    c.index8 = address >>> 3;
    return view;
  };
}

/**
 * Adds `field`'s accessors to `properties`.
 *
 * Why they look the way they do: a numeric accessor must inline into the caller's loop, or every
 * double passed to a setter or returned by a getter is boxed (an allocation). TurboFan always
 * inlines functions of at most 27 bytes of bytecode and inlines larger ones only while the caller's
 * total stays under a budget (920 bytes in V8 11-12), so each accessor is one typed-array access
 * plus, in a setter, one cheap value test; the ConfigError is built out of line. The closures are
 * made by small factories taking their constants as parameters (no TDZ checks on `const`s), one
 * function literal per type, so V8's feedback for each stays monomorphic.
 */
function defineAccessors(properties: PropertyDescriptorMap, c: Cursor, field: PlannedField, writable: boolean, typed: boolean): void {
  const { name, offset } = field;
  const numeric = (type: NumericAccess, accessor: string, byteOffset: number, reason: string): PropertyDescriptor => {
    const fail = (value: unknown): never => reject(accessor, value, reason);
    const { get, set } = typed ? typedAccessor(type, c, byteOffset, fail) : dataViewAccessor(type, c, c.dv, byteOffset, fail);
    return { get, set: writable ? set : undefined, enumerable: accessor === name };
  };
  switch (field.type) {
    case 'u8':
    case 'bool': {
      const reason = field.type === 'u8' ? U8_REASON : BOOL_REASON;
      const { get, set } = byteAccessor(field.type, c, c.u8, offset, (value: unknown): never => reject(name, value, reason));
      properties[name] = { get, set: writable ? set : undefined, enumerable: true };
      return;
    }
    case 'i32':
      properties[name] = numeric('i32', name, offset, I32_REASON);
      return;
    case 'u32':
      properties[name] = numeric('u32', name, offset, U32_REASON);
      return;
    case 'f32':
      properties[name] = numeric('f32', name, offset, F32_REASON);
      return;
    case 'f64':
      properties[name] = numeric('f64', name, offset, F64_REASON);
      return;
    case 'i64':
      properties[name] = numeric('i64', name, offset, I64_REASON);
      properties[`${name}Low32`] = numeric('u32', `${name}Low32`, offset, U32_REASON);
      properties[`${name}High32`] = numeric('i32', `${name}High32`, offset + 4, I32_REASON);
      properties[`${name}Number`] = numeric('i64number', `${name}Number`, offset, SAFE_INTEGER_REASON);
      return;
    case 'string': {
      const { get, set, byteLength, equals } = stringAccessor(c, offset, field.maxBytes!, name);
      properties[name] = { get, set: writable ? set : undefined, enumerable: true };
      properties[`${name}ByteLength`] = { get: byteLength };
      properties[`${name}Equals`] = { value: equals };
      return;
    }
    case 'bytes': {
      const { get, set, copyTo } = bytesAccessor(c, offset, field.length!, name);
      properties[name] = { get, set: writable ? set : undefined, enumerable: true };
      properties[`copy${name[0]!.toUpperCase()}${name.slice(1)}To`] = { value: copyTo };
      return;
    }
    default:
      throw new Error(`unreachable: field type ${field.type satisfies never}`);
  }
}

/** Multi-byte numeric accessors; 'i64number' is an i64 read or written as a number. */
type NumericAccess = 'i32' | 'u32' | 'f32' | 'f64' | 'i64' | 'i64number';

interface Accessor {
  get: () => unknown;
  set: (value: never) => void;
}

/** True if `v` (a number) fits f32: its rounding is finite, or it was not finite to begin with. */
function inF32Range(v: number): boolean {
  const rounded = Math.fround(v);
  return rounded - rounded === 0 || v - v !== 0;
}

/** Byte fields, the same in both access modes; `off` is the field's byte offset. */
function byteAccessor(type: 'u8' | 'bool', c: Cursor, u8: Uint8Array, off: number, fail: (value: unknown) => never): Accessor {
  if (type === 'u8') {
    return {
      get: () => u8[c.address + off],
      set: (v: number) => {
        if (typeof v === 'number' && (v & 0xff) === v) u8[c.address + off] = v;
        else fail(v);
      },
    };
  }
  return {
    get: () => u8[c.address + off] !== 0,
    set: (v: boolean) => {
      if (typeof v === 'boolean') u8[c.address + off] = v ? 1 : 0;
      else fail(v);
    },
  };
}

/** Typed-array accessors (the message address is a multiple of the schema's align). */
function typedAccessor(type: NumericAccess, c: Cursor, off: number, fail: (value: unknown) => never): Accessor {
  return type === 'f64' || type === 'i64'
    ? typed8Accessor(type, c, off >>> 3, fail)
    : typed4Accessor(type, c, off >>> 2, fail);
}

/** 4-byte-indexed views; `k` is the field's offset in elements. */
function typed4Accessor(type: NumericAccess, c: Cursor, k: number, fail: (value: unknown) => never): Accessor {
  const { i32, u32, f32 } = c;
  switch (type) {
    case 'i32':
      return {
        get: () => i32[c.index4 + k],
        set: (v: number) => {
          if (typeof v === 'number' && (v | 0) === v) i32[c.index4 + k] = v;
          else fail(v);
        },
      };
    case 'u32':
      return {
        get: () => u32[c.index4 + k],
        set: (v: number) => {
          if (typeof v === 'number' && v >>> 0 === v) u32[c.index4 + k] = v;
          else fail(v);
        },
      };
    case 'f32':
      return {
        get: () => f32[c.index4 + k],
        set: (v: number) => {
          if (typeof v === 'number' && inF32Range(v)) f32[c.index4 + k] = v;
          else fail(v);
        },
      };
    default: // 'i64number'
      return {
        // Little-endian: the low word first, then the signed high word.
        get: () => i32[c.index4 + k + 1]! * 4294967296 + u32[c.index4 + k]!,
        // Exact for safe integers: ToUint32 is the value modulo 2^32, and flooring a division by
        // a power of two is exact.
        set: (v: number) => {
          if (Number.isSafeInteger(v)) {
            u32[c.index4 + k] = v >>> 0;
            i32[c.index4 + k + 1] = Math.floor(v / 4294967296);
          } else fail(v);
        },
      };
  }
}

/** 8-byte-indexed views; `k` is the field's offset in elements. */
function typed8Accessor(type: 'f64' | 'i64', c: Cursor, k: number, fail: (value: unknown) => never): Accessor {
  const { f64, i64 } = c;
  if (type === 'f64') {
    return {
      get: () => f64[c.index8 + k],
      set: (v: number) => {
        if (typeof v === 'number') f64[c.index8 + k] = v;
        else fail(v);
      },
    };
  }
  return {
    get: () => i64[c.index8 + k],
    set: (v: bigint) => {
      if (checkI64(v) === null) i64[c.index8 + k] = v;
      else fail(v);
    },
  };
}

/** DataView accessors, explicitly little-endian, at any address; `off` is the field's byte offset. */
function dataViewAccessor(type: NumericAccess, c: Cursor, dv: DataView, off: number, fail: (value: unknown) => never): Accessor {
  switch (type) {
    case 'i32':
      return {
        get: () => dv.getInt32(c.address + off, true),
        set: (v: number) => {
          if (typeof v === 'number' && (v | 0) === v) dv.setInt32(c.address + off, v, true);
          else fail(v);
        },
      };
    case 'u32':
      return {
        get: () => dv.getUint32(c.address + off, true),
        set: (v: number) => {
          if (typeof v === 'number' && v >>> 0 === v) dv.setUint32(c.address + off, v, true);
          else fail(v);
        },
      };
    case 'f32':
      return {
        get: () => dv.getFloat32(c.address + off, true),
        set: (v: number) => {
          if (typeof v === 'number' && inF32Range(v)) dv.setFloat32(c.address + off, v, true);
          else fail(v);
        },
      };
    case 'f64':
      return {
        get: () => dv.getFloat64(c.address + off, true),
        set: (v: number) => {
          if (typeof v === 'number') dv.setFloat64(c.address + off, v, true);
          else fail(v);
        },
      };
    case 'i64':
      return {
        get: () => dv.getBigInt64(c.address + off, true),
        set: (v: bigint) => {
          if (checkI64(v) === null) dv.setBigInt64(c.address + off, v, true);
          else fail(v);
        },
      };
    case 'i64number':
      return {
        get: () => dv.getInt32(c.address + off + 4, true) * 4294967296 + dv.getUint32(c.address + off, true),
        set: (v: number) => {
          if (Number.isSafeInteger(v)) {
            dv.setUint32(c.address + off, v >>> 0, true);
            dv.setInt32(c.address + off + 4, Math.floor(v / 4294967296), true);
          } else fail(v);
        },
      };
  }
}

function stringAccessor(c: Cursor, off: number, maxBytes: number, name: string) {
  return {
    get: () => readString(c, c.address + off, maxBytes),
    set: (v: string) => {
      const reason = checkString(v, maxBytes);
      if (reason !== null) reject(name, v, reason);
      writeString(c.u8, c.address + off, v);
    },
    byteLength: () => storedLength(c.u8, c.address + off, maxBytes),
    equals: (text: string) => utf8Equals(c.u8, c.address + off + STRING_BYTES_OFFSET, storedLength(c.u8, c.address + off, maxBytes), text),
  };
}

function bytesAccessor(c: Cursor, off: number, length: number, name: string) {
  // copyTo's word view of the last target buffer it saw (a handler usually reuses one target).
  let wordsBuffer: ArrayBufferLike | null = null;
  let words: Int32Array<ArrayBufferLike> = new Int32Array(0);
  return {
    /** A copy: the message's memory is reused once it is freed. */
    get: () => c.u8.slice(c.address + off, c.address + off + length),
    set: (v: Uint8Array) => {
      const reason = checkBytes(v, length);
      if (reason !== null) reject(name, v, reason);
      c.u8.set(v, c.address + off);
    },
    copyTo: (target: Uint8Array, targetOffset = 0) => {
      if (!(target instanceof Uint8Array)) reject('target', target, 'must be a Uint8Array');
      if (!(Number.isInteger(targetOffset) && targetOffset >= 0 && targetOffset + length <= target.length)) {
        reject('targetOffset', targetOffset, `must leave room for ${length} bytes in a target of length ${target.length}`);
      }
      const u8 = c.u8;
      let from = c.address + off;
      let to = targetOffset;
      const end = from + length;
      // Long fields whose source and target agree mod 4 go a 32-bit word at a time: 4× fewer steps
      // than bytes, no allocation (set(subarray) would allocate a view per call), exact bits.
      if (length >= WORD_COPY_MIN_BYTES && ((from ^ (target.byteOffset + to)) & 3) === 0) {
        while ((from & 3) !== 0) target[to++] = u8[from++]!;
        if (target.buffer !== wordsBuffer) {
          wordsBuffer = target.buffer;
          words = new Int32Array(wordsBuffer, 0, wordsBuffer.byteLength >>> 2);
        }
        const src = c.i32;
        const n = (end - from) >>> 2;
        for (let k = 0, s = from >>> 2, d = (target.byteOffset + to) >>> 2; k < n; k++) words[d + k] = src[s + k]!;
        from += n << 2;
        to += n << 2;
      }
      while (from < end) target[to++] = u8[from++]!;
    },
  };
}

/** Bytes fields at least this long are copied by words (copy*To) when source and target allow. */
const WORD_COPY_MIN_BYTES = 64;

// ── UTF-8, by hand: allocation-free, and works on shared memory where encodeInto does not ────────

function isHighSurrogate(unit: number): boolean {
  return (unit & 0xfc00) === 0xd800;
}
function isLowSurrogate(unit: number): boolean {
  return (unit & 0xfc00) === 0xdc00;
}

/** Stored byte length of the string field at `at`, clamped to maxBytes (a damaged prefix never reads past the field). */
function storedLength(u8: Uint8Array, at: number, maxBytes: number): number {
  const length = u8[at]! | (u8[at + 1]! << 8);
  return length > maxBytes ? maxBytes : length;
}

/**
 * Writes `text` (already checked to fit) as its u16 LE length then UTF-8, lone surrogates as U+FFFD
 * (what TextEncoder and Buffer do). The prefix goes byte by byte: no alignment or byte order needed.
 */
function writeString(u8: Uint8Array, at: number, text: string): void {
  let p = at + STRING_BYTES_OFFSET;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    let cp = text.charCodeAt(i);
    if (cp < 0x80) {
      u8[p++] = cp;
      continue;
    }
    if (cp < 0x800) {
      u8[p++] = 0xc0 | (cp >> 6);
      u8[p++] = 0x80 | (cp & 0x3f);
      continue;
    }
    if (isHighSurrogate(cp) && i + 1 < n && isLowSurrogate(text.charCodeAt(i + 1))) {
      cp = 0x10000 + ((cp - 0xd800) << 10) + (text.charCodeAt(++i) - 0xdc00);
      u8[p++] = 0xf0 | (cp >> 18);
      u8[p++] = 0x80 | ((cp >> 12) & 0x3f);
      u8[p++] = 0x80 | ((cp >> 6) & 0x3f);
      u8[p++] = 0x80 | (cp & 0x3f);
      continue;
    }
    if ((cp & 0xf800) === 0xd800) cp = REPLACEMENT; // a lone surrogate
    u8[p++] = 0xe0 | (cp >> 12);
    u8[p++] = 0x80 | ((cp >> 6) & 0x3f);
    u8[p++] = 0x80 | (cp & 0x3f);
  }
  const length = p - at - STRING_BYTES_OFFSET;
  u8[at] = length & 0xff;
  u8[at + 1] = length >>> 8;
}

/** Whether the `length` UTF-8 bytes at `at` are exactly `text` encoded as writeString would. */
function utf8Equals(u8: Uint8Array, at: number, length: number, text: unknown): boolean {
  if (typeof text !== 'string') return false;
  const end = at + length;
  let p = at;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    let cp = text.charCodeAt(i);
    if (cp < 0x80) {
      if (p >= end || u8[p++] !== cp) return false;
      continue;
    }
    if (cp < 0x800) {
      if (p + 2 > end || u8[p] !== (0xc0 | (cp >> 6)) || u8[p + 1] !== (0x80 | (cp & 0x3f))) return false;
      p += 2;
      continue;
    }
    if (isHighSurrogate(cp) && i + 1 < n && isLowSurrogate(text.charCodeAt(i + 1))) {
      cp = 0x10000 + ((cp - 0xd800) << 10) + (text.charCodeAt(++i) - 0xdc00);
      if (p + 4 > end || u8[p] !== (0xf0 | (cp >> 18)) || u8[p + 1] !== (0x80 | ((cp >> 12) & 0x3f))
        || u8[p + 2] !== (0x80 | ((cp >> 6) & 0x3f)) || u8[p + 3] !== (0x80 | (cp & 0x3f))) return false;
      p += 4;
      continue;
    }
    if ((cp & 0xf800) === 0xd800) cp = REPLACEMENT;
    if (p + 3 > end || u8[p] !== (0xe0 | (cp >> 12)) || u8[p + 1] !== (0x80 | ((cp >> 6) & 0x3f))
      || u8[p + 2] !== (0x80 | (cp & 0x3f))) return false;
    p += 3;
  }
  return p === end;
}

/**
 * Decodes the string field at `at` into a new JS string (the one allocation a string read makes,
 * plus a small subarray view). The bytes are first copied into a private non-shared buffer:
 * browsers' TextDecoder refuses views of a SharedArrayBuffer, and the copy (≤ maxBytes) also gives
 * a stable snapshot. TextDecoder then does the decoding natively: faster than a JS loop building a
 * string from code units for all but the shortest strings, and malformed bytes (only possible if
 * the memory was written by something else) become U+FFFD instead of throwing.
 */
function readString(c: Cursor, at: number, maxBytes: number): string {
  const length = storedLength(c.u8, at, maxBytes);
  if (length === 0) return '';
  const u8 = c.u8;
  const scratch = c.scratch;
  const from = at + STRING_BYTES_OFFSET;
  for (let i = 0; i < length; i++) scratch[i] = u8[from + i]!;
  return UTF8_DECODER.decode(scratch.subarray(0, length));
}
