/**
 * Reporter: where the engine's asynchronous errors go (handler errors, crashed workers, a close
 * that could not drain) — the user's onError, or console.error when there is none — and the
 * first handler error of each topic, which stats() and failed requests carry as their cause.
 *
 * Without onError, a handler's errors are not silent: the first one per topic and thread (workers
 * send only their first per topic) is printed with its topic, worker and stack. An onError that
 * throws is printed too, never rethrown: it runs from worker events and timers, where a throw
 * would take the process down.
 */
import { EngineError } from '../errors.ts';

export class Reporter {
  private readonly firstErrors = new Map<string, Error>();

  constructor(private readonly onError: ((error: Error) => void) | undefined) {}

  /** A handler of `topic` threw on worker `worker` (-1: the engine's thread, caller-runs): its first there. */
  handlerError(topic: string, error: Error, worker: number): void {
    if (!this.firstErrors.has(topic)) this.firstErrors.set(topic, error);
    const where = worker < 0 ? "the engine's thread (caller-runs)" : `worker ${worker}`;
    this.report(new EngineError('ERR_HANDLER', 'topic', topic, `a handler threw on ${where}: ${error.message}`, { cause: error }));
  }

  /** The first handler error seen for `topic`, if any. */
  firstError(topic: string): Error | undefined {
    return this.firstErrors.get(topic);
  }

  report(error: Error): void {
    if (this.onError === undefined) {
      console.error(describe(error));
      return;
    }
    try {
      this.onError(error);
    } catch (thrown) {
      console.error(`wasm-dispatch: options.onError threw while reporting an error (the engine goes on):\n${describe(thrown)}\nwhile reporting:\n${describe(error)}`);
    }
  }
}

/** The error's stack, and its cause's (a handler's own stack) when it has one. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  const own = error.stack ?? `${error.name}: ${error.message}`;
  return cause instanceof Error ? `${own}\ncaused by: ${cause.stack ?? cause.message}` : own;
}
