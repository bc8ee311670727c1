/**
 * ThreadZero: the engine's own thread between the user's calls — an asynchronous loop that hands
 * replies to their requests and messages to consume() streams, and the pump that moves thread 0's backlogs into their lanes as
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
/** whenWritable(topic): ms of yielding polls before it sleeps between looks, and the sleep. */
const ADMISSION_POLL_MS = 1;

export class ThreadZero {
  private closed = false;
  private pumpRunning = false;
  private writableWaiters: (() => void)[] = [];
  /** The doorbell wait while deliveries are held (Inbound.awaitSettleOrRecord keeps at most one outstanding). */
  private readonly waitDoorbell = (i32: Int32Array, index: number, value: number): Promise<unknown> => this.platform.waitAsync(i32, index, value, THREAD0_PARK_MS);

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

  /**
   * Resolves when no message of this thread waits in a backlog, and (with `topic`, a topic id)
   * that topic has room under its admission limit.
   */
  whenWritable(topic?: number): Promise<void> {
    const backlogs = this.runtime.backpressure.backlogSize === 0 ? Promise.resolve() : new Promise<void>((resolve) => {
      void this.pump();
      this.writableWaiters.push(resolve);
    });
    if (topic === undefined || (!this.runtime.admission.limited(topic) && !this.runtime.admission.rated(topic))) return backlogs;
    return backlogs.then(() => this.whenAdmits(topic));
  }

  /**
   * Resolves once `topic` has room for a delivery. Consumers give places back without a wake-up
   * (a notify per handled record would cost the hot path a syscall), so this polls: a few times
   * on the microtask queue, then on the platform's timer-free yield, sleeping ADMISSION_POLL_MS
   * between looks once it has waited that long.
   */
  private async whenAdmits(topic: number): Promise<void> {
    const admission = this.runtime.admission;
    const i32 = this.runtime.control.i32;
    const started = performance.now();
    while (!this.closed && !admission.hasRoom(topic)) {
      if (performance.now() - started < ADMISSION_POLL_MS) await this.platform.yield();
      else await this.platform.waitAsync(i32, this.runtime.control.doorbell, Atomics.load(i32, this.runtime.control.doorbell), ADMISSION_POLL_MS);
    }
  }

  private async loop(): Promise<void> {
    const { inbound, control } = this.runtime;
    const { i32, sleeping, doorbell } = control;
    let polls = 0;
    while (!this.closed) {
      if (inbound.drainAll() > 0) {
        polls = 0;
        await null; // let the resolved requests' continuations run
        continue;
      }
      if (inbound.pendingDeliveries !== 0) {
        // Deliveries of a consume() stream are held (consume.ts): a lane may have records that must
        // wait, so hasInbound() says nothing; wait for a settle or the doorbell, never spin.
        await inbound.awaitSettleOrRecord(this.waitDoorbell);
        polls = 0;
        continue;
      }
      // What the continuations just run published (e.g. requests sent from a reply's .then) goes
      // out now, before this loop spins, not at the task's flush: that microtask would run only
      // once the loop parks below, and the answer would then find thread 0 parked.
      if (polls === 0) this.runtime.producer.flushAll();
      if (++polls < THREAD0_SPIN) continue;
      polls = 0;
      Atomics.store(i32, sleeping, 1);
      const seen = Atomics.load(i32, doorbell);
      // Re-check after announcing SLEEPING (pairs with the worker's HEAD store then SLEEPING load).
      if (inbound.hasInbound()) {
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
    const { backpressure, outbound } = this.runtime;
    try {
      let polls = 0;
      while (backpressure.pumpBacklogs() > 0 && !this.closed) {
        const key = backpressure.firstBackloggedLane();
        if (key < 0) break;
        if (this.crashed(key % this.runtime.shape.threads)) continue;
        // A worker that is draining frees space within microseconds, while an asynchronous wake-up
        // costs tens of µs to a millisecond here: poll a little first (this blocks the event loop
        // for at most ~PUMP_SPIN polls, each one ring-index load).
        if (++polls < PUMP_SPIN) continue;
        polls = 0;
        await parkProducerAsync(this.core, this.runtime.control.i32, outbound.ringTo[key]!, 50, this.platform.waitAsync);
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
