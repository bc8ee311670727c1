/**
 * Workers: the engine's worker threads — start them (each imports the handler module and reports
 * ready), notice one that dies (exits, throws out of its loop, fails to start, or is killed as
 * hung) and tell the supervisor once per death, start its successor in the same place when the
 * supervisor says so, and stop them all at close.
 *
 * A worker's successor is a new thread with the same number: it attaches to the same shared memory
 * and finds its lanes, subscriptions and counters where its predecessor left them (recovery.ts
 * puts them in order first). Every thread a record starts is one `generation`; events of an older
 * generation are ignored, so a late 'exit' of a killed thread cannot touch its successor.
 */
import type { Arena } from '../arena.ts';
import { EngineError } from '../errors.ts';
import type { ControlBlock } from './control-block.ts';
import { COMMAND_STOP, THREAD_RESTARTING } from './layout.ts';
import type { EngineShape } from './options.ts';
import { deserializeError, type Platform, type WorkerHandle, type WorkerMessage } from './platform.ts';
import type { Reporter } from './reporter.ts';

/** How long a revoked Web Worker that stays BUSY (hung in a handler) is waited for after terminate(). */
const FENCE_MS = 3000;

/**
 * starting: its first thread is not ready yet; running; restarting: it died and a successor is
 * due or starting; stopped: close() ended it; crashed: down for good (the supervisor gave up).
 */
export type WorkerState = 'starting' | 'running' | 'restarting' | 'stopped' | 'crashed';

/** Why a worker's thread died, as the supervisor is told. */
export interface WorkerDeath {
  readonly worker: number;
  readonly error: Error;
  /** Killed by the supervisor because a handler ran past handlerTimeout. */
  readonly hung: boolean;
  /** Milliseconds the thread had been running (since ready); 0 if it never was. */
  readonly ranMs: number;
}

interface WorkerRecord {
  handle: WorkerHandle | undefined;
  generation: number;
  state: WorkerState;
  /** close() began: a death now is a stop, not a crash. */
  stopping: boolean;
  restarts: number;
  /** When its current thread became ready (performance.now()), 0 before. */
  readyAt: number;
  /** Set when the supervisor kills the thread as hung. */
  hung: boolean;
  respawnTimer: ReturnType<typeof setTimeout> | undefined;
  /** Handler-error reports received from its current thread (that thread counts the ones it posted in REPORTS). */
  reportsReceived: number;
  stopped: Promise<void>;
  markStopped(): void;
}

/** What every worker is started with, besides its thread number. */
export interface WorkerLaunch {
  readonly module: WebAssembly.Module | undefined;
  readonly backend: 'wasm' | 'js';
  /** href of the handler module ('' when the app's own worker script brings it). */
  readonly handlers: string;
  readonly fingerprint: string;
  /** options.worker (browsers only). */
  readonly factory: ((index: number) => unknown) | undefined;
}

export class Workers {
  private readonly records: WorkerRecord[] = [];
  private launch: WorkerLaunch | undefined;
  private startTimeout = 0;
  private keepAlive = true;

  constructor(
    private readonly platform: Platform,
    private readonly arena: Arena,
    private readonly shape: EngineShape,
    private readonly controls: readonly ControlBlock[],
    private readonly reporter: Reporter,
    /** A running (or restarting) worker's thread is gone; called once per thread, after it is gone. */
    private readonly onDeath: (death: WorkerDeath) => void,
  ) {}

  get count(): number {
    return this.records.length;
  }

  /** Worker `w`'s state as the engine's thread saw its events. */
  state(w: number): WorkerState {
    return this.records[w]!.state;
  }

  /** Times worker `w` was restarted. */
  restarts(w: number): number {
    return this.records[w]!.restarts;
  }

  /**
   * Starts `count` workers and resolves when every one runs; EngineError ERR_WORKER_START (and
   * every worker terminated) if one fails, exits or is not ready within `startTimeout` ms.
   */
  async start(count: number, launch: WorkerLaunch, startTimeout: number): Promise<void> {
    this.launch = launch;
    this.startTimeout = startTimeout;
    const ready: Promise<void>[] = [];
    for (let w = 0; w < count; w++) {
      let markStopped!: () => void;
      this.records.push({
        handle: undefined, generation: 0, state: 'starting', stopping: false, restarts: 0, readyAt: 0, hung: false,
        respawnTimer: undefined, reportsReceived: 0, stopped: new Promise<void>((resolve) => { markStopped = resolve; }), markStopped: () => markStopped(),
      });
      ready.push(this.startThread(w));
    }
    try {
      await Promise.all(ready);
    } catch (error) {
      await this.terminate();
      throw error;
    }
  }

  /**
   * Starts a thread for worker `w` (a new generation); resolves when it is ready. A thread that
   * dies after it was ready, or a successor that never gets ready, is a death (onDeath).
   */
  private startThread(w: number): Promise<void> {
    const record = this.records[w]!;
    const generation = ++record.generation;
    const successor = generation > 1;
    record.hung = false;
    record.readyAt = 0;
    const launch = this.launch!;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const current = (): boolean => record.generation === generation;
    // The thread's uncaught error, reported with its exit (which follows it on both platforms).
    let lastError: Error | undefined;
    return new Promise<void>((resolve, reject) => {
      const fail = (error: EngineError): void => {
        clearTimeout(timer);
        if (!current()) return;
        if (successor) this.died(w, generation, error);
        else reject(error);
      };
      // A thread that will not start is ended first: a death is reported once its thread is gone.
      const end = (error: EngineError): void => {
        clearTimeout(timer);
        void Promise.resolve(record.handle?.terminate()).then(() => fail(error));
      };
      timer = setTimeout(() => end(new EngineError('ERR_WORKER_START', 'worker', w, `did not start within ${this.startTimeout} ms`)), this.startTimeout);
      // Only the thread holding this lease may run the worker's loop (see died()).
      const control = this.controls[w + 1]!;
      Atomics.store(control.i32, control.lease, generation);
      Atomics.store(control.i32, control.reports, 0);
      record.reportsReceived = 0;
      record.handle = this.platform.startWorker(
        {
          thread: w + 1, generation, memory: this.arena.memory, module: launch.module, backend: launch.backend,
          handlers: launch.handlers, fingerprint: launch.fingerprint, shape: this.shape,
        },
        {
          message: (message: WorkerMessage) => {
            if (!current()) return;
            switch (message.kind) {
              case 'ready':
                clearTimeout(timer);
                record.state = record.stopping ? record.state : 'running';
                record.readyAt = performance.now();
                resolve();
                break;
              case 'start-failed': {
                const cause = deserializeError(message.error);
                lastError = cause; // its exit may be reported before end() does
                end(new EngineError('ERR_WORKER_START', 'worker', w, `failed to start: ${message.error.message}`, { cause }));
                break;
              }
              case 'handler-error':
                record.reportsReceived++;
                this.reporter.handlerError(message.topic, deserializeError(message.error), w);
                break;
              case 'stopped':
                record.state = 'stopped';
                record.markStopped();
                break;
              case 'journal':
                this.reporter.report(new EngineError('ERR_JOURNAL', 'journal', this.shape.journal?.dir, message.message));
                break;
            }
          },
          error: (error) => {
            lastError = error;
          },
          exit: (code) => {
            if (record.readyAt === 0) {
              fail(lastError !== undefined
                ? new EngineError('ERR_WORKER_START', 'worker', w, `failed: ${lastError.message}`, { cause: lastError })
                : new EngineError('ERR_WORKER_START', 'worker', w, `exited with code ${code} before it started`));
            } else {
              this.died(w, generation, lastError ?? new Error(`exited with code ${code}`));
            }
          },
        },
        launch.factory,
      );
      if (successor) record.handle.setKeepAlive(this.keepAlive);
    }).finally(() => clearTimeout(timer));
  }

  /** The thread of generation `generation` of worker `w` is gone (or failed to start): once per generation. */
  private died(w: number, generation: number, error: Error): void {
    const record = this.records[w]!;
    if (record.generation !== generation || record.state === 'stopped' || record.state === 'crashed') return;
    if (record.stopping) {
      record.state = 'stopped';
      record.markStopped();
      return;
    }
    const ranMs = record.readyAt === 0 ? 0 : performance.now() - record.readyAt;
    record.state = 'restarting';
    record.readyAt = 0;
    record.generation++; // nothing more from that thread counts
    const hung = record.hung;
    const death: WorkerDeath = { worker: w, error, hung, ranMs };
    const control = this.controls[w + 1]!;
    Atomics.store(control.i32, control.state, THREAD_RESTARTING); // stats: not running, whatever the dead thread last said
    // Node reports 'exit' once the thread is gone. A Web Worker may run on for a while after
    // terminate(): revoke its lease, and wait until it is out of its loop pass (BUSY = 0; it
    // checks the lease after setting BUSY, so it will not start another) before recovery touches
    // its lanes. A thread hung in a handler never clears BUSY: after FENCE_MS it is taken as gone.
    if (this.platform.exitIsFinal) {
      this.onDeath(death);
      return;
    }
    Atomics.store(control.i32, control.lease, 0);
    control.ring();
    const deadline = performance.now() + FENCE_MS;
    const fence = (): void => {
      if (Atomics.load(control.i32, control.busy) !== 0 && performance.now() < deadline) {
        setTimeout(fence, 1);
        return;
      }
      if (record.stopping) return;
      this.onDeath(death);
    };
    fence();
  }

  /** Kills worker `w`'s thread as hung (handlerTimeout): a death with `hung` set, after it is gone. */
  async killHung(w: number): Promise<void> {
    const record = this.records[w]!;
    if (record.state !== 'running') return;
    const generation = record.generation;
    record.hung = true;
    await record.handle?.terminate();
    // Browsers report no exit after terminate(): say it here (a Node 'exit' already did, or is ignored).
    this.died(w, generation, new Error('terminated: a handler ran past handlerTimeout'));
  }

  /** Starts worker `w`'s successor after `delayMs` (the supervisor's backoff). */
  respawn(w: number, delayMs: number): void {
    const record = this.records[w]!;
    if (record.stopping || record.state !== 'restarting') return;
    record.respawnTimer = setTimeout(() => {
      record.respawnTimer = undefined;
      if (record.stopping || record.state !== 'restarting') return;
      record.restarts++;
      void this.startThread(w);
    }, delayMs);
  }

  /** The supervisor gave worker `w` up: it stays down. */
  markCrashed(w: number): void {
    const record = this.records[w]!;
    record.state = 'crashed';
    record.markStopped();
  }

  /**
   * Tells every worker to stop once its lanes and backlogs are empty, waits up to `timeoutMs` for
   * the running ones to say so, then terminates them all. A pending restart is cancelled.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.records.forEach((record, w) => {
      record.stopping = true;
      if (record.respawnTimer !== undefined) {
        clearTimeout(record.respawnTimer);
        record.respawnTimer = undefined;
      }
      if (record.state === 'restarting') {
        record.state = 'stopped';
        record.markStopped();
      }
      const control = this.controls[w + 1]!;
      Atomics.store(control.i32, control.command, COMMAND_STOP);
      control.ring();
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(this.records.map((r) => (r.state === 'running' || r.state === 'starting' ? r.stopped : undefined))),
      new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); }),
    ]);
    clearTimeout(timer);
  }

  /**
   * Whether a running worker has posted a handler-error report thread 0 has not received yet:
   * drain() waits for those, so onError and stats().firstError have seen what the handled
   * messages reported. (A thread that died took its unsent reports with it.)
   */
  reportsInTransit(): boolean {
    return this.records.some((record, w) => {
      if (record.state !== 'running' && record.state !== 'starting') return false;
      const control = this.controls[w + 1]!;
      return Atomics.load(control.i32, control.reports) !== record.reportsReceived;
    });
  }

  /** Whether the worker threads keep the host process alive (KeepAlive decides). */
  setKeepAlive(keep: boolean): void {
    this.keepAlive = keep;
    for (const record of this.records) record.handle?.setKeepAlive(keep);
  }

  /** Terminates every worker thread; a worker that was not down for good is 'stopped' after it. */
  async terminate(): Promise<void> {
    for (const record of this.records) {
      record.stopping = true;
      if (record.respawnTimer !== undefined) clearTimeout(record.respawnTimer);
    }
    await Promise.all(this.records.map((r) => r.handle?.terminate()));
    for (const record of this.records) {
      if (record.state !== 'crashed') record.state = 'stopped';
      record.markStopped();
    }
  }
}
