/**
 * wasm-dispatch core: the one Wasm module, instantiated once per thread over one shared memory.
 *
 * Everything exported here is listed in bindings/core-ops.ts (CoreOps) and has a TypeScript twin
 * in bindings/js/. Layout constants are re-exported as immutable globals so the bindings can
 * prove at load time that this module was built from the same layout files they were.
 *
 * Rules for every file under assembly/ (docs/architecture.md#assemblyscript-on-shared-memory):
 * - no managed allocation (the runtime in runtime/no-alloc.ts makes it a compile error);
 * - no mutable module state shared between threads: module globals are per instance, i.e. per thread;
 * - no top-level statements touching memory (they would run once per instance);
 * - no waiting (memory.atomic.wait) inside Wasm: parking happens in TypeScript.
 */
export * from "./layout/arena";
export * from "./layout/status";
export * from "./layout/ring";
export * from "./layout/pool";
export * from "./layout/router";
export * from "./layout/dispatch";
export * from "./ring";
export * from "./pool";
export * from "./router";
export * from "./hash";
export * from "./dispatch";

/** The module's first free byte after its static data; must not exceed ARENA_BASE. */
export function heapBase(): usize {
  return __heap_base;
}
