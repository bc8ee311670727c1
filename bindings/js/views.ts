/**
 * Typed views over the shared memory, made once per thread and shared by every JS-twin structure.
 * Views are never re-made: the arena's memory is sized up front and never grown.
 */
export interface MemoryViews {
  readonly buffer: SharedArrayBuffer | ArrayBuffer;
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  readonly u32: Uint32Array;
  readonly dv: DataView;
}

export function makeViews(memory: WebAssembly.Memory | SharedArrayBuffer | ArrayBuffer): MemoryViews {
  const buffer = memory instanceof WebAssembly.Memory ? memory.buffer : memory;
  return {
    buffer,
    u8: new Uint8Array(buffer),
    i32: new Int32Array(buffer),
    u32: new Uint32Array(buffer),
    dv: new DataView(buffer),
  };
}
