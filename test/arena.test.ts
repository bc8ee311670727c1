/**
 * Arena: layout planning, header, attach, and bad input. Every rejection is a typed error naming
 * the field and value, and leaves an existing arena byte-for-byte intact.
 */
import { describe, expect, test } from '@jest/globals';
import {
  ARENA_BASE, ARENA_DIRECTORY_OFFSET, ARENA_HEADER_BYTES, ARENA_VERSION_OFFSET, ENTRY_BYTES,
  ENTRY_OFFSET_OFFSET, ENTRY_PARAM_OFFSET, MAX_THREADS, RING_PARAM_CONSUMER_MASK, RING_PARAM_PRODUCER_SHIFT,
  RING_PARAM_UNASSIGNED, STRUCTURE_ALIGN, WASM_PAGE_BYTES,
} from '../assembly/layout/arena.ts';
import { RING_CAPACITY_OFFSET } from '../assembly/layout/ring.ts';
import { attachArena, createArena, planArena, type ArenaConfig } from '../src/arena.ts';
import { ArenaError, ConfigError } from '../src/errors.ts';
import { BACKENDS, newArena } from './harness.ts';

const CONFIG: ArenaConfig = {
  threads: 3,
  rings: [{ capacity: 8, recordSize: 16, producer: 0, consumer: 1 }, { capacity: 1024, recordSize: 64 }],
  pools: [{ slotCount: 16, slotSize: 256 }],
  routers: [{ maxTopics: 32, maxSubscriptions: 16 }],
  scratchBytes: 4096,
};

describe.each(BACKENDS)('arena laid out by %s', (backend) => {
  test('structures are aligned, ordered, disjoint and inside the memory; attach reads the same layout', async () => {
    const { arena, memory } = await newArena(CONFIG, backend);
    const regions = [
      ...arena.rings.map((r) => r.address), ...arena.pools.map((p) => p.address),
      ...arena.routers.map((r) => r.address), ...arena.scratch.map((s) => s.address),
    ];
    expect(regions[0]).toBe(ARENA_BASE + ARENA_HEADER_BYTES);
    for (let i = 1; i < regions.length; i++) expect(regions[i]!).toBeGreaterThan(regions[i - 1]!);
    for (const address of regions) expect(address % STRUCTURE_ALIGN).toBe(0);
    expect(arena.scratch.map((s) => s.bytes)).toEqual([4096, 4096, 4096]);
    expect(arena.scratch[2]!.address + 4096).toBeLessThanOrEqual(memory.buffer.byteLength);
    expect(arena.rings[0]).toMatchObject({ capacity: 8, recordSize: 16, producer: 0, consumer: 1 });
    expect(arena.rings[1]).toMatchObject({ capacity: 1024, recordSize: 64, producer: -1, consumer: -1 });
    expect(arena.pools[0]).toMatchObject({ slotCount: 16, slotSize: 256 });
    expect(arena.routers[0]).toMatchObject({ maxTopics: 32, maxSubscriptions: 16 });

    const attached = attachArena(memory);
    expect({ ...attached, memory: null }).toEqual({ ...arena, memory: null });
    // The memory is sized exactly and can never grow (other threads would keep stale views).
    expect(memory.buffer.byteLength).toBe(planArena(CONFIG).pages * WASM_PAGE_BYTES);
    expect(() => memory.grow(1)).toThrow();
  });

  test("a ring's directory PARAM packs its producer and consumer as the arena layout says", async () => {
    const { memory } = await newArena(CONFIG, backend);
    const param = (entry: number): number => new Uint32Array(memory.buffer)[(ARENA_BASE + ARENA_DIRECTORY_OFFSET + entry * ENTRY_BYTES + ENTRY_PARAM_OFFSET) >> 2]!;
    expect(param(0)).toBe(0x00000001); // producer 0, consumer 1
    expect(param(1)).toBe(0xffffffff); // neither assigned
    expect([param(0) >>> RING_PARAM_PRODUCER_SHIFT, param(0) & RING_PARAM_CONSUMER_MASK]).toEqual([0, 1]);
    expect(param(1)).toBe(((RING_PARAM_UNASSIGNED << RING_PARAM_PRODUCER_SHIFT) | RING_PARAM_UNASSIGNED) >>> 0);
    // Every thread index and the unassigned mark fit the consumer half and stay apart.
    expect(RING_PARAM_UNASSIGNED).toBeGreaterThanOrEqual(MAX_THREADS);
    expect(RING_PARAM_UNASSIGNED & RING_PARAM_CONSUMER_MASK).toBe(RING_PARAM_UNASSIGNED);
    expect(RING_PARAM_CONSUMER_MASK >>> 0).toBe(2 ** RING_PARAM_PRODUCER_SHIFT - 1);
  });

  test('a caller-supplied memory is used when large enough', async () => {
    const memory = new WebAssembly.Memory({ initial: 64, maximum: 64, shared: true });
    const { arena } = await newArena({ ...CONFIG, memory }, backend);
    expect(arena.memory).toBe(memory);
    expect(arena.bytes).toBe(64 * WASM_PAGE_BYTES);
  });
});

/** [description, config, field the error must name, value it must carry] */
const BAD_CONFIGS: [string, unknown, string, unknown][] = [
  ['zero threads', { threads: 0 }, 'threads', 0],
  ['too many threads', { threads: 65 }, 'threads', 65],
  ['fractional threads', { threads: 1.5 }, 'threads', 1.5],
  ['threads as a string', { threads: '2' }, 'threads', '2'],
  ['non-power-of-two ring capacity', { threads: 1, rings: [{ capacity: 12, recordSize: 16 }] }, 'rings[0].capacity', 12],
  ['ring capacity 1', { threads: 1, rings: [{ capacity: 1, recordSize: 16 }] }, 'rings[0].capacity', 1],
  ['oversize ring capacity', { threads: 1, rings: [{ capacity: 1 << 25, recordSize: 16 }] }, 'rings[0].capacity', 1 << 25],
  ['record size not a multiple of 8', { threads: 1, rings: [{ capacity: 8, recordSize: 12 }] }, 'rings[0].recordSize', 12],
  ['oversize record', { threads: 1, rings: [{ capacity: 8, recordSize: 65544 }] }, 'rings[0].recordSize', 65544],
  ['producer beyond threads', { threads: 2, rings: [{ capacity: 8, recordSize: 8, producer: 2 }] }, 'rings[0].producer', 2],
  ['second ring bad', { threads: 1, rings: [{ capacity: 8, recordSize: 8 }, { capacity: 6, recordSize: 8 }] }, 'rings[1].capacity', 6],
  ['non-power-of-two slot count', { threads: 1, pools: [{ slotCount: 100, slotSize: 64 }] }, 'pools[0].slotCount', 100],
  ['oversize slot', { threads: 1, pools: [{ slotCount: 4, slotSize: (1 << 20) + 8 }] }, 'pools[0].slotSize', (1 << 20) + 8],
  ['slot size not a multiple of 8', { threads: 1, pools: [{ slotCount: 4, slotSize: 20 }] }, 'pools[0].slotSize', 20],
  ['zero topics', { threads: 1, routers: [{ maxTopics: 0, maxSubscriptions: 4 }] }, 'routers[0].maxTopics', 0],
  ['too many subscriptions', { threads: 1, routers: [{ maxTopics: 4, maxSubscriptions: 70000 }] }, 'routers[0].maxSubscriptions', 70000],
  ['scratch not aligned', { threads: 1, scratchBytes: 1000 }, 'scratchBytes', 1000],
  ['arena over 1 GiB', { threads: 1, rings: [{ capacity: 1 << 24, recordSize: 128 }] }, 'config', undefined],
];

describe('bad configuration is a ConfigError naming the field and value', () => {
  test.each(BAD_CONFIGS)('%s', (_, config, field, value) => {
    let error: unknown;
    try {
      createArena(config as ArenaConfig);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const configError = error as ConfigError;
    expect(configError.code).toBe('ERR_CONFIG');
    expect(configError.field).toBe(field);
    expect(configError.message.startsWith(`${field}=`)).toBe(true);
    if (value !== undefined) expect(configError.value).toBe(value);
  });

  test('a rejected config laid over an existing arena leaves it intact', async () => {
    const { memory } = await newArena(CONFIG);
    const before = new Uint8Array(memory.buffer).slice();
    expect(() => createArena({ threads: 2, rings: [{ capacity: 3, recordSize: 8 }], memory })).toThrow(ConfigError);
    expect(new Uint8Array(memory.buffer)).toEqual(before);
    expect(() => attachArena(memory)).not.toThrow();
  });

  test('out-of-range structure ids are ConfigErrors', async () => {
    const { arena } = await newArena(CONFIG);
    expect(() => arena.ring(2)).toThrow(expect.objectContaining({ field: 'ring', value: 2 }));
    expect(() => arena.pool(-1)).toThrow(expect.objectContaining({ field: 'pool', value: -1 }));
    expect(() => arena.router(1)).toThrow(expect.objectContaining({ field: 'router', value: 1 }));
    expect(() => arena.scratchOf(3)).toThrow(expect.objectContaining({ field: 'thread', value: 3 }));
  });
});

describe('memories that are not a usable arena are ArenaErrors', () => {
  const expectArenaError = (fn: () => unknown, code: string, field: string): void => {
    let error: unknown;
    try {
      fn();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ArenaError);
    expect(error).toMatchObject({ code, field });
    expect((error as Error).message.startsWith(`${field}=`)).toBe(true);
  };

  test('memory too small for the requested layout', () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 2, shared: true });
    expectArenaError(() => createArena({ ...CONFIG, memory }), 'ERR_ARENA_TOO_SMALL', 'memory.buffer.byteLength');
  });

  test('memory that is not shared', () => {
    const memory = new WebAssembly.Memory({ initial: 64, maximum: 64 });
    expectArenaError(() => createArena({ ...CONFIG, memory }), 'ERR_ARENA_NOT_SHARED', 'memory');
    expectArenaError(() => attachArena(memory), 'ERR_ARENA_NOT_SHARED', 'memory');
  });

  test('a foreign buffer (no magic)', () => {
    const memory = new WebAssembly.Memory({ initial: 4, maximum: 4, shared: true });
    new Uint8Array(memory.buffer).fill(0xab);
    expectArenaError(() => attachArena(memory), 'ERR_ARENA_MAGIC', 'header.magic');
  });

  test('a memory smaller than any arena', () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    expectArenaError(() => attachArena(memory), 'ERR_ARENA_TOO_SMALL', 'memory.buffer.byteLength');
  });

  test('another layout version', async () => {
    const { memory } = await newArena(CONFIG);
    new Int32Array(memory.buffer)[(ARENA_BASE + ARENA_VERSION_OFFSET) >> 2] = 99;
    expectArenaError(() => attachArena(memory), 'ERR_ARENA_VERSION', 'header.layoutVersion');
  });

  test('an arena copied into a memory of another size', async () => {
    const { memory } = await newArena(CONFIG);
    const larger = new WebAssembly.Memory({ initial: memory.buffer.byteLength / WASM_PAGE_BYTES + 1, maximum: 1024, shared: true });
    new Uint8Array(larger.buffer).set(new Uint8Array(memory.buffer));
    expectArenaError(() => attachArena(larger), 'ERR_ARENA_SIZE', 'header.arenaBytes');
  });

  test('a corrupted directory entry', async () => {
    const { memory } = await newArena(CONFIG);
    const entry1 = ARENA_BASE + ARENA_DIRECTORY_OFFSET + ENTRY_BYTES;
    new Int32Array(memory.buffer)[(entry1 + ENTRY_OFFSET_OFFSET) >> 2] += STRUCTURE_ALIGN;
    expectArenaError(() => attachArena(memory), 'ERR_ARENA_CORRUPT', 'directory[1].offset');
  });

  test('a corrupted ring header', async () => {
    const { memory, arena } = await newArena(CONFIG);
    new Int32Array(memory.buffer)[(arena.rings[1]!.address + RING_CAPACITY_OFFSET) >> 2] = 1000;
    expectArenaError(() => attachArena(memory), 'ERR_ARENA_CORRUPT', 'directory[1].ring.capacity');
  });
});
