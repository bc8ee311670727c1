/**
 * A simulated I/O resource, the model bench/batcher.ts uses: a call costs CALL_US µs of the
 * caller's CPU (framing, a syscall or two), then LATENCY_MS of waiting (a timer: the round trip),
 * then ITEM_US µs of CPU per key (parsing the answer). It answers key k with k · 2 + 1 and tells
 * each answer how long its call took, so a caller can split a load's latency into the resource's
 * part and its own. Plain ECMAScript: it runs on any thread (bench/async.ts runs one per worker).
 */

/** The resource's costs; the defaults are bench/batcher.ts's. */
export interface IoCosts {
  /** CPU per call, µs. */
  readonly callUs: number;
  /** Waiting per call, ms (setTimeout). */
  readonly latencyMs: number;
  /** CPU per key, µs. */
  readonly itemUs: number;
}

export const DEFAULT_IO_COSTS: IoCosts = { callUs: 20, latencyMs: 1, itemUs: 2 };

/** What the resource answers per key: the value, and how long the call that carried it took (ms). */
export interface IoAnswer {
  readonly value: number;
  readonly callMs: number;
}

/** The value the resource answers for `key`: what a caller checks into its checksum. */
export function ioValueOf(key: number): number {
  return key * 2 + 1;
}

/** Busy-waits `us` µs: CPU the resource's client spends on this thread. */
export function spinMicros(us: number): void {
  const end = performance.now() + us / 1000;
  while (performance.now() < end) { /* CPU, as a client library would spend it */ }
}

/** One call of the resource: an answer per key, in the keys' order. */
export interface IoResource {
  (keys: readonly number[]): Promise<IoAnswer[]>;
}

/**
 * A resource with `costs`; `onCall(keys, callMs)` runs once per call when it answers (count calls,
 * keys, record the duration there).
 */
export function makeIoResource(costs: IoCosts, onCall: (keys: number, callMs: number) => void): IoResource {
  return async (keys) => {
    const t0 = performance.now();
    spinMicros(costs.callUs);
    await new Promise<void>((resolve) => setTimeout(resolve, costs.latencyMs));
    spinMicros(costs.itemUs * keys.length);
    const callMs = performance.now() - t0;
    onCall(keys.length, callMs);
    const out = new Array<IoAnswer>(keys.length);
    for (let i = 0; i < keys.length; i++) out[i] = { value: ioValueOf(keys[i]!), callMs };
    return out;
  };
}

/** xorshift32 over 0 .. keys − 1: the same key sequence for every variant of a run (seed 0 counts as 1). */
export function keyStream(seed: number, keys: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % keys;
  };
}
