/**
 * Typed message schemas (src/schema.ts): the layout; round trips of every type and its edge values
 * through both paths (encode/decode and the writer/reader flyweights) and both access modes
 * (typed arrays at aligned addresses, DataView anywhere), checked against little-endian bytes read
 * independently; bad input (a ConfigError naming the field and value, and memory byte-for-byte
 * untouched); bad declarations; inferred types; seeded property tests over random messages and
 * random schemas; and the zero-allocation proof: GC events and heap growth over ≥ 1 M messages in
 * a worker thread, beside allocating controls the same detector must catch.
 */
import { beforeEach, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { ConfigError } from '../src/errors.ts';
import {
  DECLARED_BYTES_MAX, SCHEMA_MESSAGE_ALIGN, STRING_BYTES_OFFSET, defineSchema, utf8ByteLength,
  type AnySchema, type FieldLayout, type FieldSpec, type Message, type MessageOf, type SchemaSpec,
} from '../src/schema.ts';
import { FC_RUNS, STRESS, runWorker } from './harness.ts';
import type { SchemaAllocData, SchemaAllocMode, SchemaAllocReport } from './workers/schema-alloc.ts';

const Move = defineSchema({
  player: 'u32', x: 'f32', y: 'f32', seq: 'i64', alive: 'bool',
  name: { type: 'string', maxBytes: 16 }, blob: { type: 'bytes', length: 8 },
});
type MoveMessage = MessageOf<typeof Move>;

/** One field of every type, for edge values. */
const Every = defineSchema({
  u8: 'u8', i32: 'i32', u32: 'u32', f32: 'f32', f64: 'f64', i64: 'i64', bool: 'bool',
  text: { type: 'string', maxBytes: 16 }, raw: { type: 'bytes', length: 4 },
});
type EveryMessage = MessageOf<typeof Every>;
const EVERY_ZERO: EveryMessage = {
  u8: 0, i32: 0, u32: 0, f32: 0, f64: 0, i64: 0n, bool: false, text: '', raw: new Uint8Array(4),
};

const ALIGNED = 1024;
const UNALIGNED = 2048 + 3;
const FILL = 0xa5;
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** The memory the suite uses, filled with FILL so that untouched bytes are recognisable. */
function newMemory(): WebAssembly.Memory {
  const memory = new WebAssembly.Memory({ initial: 2, maximum: 2, shared: true });
  new Uint8Array(memory.buffer).fill(FILL);
  return memory;
}

function moveMessage(overrides: Partial<MoveMessage> = {}): MoveMessage {
  return {
    player: 7, x: 1.5, y: -2.25, seq: 123_456_789_012n, alive: true, name: 'ünï 😀',
    blob: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]), ...overrides,
  };
}

function bytes(memory: WebAssembly.Memory, address: number, count: number): Uint8Array {
  return new Uint8Array(memory.buffer).slice(address, address + count);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

/** Value equality for decoded fields: Object.is for numbers (so NaN and -0 count), bytes by content. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return sameBytes(a, b);
  return Object.is(a, b);
}

function expectMessage(actual: Record<string, unknown>, expected: Record<string, unknown>): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const key of Object.keys(expected)) {
    if (!sameValue(actual[key], expected[key])) {
      throw new Error(`field ${key}: got ${String(actual[key])}, expected ${String(expected[key])}`);
    }
  }
}

/** What a field holds after storing `value`: f32 rounding, UTF-8 round trip (lone surrogates → U+FFFD). */
function stored(type: string, value: unknown): unknown {
  if (type === 'f32') return Math.fround(value as number);
  if (type === 'u8' || type === 'i32' || type === 'u32') return (value as number) + 0; // -0 is stored as 0
  if (type === 'string') return utf8Decoder.decode(utf8.encode(value as string));
  return value;
}

function layoutOf(schema: AnySchema, name: string): FieldLayout {
  return schema.fields.find((field) => field.name === name)!;
}

const NO_VALUE = Symbol('no value check');
function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}
function expectConfigError(fn: () => unknown, field: string, value: unknown = NO_VALUE): ConfigError {
  const error = catchError(fn);
  expect(error).toBeInstanceOf(ConfigError);
  const configError = error as ConfigError;
  expect(configError.code).toBe('ERR_CONFIG');
  expect(configError.field).toBe(field);
  expect(configError.message.startsWith(`${field}=`)).toBe(true);
  if (value !== NO_VALUE) expect(configError.value).toBe(value);
  return configError;
}

describe('layout', () => {
  test('Move: fields by alignment (ties in declaration order), offsets aligned, size rounded up to 8', () => {
    expect(Move.fields).toEqual([
      { name: 'seq', type: 'i64', offset: 0, size: 8, align: 8 },
      { name: 'player', type: 'u32', offset: 8, size: 4, align: 4 },
      { name: 'x', type: 'f32', offset: 12, size: 4, align: 4 },
      { name: 'y', type: 'f32', offset: 16, size: 4, align: 4 },
      { name: 'name', type: 'string', offset: 20, size: 18, align: 2, maxBytes: 16 },
      { name: 'alive', type: 'bool', offset: 38, size: 1, align: 1 },
      { name: 'blob', type: 'bytes', offset: 39, size: 8, align: 1, length: 8 },
    ]);
    expect(Move.size).toBe(48);
    expect(Move.align).toBe(8);
    expect(Object.isFrozen(Move.fields)).toBe(true);
    expect(Object.isFrozen(Move.fields[0])).toBe(true);
    expect(Move.spec).toEqual({
      player: 'u32', x: 'f32', y: 'f32', seq: 'i64', alive: 'bool',
      name: { type: 'string', maxBytes: 16 }, blob: { type: 'bytes', length: 8 },
    });
  });

  test('deterministic: the same declaration gives the same layout; padding only where alignment needs it', () => {
    const spec = { a: 'u8', b: { type: 'string', maxBytes: 3 }, c: 'u8', d: 'f64' } as const;
    expect(defineSchema(spec).fields).toEqual(defineSchema(spec).fields);
    const schema = defineSchema(spec);
    expect(schema.fields.map((f) => [f.name, f.offset])).toEqual([['d', 0], ['b', 8], ['a', 13], ['c', 14]]);
    expect(schema.size).toBe(16);
    expect(defineSchema({ flag: 'bool' })).toMatchObject({ size: SCHEMA_MESSAGE_ALIGN, align: 1 });
    expect(defineSchema({ s: { type: 'string', maxBytes: 1 }, t: { type: 'string', maxBytes: 1 } }).fields.map((f) => f.offset)).toEqual([0, 4]);
  });

  test('every multi-byte field is little-endian at its layout offset (checked with DataView)', () => {
    const memory = newMemory();
    const message = moveMessage({ player: 0x01020304, seq: -2n, x: 0.5, y: -3 });
    Move.encode(memory, ALIGNED, message);
    const dv = new DataView(memory.buffer);
    const at = (name: string): number => ALIGNED + layoutOf(Move, name).offset;
    expect(bytes(memory, at('player'), 4)).toEqual(Uint8Array.from([4, 3, 2, 1]));
    expect(bytes(memory, at('seq'), 8)).toEqual(Uint8Array.from([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    expect(dv.getFloat32(at('x'), true)).toBe(0.5);
    expect(dv.getFloat32(at('y'), true)).toBe(-3);
    expect(dv.getUint8(at('alive'))).toBe(1);
    const nameBytes = utf8.encode(message.name);
    expect(dv.getUint16(at('name'), true)).toBe(nameBytes.length);
    expect(bytes(memory, at('name') + STRING_BYTES_OFFSET, nameBytes.length)).toEqual(nameBytes);
    expect(bytes(memory, at('blob'), 8)).toEqual(message.blob);
    // Padding and the unused tail of the string field are not written.
    expect(bytes(memory, at('name') + STRING_BYTES_OFFSET + nameBytes.length, 16 - nameBytes.length).every((b) => b === FILL)).toBe(true);
    expect(bytes(memory, ALIGNED + 47, 1)).toEqual(Uint8Array.from([FILL]));

    const Wide = defineSchema({ s: { type: 'string', maxBytes: 300 } });
    Wide.encode(memory, ALIGNED, { s: 'a'.repeat(258) });
    expect(bytes(memory, ALIGNED, 2)).toEqual(Uint8Array.from([0x02, 0x01])); // 258 = 0x0102, LE
  });
});

/** [type, values]: each value is stored alone in an otherwise zero Every message. */
const EDGE_VALUES: [keyof EveryMessage, unknown[]][] = [
  ['u8', [0, 1, 127, 128, 255, -0]],
  ['i32', [-(2 ** 31), -1, 0, 1, 2 ** 31 - 1]],
  ['u32', [0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1]],
  ['f32', [0, -0, NaN, Infinity, -Infinity, 3.4028234663852886e38, -3.4028234663852886e38, 3.4028235e38,
    1.401298464324817e-45, 1e-46, 0.1, 16_777_217, -1.5]],
  ['f64', [0, -0, NaN, Infinity, -Infinity, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 0.1,
    Number.MAX_SAFE_INTEGER, 2 ** 53 + 2]],
  ['i64', [-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n, 1n, 2n ** 32n, -(2n ** 32n), 2n ** 53n + 1n, -(2n ** 53n) - 1n]],
  ['bool', [false, true]],
  ['raw', [Uint8Array.from([0, 0, 0, 0]), Uint8Array.from([255, 0, 128, 1])]],
];

describe.each([
  ['typed arrays, aligned address', ALIGNED, 'typed-array'],
  ['DataView, unaligned address', UNALIGNED, 'data-view'],
] as const)('round trips: %s', (_, address, access) => {
  test.each(EDGE_VALUES)('%s edge values through encode/decode and writer/reader', (field, values) => {
    const memory = newMemory();
    const reader = Every.reader(memory, { access });
    const writer = Every.writer(memory, { access });
    for (const value of values) {
      const message = { ...EVERY_ZERO, [field]: value };
      Every.encode(memory, address, message);
      const expected = { ...message, [field]: stored(field, value) };
      expectMessage(Every.decode(memory, address), expected);
      expect(sameValue(reader.at(address)[field], stored(field, value))).toBe(true);
      const encoded = bytes(memory, address, Every.size);

      new Uint8Array(memory.buffer).fill(FILL, address, address + Every.size);
      const w = writer.at(address) as unknown as Record<string, unknown>;
      for (const [name, v] of Object.entries(message)) w[name] = v;
      expect(bytes(memory, address, Every.size)).toEqual(encoded);
    }
  });

  test('i64 as numbers and 32-bit halves, read and written without BigInt', () => {
    const memory = newMemory();
    const reader = Every.reader(memory, { access }).at(address);
    const writer = Every.writer(memory, { access }).at(address);
    for (const value of [0n, 1n, -1n, 2n ** 31n, 2n ** 32n + 5n, -(2n ** 40n) + 3n, 2n ** 53n - 1n, -(2n ** 53n) + 1n, 2n ** 60n + 1n, -(2n ** 63n), 2n ** 63n - 1n]) {
      writer.i64 = value;
      expect(reader.i64).toBe(value);
      expect(reader.i64Low32).toBe(Number(BigInt.asUintN(32, value)));
      expect(reader.i64High32).toBe(Number(BigInt.asIntN(32, value >> 32n)));
      expect(reader.i64Number).toBe(Number(value)); // exact within 2^53, rounded to nearest beyond
    }
    for (const value of [0, 1, -1, 2 ** 32, -(2 ** 32) - 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 123_456_789_012]) {
      writer.i64Number = value;
      expect(reader.i64).toBe(BigInt(value));
      expect(reader.i64Number).toBe(value);
    }
    writer.i64 = 0n;
    writer.i64Low32 = 0xffffffff;
    writer.i64High32 = -2;
    expect(reader.i64).toBe(-2n * 2n ** 32n + 0xffffffffn);
  });

  test('strings: empty, max length in 1-, 2-, 3- and 4-byte UTF-8, BOM and NUL kept, lone surrogates as U+FFFD', () => {
    const memory = newMemory();
    const reader = Every.reader(memory, { access });
    const writer = Every.writer(memory, { access });
    const cases: [string, string][] = [
      ['', ''],
      ['a'.repeat(16), 'a'.repeat(16)],
      ['é'.repeat(8), 'é'.repeat(8)],
      ['€'.repeat(5) + 'a', '€'.repeat(5) + 'a'],
      ['😀'.repeat(4), '😀'.repeat(4)],
      ['a😀é€', 'a😀é€'],
      ['\uFEFFbom', '\uFEFFbom'],
      ['nul\0nul', 'nul\0nul'],
      ['\uD800', '\uFFFD'],
      ['x\uDC00y', 'x\uFFFDy'],
      ['\uDE00\uD83D', '\uFFFD\uFFFD'], // a pair in the wrong order is two lone surrogates
      ['ab\uD83D', 'ab\uFFFD'],
    ];
    for (const [text, decoded] of cases) {
      Every.encode(memory, address, { ...EVERY_ZERO, text });
      const encoded = Buffer.from(text, 'utf8'); // Node's encoder: the same U+FFFD rule
      expect(utf8ByteLength(text)).toBe(encoded.length);
      expect(reader.at(address).textByteLength).toBe(encoded.length);
      expect(bytes(memory, address + layoutOf(Every, 'text').offset + STRING_BYTES_OFFSET, encoded.length)).toEqual(new Uint8Array(encoded));
      expect(reader.text).toBe(decoded);
      expect(reader.textEquals(text)).toBe(true);
      expect(reader.textEquals(decoded)).toBe(true);
      expect(reader.textEquals(`${text}x`)).toBe(false);
      if (text.length > 0) {
        expect(reader.textEquals(text.slice(0, -1))).toBe(false);
        expect(reader.textEquals('')).toBe(false);
      }
      writer.at(address).text = 'placeholder';
      writer.text = text;
      expect(reader.text).toBe(decoded);
    }
    // A shorter string after a longer one: the length prefix decides, the old tail is ignored.
    writer.at(address).text = 'a longer string';
    writer.text = 'ab';
    expect([reader.text, reader.textByteLength]).toEqual(['ab', 2]);
  });

  test('bytes: the getter copies (not a live or shared view), copy*To copies without allocating', () => {
    const memory = newMemory();
    const reader = Every.reader(memory, { access });
    Every.encode(memory, address, { ...EVERY_ZERO, raw: Uint8Array.from([9, 8, 7, 6]) });
    const copy = reader.at(address).raw;
    expect(copy).toEqual(Uint8Array.from([9, 8, 7, 6]));
    expect(copy.buffer instanceof SharedArrayBuffer).toBe(false);
    copy[0] = 0;
    expect(reader.raw[0]).toBe(9);
    const target = new Uint8Array(6).fill(1);
    reader.copyRawTo(target, 2);
    expect(target).toEqual(Uint8Array.from([1, 1, 9, 8, 7, 6]));
    reader.copyRawTo(target);
    expect(target).toEqual(Uint8Array.from([9, 8, 7, 6, 7, 6]));
  });
});

describe('flyweights', () => {
  test('at() re-points the same object; getters read memory live (not copies); the reader is read-only', () => {
    const memory = newMemory();
    const reader = Move.reader(memory);
    const writer = Move.writer(memory);
    expect(reader.at(ALIGNED)).toBe(reader);
    expect(writer.at(ALIGNED)).toBe(writer);
    expect(reader.address).toBe(ALIGNED);
    writer.player = 1;
    expect(reader.player).toBe(1);
    writer.player = 2;
    expect(reader.player).toBe(2); // no re-at: a getter reads the memory each time
    writer.at(ALIGNED + Move.size).player = 3;
    expect(reader.player).toBe(2);
    expect(reader.at(ALIGNED + Move.size).player).toBe(3);
    expect(() => { (reader as unknown as { player: number }).player = 5; }).toThrow(TypeError);
    expect(() => { (writer as unknown as { plyer: number }).plyer = 5; }).toThrow(TypeError); // frozen: typos throw
    expect(reader.player).toBe(3);
  });

  test('a writer also reads, and two flyweights of one schema do not share a position', () => {
    const memory = newMemory();
    const a = Move.writer(memory).at(ALIGNED);
    const b = Move.writer(memory).at(ALIGNED + 64);
    a.seqNumber = 5;
    b.seqNumber = 6;
    expect([a.seqNumber, b.seqNumber, a.seq, b.seq]).toEqual([5, 6, 5n, 6n]);
    a.name = 'hello';
    expect([a.name, a.nameByteLength, a.nameEquals('hello')]).toEqual(['hello', 5, true]);
  });

  test('encode/decode and flyweights work on plain ArrayBuffers, and follow a memory that grew', () => {
    const buffer = new ArrayBuffer(256);
    Move.encode(buffer, 8, moveMessage());
    expectMessage(Move.decode(buffer, 8), { ...moveMessage(), x: Math.fround(1.5) });
    expect(Move.reader(buffer).at(8).player).toBe(7);

    const memory = new WebAssembly.Memory({ initial: 1, maximum: 2 });
    Move.encode(memory, 64, moveMessage());
    memory.grow(1); // detaches the old buffer: encode/decode must notice
    Move.encode(memory, 65_536 + 64, moveMessage({ player: 9 }));
    expect(Move.decode(memory, 65_536 + 64).player).toBe(9);
    expect(Move.decode(memory, 64).player).toBe(7);
  });

  test('a damaged string length prefix never reads past the field', () => {
    const memory = newMemory();
    const reader = Move.reader(memory).at(ALIGNED);
    Move.encode(memory, ALIGNED, moveMessage({ name: 'abc' }));
    new DataView(memory.buffer).setUint16(ALIGNED + layoutOf(Move, 'name').offset, 0xffff, true);
    expect(reader.nameByteLength).toBe(16);
    expect(utf8.encode(reader.name).length).toBeLessThanOrEqual(16 * 3);
  });
});

/** [description, field overrides, field the error names, value it carries] */
const BAD_MESSAGES: [string, Record<string, unknown>, string, unknown][] = [
  ['u32 negative', { player: -1 }, 'player', -1],
  ['u32 too large', { player: 2 ** 32 }, 'player', 2 ** 32],
  ['u32 fractional', { player: 1.5 }, 'player', 1.5],
  ['u32 NaN', { player: NaN }, 'player', NaN],
  ['u32 as a string', { player: '1' }, 'player', '1'],
  ['u32 as a bigint', { player: 1n }, 'player', 1n],
  ['u32 null', { player: null }, 'player', null],
  ['f32 beyond its range', { x: 3.5e38 }, 'x', 3.5e38],
  ['f32 as a string', { x: '1' }, 'x', '1'],
  ['f32 as a boolean', { y: true }, 'y', true],
  ['i64 as a number', { seq: 1 }, 'seq', 1],
  ['i64 above 2^63 - 1', { seq: 2n ** 63n }, 'seq', 2n ** 63n],
  ['i64 below -2^63', { seq: -(2n ** 63n) - 1n }, 'seq', -(2n ** 63n) - 1n],
  ['bool as a number', { alive: 1 }, 'alive', 1],
  ['bool as a string', { alive: 'true' }, 'alive', 'true'],
  ['string one byte too long (ASCII)', { name: 'a'.repeat(17) }, 'name', 'a'.repeat(17)],
  ['string too long in UTF-8 (16 code units, 4-byte emoji)', { name: '😀'.repeat(4) + 'a' }, 'name', '😀'.repeat(4) + 'a'],
  ['string too long only because a lone surrogate takes 3 bytes', { name: 'a'.repeat(14) + '\uD800' }, 'name', 'a'.repeat(14) + '\uD800'],
  ['string as a number', { name: 123 }, 'name', 123],
];
const BAD_BLOBS: [string, unknown][] = [
  ['bytes too short', new Uint8Array(7)],
  ['bytes too long', new Uint8Array(9)],
  ['bytes as an array', [1, 2, 3, 4, 5, 6, 7, 8]],
  ['bytes as a Uint16Array', new Uint16Array(8)],
  ['bytes as a string', '12345678'],
];

describe('bad input: a ConfigError naming the field and value, and memory left untouched', () => {
  const memory = newMemory();
  // Each case starts from the same bytes, so a write that a case's values would repeat is caught.
  beforeEach(() => {
    new Uint8Array(memory.buffer).fill(FILL);
    Move.encode(memory, ALIGNED, moveMessage());
    Move.encode(memory, UNALIGNED, moveMessage());
  });

  const expectUntouched = (fn: () => unknown, field: string, value: unknown): void => {
    const before = new Uint8Array(memory.buffer).slice();
    expectConfigError(fn, field, value);
    expect(sameBytes(new Uint8Array(memory.buffer), before)).toBe(true);
  };
  const cases: [string, Record<string, unknown>, string, unknown][] = [
    ...BAD_MESSAGES,
    ...BAD_BLOBS.map(([description, blob]): [string, Record<string, unknown>, string, unknown] => [description, { blob }, 'blob', blob]),
  ];

  test.each(cases)('encode: %s', (_, overrides, field, value) => {
    // The bad field is validated after good ones in declaration order and before any write.
    expectUntouched(() => Move.encode(memory, ALIGNED, { ...moveMessage({ player: 99, name: 'new' }), ...overrides } as MoveMessage), field, value);
    expectUntouched(() => Move.encode(memory, UNALIGNED, { ...moveMessage({ player: 99 }), ...overrides } as MoveMessage), field, value);
  });

  test.each(cases)('writer setter: %s', (_, overrides, field, value) => {
    for (const access of ['typed-array', 'data-view'] as const) {
      const writer = Move.writer(memory, { access }).at(access === 'typed-array' ? ALIGNED : UNALIGNED) as unknown as Record<string, unknown>;
      expectUntouched(() => { writer[field] = overrides[field]; }, field, value);
    }
  });

  test('a missing field, an unknown field, a message that is not an object', () => {
    const { seq: _, ...withoutSeq } = moveMessage();
    const error = catchError(() => Move.encode(memory, ALIGNED, withoutSeq as MoveMessage));
    expectUntouched(() => Move.encode(memory, ALIGNED, withoutSeq as MoveMessage), 'seq', undefined);
    expect((error as Error).message).toMatch(/missing/);
    expectUntouched(() => Move.encode(memory, ALIGNED, { ...moveMessage(), plyer: 1 } as MoveMessage), 'plyer', 1);
    expectUntouched(() => Move.encode(memory, ALIGNED, null as unknown as MoveMessage), 'message', null);
    expectUntouched(() => Move.encode(memory, ALIGNED, 42 as unknown as MoveMessage), 'message', 42);
  });

  test('bad addresses: negative, fractional, not a number, past the end; misaligned for typed arrays', () => {
    const last = memory.buffer.byteLength - Move.size;
    for (const address of [-8, 8.5, NaN, '8', 8n, last + 1, 2 ** 32]) {
      expectUntouched(() => Move.encode(memory, address as number, moveMessage()), 'address', address);
      expectConfigError(() => Move.decode(memory, address as number), 'address', address);
      expectConfigError(() => Move.reader(memory).at(address as number), 'address', address);
    }
    expect(() => Move.encode(memory, last, moveMessage())).not.toThrow();
    for (const address of [ALIGNED + 4, ALIGNED + 1]) {
      expectConfigError(() => Move.writer(memory).at(address), 'address', address);
      expect(() => Move.writer(memory, { access: 'data-view' }).at(address)).not.toThrow();
    }
    expect(() => defineSchema({ a: 'u32' }).reader(memory).at(ALIGNED + 4)).not.toThrow(); // align 4
  });

  test('i64 number and half setters, copy*To targets', () => {
    const writer = Move.writer(memory).at(ALIGNED);
    expectUntouched(() => { writer.seqNumber = 2 ** 53; }, 'seqNumber', 2 ** 53);
    expectUntouched(() => { writer.seqNumber = 1.5; }, 'seqNumber', 1.5);
    expectUntouched(() => { writer.seqNumber = 1n as unknown as number; }, 'seqNumber', 1n);
    expectUntouched(() => { writer.seqLow32 = -1; }, 'seqLow32', -1);
    expectUntouched(() => { writer.seqHigh32 = 2 ** 31; }, 'seqHigh32', 2 ** 31);
    expectConfigError(() => writer.copyBlobTo(new Uint8Array(7)), 'targetOffset', 0);
    expectConfigError(() => writer.copyBlobTo(new Uint8Array(9), 2), 'targetOffset', 2);
    expectConfigError(() => writer.copyBlobTo([] as unknown as Uint8Array), 'target');
  });

  test('bad targets and options', () => {
    expectConfigError(() => Move.reader('memory' as unknown as ArrayBuffer), 'target', 'memory');
    expectConfigError(() => Move.encode({} as ArrayBuffer, 0, moveMessage()), 'target');
    expectConfigError(() => Move.writer(new ArrayBuffer(40)), 'target.byteLength', 40);
    expectConfigError(() => Move.reader(memory, { access: 'fast' as 'data-view' }), 'options.access', 'fast');
  });
});

/** [description, declaration, field the error names, value it carries] */
const BAD_SCHEMAS: [string, unknown, string, unknown][] = [
  ['null', null, 'schema', null],
  ['an array', [], 'schema', NO_VALUE],
  ['a type name', 'u32', 'schema', 'u32'],
  ['no fields', {}, 'schema', NO_VALUE],
  ['unknown type', { player: 'u33' }, 'player', 'u33'],
  ['unknown type in an object', { player: { type: 'int' } }, 'player.type', 'int'],
  ['missing type', { player: {} }, 'player.type', undefined],
  ['a number as a declaration', { player: 5 }, 'player', 5],
  ['string without maxBytes', { name: 'string' }, 'name', 'string'],
  ['bytes without length', { blob: 'bytes' }, 'blob', 'bytes'],
  ['maxBytes 0', { name: { type: 'string', maxBytes: 0 } }, 'name.maxBytes', 0],
  ['maxBytes 65536', { name: { type: 'string', maxBytes: 65_536 } }, 'name.maxBytes', 65_536],
  ['maxBytes fractional', { name: { type: 'string', maxBytes: 1.5 } }, 'name.maxBytes', 1.5],
  ['maxBytes as a string', { name: { type: 'string', maxBytes: '16' } }, 'name.maxBytes', '16'],
  ['maxBytes missing', { name: { type: 'string' } }, 'name.maxBytes', undefined],
  ['length 0', { blob: { type: 'bytes', length: 0 } }, 'blob.length', 0],
  ['length 65536', { blob: { type: 'bytes', length: 65_536 } }, 'blob.length', 65_536],
  ['an option of another type (maxLength)', { name: { type: 'string', maxBytes: 4, maxLength: 4 } }, 'name.maxLength', 4],
  ['an option a scalar does not take', { player: { type: 'u32', maxBytes: 4 } }, 'player.maxBytes', 4],
  ['name starting with a digit', { '9lives': 'u8' }, 'fieldName', '9lives'],
  ['name with a dash', { 'with-dash': 'u8' }, 'fieldName', 'with-dash'],
  ['name starting with _', { _private: 'u8' }, 'fieldName', '_private'],
  ['empty name', { '': 'u8' }, 'fieldName', ''],
  ['non-ASCII name', { 'ünï': 'u8' }, 'fieldName', 'ünï'],
  ['reserved: at', { at: 'u32' }, 'fieldName', 'at'],
  ['reserved: address', { address: 'u32' }, 'fieldName', 'address'],
  ['reserved: then', { then: 'u32' }, 'fieldName', 'then'],
  ['reserved: constructor', { constructor: 'u32' }, 'fieldName', 'constructor'],
  ['reserved: hasOwnProperty', { hasOwnProperty: 'u32' }, 'fieldName', 'hasOwnProperty'],
  ['collides with a string helper', { name: { type: 'string', maxBytes: 4 }, nameEquals: 'bool' }, 'fieldName', 'nameEquals'],
  ['collides with an i64 helper', { seqNumber: 'u32', seq: 'i64' }, 'fieldName', 'seq'],
  ['collides with a bytes helper', { blob: { type: 'bytes', length: 2 }, copyBlobTo: 'u8' }, 'fieldName', 'copyBlobTo'],
];

describe('bad schema declarations are ConfigErrors naming the field', () => {
  test.each(BAD_SCHEMAS)('%s', (_, declaration, field, value) => {
    expectConfigError(() => defineSchema(declaration as SchemaSpec), field, value);
  });

  test('the size limits themselves are accepted', () => {
    const schema = defineSchema({ s: { type: 'string', maxBytes: DECLARED_BYTES_MAX }, b: { type: 'bytes', length: 1 } });
    expect(schema.size).toBe(2 + DECLARED_BYTES_MAX + 1 + 6);
  });
});

// ── types (checked by tsc; the assertions are compile-time) ──────────────────────────────────

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;

describe('types are inferred from the declaration', () => {
  test('MessageOf, reader and writer types', () => {
    const messageType: Equal<MoveMessage, {
      player: number; x: number; y: number; seq: bigint; alive: boolean; name: string; blob: Uint8Array;
    }> = true;
    const memory = newMemory();
    const reader = Move.reader(memory).at(ALIGNED);
    const writer = Move.writer(memory).at(ALIGNED);
    const readerTypes: Equal<
      [typeof reader.seq, typeof reader.seqNumber, typeof reader.nameByteLength, typeof reader.alive, ReturnType<typeof reader.nameEquals>],
      [bigint, number, number, boolean, boolean]
    > = true;
    expect([messageType, readerTypes]).toEqual([true, true]);

    // Never run: each line must fail to compile.
    const mustNotCompile = (): void => {
      // @ts-expect-error seq is a bigint
      Move.encode(memory, 0, moveMessage({ seq: 1 }));
      // @ts-expect-error no field plyer
      void reader.plyer;
      // @ts-expect-error readers are read-only
      reader.player = 1;
      // @ts-expect-error a string field has no Low32 helper
      void reader.nameLow32;
      // @ts-expect-error bool takes a boolean
      writer.alive = 1;
      // @ts-expect-error ByteLength is read-only on a writer too
      writer.nameByteLength = 3;
      // @ts-expect-error a message needs every field
      Move.encode(memory, 0, { player: 1 });
    };
    expect(typeof mustNotCompile).toBe('function');
  });
});

// ── seeded property tests ────────────────────────────────────────────────────────────────────

/** A string unit: any code point, or a lone surrogate (adjacent ones may happen to pair up). */
const unitArbitrary = fc.oneof(
  { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), weight: 5 },
  { arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit)), weight: 1 },
);

/** Strings whose UTF-8 (lone surrogates as 3 bytes) fits `maxBytes`: drop code units until it does. */
function stringArbitrary(maxBytes: number): fc.Arbitrary<string> {
  return fc.string({ unit: unitArbitrary, maxLength: maxBytes }).map((text) => {
    let fitted = text;
    while (utf8.encode(fitted).length > maxBytes) fitted = fitted.slice(0, -1);
    return fitted;
  });
}

function valueArbitrary(spec: FieldSpec): fc.Arbitrary<unknown> {
  const type = typeof spec === 'string' ? spec : spec.type;
  switch (type) {
    case 'u8': return fc.integer({ min: 0, max: 255 });
    case 'i32': return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case 'u32': return fc.integer({ min: 0, max: 2 ** 32 - 1 });
    case 'f32': return fc.float();
    case 'f64': return fc.double();
    case 'i64': return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    case 'bool': return fc.boolean();
    case 'string': return stringArbitrary((spec as { maxBytes: number }).maxBytes);
    case 'bytes': {
      const length = (spec as { length: number }).length;
      return fc.uint8Array({ minLength: length, maxLength: length });
    }
  }
}

function messageArbitrary(spec: SchemaSpec): fc.Arbitrary<Record<string, unknown>> {
  return fc.record(Object.fromEntries(Object.entries(spec).map(([name, field]) => [name, valueArbitrary(field)])));
}

function expectedOf(spec: SchemaSpec, message: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(spec).map(([name, field]) => [name, stored(typeof field === 'string' ? field : field.type, message[name])]));
}

const fieldSpecArbitrary: fc.Arbitrary<FieldSpec> = fc.oneof(
  fc.constantFrom<FieldSpec>('u8', 'i32', 'u32', 'f32', 'f64', 'i64', 'bool'),
  fc.record({ type: fc.constant('string' as const), maxBytes: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ type: fc.constant('bytes' as const), length: fc.integer({ min: 1, max: 24 }) }),
);
const schemaSpecArbitrary: fc.Arbitrary<SchemaSpec> = fc.array(fieldSpecArbitrary, { minLength: 1, maxLength: 12 })
  .map((fields) => Object.fromEntries(fields.map((field, i) => [`f${i}`, field])));

describe(`property tests (fast-check, ${FC_RUNS} runs each; the seed is printed on failure)`, () => {
  const memory = newMemory();
  const slots = Math.floor((memory.buffer.byteLength - 16) / 4096);

  test('Move: random messages round-trip at random addresses; encode and the writer write the same bytes', () => {
    const reader = Move.reader(memory, { access: 'data-view' });
    const writer = Move.writer(memory, { access: 'data-view' });
    fc.assert(fc.property(messageArbitrary(Move.spec), fc.integer({ min: 0, max: slots - 2 }), fc.integer({ min: 0, max: 7 }), (message, slot, misalign) => {
      const address = slot * 4096 + misalign * 8 + (misalign & 3); // aligned and unaligned both
      Move.encode(memory, address, message as MoveMessage);
      const expected = expectedOf(Move.spec, message);
      expectMessage(Move.decode(memory, address), expected);
      const r = reader.at(address);
      expectMessage({ player: r.player, x: r.x, y: r.y, seq: r.seq, alive: r.alive, name: r.name, blob: r.blob }, expected);
      expect(r.nameEquals(message.name as string)).toBe(true);
      expect(r.seqNumber).toBe(Number(message.seq));

      const other = address + 2048;
      new Uint8Array(memory.buffer).copyWithin(other, address, address + Move.size); // same unspecified bytes
      const w = writer.at(other) as unknown as Record<string, unknown>;
      for (const name of Object.keys(Move.spec)) w[name] = message[name];
      expect(bytes(memory, other, Move.size)).toEqual(bytes(memory, address, Move.size));
    }), { numRuns: FC_RUNS });
  });

  test('random schemas: a sound layout, and random messages round-trip in both access modes', () => {
    fc.assert(fc.property(schemaSpecArbitrary.chain((spec) => fc.tuple(fc.constant(spec), messageArbitrary(spec))), ([spec, message]) => {
      const schema = defineSchema(spec);
      let end = 0;
      let previousAlign = Infinity;
      for (const field of schema.fields) {
        expect(field.offset % field.align).toBe(0);
        expect(field.offset).toBeGreaterThanOrEqual(end); // ascending, no overlap
        expect(field.offset - end).toBeLessThan(field.align); // padding only for alignment
        expect(field.align).toBeLessThanOrEqual(previousAlign);
        previousAlign = field.align;
        end = field.offset + field.size;
      }
      expect(schema.size % SCHEMA_MESSAGE_ALIGN).toBe(0);
      expect(schema.size - end).toBeLessThan(SCHEMA_MESSAGE_ALIGN);
      expect(schema.align).toBe(Math.max(...schema.fields.map((f) => f.align)));

      const expected = expectedOf(spec, message);
      schema.encode(memory, 0, message as Message<SchemaSpec>);
      expectMessage(schema.decode(memory, 0), expected);
      schema.encode(memory, 4096 + 1, message as Message<SchemaSpec>);
      expectMessage(schema.decode(memory, 4096 + 1), expected);
      const reader = schema.reader(memory).at(0) as unknown as Record<string, unknown>;
      expectMessage(Object.fromEntries(Object.keys(spec).map((name) => [name, reader[name]])), expected);
    }), { numRuns: FC_RUNS });
  });

  test('integer fields accept exactly the integers in range; a rejected value changes no byte', () => {
    const Ints = defineSchema({ a: 'u8', b: 'i32', c: 'u32' });
    const ranges: Record<string, [number, number]> = { a: [0, 255], b: [-(2 ** 31), 2 ** 31 - 1], c: [0, 2 ** 32 - 1] };
    const writer = Ints.writer(memory).at(8192);
    fc.assert(fc.property(fc.constantFrom('a', 'b', 'c'), fc.oneof(fc.integer({ min: -(2 ** 33), max: 2 ** 33 }), fc.double()), (field, value) => {
      const [min, max] = ranges[field]!;
      const valid = Number.isInteger(value) && value >= min && value <= max;
      const before = bytes(memory, 8192, Ints.size);
      const error = catchError(() => { (writer as unknown as Record<string, number>)[field] = value; });
      if (valid) {
        expect(error).toBeUndefined();
        expect((writer as unknown as Record<string, number>)[field]).toBe(value === 0 ? 0 : value);
      } else {
        expect(error).toBeInstanceOf(ConfigError);
        expect(error).toMatchObject({ field });
        expect(bytes(memory, 8192, Ints.size)).toEqual(before);
      }
    }), { numRuns: FC_RUNS * 5 });
  });
});

// ── zero allocation ───────────────────────────────────────────────────────────────────────────

const ALLOC_MESSAGES = Math.max(1_000_000, Math.round(1_000_000 * STRESS));
const ALLOC_WARMUP = 100_000;
const HEAP_GROWTH_LIMIT = 1 << 20;

describe('zero allocation: writer + reader flyweights, measured in a worker thread', () => {
  // A worker of its own, because on jest's thread the runner allocates too. Numeric and bool
  // fields, the i64 number/halves helpers and the allocation-free string helpers, ≥ 1 M messages.
  const probe = async (mode: SchemaAllocMode): Promise<SchemaAllocReport> => {
    const data: SchemaAllocData = { memory: newMemory(), base: ALIGNED, messages: ALLOC_MESSAGES, warmup: ALLOC_WARMUP, mode };
    const report = await runWorker<SchemaAllocReport>('schema-alloc', data, 60_000);
    console.log(`schema-alloc ${mode}: ${report.messages} messages, ${report.gcEvents} GC events [${report.gcKinds.join(',')}], `
      + `heap ${report.heapGrowthBytes >= 0 ? '+' : ''}${report.heapGrowthBytes} bytes, ${report.nsPerMessage.toFixed(1)} ns/message`);
    expect(report.mismatches).toBe(0);
    const n = ALLOC_WARMUP + ALLOC_MESSAGES - 1;
    expect(report.last).toEqual({
      id: n, seq: String(n * 3 - 1_000_000), x: n * 0.25, y: n & 0xffff, delta: -n, flags: n & 0xff,
      alive: (n & 1) === 0, tag: (n & 2) === 0 ? 'even' : 'odd',
    });
    return report;
  };

  test(`${ALLOC_MESSAGES} messages: no GC event and heap growth under 1 MiB`, async () => {
    const report = await probe('flyweight');
    expect(report.gcEvents).toBe(0);
    expect(report.heapGrowthBytes).toBeLessThan(HEAP_GROWTH_LIMIT);
  });

  test('control: the same loop making one short-lived object per message is caught (GC events)', async () => {
    const report = await probe('object-per-message');
    expect(report.gcEvents).toBeGreaterThan(0);
  });

  test('control: the same loop keeping one object per message is caught (GC events and heap growth)', async () => {
    const report = await probe('retained-objects');
    expect(report.gcEvents).toBeGreaterThan(0);
    expect(report.heapGrowthBytes).toBeGreaterThan(HEAP_GROWTH_LIMIT);
  });
});

describe('copy*To of long bytes fields (copied by 32-bit words where source and target agree mod 4)', () => {
  // A leading u8 puts the field at an odd offset; 4 096 + 3 bytes leave a ragged tail.
  const Long = defineSchema({ tag: 'u8', blob: { type: 'bytes', length: 4099 } });

  test('every source and target alignment, into a subarray with canaries: the exact bytes, nothing around them touched', () => {
    const memory = newMemory();
    const payload = Uint8Array.from({ length: 4099 }, (_, i) => (i * 151 + 7) & 0xff);
    const backing = new Uint8Array(4099 + 64);
    for (const address of [0, 8, 16, 24]) {
      Long.encode(memory, address, { tag: 1, blob: payload });
      const reader = Long.reader(memory).at(address);
      for (let shift = 0; shift < 8; shift++) {
        backing.fill(0xee);
        const target = backing.subarray(shift, shift + 4099 + 16);
        reader.copyBlobTo(target, 5);
        const copied = target.subarray(5, 5 + 4099);
        expect({ address, shift, firstWrong: copied.findIndex((b, i) => b !== payload[i]) }).toEqual({ address, shift, firstWrong: -1 });
        expect(backing.subarray(0, shift + 5).every((b) => b === 0xee)).toBe(true);
        expect(backing.subarray(shift + 5 + 4099).every((b) => b === 0xee)).toBe(true);
      }
    }
    // A second target buffer after the first: the word view follows the target.
    const other = new Uint8Array(4099);
    Long.encode(memory, 0, { tag: 1, blob: payload });
    Long.reader(memory).at(0).copyBlobTo(other);
    expect(other).toEqual(payload);
  });
});
