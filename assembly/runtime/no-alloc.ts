// @ts-nocheck: AssemblyScript runtime file (decorators and builtins TypeScript does not know).
/**
 * The "no allocation" runtime for assembly/.
 *
 * Several Wasm instances share one memory, one per thread. Every AssemblyScript runtime keeps its
 * allocator state per instance (stub: two bump pointers both starting at __heap_base; minimal and
 * incremental: allocator state re-initialised by each instance; incremental: one shadow stack for
 * all threads), so any managed allocation would corrupt the arena. This runtime makes every
 * allocation entry point a compile-time ERROR: `new`, strings, arrays, closures, `toString` in
 * assembly/ fail the build instead of corrupting memory at run time.
 */

@global @unsafe function __alloc(size: usize): usize { ERROR("assembly/ must not allocate: __alloc reached (managed object, string or array)"); return 0; }
@global @unsafe function __realloc(ptr: usize, size: usize): usize { ERROR("assembly/ must not allocate: __realloc reached"); return 0; }
@global @unsafe function __free(ptr: usize): void { ERROR("assembly/ must not allocate: __free reached"); }
@global @unsafe function __reset(): void { ERROR("assembly/ must not allocate: __reset reached"); }
@global @unsafe function __new(size: usize, id: u32): usize { ERROR("assembly/ must not allocate: __new reached (new, string, array or closure)"); return 0; }
@global @unsafe function __renew(oldPtr: usize, size: usize): usize { ERROR("assembly/ must not allocate: __renew reached"); return 0; }
@global @unsafe function __link(parentPtr: usize, childPtr: usize, expectMultiple: bool): void { }
@global @unsafe function __pin(ptr: usize): usize { return ptr; }
@global @unsafe function __unpin(ptr: usize): void { }
@global @unsafe function __visit(ptr: usize, cookie: u32): void { }
@global @unsafe function __collect(): void { }
