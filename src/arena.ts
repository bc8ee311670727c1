/**
 * The arena: one shared WebAssembly.Memory holding every core structure, laid out once by the
 * creating thread and attached to by every other thread.
 *
 * Layout (numbers in assembly/layout/arena.ts, the single source of truth):
 *
 *   0 ─ ARENA_BASE ─ header + directory (ARENA_HEADER_BYTES) ─ rings ─ pools ─ routers ─ scratch ─ end
 *
 * Structures follow the header in directory order, each at a STRUCTURE_ALIGN boundary, sized by
 * the backend's `*Bytes` functions (pure arithmetic, identical on both backends). The memory is
 * sized up front with initial == maximum pages and never grown: after `memory.grow` other threads
 * would keep stale views.
 *
 * The creating thread writes the header, initialises every structure, and publishes the layout
 * with one atomic store of READY = 1 (pairs with attachArena's atomic load of READY). Memory is
 * sent to other threads only after createArena returns, so attachers always see READY == 1 unless
 * the memory is foreign or damaged.
 */
import {
  ARENA_BASE, ARENA_BYTES_OFFSET, ARENA_DIRECTORY_OFFSET, ARENA_ENTRY_COUNT_OFFSET,
  ARENA_HEADER_BYTES, ARENA_LAYOUT_VERSION, ARENA_MAGIC, ARENA_MAGIC_OFFSET, ARENA_MAX_BYTES,
  ARENA_MAX_ENTRIES, ARENA_READY_OFFSET, ARENA_THREADS_OFFSET, ARENA_VERSION_OFFSET, ENTRY_BYTES,
  ENTRY_BYTES_OFFSET, ENTRY_KIND_OFFSET, ENTRY_OFFSET_OFFSET, ENTRY_PARAM_OFFSET, KIND_POOL,
  KIND_RING, KIND_ROUTER, KIND_SCRATCH, MAX_THREADS, RING_PARAM_CONSUMER_MASK, RING_PARAM_PRODUCER_SHIFT,
  RING_PARAM_UNASSIGNED, STRUCTURE_ALIGN, WASM_PAGE_BYTES,
} from '../assembly/layout/arena.ts';
import {
  RING_CAPACITY_OFFSET, RING_MAX_CAPACITY, RING_MAX_RECORD_SIZE, RING_MIN_CAPACITY,
  RING_MIN_RECORD_SIZE, RING_RECORD_ALIGN, RING_RECORD_SIZE_OFFSET,
} from '../assembly/layout/ring.ts';
import {
  POOL_MAX_SLOT_COUNT, POOL_MAX_SLOT_SIZE, POOL_MIN_SLOT_COUNT, POOL_MIN_SLOT_SIZE,
  POOL_SLOT_ALIGN, POOL_SLOT_COUNT_OFFSET, POOL_SLOT_SIZE_OFFSET,
} from '../assembly/layout/pool.ts';
import {
  ROUTER_MAX_SUBSCRIPTIONS_OFFSET, ROUTER_MAX_SUBSCRIPTION_COUNT, ROUTER_MAX_TOPICS_OFFSET,
  ROUTER_MAX_TOPIC_COUNT, ROUTER_THREADS_OFFSET,
} from '../assembly/layout/router.ts';
import type { CoreOps } from '../bindings/core-ops.ts';
import { createJsCore } from '../bindings/js/index.ts';
import { ArenaError, ConfigError } from './errors.ts';

/** A ring to lay out: `capacity` records of `recordSize` bytes, one producer and one consumer. */
export interface RingSpec {
  /** Records; a power of two in [RING_MIN_CAPACITY, RING_MAX_CAPACITY]. */
  capacity: number;
  /** Bytes per record; a multiple of 8 in [8, 65536]. */
  recordSize: number;
  /** Thread index of the producer (informational, recorded in the directory). */
  producer?: number;
  /** Thread index of the consumer (informational, recorded in the directory). */
  consumer?: number;
}

/** A slot pool to lay out. */
export interface PoolSpec {
  /** Slots; a power of two in [1, 2^22]. */
  slotCount: number;
  /** Bytes per slot; a multiple of 8 in [8, 1 MiB]. */
  slotSize: number;
}

/** A routing table to lay out. */
export interface RouterSpec {
  /** Topic ids are 0 .. maxTopics-1; at most 65536. */
  maxTopics: number;
  /** Subscriptions at once, over all topics; at most 65536. */
  maxSubscriptions: number;
}

export interface ArenaConfig {
  /** Threads that will use the arena (main thread + workers), 1 .. MAX_THREADS. */
  threads: number;
  rings?: readonly RingSpec[];
  pools?: readonly PoolSpec[];
  routers?: readonly RouterSpec[];
  /** Per-thread scratch block in bytes (staging for pushes, pops, route output); default 64 KiB. */
  scratchBytes?: number;
  /** Lay the arena out in this shared memory instead of allocating one; it must be large enough. */
  memory?: WebAssembly.Memory;
}

export interface RingInfo {
  readonly address: number;
  readonly capacity: number;
  readonly recordSize: number;
  /** Producer thread index, or -1 when not assigned. */
  readonly producer: number;
  /** Consumer thread index, or -1 when not assigned. */
  readonly consumer: number;
}
export interface PoolInfo { readonly address: number; readonly slotCount: number; readonly slotSize: number }
export interface RouterInfo { readonly address: number; readonly maxTopics: number; readonly maxSubscriptions: number }
export interface ScratchInfo { readonly address: number; readonly bytes: number }

const DEFAULT_SCRATCH_BYTES = 65536;
/** Largest scratch block per thread (16 MiB). */
export const SCRATCH_MAX_BYTES = 1 << 24;

/** The layout of an arena: where each structure lives. Plain data; safe to rebuild per thread. */
export class Arena {
  constructor(
    readonly memory: WebAssembly.Memory,
    /** Total bytes of the memory the layout was made for. */
    readonly bytes: number,
    readonly threads: number,
    readonly rings: readonly RingInfo[],
    readonly pools: readonly PoolInfo[],
    readonly routers: readonly RouterInfo[],
    /** One per thread, indexed by thread. */
    readonly scratch: readonly ScratchInfo[],
  ) {}

  /** The ring at `index`, or a ConfigError naming the index. */
  ring(index: number): RingInfo {
    return pick(this.rings, index, 'ring');
  }
  pool(index: number): PoolInfo {
    return pick(this.pools, index, 'pool');
  }
  router(index: number): RouterInfo {
    return pick(this.routers, index, 'router');
  }
  scratchOf(thread: number): ScratchInfo {
    return pick(this.scratch, thread, 'thread');
  }
}

function pick<T>(list: readonly T[], index: number, field: string): T {
  if (!Number.isInteger(index) || index < 0 || index >= list.length) {
    throw new ConfigError(field, index, `must be an integer in [0, ${list.length - 1}]`);
  }
  return list[index]!;
}

interface PlannedEntry { kind: number; offset: number; bytes: number; param: number }

/** What createArena would lay out, without touching memory: useful to size a memory up front. */
export interface ArenaPlan {
  /** Bytes the arena needs from address 0 (ARENA_BASE + header + structures). */
  bytes: number;
  /** WebAssembly pages for a memory that holds it. */
  pages: number;
  entries: readonly PlannedEntry[];
}

/** Validates `config` (typed errors naming field and value) and computes every structure's offset. */
export function planArena(config: ArenaConfig, sizes: Pick<CoreOps, 'ringBytes' | 'poolBytes' | 'routerBytes'> = jsSizes()): ArenaPlan {
  if (config === null || typeof config !== 'object') throw new ConfigError('config', config, 'must be an object');
  const threads = config.threads;
  requireInt('threads', threads, 1, MAX_THREADS);
  const scratchBytes = config.scratchBytes ?? DEFAULT_SCRATCH_BYTES;
  requireInt('scratchBytes', scratchBytes, STRUCTURE_ALIGN, SCRATCH_MAX_BYTES);
  requireMultiple('scratchBytes', scratchBytes, STRUCTURE_ALIGN);

  const entries: PlannedEntry[] = [];
  let offset = ARENA_BASE + ARENA_HEADER_BYTES;
  const add = (kind: number, bytes: number, param: number): void => {
    entries.push({ kind, offset, bytes, param });
    offset += bytes;
    if (offset > ARENA_MAX_BYTES) {
      throw new ConfigError('config', `${offset} bytes`, `arena exceeds ARENA_MAX_BYTES=${ARENA_MAX_BYTES}`);
    }
  };

  (config.rings ?? []).forEach((ring, i) => {
    const at = `rings[${i}]`;
    requirePowerOfTwo(`${at}.capacity`, ring?.capacity, RING_MIN_CAPACITY, RING_MAX_CAPACITY);
    requireInt(`${at}.recordSize`, ring.recordSize, RING_MIN_RECORD_SIZE, RING_MAX_RECORD_SIZE);
    requireMultiple(`${at}.recordSize`, ring.recordSize, RING_RECORD_ALIGN);
    const producer = optionalThread(`${at}.producer`, ring.producer, threads);
    const consumer = optionalThread(`${at}.consumer`, ring.consumer, threads);
    add(KIND_RING, sizes.ringBytes(ring.capacity, ring.recordSize), (producer << RING_PARAM_PRODUCER_SHIFT) | consumer);
  });
  (config.pools ?? []).forEach((pool, i) => {
    const at = `pools[${i}]`;
    requirePowerOfTwo(`${at}.slotCount`, pool?.slotCount, POOL_MIN_SLOT_COUNT, POOL_MAX_SLOT_COUNT);
    requireInt(`${at}.slotSize`, pool.slotSize, POOL_MIN_SLOT_SIZE, POOL_MAX_SLOT_SIZE);
    requireMultiple(`${at}.slotSize`, pool.slotSize, POOL_SLOT_ALIGN);
    add(KIND_POOL, sizes.poolBytes(pool.slotCount, pool.slotSize), 0);
  });
  (config.routers ?? []).forEach((router, i) => {
    const at = `routers[${i}]`;
    requireInt(`${at}.maxTopics`, router?.maxTopics, 1, ROUTER_MAX_TOPIC_COUNT);
    requireInt(`${at}.maxSubscriptions`, router.maxSubscriptions, 1, ROUTER_MAX_SUBSCRIPTION_COUNT);
    add(KIND_ROUTER, sizes.routerBytes(router.maxTopics, router.maxSubscriptions, threads), 0);
  });
  for (let t = 0; t < threads; t++) add(KIND_SCRATCH, scratchBytes, t);

  if (entries.length > ARENA_MAX_ENTRIES) {
    throw new ConfigError('config', `${entries.length} structures`, `at most ARENA_MAX_ENTRIES=${ARENA_MAX_ENTRIES}`);
  }
  return { bytes: offset, pages: Math.ceil(offset / WASM_PAGE_BYTES), entries };
}

/** A shared memory exactly large enough for `plan` (initial == maximum: it never grows). */
export function allocateArenaMemory(plan: ArenaPlan): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: plan.pages, maximum: plan.pages, shared: true });
}

/**
 * Lays out a new arena: validates the config, allocates (or checks) the memory, initialises every
 * structure with `makeCore(memory)`'s `*Init` functions, writes the header, publishes READY.
 * Call once, on the creating thread, before sharing the memory.
 */
export function createArena(config: ArenaConfig, makeCore: (memory: WebAssembly.Memory) => CoreOps = createJsCore): Arena {
  const plan = planArena(config);
  const memory = config.memory ?? allocateArenaMemory(plan);
  requireSharedMemory(memory);
  const byteLength = memory.buffer.byteLength;
  if (byteLength < plan.bytes) {
    throw new ArenaError('ERR_ARENA_TOO_SMALL', 'memory.buffer.byteLength', byteLength, `the layout needs ${plan.bytes} bytes (${plan.pages} pages)`);
  }
  const core = makeCore(memory);
  const i32 = new Int32Array(memory.buffer);
  const u8 = new Uint8Array(memory.buffer);
  const header = ARENA_BASE;
  // Not ready while being laid out: a thread attaching too early gets ERR_ARENA_NOT_READY.
  Atomics.store(i32, (header + ARENA_READY_OFFSET) >> 2, 0);
  u8.fill(0, header, header + ARENA_HEADER_BYTES);

  const rings = config.rings ?? [];
  const pools = config.pools ?? [];
  const routers = config.routers ?? [];
  let e = 0;
  for (const ring of rings) core.ringInit(plan.entries[e++]!.offset, ring.capacity, ring.recordSize);
  for (const pool of pools) core.poolInit(plan.entries[e++]!.offset, pool.slotCount, pool.slotSize);
  for (const router of routers) core.routerInit(plan.entries[e++]!.offset, router.maxTopics, router.maxSubscriptions, config.threads);
  for (; e < plan.entries.length; e++) {
    const scratch = plan.entries[e]!;
    u8.fill(0, scratch.offset, scratch.offset + scratch.bytes);
  }

  i32[(header + ARENA_MAGIC_OFFSET) >> 2] = ARENA_MAGIC;
  i32[(header + ARENA_VERSION_OFFSET) >> 2] = ARENA_LAYOUT_VERSION;
  i32[(header + ARENA_BYTES_OFFSET) >> 2] = byteLength;
  i32[(header + ARENA_THREADS_OFFSET) >> 2] = config.threads;
  i32[(header + ARENA_ENTRY_COUNT_OFFSET) >> 2] = plan.entries.length;
  plan.entries.forEach((entry, i) => {
    const at = header + ARENA_DIRECTORY_OFFSET + i * ENTRY_BYTES;
    i32[(at + ENTRY_KIND_OFFSET) >> 2] = entry.kind;
    i32[(at + ENTRY_OFFSET_OFFSET) >> 2] = entry.offset;
    i32[(at + ENTRY_BYTES_OFFSET) >> 2] = entry.bytes;
    i32[(at + ENTRY_PARAM_OFFSET) >> 2] = entry.param;
  });
  // Publishes the whole layout: pairs with attachArena's Atomics.load of READY.
  Atomics.store(i32, (header + ARENA_READY_OFFSET) >> 2, 1);
  return attachArena(memory);
}

/**
 * Reads the layout of an arena another thread created. Throws ArenaError when the memory is not
 * shared, too small, foreign (magic), from another layout version, of another size than it was
 * laid out for, not yet published, or when a directory entry or structure header is damaged.
 */
export function attachArena(memory: WebAssembly.Memory): Arena {
  requireSharedMemory(memory);
  const byteLength = memory.buffer.byteLength;
  const header = ARENA_BASE;
  if (byteLength < header + ARENA_HEADER_BYTES) {
    throw new ArenaError('ERR_ARENA_TOO_SMALL', 'memory.buffer.byteLength', byteLength, `an arena needs at least ${header + ARENA_HEADER_BYTES} bytes`);
  }
  const i32 = new Int32Array(memory.buffer);
  const word = (address: number): number => i32[address >> 2]!;
  const magic = word(header + ARENA_MAGIC_OFFSET) >>> 0;
  if (magic !== ARENA_MAGIC) {
    throw new ArenaError('ERR_ARENA_MAGIC', 'header.magic', magic, `not a wasm-dispatch arena (expected 0x${ARENA_MAGIC.toString(16)})`);
  }
  const version = word(header + ARENA_VERSION_OFFSET);
  if (version !== ARENA_LAYOUT_VERSION) {
    throw new ArenaError('ERR_ARENA_VERSION', 'header.layoutVersion', version, `this build reads layout version ${ARENA_LAYOUT_VERSION}`);
  }
  const bytes = word(header + ARENA_BYTES_OFFSET);
  if (bytes !== byteLength) {
    throw new ArenaError('ERR_ARENA_SIZE', 'header.arenaBytes', bytes, `the memory has ${byteLength} bytes (grown or truncated since it was laid out)`);
  }
  // Pairs with createArena's publishing store of READY.
  const ready = Atomics.load(i32, (header + ARENA_READY_OFFSET) >> 2);
  if (ready !== 1) throw new ArenaError('ERR_ARENA_NOT_READY', 'header.ready', ready, 'the creating thread has not finished laying out the arena');
  const threads = word(header + ARENA_THREADS_OFFSET);
  if (threads < 1 || threads > MAX_THREADS) throw corrupt('header.threads', threads);
  const count = word(header + ARENA_ENTRY_COUNT_OFFSET);
  if (count < 0 || count > ARENA_MAX_ENTRIES) throw corrupt('header.entryCount', count);

  const rings: RingInfo[] = [];
  const pools: PoolInfo[] = [];
  const routers: RouterInfo[] = [];
  const scratch: ScratchInfo[] = [];
  let previousEnd = header + ARENA_HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    const at = header + ARENA_DIRECTORY_OFFSET + i * ENTRY_BYTES;
    const kind = word(at + ENTRY_KIND_OFFSET);
    const offset = word(at + ENTRY_OFFSET_OFFSET);
    const size = word(at + ENTRY_BYTES_OFFSET);
    const param = word(at + ENTRY_PARAM_OFFSET);
    const field = `directory[${i}]`;
    if (offset !== previousEnd || offset % STRUCTURE_ALIGN !== 0) throw corrupt(`${field}.offset`, offset);
    if (size <= 0 || offset + size > bytes) throw corrupt(`${field}.bytes`, size);
    previousEnd = offset + size;
    switch (kind) {
      case KIND_RING: {
        const capacity = word(offset + RING_CAPACITY_OFFSET);
        const recordSize = word(offset + RING_RECORD_SIZE_OFFSET);
        if (!isPowerOfTwo(capacity) || capacity < RING_MIN_CAPACITY || capacity > RING_MAX_CAPACITY) throw corrupt(`${field}.ring.capacity`, capacity);
        if (recordSize < RING_MIN_RECORD_SIZE || recordSize > RING_MAX_RECORD_SIZE || recordSize % RING_RECORD_ALIGN !== 0) throw corrupt(`${field}.ring.recordSize`, recordSize);
        const producer = param >>> RING_PARAM_PRODUCER_SHIFT;
        const consumer = param & RING_PARAM_CONSUMER_MASK;
        rings.push({
          address: offset, capacity, recordSize,
          producer: producer === RING_PARAM_UNASSIGNED ? -1 : producer,
          consumer: consumer === RING_PARAM_UNASSIGNED ? -1 : consumer,
        });
        break;
      }
      case KIND_POOL: {
        const slotCount = word(offset + POOL_SLOT_COUNT_OFFSET);
        const slotSize = word(offset + POOL_SLOT_SIZE_OFFSET);
        if (!isPowerOfTwo(slotCount) || slotCount > POOL_MAX_SLOT_COUNT) throw corrupt(`${field}.pool.slotCount`, slotCount);
        if (slotSize < POOL_MIN_SLOT_SIZE || slotSize > POOL_MAX_SLOT_SIZE || slotSize % POOL_SLOT_ALIGN !== 0) throw corrupt(`${field}.pool.slotSize`, slotSize);
        pools.push({ address: offset, slotCount, slotSize });
        break;
      }
      case KIND_ROUTER: {
        const maxTopics = word(offset + ROUTER_MAX_TOPICS_OFFSET);
        const maxSubscriptions = word(offset + ROUTER_MAX_SUBSCRIPTIONS_OFFSET);
        const routerThreads = word(offset + ROUTER_THREADS_OFFSET);
        if (maxTopics < 1 || maxTopics > ROUTER_MAX_TOPIC_COUNT) throw corrupt(`${field}.router.maxTopics`, maxTopics);
        if (maxSubscriptions < 1 || maxSubscriptions > ROUTER_MAX_SUBSCRIPTION_COUNT) throw corrupt(`${field}.router.maxSubscriptions`, maxSubscriptions);
        if (routerThreads !== threads) throw corrupt(`${field}.router.threads`, routerThreads);
        routers.push({ address: offset, maxTopics, maxSubscriptions });
        break;
      }
      case KIND_SCRATCH:
        if (param !== scratch.length) throw corrupt(`${field}.scratch.thread`, param);
        scratch.push({ address: offset, bytes: size });
        break;
      default:
        throw corrupt(`${field}.kind`, kind);
    }
  }
  if (scratch.length !== threads) throw corrupt('directory.scratchCount', scratch.length);
  return new Arena(memory, bytes, threads, rings, pools, routers, scratch);
}

function corrupt(field: string, value: number): ArenaError {
  return new ArenaError('ERR_ARENA_CORRUPT', field, value, 'arena header or directory is damaged');
}

let sizeOps: Pick<CoreOps, 'ringBytes' | 'poolBytes' | 'routerBytes'> | undefined;

function jsSizes(): Pick<CoreOps, 'ringBytes' | 'poolBytes' | 'routerBytes'> {
  // Sizes are pure arithmetic and identical on both backends (test/layout.test.ts); the JS twin
  // needs a memory only for its views, so a tiny placeholder buffer does. Made once, on first use.
  sizeOps ??= createJsCore(new ArrayBuffer(8));
  return sizeOps;
}

function requireSharedMemory(memory: WebAssembly.Memory): void {
  const buffer: unknown = (memory as { buffer?: unknown } | null)?.buffer;
  if (Object.prototype.toString.call(buffer) !== '[object SharedArrayBuffer]') {
    throw new ArenaError('ERR_ARENA_NOT_SHARED', 'memory', memory, 'must be a WebAssembly.Memory created with shared: true');
  }
}

function requireInt(field: string, value: unknown, min: number, max: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(field, value, `must be an integer in [${min}, ${max}]`);
  }
}

function requireMultiple(field: string, value: number, of: number): void {
  if (value % of !== 0) throw new ConfigError(field, value, `must be a multiple of ${of}`);
}

function requirePowerOfTwo(field: string, value: unknown, min: number, max: number): asserts value is number {
  requireInt(field, value, min, max);
  if (!isPowerOfTwo(value)) throw new ConfigError(field, value, `must be a power of two in [${min}, ${max}]`);
}

function optionalThread(field: string, value: number | undefined, threads: number): number {
  if (value === undefined) return RING_PARAM_UNASSIGNED;
  requireInt(field, value, 0, threads - 1);
  return value;
}

function isPowerOfTwo(value: number): boolean {
  return value > 0 && (value & (value - 1)) === 0;
}
