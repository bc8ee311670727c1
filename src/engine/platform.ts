/**
 * Platform adapter: the few things the engine needs from its host, so the rest is platform-neutral.
 * Node uses worker_threads (platform-node.ts), browsers use Web Workers (platform-browser.ts); the
 * package's entry points pick one (src/index.ts for Node, src/browser.ts for browsers).
 * The engine's thread never blocks: it waits with Atomics.waitAsync (or an event-loop fallback).
 */

/** What a worker is started with (structured-cloned: the Module and the shared Memory are shared). */
export interface WorkerStartData {
  readonly thread: number;
  /** Which thread of this worker this is (its LEASE: a thread whose lease was revoked stops at once). */
  readonly generation: number;
  readonly memory: WebAssembly.Memory;
  readonly module: WebAssembly.Module | undefined;
  readonly backend: 'wasm' | 'js';
  /** href of the handler module; '' when the worker's own script brought it (serveEngineWorker(handlers)). */
  readonly handlers: string;
  /** The topics' fingerprint the handler module must match. */
  readonly fingerprint: string;
  readonly shape: import('./options.ts').EngineShape;
}

/** Messages a worker posts to the engine's thread (rare: start-up, first errors, stop). */
export type WorkerMessage =
  | { readonly kind: 'ready' }
  | { readonly kind: 'start-failed'; readonly error: SerializedError }
  | { readonly kind: 'handler-error'; readonly topic: string; readonly error: SerializedError }
  | { readonly kind: 'stopped' }
  /** The journal thread found damage (a torn tail cut off, a corrupt record skipped): for onError. */
  | { readonly kind: 'journal'; readonly message: string };

/** An error as a worker posts it: a typed error keeps its code and field (its class stays behind). */
export interface SerializedError { readonly name: string; readonly message: string; readonly stack?: string; readonly code?: string; readonly field?: string }

export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const { code, field } = error as { code?: unknown; field?: unknown };
  return {
    name: error.name, message: error.message, stack: error.stack,
    ...(typeof code === 'string' ? { code } : {}), ...(typeof field === 'string' ? { field } : {}),
  };
}

export function deserializeError(error: SerializedError): Error {
  const result = new Error(error.message) as Error & { code?: string; field?: string };
  result.name = error.name;
  if (error.stack !== undefined) result.stack = error.stack;
  if (error.code !== undefined) result.code = error.code;
  if (error.field !== undefined) result.field = error.field;
  return result;
}

export interface WorkerHandle {
  terminate(): Promise<void>;
  /** Whether the running worker keeps the host process alive (Node; browsers: no effect). */
  setKeepAlive(keep: boolean): void;
}

export interface WorkerEvents {
  message(message: WorkerMessage): void;
  /** An uncaught error in the worker (it exits next). */
  error(error: Error): void;
  exit(code: number): void;
}

export type WaitResult = 'ok' | 'not-equal' | 'timed-out';

export interface Platform {
  readonly name: 'node' | 'browser';
  /**
   * Whether a worker's reported exit means its thread no longer runs (Node's 'exit'). A Web
   * Worker's terminate() does not wait for the thread to stop: the engine then revokes the dead
   * thread's LEASE and waits until it is not BUSY before anything else touches its lanes.
   */
  readonly exitIsFinal: boolean;
  /** The default worker count: Node, the logical cores; browsers, one fewer (the page's thread). */
  defaultWorkers(): number;
  /** Logical cores of the machine (Node: availableParallelism(); browsers: hardwareConcurrency, or 1). */
  cores(): number;
  /** Throws a typed error if this host cannot run the engine (a browser page without isolation). */
  checkSupport(): void;
  /** The handler module's URL (href) from a path or URL. */
  resolveModule(spec: string | URL): string;
  /** Starts worker thread `data.thread`; `factory` is options.worker (browsers only). */
  startWorker(data: WorkerStartData, events: WorkerEvents, factory?: (index: number) => unknown): WorkerHandle;
  /** Waits without blocking until i32[index] !== value, a notify, or the timeout. */
  waitAsync(i32: Int32Array, index: number, value: number, timeoutMs: number): Promise<WaitResult>;
  /** Lets other tasks run (timers, I/O, messages). */
  yield(): Promise<void>;
  /** Durable subscriptions' saved positions in journal directory `dir`; absent where no journal can be written (browsers). */
  durablePositions?(dir: string): import('./durables.ts').DurablePositions;
}

/** Atomics.waitAsync where the runtime has it; otherwise polls on the event loop. */
export function waitAsyncOrPoll(i32: Int32Array, index: number, value: number, timeoutMs: number, yieldFn: () => Promise<void>): Promise<WaitResult> {
  const waitAsync = (Atomics as unknown as { waitAsync?: (a: Int32Array, i: number, v: number, t: number) => { async: boolean; value: WaitResult | Promise<WaitResult> } }).waitAsync;
  if (typeof waitAsync === 'function') {
    const result = waitAsync(i32, index, value, timeoutMs);
    return result.async ? (result.value as Promise<WaitResult>) : Promise.resolve(result.value as WaitResult);
  }
  return (async () => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (Atomics.load(i32, index) !== value) return 'ok';
      if (Date.now() >= deadline) return 'timed-out';
      await yieldFn();
    }
  })();
}
