/**
 * KeepAlive: whether the engine holds the host process open. Like a worker pool, an engine with
 * work in flight keeps Node running until that work is done, and an idle engine does not: a
 * script that forgets close() still exits once everything it published was handled.
 *
 * Held (worker threads ref'd) from the first publish of a task, a request or a backlog on thread
 * 0 until a sweep finds nothing in flight: every accepted message completed (or lost to a crash),
 * no backlog, no pending request. The sweep is an unref'd interval, so it never holds the process
 * itself; it costs thread 0 one look at the counters per SWEEP_MS while held, nothing while idle.
 */
const SWEEP_MS = 20;

export class KeepAlive {
  private held = true; // workers start ref'd
  private timer: ReturnType<typeof setInterval> | undefined;
  private closed = false;

  constructor(
    private readonly setWorkersKeepAlive: (keep: boolean) => void,
    /** Whether anything is in flight (messages, backlog, pending requests). */
    private readonly busy: () => boolean,
  ) {}

  /** Something was published, requested or backlogged: hold the process until it is done. */
  hold(): void {
    if (this.held || this.closed) return;
    this.held = true;
    this.setWorkersKeepAlive(true);
    this.watch();
  }

  /** Starts sweeping (after the workers started: held until the first sweep finds them idle). */
  watch(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
    // Node: the sweep itself must not keep the process alive (browsers have no unref).
    (this.timer as { unref?: () => void }).unref?.();
  }

  private sweep(): void {
    if (this.busy()) return;
    this.held = false;
    this.setWorkersKeepAlive(false);
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The engine closed: no more sweeps. */
  stop(): void {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
