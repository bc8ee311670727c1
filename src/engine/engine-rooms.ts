/**
 * Thread 0's rooms, built and wired to each other: its data path (ThreadRuntime, whose hooks reach
 * the rooms below), Requests, Recovery and the Supervisor, Workers, ThreadZero, Subscriptions,
 * Durables, Stats, KeepAlive, Reporter and Lifecycle — what the Engine front hands each call to.
 */
import type { CoreOps } from '../../bindings/core-ops.ts';
import type { Arena } from '../arena.ts';
import { Durables } from './durables.ts';
import { KeepAlive } from './keep-alive.ts';
import { Lifecycle } from './lifecycle.ts';
import type { ValidatedOptions } from './options.ts';
import type { Platform } from './platform.ts';
import { Recovery } from './recovery.ts';
import { Reporter } from './reporter.ts';
import { RequestBatches } from './request-batches.ts';
import { Requests } from './requests.ts';
import { Stats } from './stats.ts';
import { Subscriptions } from './subscriptions.ts';
import { Supervisor } from './supervisor.ts';
import { ThreadRuntime } from './thread.ts';
import { ThreadZero } from './thread-zero.ts';
import type { EngineOptions, HandlerModule, TopicMap } from './types.ts';
import { Workers } from './workers.ts';

/** The rooms the Engine front uses (the others are reached through these). */
export interface EngineRooms {
  readonly runtime: ThreadRuntime;
  readonly workerThreads: Workers;
  readonly requests: Requests;
  readonly subscriptions: Subscriptions;
  readonly counters: Stats;
  readonly threadZero: ThreadZero;
  readonly keepAlive: KeepAlive;
  readonly supervisor: Supervisor;
  readonly lifecycle: Lifecycle;
  /** Durable subscriptions (with a journal). */
  readonly durables: Durables | undefined;
}

/** Builds thread 0's rooms over `arena` (its core `core`), each given the others it calls. */
export function engineRooms(
  options: EngineOptions<TopicMap, any>, validated: ValidatedOptions, platform: Platform, arena: Arena, core: CoreOps, handlerModule: HandlerModule,
): EngineRooms {
  const { shape } = validated;
  const reporter = new Reporter(options.onError);
  let requests!: Requests;
  let threadZero!: ThreadZero;
  let keepAlive!: KeepAlive;
  let supervisor!: Supervisor;
  let lifecycle!: Lifecycle;
  const runtime = new ThreadRuntime(0, core, arena, shape, options.topics, handlerModule, false, {
    onHandlerError: (topic, error, first) => {
      if (first) reporter.handlerError(topic, error instanceof Error ? error : new Error(String(error)), -1);
    },
    onReply: (record, topic) => requests.onReply(record, topic),
    onDeadLetter: (record, topic) => supervisor.onLetter(record, topic),
    onBacklog: () => {
      keepAlive.hold();
      void threadZero.pump();
    },
    onTask: () => keepAlive.hold(),
  });
  const { producer, controls } = runtime;
  runtime.admission.initialize(); // rate buckets full, before any worker publishes
  const batches = new RequestBatches(arena.memory, runtime.batch, reporter, shape.threads);
  requests = new Requests(arena.memory, producer, reporter, shape.routerSubscriptions, runtime.latency, batches);
  const handlerNames = Object.keys(handlerModule.handlers).sort();
  const recovery = new Recovery(core, arena, shape, controls, arena.router(0).address, runtime.admission, runtime.pool);
  supervisor = new Supervisor(
    arena, recovery, controls, runtime.topics, runtime.subscriptions, handlerNames, requests, reporter, validated.supervision, validated.engineWorkers, runtime.pool,
  );
  const workerThreads = new Workers(platform, arena, shape, controls, reporter, (death) => supervisor.onDeath(death));
  supervisor.workers = workerThreads;
  threadZero = new ThreadZero(runtime, core, platform, (thread) => thread > 0 && workerThreads.state(thread - 1) === 'crashed');
  const durables = shape.journal === undefined ? undefined
    : new Durables(shape.journal, shape.maxSubscriptions, shape.topicNames, platform.durablePositions?.(shape.journal.dir), controls[shape.journal.thread]!);
  const subscriptions = new Subscriptions(
    options.topics, handlerModule, validated.workers, shape, core, arena.router(0).address, runtime.subscriptions, producer,
    () => platform.yield(), (drain) => lifecycle.drain(drain), controls[0]!, durables,
  );
  const counters = new Stats(
    arena, core, shape, controls, workerThreads, requests, reporter, recovery, runtime.subscriptions, subscriptions.members, handlerNames, runtime.admission,
  );
  const backpressure = runtime.backpressure;
  keepAlive = new KeepAlive(
    (keep) => workerThreads.setKeepAlive(keep),
    () => requests.pendingCount > 0 || backpressure.backlogSize > 0 || counters.inFlight() !== 0,
  );
  lifecycle = new Lifecycle(runtime, counters, workerThreads, supervisor, threadZero, keepAlive, requests, reporter, durables, () => platform.yield());
  return { runtime, workerThreads, requests, subscriptions, counters, threadZero, keepAlive, supervisor, lifecycle, durables };
}
