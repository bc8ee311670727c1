/**
 * Workers: the engine's worker threads — start them (each imports the handler module and reports
 * ready), notice one that exits or fails (a crash: its lanes are closed so publishers get CLOSED
 * instead of waiting), count what it left unhandled, and stop them at close.
 */
import type { CoreOps } from '../../bindings/core-ops.ts';
import type { Arena } from '../arena.ts';
import { EngineError } from '../errors.ts';
import type { ControlBlock } from './control-block.ts';
import { COMMAND_STOP, laneIndex } from './layout.ts';
import type { EngineShape } from './options.ts';
import { deserializeError, type Platform, type WorkerHandle, type WorkerMessage } from './platform.ts';
import type { Reporter } from './reporter.ts';

export type WorkerState = 'starting' | 'running' | 'stopped' | 'crashed';

interface WorkerRecord {
  handle: WorkerHandle | undefined;
  state: WorkerState;
  stopping: boolean;
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

  constructor(
    private readonly platform: Platform,
    private readonly arena: Arena,
    private readonly core: CoreOps,
    private readonly shape: EngineShape,
    private readonly controls: readonly ControlBlock[],
    private readonly reporter: Reporter,
    /** A running worker crashed (its lanes are closed already); thread = worker + 1. */
    private readonly onCrash: (thread: number, error: EngineError) => void,
  ) {}

  get count(): number {
    return this.records.length;
  }

  /** Worker `w`'s state as the engine's thread saw its events. */
  state(w: number): WorkerState {
    return this.records[w]!.state;
  }

  /**
   * Starts `count` workers and resolves when every one runs; EngineError ERR_WORKER_START (and
   * every worker terminated) if one fails, exits or is not ready within `startTimeout` ms.
   */
  async start(count: number, launch: WorkerLaunch, startTimeout: number): Promise<void> {
    const ready: Promise<void>[] = [];
    for (let w = 0; w < count; w++) ready.push(this.startOne(w, launch, startTimeout));
    try {
      await Promise.all(ready);
    } catch (error) {
      await this.terminate();
      throw error;
    }
  }

  private startOne(w: number, launch: WorkerLaunch, startTimeout: number): Promise<void> {
    const thread = w + 1;
    let markStopped!: () => void;
    const record: WorkerRecord = {
      handle: undefined, state: 'starting', stopping: false,
      stopped: new Promise<void>((resolve) => { markStopped = resolve; }), markStopped: () => markStopped(),
    };
    this.records.push(record);
    let timer: ReturnType<typeof setTimeout> | undefined;
    return new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new EngineError('ERR_WORKER_START', 'worker', w, `did not start within ${startTimeout} ms`)), startTimeout);
      record.handle = this.platform.startWorker(
        {
          thread, memory: this.arena.memory, module: launch.module, backend: launch.backend,
          handlers: launch.handlers, fingerprint: launch.fingerprint, shape: this.shape,
        },
        {
          message: (message: WorkerMessage) => {
            switch (message.kind) {
              case 'ready':
                record.state = 'running';
                clearTimeout(timer);
                resolve();
                break;
              case 'start-failed':
                clearTimeout(timer);
                reject(new EngineError('ERR_WORKER_START', 'worker', w, `failed to start: ${message.error.message}`, { cause: deserializeError(message.error) }));
                break;
              case 'handler-error':
                this.reporter.handlerError(message.topic, deserializeError(message.error), w);
                break;
              case 'stopped':
                record.state = 'stopped';
                record.markStopped();
                break;
            }
          },
          error: (error) => {
            clearTimeout(timer);
            reject(new EngineError('ERR_WORKER_START', 'worker', w, `failed: ${error.message}`, { cause: error }));
            this.onGone(w, error);
          },
          exit: (code) => {
            clearTimeout(timer);
            reject(new EngineError('ERR_WORKER_START', 'worker', w, `exited with code ${code} before it started`));
            this.onGone(w, new Error(`exited with code ${code}`));
          },
        },
        launch.factory,
      );
    }).finally(() => clearTimeout(timer));
  }

  private onGone(w: number, error: Error): void {
    const record = this.records[w]!;
    if (record.stopping || record.state === 'stopped' || record.state === 'crashed') {
      record.markStopped();
      return;
    }
    const wasRunning = record.state === 'running';
    record.state = 'crashed';
    record.markStopped();
    if (!wasRunning) return;
    // Nobody consumes its lanes any more: close them, so publishers get CLOSED instead of waiting.
    const T = this.shape.threads;
    for (let p = 0; p < T; p++) this.core.ringCloseConsumer(this.arena.ring(laneIndex(p, w + 1, T)).address);
    const crash = new EngineError('ERR_WORKER_CRASHED', 'worker', w, `crashed: ${error.message}`, { cause: error });
    this.onCrash(w + 1, crash);
    this.reporter.report(crash);
  }

  /** Records accepted for crashed workers that nobody will handle: their lanes' unhandled records and their backlogs. */
  lostToCrashes(): number {
    const T = this.shape.threads;
    let lost = 0;
    this.records.forEach((record, w) => {
      if (record.state !== 'crashed') return;
      for (let p = 0; p < T; p++) lost += this.core.ringSize(this.arena.ring(laneIndex(p, w + 1, T)).address);
      lost += this.controls[w + 1]!.backlog();
    });
    return lost;
  }

  /**
   * Tells every worker to stop once its lanes and backlogs are empty, waits up to `timeoutMs` for
   * the running ones to say so, then terminates them all.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.records.forEach((record, w) => {
      record.stopping = true;
      const control = this.controls[w + 1]!;
      Atomics.store(control.i32, control.command, COMMAND_STOP);
      control.ring();
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(this.records.map((r) => (r.state === 'running' ? r.stopped : undefined))),
      new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); }),
    ]);
    clearTimeout(timer);
  }

  /** Whether the worker threads keep the host process alive (KeepAlive decides). */
  setKeepAlive(keep: boolean): void {
    for (const record of this.records) record.handle?.setKeepAlive(keep);
  }

  /** Terminates every worker thread. */
  async terminate(): Promise<void> {
    await Promise.all(this.records.map((r) => r.handle?.terminate()));
  }
}
