/**
 * Reporter: where the engine's asynchronous errors go (handler errors, crashed workers, a close
 * that could not drain) — the user's onError — and the first handler error of each topic, which
 * stats() and failed requests carry as their cause.
 */
import { EngineError } from '../errors.ts';

export class Reporter {
  private readonly firstErrors = new Map<string, Error>();

  constructor(private readonly onError: ((error: Error) => void) | undefined) {}

  /** A handler of `topic` threw (on any thread): remembered if it is the topic's first, then reported. */
  handlerError(topic: string, error: Error): void {
    if (!this.firstErrors.has(topic)) this.firstErrors.set(topic, error);
    this.report(new EngineError('ERR_HANDLER', 'topic', topic, `a handler threw: ${error.message}`, { cause: error }));
  }

  /** The first handler error seen for `topic`, if any. */
  firstError(topic: string): Error | undefined {
    return this.firstErrors.get(topic);
  }

  report(error: Error): void {
    if (this.onError !== undefined) this.onError(error);
  }
}
