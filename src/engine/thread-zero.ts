/**
 * ThreadZero: the engine's own thread between the user's calls — an asynchronous loop that hands
 * replies to their requests, and the pump that moves thread 0's backlogs into their lanes as
 * workers free space (whenWritable resolves when they are empty). Neither ever blocks: they park
 * with Atomics.waitAsync (or the platform's fallback) and keep the event loop free.
 */
import type { CoreOps } from '../../bindings/core-ops.ts';
import { parkProducerAsync } from '../../bindings/park.ts';
import type { Platform } from './platform.ts';
import type { ThreadRuntime } from './thread.ts';

/** Empty polls of the reply lanes before thread 0 parks with waitAsync (each ~50 ns; keeps the event loop free). */
const THREAD0_SPIN = 64;
const THREAD0_PARK_MS = 1000;
/** Polls of a full lane by thread 0's backlog pump before it parks asynchronously (~20–50 µs). */
const PUMP_SPIN = 256;

export class ThreadZero {
  private closed = false;
  private pumpRunning = false;
  private writableWaiters: (() => void)[] = [];

  constructor(
    private readonly runtime: ThreadRuntime,
    private readonly core: CoreOps,
    private readonly platform: Platform,
    /** Whether consumer thread `thread` crashed (its backlog cannot move; the pump skips it). */
    private readonly crashed: (thread: number) => boolean,
  ) {}

  /** Starts the reply loop (runs until stop()). */
  start(): void {
    void this.loop();
  }

  /** Ends the loop and the pump, and releases every whenWritable() waiter. */
  stop(): void {
    this.closed = true;
    const waiters = this.writableWaiters;
    this.writableWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Resolves when no message of this thread waits in a backlog. */
  whenWritable(): Promise<void> {
    if (this.runtime.backpressure.backlogSize === 0) return Promise.resolve();
    void this.pump();
    return new Promise<void>((resolve) => this.writableWaiters.push(resolve));
  }

  private async loop(): Promise<void> {
    const { consumer, control } = this.runtime;
    const { i32, sleeping, doorbell } = control;
    let polls = 0;
    while (!this.closed) {
      if (consumer.drainAll() > 0) {
        polls = 0;
        await null; // let the resolved requests' continuations run
        continue;
      }
      if (++polls < THREAD0_SPIN) continue;
      polls = 0;
      Atomics.store(i32, sleeping, 1);
      const seen = Atomics.load(i32, doorbell);
      // Re-check after announcing SLEEPING (pairs with the worker's HEAD store then SLEEPING load).
      if (consumer.hasInbound()) {
        Atomics.store(i32, sleeping, 0);
        continue;
      }
      // waitAsync does not keep the process alive (Node 20): ref'd workers do while work is in
      // flight (KeepAlive), and an idle engine lets the process exit.
      await this.platform.waitAsync(i32, doorbell, seen, THREAD0_PARK_MS);
      Atomics.store(i32, sleeping, 0);
    }
  }

  /** Moves thread 0's backlogs into their lanes as the consumers free space. */
  async pump(): Promise<void> {
    if (this.pumpRunning) return;
    this.pumpRunning = true;
    const { backpressure, producer } = this.runtime;
    try {
      let polls = 0;
      while (backpressure.pumpBacklogs() > 0 && !this.closed) {
        const consumer = backpressure.firstBackloggedLane();
        if (consumer < 0) break;
        if (this.crashed(consumer)) continue;
        // A worker that is draining frees space within microseconds, while an asynchronous wake-up
        // costs tens of µs to a millisecond here: poll a little first (this blocks the event loop
        // for at most ~PUMP_SPIN polls, each one ring-index load).
        if (++polls < PUMP_SPIN) continue;
        polls = 0;
        await parkProducerAsync(this.core, this.runtime.control.i32, producer.ringTo[consumer]!, 50, this.platform.waitAsync);
      }
    } finally {
      this.pumpRunning = false;
    }
    if (backpressure.backlogSize === 0) {
      const waiters = this.writableWaiters;
      this.writableWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}
