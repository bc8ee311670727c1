/**
 * Supervisor: on the engine's thread, decides what a worker's death costs — never a message while
 * restarts are allowed.
 *
 *   death     Workers reports a thread gone (exit, uncaught error, failed setup, killed as hung);
 *             Recovery puts its lanes and counters in order and names the record it died on
 *   poison    that record's CRASHES reached maxDeliveries: it becomes a dead letter (not retried),
 *             counted, handed to onDeadLetter, and a request waiting for it fails
 *   restart   within the budget (maxRestarts per windowMs) a successor starts in place after a
 *             backoff that grows only while successors die young (a crash loop never spins);
 *             past it the worker stays down: its lanes close, what they hold is lost (counted),
 *             and requests it took fail
 *   watchdog  with handlerTimeout, samples every running worker's handled cursor (a few words of
 *             shared memory, no message and no clock on the worker): a cursor that stays inside
 *             one handler for handlerTimeout ms gets its worker killed as hung
 *   letters   dead letters workers send (an open circuit) arrive here too, through thread 0's lane
 */
import type { Arena } from '../arena.ts';
import { EngineError } from '../errors.ts';
import { RING_READ_OFFSET } from '../../assembly/layout/ring.ts';
import type { ControlBlock } from './control-block.ts';
import {
  DEAD_LETTER_CIRCUIT_OPEN, DEAD_LETTER_CRASHED, DEAD_LETTER_HUNG, HANDLED_COUNTED, LETTER_THREAD_SHIFT,
  RECORD_CORRELATION_OFFSET, RECORD_CRASHES_OFFSET, RECORD_FLAGS_MASK, RECORD_FLAGS_OFFSET, RECORD_HEADER_BYTES, RECORD_LETTER_OFFSET,
  RECORD_REPLY_TO_OFFSET, RECORD_SUBSCRIPTION_OFFSET, RECORD_TOPIC_OFFSET, TOPIC_STAT_CRASHED,
  STEALING_PENDING, TOPIC_STAT_DEAD_LETTERED, inboundLane,
} from './layout.ts';
import type { FanOutPool } from './fan-out-pool.ts';
import type { Recovery } from './recovery.ts';
import type { Reporter } from './reporter.ts';
import type { Requests } from './requests.ts';
import type { SubscriptionTable } from './subscription-table.ts';
import type { TopicRuntime, TopicSet } from './topic-runtime.ts';
import type { DeadLetter, DeadLetterReason } from './types.ts';
import type { WorkerDeath, Workers } from './workers.ts';

/** Validated supervision options (options.ts). */
export interface SupervisionOptions {
  /** undefined: never restart. */
  readonly restart: { readonly maxRestarts: number; readonly windowMs: number; readonly minBackoffMs: number; readonly maxBackoffMs: number } | undefined;
  readonly handlerTimeout: number | undefined;
  readonly maxDeliveries: number;
  readonly onDeadLetter: ((letter: DeadLetter) => void) | undefined;
}

/** A successor that dies within this many ms of starting is part of a crash loop (backoff grows). */
const YOUNG_DEATH_MS = 1000;
const REASONS: Record<number, DeadLetterReason> = {
  [DEAD_LETTER_CRASHED]: 'crashed', [DEAD_LETTER_HUNG]: 'hung', [DEAD_LETTER_CIRCUIT_OPEN]: 'circuit-open',
};

interface Sample {
  /** HANDLED_LANE and HANDLED when first seen inside a handler; since: when. */
  lane: number;
  handled: number;
  since: number;
}

export class Supervisor {
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;
  /** Per worker: times (ms) of its restarts within the window. */
  private readonly restartTimes: number[][];
  /** Per worker: successors in a row that died young. */
  private readonly youngDeaths: number[];
  private readonly samples: (Sample | undefined)[];
  private watchdog: ReturnType<typeof setInterval> | undefined;
  /** Wired by the engine: the worker threads. */
  workers!: Workers;

  constructor(
    private readonly arena: Arena,
    private readonly recovery: Recovery,
    private readonly controls: readonly ControlBlock[],
    private readonly topics: TopicSet,
    private readonly table: SubscriptionTable,
    private readonly handlerNames: readonly string[],
    private readonly requests: Requests,
    private readonly reporter: Reporter,
    private readonly options: SupervisionOptions,
    workerCount: number,
    /** The fan-out pool: a poison record's message may be in its slot (fan-out-pool.ts). */
    private readonly pool: FanOutPool,
  ) {
    const buffer = arena.memory.buffer;
    this.u16 = new Uint16Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.restartTimes = Array.from({ length: workerCount }, () => []);
    this.youngDeaths = new Array<number>(workerCount).fill(0);
    this.samples = new Array<Sample | undefined>(workerCount).fill(undefined);
  }

  /** Starts the hung-handler watchdog (with handlerTimeout). */
  start(): void {
    const timeout = this.options.handlerTimeout;
    if (timeout === undefined) return;
    this.watchdog = setInterval(() => this.sample(timeout), Math.max(5, timeout / 4));
    // The watchdog alone must not keep a process alive (KeepAlive decides that).
    (this.watchdog as { unref?: () => void }).unref?.();
  }

  stop(): void {
    if (this.watchdog !== undefined) clearInterval(this.watchdog);
    this.watchdog = undefined;
  }

  /** A worker's thread is gone (Workers calls this once per thread). */
  onDeath(death: WorkerDeath): void {
    const w = death.worker;
    const thread = w + 1;
    this.samples[w] = undefined;
    const diedOn = this.recovery.recover(thread);
    if (diedOn !== undefined) {
      const topic = this.u16[(diedOn.record + RECORD_TOPIC_OFFSET) >> 1]!;
      this.controls[0]!.f64[this.controls[0]!.topicStats(topic) + TOPIC_STAT_CRASHED]! += 1;
      if (diedOn.crashes >= this.options.maxDeliveries) {
        this.deadLetter(diedOn.record, this.u16[(diedOn.record + RECORD_SUBSCRIPTION_OFFSET) >> 1]!, thread, death.hung ? DEAD_LETTER_HUNG : DEAD_LETTER_CRASHED);
        this.recovery.skip(thread, diedOn);
      }
    }
    const crash = death.hung
      ? new EngineError('ERR_HANDLER_TIMEOUT', 'worker', w, `a handler ran longer than handlerTimeout (${this.options.handlerTimeout} ms): the worker was terminated`, { cause: death.error })
      : new EngineError('ERR_WORKER_CRASHED', 'worker', w, `crashed: ${death.error.message}`, { cause: death.error });
    const restart = this.options.restart;
    if (restart === undefined) {
      this.giveUp(w, crash);
      return;
    }
    const now = performance.now();
    const times = this.restartTimes[w]!;
    while (times.length > 0 && now - times[0]! > restart.windowMs) times.shift();
    if (times.length >= restart.maxRestarts) {
      this.reporter.report(crash);
      this.giveUp(w, new EngineError('ERR_WORKER_RESTART_LIMIT', 'worker', w, `crashed ${restart.maxRestarts + 1} times within ${restart.windowMs} ms: it stays down, and what it held is lost`, { cause: crash }));
      return;
    }
    times.push(now);
    this.youngDeaths[w] = death.ranMs < YOUNG_DEATH_MS ? this.youngDeaths[w]! + 1 : 0;
    const young = this.youngDeaths[w]!;
    const delay = young === 0 ? 0 : Math.min(restart.maxBackoffMs, restart.minBackoffMs * 2 ** Math.min(30, young - 1));
    this.reporter.report(crash);
    this.workers.respawn(w, delay);
  }

  /** Worker `w` stays down: its lanes refuse new records, requests it took fail. */
  private giveUp(w: number, error: EngineError): void {
    this.workers.markCrashed(w);
    this.recovery.close(w + 1);
    this.requests.rejectTakenBy(w + 1, error);
    this.reporter.report(error);
  }

  /** A dead letter a worker sent to thread 0 (its consumer hands it over). */
  onLetter(record: number, topic: TopicRuntime): void {
    const letter = this.u16[(record + RECORD_LETTER_OFFSET) >> 1]!;
    this.deliverLetter(record, topic, letter & ((1 << LETTER_THREAD_SHIFT) - 1), letter >>> LETTER_THREAD_SHIFT, this.u16[(record + RECORD_FLAGS_OFFSET) >> 1]! & RECORD_FLAGS_MASK);
  }

  /** The poison record at `record` (in a dead thread's lane), meant for `slot` on `thread`: counted and delivered. */
  private deadLetter(record: number, slot: number, thread: number, reason: number): void {
    const topic = this.topics.byId[this.u16[(record + RECORD_TOPIC_OFFSET) >> 1]!]!;
    this.controls[0]!.f64[this.controls[0]!.topicStats(topic.id) + TOPIC_STAT_DEAD_LETTERED]! += 1;
    this.deliverLetter(record, topic, slot, thread, reason);
  }

  private deliverLetter(record: number, topic: TopicRuntime, slot: number, thread: number, reason: number): void {
    const why = REASONS[reason] ?? 'crashed';
    const deliveries = this.u16[(record + RECORD_CRASHES_OFFSET) >> 1]!;
    const correlation = this.u32[(record + RECORD_CORRELATION_OFFSET) >> 2]!;
    if (correlation !== 0 && this.u16[(record + RECORD_REPLY_TO_OFFSET) >> 1] === 0) {
      this.requests.fail(correlation, new EngineError('ERR_REQUEST_FAILED', 'topic', topic.name, `the request became a dead letter (${why}) after ${deliveries} deliveries`));
    }
    const onDeadLetter = this.options.onDeadLetter;
    if (onDeadLetter === undefined) return;
    const letter: DeadLetter = {
      // A poison record in its lane may be pooled; a letter a worker sent is inline (its FLAGS, a reason, never has POOLED).
      topic: topic.name, fields: topic.schema.decode(this.arena.memory, this.pool.messageAt(record)) as Record<string, unknown>,
      reason: why, deliveries, worker: thread - 1, handler: this.handlerNames[this.table.handler(slot)] ?? '',
    };
    try {
      onDeadLetter(letter);
    } catch (error) {
      this.reporter.report(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** The watchdog's look at every running worker's handled cursor. */
  private sample(timeout: number): void {
    const now = performance.now();
    const T = this.controls.length;
    for (let w = 0; w < this.samples.length; w++) {
      if (this.workers.state(w) !== 'running') {
        this.samples[w] = undefined;
        continue;
      }
      const control = this.controls[w + 1]!;
      let lane = Atomics.load(this.i32, control.handledLane);
      let handled = Atomics.load(this.i32, control.handled);
      let inHandler = lane !== 0 && (lane & HANDLED_COUNTED) === 0;
      if (inHandler) {
        const ring = this.arena.ring(inboundLane(w + 1, (lane & (HANDLED_COUNTED - 1)) - 1, T)).address;
        inHandler = Atomics.load(this.i32, (ring + RING_READ_OFFSET) >> 2) !== handled;
      }
      if (!inHandler) {
        // Or running a record it stole (stealer.ts): the same watch, keyed by that record.
        const stolen = Atomics.load(this.i32, control.stealing);
        if (stolen !== 0 && (stolen & STEALING_PENDING) === 0) {
          inHandler = true;
          lane = -1;
          handled = stolen;
        }
      }
      const seen = this.samples[w];
      if (!inHandler) {
        this.samples[w] = undefined;
      } else if (seen === undefined || seen.lane !== lane || seen.handled !== handled) {
        this.samples[w] = { lane, handled, since: now };
      } else if (now - seen.since >= timeout) {
        this.samples[w] = undefined;
        void this.workers.killHung(w);
      }
    }
  }
}
