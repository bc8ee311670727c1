/**
 * Arena layout: the header at the start of the shared memory region every structure lives in.
 *
 * This file is the ONE source of truth for the arena's numbers. It is plain `export const` integer
 * arithmetic so that it compiles both as AssemblyScript (imported by assembly/) and as TypeScript
 * (imported by bindings/ and src/). The Wasm module re-exports every constant as a global, and
 * test/layout.test.ts proves the compiled module and the TypeScript side agree.
 *
 *   memory byte 0                                   ARENA_BASE (64 KiB)
 *   ┌────────────────────────────────────────────┬──────────────────────┬───────────────────────┐
 *   │ Wasm static data / unused (Binaryen assumes │ arena header +       │ structures, each at a │
 *   │ the low 1 KiB is unused). Release: no data; │ directory (16 KiB)   │ STRUCTURE_ALIGN bound │
 *   │ debug: assertion messages, the same bytes   │                      │                       │
 *   │ written by every instantiation              │                      │                       │
 *   └────────────────────────────────────────────┴──────────────────────┴───────────────────────┘
 *
 * Header, relative to ARENA_BASE. Written once by the creating thread before any other thread
 * attaches, then read-only (READY is the one atomic word, the publishing store of the layout).
 *
 * | offset | size | field              | writer           | readers     | access |
 * |--------|------|--------------------|------------------|-------------|--------|
 * | 0      | 4    | MAGIC              | creating thread  | attachers   | plain  |
 * | 4      | 4    | LAYOUT_VERSION     | creating thread  | attachers   | plain  |
 * | 8      | 4    | ARENA_BYTES        | creating thread  | attachers   | plain  |
 * | 12     | 4    | THREADS            | creating thread  | all         | plain  |
 * | 16     | 4    | ENTRY_COUNT        | creating thread  | attachers   | plain  |
 * | 20     | 4    | READY (0/1)        | creating thread  | attachers   | atomic |
 * | 64     | 16×n | directory entries  | creating thread  | attachers   | plain  |
 *
 * Directory entry (ENTRY_BYTES, same writer, readers and access as the header):
 *
 * | offset | size | field  | meaning                                                              |
 * |--------|------|--------|----------------------------------------------------------------------|
 * | 0      | 4    | KIND   | KIND_RING, KIND_POOL, KIND_ROUTER or KIND_SCRATCH                    |
 * | 4      | 4    | OFFSET | absolute byte address of the structure                               |
 * | 8      | 4    | BYTES  | its size                                                             |
 * | 12     | 4    | PARAM  | ring: producer thread << RING_PARAM_PRODUCER_SHIFT, OR'd with the    |
 * |        |      |        | consumer thread (PARAM & RING_PARAM_CONSUMER_MASK); either is        |
 * |        |      |        | RING_PARAM_UNASSIGNED when not given. Scratch block: its thread.     |
 * |        |      |        | Pool, router: 0                                                      |
 */

/** Cache line of the x86-64 and ARM cores we run on. */
export const CACHE_LINE = 64;
/** Words written by different threads sit this far apart: two lines, so the adjacent-line
 *  prefetcher does not pair them either. */
export const FALSE_SHARING_STRIDE = CACHE_LINE * 2;
/** Every structure starts on this boundary. */
export const STRUCTURE_ALIGN = FALSE_SHARING_STRIDE;

/** First byte of the arena. Above 1 KiB (Binaryen assumes low memory unused at -O2+) and above
 *  the module's `__heap_base`, which bindings/wasm.ts checks at instantiation. */
export const ARENA_BASE = 65536;
/** Any value below this returned where an address is expected is a status code. */
export const ADDRESS_MIN = ARENA_BASE;

/** "WDSP" read as a little-endian u32. */
export const ARENA_MAGIC = 0x50534457;
/** Bumped on every incompatible change of any layout file. */
export const ARENA_LAYOUT_VERSION = 2;

export const ARENA_MAGIC_OFFSET = 0;
export const ARENA_VERSION_OFFSET = ARENA_MAGIC_OFFSET + 4;
export const ARENA_BYTES_OFFSET = ARENA_VERSION_OFFSET + 4;
export const ARENA_THREADS_OFFSET = ARENA_BYTES_OFFSET + 4;
export const ARENA_ENTRY_COUNT_OFFSET = ARENA_THREADS_OFFSET + 4;
export const ARENA_READY_OFFSET = ARENA_ENTRY_COUNT_OFFSET + 4;
export const ARENA_DIRECTORY_OFFSET = CACHE_LINE;

export const ENTRY_KIND_OFFSET = 0;
export const ENTRY_OFFSET_OFFSET = ENTRY_KIND_OFFSET + 4;
export const ENTRY_BYTES_OFFSET = ENTRY_OFFSET_OFFSET + 4;
export const ENTRY_PARAM_OFFSET = ENTRY_BYTES_OFFSET + 4;
export const ENTRY_BYTES = ENTRY_PARAM_OFFSET + 4;

/** A ring's PARAM word: producer thread in the high half, consumer thread in the low half. */
export const RING_PARAM_PRODUCER_SHIFT = 16;
export const RING_PARAM_CONSUMER_MASK = 0xffff;
/** A ring's producer or consumer in PARAM when none was assigned: never a thread index (all are below MAX_THREADS). */
export const RING_PARAM_UNASSIGNED = RING_PARAM_CONSUMER_MASK;

/** Room for 4092 directory entries: an engine's lanes (threads² × 3 priority classes) fit up to 35 workers. */
export const ARENA_HEADER_BYTES = 65536;
export const ARENA_MAX_ENTRIES = (ARENA_HEADER_BYTES - ARENA_DIRECTORY_OFFSET) / ENTRY_BYTES;

export const KIND_RING = 1;
export const KIND_POOL = 2;
export const KIND_ROUTER = 3;
/** Per-thread scratch block: staging for pushes, pops and route output, written only by its thread. */
export const KIND_SCRATCH = 4;

/** Threads that may take part in one arena (main thread + workers); bounds per-thread arrays. */
export const MAX_THREADS = 64;
/** Largest arena: keeps every address below 2^31, so raw Wasm i32 returns are never negative. */
export const ARENA_MAX_BYTES = 1024 * 1024 * 1024;
export const WASM_PAGE_BYTES = 65536;
