/**
 * Lifecycle: whether the engine is open, and how it ends — drain (every accepted message handled,
 * no backlog, durable subscriptions handed everything journaled), close (end the consume()
 * streams, drain, stop the durable subscriptions and save their positions, stop the supervisor, the workers and
 * thread 0's loop, reject pending requests) — and the consume() streams still open.
 */
import { ConfigError, EngineError } from '../errors.ts';
import type { MainThreadStream } from './consume.ts';
import type { Durables } from './durables.ts';
import type { KeepAlive } from './keep-alive.ts';
import { checkTimeout } from './options.ts';
import type { Reporter } from './reporter.ts';
import type { Requests } from './requests.ts';
import type { Stats } from './stats.ts';
import type { Supervisor } from './supervisor.ts';
import type { ThreadRuntime } from './thread.ts';
import type { ThreadZero } from './thread-zero.ts';
import type { Workers } from './workers.ts';

export class Lifecycle {
  private closing: Promise<void> | undefined;
  /** consume() streams not yet ended (close() ends them first: nobody pulls them any more). */
  readonly streams = new Set<MainThreadStream<unknown>>();

  constructor(
    private readonly runtime: ThreadRuntime,
    private readonly counters: Stats,
    private readonly workerThreads: Workers,
    private readonly supervisor: Supervisor,
    private readonly threadZero: ThreadZero,
    private readonly keepAlive: KeepAlive,
    private readonly requests: Requests,
    private readonly reporter: Reporter,
    private readonly durables: Durables | undefined,
    private readonly yieldFn: () => Promise<void>,
  ) {}

  /** Whether close() was called (or the engine never started). */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** ERR_ENGINE_CLOSED naming `field` = `value` (what was asked for) once close() was called. */
  checkOpen(field: string, value: unknown): void {
    if (this.closing !== undefined) throw new EngineError('ERR_ENGINE_CLOSED', field, value, 'the engine is closed');
  }

  /** createEngine failed: the engine never opened, and close() has nothing to do. */
  neverStarted(): void {
    this.closing = Promise.resolve();
  }

  /** Engine.drain. */
  async drain(options: { timeout?: number } = {}): Promise<void> {
    const timeout = checkTimeout('timeout', lifecycleOptions(options).timeout);
    const deadline = timeout === undefined ? Infinity : Date.now() + timeout;
    const { producer, backpressure } = this.runtime;
    for (;;) {
      producer.flushAll();
      backpressure.pumpBacklogs();
      // Journaled records a durable subscription has yet to get: read before and after the count
      // (durable-table.ts DurableTable.behind says why both).
      const behind = this.durables?.behind() ?? 0;
      const inFlight = this.counters.inFlight();
      const stillBehind = this.durables?.behind() ?? 0;
      if (inFlight === 0 && behind === 0 && stillBehind === 0 && backpressure.backlogSize === 0 && !this.workerThreads.reportsInTransit()) return;
      if (Date.now() > deadline) throw new EngineError('ERR_DRAIN_TIMEOUT', 'timeout', timeout, `${inFlight} messages still in flight`);
      await new Promise<void>((resolve) => setTimeout(resolve, 1));
    }
  }

  /** Engine.close. */
  close(options: { timeout?: number } = {}): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    let timeout: number;
    try {
      timeout = checkTimeout('timeout', lifecycleOptions(options).timeout) ?? 10_000;
    } catch (error) {
      return Promise.reject(error); // like drain(): bad options reject, and the engine stays open
    }
    this.closing = this.doClose(timeout);
    return this.closing;
  }

  private async doClose(timeout: number): Promise<void> {
    const started = Date.now();
    let drainError: unknown;
    await Promise.all([...this.streams].map((stream) => stream.return()));
    try {
      await this.drain({ timeout });
    } catch (error) {
      drainError = error;
    }
    // Durable subscriptions stop while the journal thread still runs: it confirms what was handled, the positions are saved.
    await this.durables?.close(this.yieldFn);
    this.supervisor.stop();
    await this.workerThreads.stop(Math.max(100, timeout - (Date.now() - started)));
    this.threadZero.stop();
    this.keepAlive.stop();
    await this.workerThreads.terminate();
    this.requests.rejectAllClosed();
    if (drainError !== undefined && !(drainError instanceof EngineError && drainError.code === 'ERR_WORKER_CRASHED')) {
      this.reporter.report(drainError instanceof Error ? drainError : new Error(String(drainError)));
    }
  }
}

/** drain()/close() options: an object (or nothing), else a ConfigError. */
function lifecycleOptions(options: unknown): { timeout?: unknown } {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') throw new ConfigError('options', options, 'must be { timeout? }');
  return options as { timeout?: unknown };
}
