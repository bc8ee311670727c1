/**
 * Pipelines: an ordered chain of stages (parse → route → execute), each a subscription of one
 * topic on a set of workers of its own, whose handlers publish into the next stage's topic with
 * ctx.publish. A thin layer over the engine's public API: createPipeline validates the stages and
 * subscribes them; the per-stage figures are computed from engine.stats() (pipeline-stats.ts).
 *
 *   main ─ publish(t1) ─▶ ┌ stage 1: t1 ┐ ─ ctx.publish(t2) ─▶ ┌ stage 2: t2 ┐ ─ ctx.publish(t3) ─▶ ┌ stage 3: t3 ┐
 *                         │ workers A   │                      │ workers B   │                      │ workers C   │
 *                         └─────────────┘                      └─────────────┘                      └─────────────┘
 *        lanes 0 → A (full: publish false)   lanes A → B (full: A's handler waits)   lanes B → C (full: B waits)
 *
 * Back-pressure end to end comes from the engine's 'block' policy, nothing here: a stage whose
 * inbound lanes are full makes the previous stage's handler wait inside ctx.publish (for at most
 * the engine's `blockTimeout`), so that stage stops draining its own inbound lanes, which fill in
 * turn, until the main thread's publish returns false. That chain holds only while each stage
 * frees lane space within `blockTimeout` (default 50 ms): a stage stalled for longer makes the
 * stage before it spill into its own backlog (unbounded, by design: it breaks cycles of full
 * lanes) and go on, so back-pressure stops there (PipelineStats.backlog grows). A pipeline has no
 * cycle, so an engine made for one may raise `blockTimeout` (up to 600 000 ms).
 *
 * Disjoint worker sets are required, for two reasons. A worker runs one handler at a time, so a
 * stage sharing a worker with another would take that worker's CPU time whenever its handler is
 * slow: the other stage's messages would wait behind it and the per-stage figures would mix. And
 * a worker publishing into its own lane does not wait at all (it cannot free the space it waits
 * for): its records go straight to its backlog, so back-pressure would stop at that worker.
 */
import { ConfigError, EngineError } from './errors.ts';
import type { Engine } from './engine/engine.ts';
import type {
  BackpressurePolicy, HandlerModule, HandlerNameFor, Subscription, TopicMap, TopicName,
} from './engine/types.ts';
import { StageCounters, type PipelineStats } from './pipeline-stats.ts';

export type { PipelineStats, StageStats } from './pipeline-stats.ts';

/** How a stage's messages are spread over its workers. */
export type StageMode = 'group' | 'keyed';

/**
 * One stage as createPipeline takes it: a subscription of `handler` to `topic` on `workers`.
 * Typed per topic, so that `handler` is one of the handler module's handlers of that topic when
 * the engine knows the module's type (createEngine<typeof topics, typeof handlers>).
 */
export type StageSpec<T extends TopicMap, M = HandlerModule<T>> = {
  [K in TopicName<T>]: {
    /** Names the stage in its figures and errors; unique within the pipeline. */
    readonly name: string;
    /** The declared topic the stage consumes (not a pattern); one stage per topic. */
    readonly topic: K;
    /** The handler (of the engine's handler module) that runs each message. */
    readonly handler: HandlerNameFor<M, K>;
    /** The stage's workers (0..engine.workers − 1), none of them in another stage. */
    readonly workers: readonly number[];
    /** 'group' (default): each message to one worker, round-robin; 'keyed': by the topic's key. */
    readonly mode?: StageMode;
    /** Async handlers: deliveries pending at once per worker (SubscribeOptions.concurrency). */
    readonly concurrency?: number;
    /** Default: the topic's policy, else 'block' (the only one that carries back-pressure upstream). */
    readonly backpressure?: BackpressurePolicy;
  }
}[TopicName<T>];

/** A stage of a running pipeline. */
export interface PipelineStage {
  readonly name: string;
  readonly topic: string;
  readonly handler: string;
  readonly workers: readonly number[];
  readonly mode: StageMode;
  /** Its engine subscription. */
  readonly subscription: Subscription;
}

export interface Pipeline {
  /** The stages, in order (first: the one the application publishes to). */
  readonly stages: readonly PipelineStage[];
  /**
   * Per-stage figures from engine.stats() (shared memory only, no message to the workers; each
   * counter may be late by a batch while traffic flows). Rates and busy fractions cover the
   * interval since the previous stats() call of this pipeline (the first: since createPipeline),
   * so every call starts a new interval: one reader should call it.
   */
  stats(): PipelineStats;
  /**
   * Unsubscribes the stages, first to last; before each next stage goes, waits until the stage
   * before it has handled every message it took (its handlers may still publish into the next
   * one). Rejects with EngineError ERR_DRAIN_TIMEOUT after `timeout` ms (default 10 000) while a
   * stage still has messages in flight: that stage and those before it are unsubscribed, the ones
   * after it are not (call again). Messages published to the first stage's topic afterwards are
   * unrouted. Idempotent.
   */
  unsubscribe(options?: { timeout?: number }): Promise<void>;
}

/** Default of unsubscribe's `timeout`, ms: close()'s drain default. */
const UNSUBSCRIBE_TIMEOUT_MS = 10_000;
/** What a timer holds (setTimeout's limit), as the engine's own timeouts. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;
/** Polls of a stage's in-flight count while unsubscribing, ms apart. */
const SETTLE_POLL_MS = 1;
const MODES: readonly StageMode[] = ['group', 'keyed'];

/**
 * Validates `stages` and subscribes them on `engine`, last stage first; resolves with the running
 * pipeline. Rejects with ConfigError naming the field (`stages`, `stages[1].workers`, ...): no
 * stage, a stage that is not { name, topic, handler, workers, mode?, concurrency?, backpressure? },
 * a name or topic used twice, a topic the engine does not declare, a worker number the engine
 * does not have, a worker in two stages; and with what engine.subscribe refuses (an unknown
 * handler, 'keyed' on a topic without a key, ...), its field prefixed the same way. Nothing stays
 * subscribed when it rejects.
 */
export async function createPipeline<T extends TopicMap, M extends HandlerModule<T, any> = HandlerModule<T>>(
  engine: Engine<T, M>,
  stages: readonly StageSpec<T, M>[],
): Promise<Pipeline> {
  if (engine === null || typeof engine !== 'object' || typeof engine.subscribe !== 'function' || typeof engine.stats !== 'function') {
    throw new ConfigError('engine', engine, 'must be an engine made by createEngine');
  }
  const specs = checkStages(stages, engine.workers, Object.keys(engine.stats().topics));
  // Last to first: a stage's handlers publish into the next stage's topic, and a message
  // published to a topic nobody subscribes to is not an error but gone (counted unrouted,
  // publish returns true). Subscribed in this order, every stage's next topic has its subscriber
  // before the stage can receive anything (messages already flowing on these topics included).
  const subscriptions: Subscription[] = new Array(specs.length);
  for (let i = specs.length - 1; i >= 0; i--) {
    const spec = specs[i]!;
    try {
      subscriptions[i] = await engine.subscribe(spec.topic as TopicName<T>, {
        handler: spec.handler,
        mode: spec.mode,
        workers: spec.workers,
        ...(spec.concurrency !== undefined ? { concurrency: spec.concurrency } : {}),
        ...(spec.backpressure !== undefined ? { backpressure: spec.backpressure } : {}),
      } as Parameters<Engine<T, M>['subscribe']>[1]);
    } catch (error) {
      // Undo the later stages (nothing reaches them: this stage, which feeds them, is not subscribed).
      for (const done of subscriptions.slice(i + 1)) await done.unsubscribe().catch(() => undefined);
      throw error instanceof ConfigError ? stageError(i, error) : error;
    }
  }
  const running: PipelineStage[] = specs.map((spec, i) => Object.freeze({ ...spec, subscription: subscriptions[i]! }));
  const counters = new StageCounters(running, () => engine.stats());
  return {
    stages: Object.freeze(running),
    stats: () => counters.read(),
    unsubscribe: (options) => unsubscribeAll(running, counters, options),
  };
}

type CheckedStage = Omit<PipelineStage, 'subscription'> & { readonly concurrency?: number; readonly backpressure?: BackpressurePolicy };

/** The stages, checked against the engine's worker count and declared topics; ConfigError naming the first bad field. */
function checkStages(stages: unknown, workers: number, topics: readonly string[]): CheckedStage[] {
  if (!Array.isArray(stages) || stages.length === 0) throw new ConfigError('stages', stages, 'must be a non-empty array of stages ({ name, topic, handler, workers, mode?, concurrency?, backpressure? })');
  const owner = new Map<number, number>(); // worker → index of the stage it is in
  const names = new Set<string>();
  const seenTopics = new Set<string>();
  return stages.map((stage: unknown, i): CheckedStage => {
    const at = `stages[${i}]`;
    if (stage === null || typeof stage !== 'object') throw new ConfigError(at, stage, 'must be { name, topic, handler, workers, mode?, concurrency?, backpressure? }');
    const { name, topic, handler, workers: members, mode = 'group', concurrency, backpressure } = stage as Record<string, unknown>;
    if (typeof name !== 'string' || name === '') throw new ConfigError(`${at}.name`, name, 'must be a non-empty string');
    if (names.has(name)) throw new ConfigError(`${at}.name`, name, 'names another stage too: stage names must be unique');
    names.add(name);
    if (typeof topic !== 'string' || !topics.includes(topic)) throw new ConfigError(`${at}.topic`, topic, `must be a declared topic (${topics.join(', ')}); patterns are not stages`);
    if (seenTopics.has(topic)) throw new ConfigError(`${at}.topic`, topic, 'is the topic of an earlier stage too: every subscription of a topic gets its own copy, so two stages on one topic would each take every message');
    seenTopics.add(topic);
    if (typeof handler !== 'string' || handler === '') throw new ConfigError(`${at}.handler`, handler, 'must be the name of a handler of the handler module');
    if (!Array.isArray(members) || members.length === 0) throw new ConfigError(`${at}.workers`, members, 'must be a non-empty array of worker numbers');
    for (const w of members) {
      if (!Number.isInteger(w) || w < 0 || w >= workers) throw new ConfigError(`${at}.workers`, members, `must be distinct worker numbers in [0, ${workers - 1}] (the engine has ${workers} workers)`);
      const other = owner.get(w);
      if (other === i) throw new ConfigError(`${at}.workers`, members, `names worker ${w} twice`);
      if (other !== undefined) {
        throw new ConfigError(`${at}.workers`, members, `worker ${w} is in stage ${JSON.stringify((stages[other] as { name: string }).name)} (stages[${other}].workers) too: stages run on disjoint workers, so that a stage whose handler is slow never takes the CPU time of another stage's worker, and so that no worker waits for space in its own lane (it goes straight to its backlog: back-pressure would stop there)`);
      }
      owner.set(w, i);
    }
    if (typeof mode !== 'string' || !MODES.includes(mode as StageMode)) throw new ConfigError(`${at}.mode`, mode, "must be 'group' or 'keyed' (a broadcast stage would hand every message to each of its workers)");
    return {
      name, topic, handler, workers: Object.freeze([...members as number[]]), mode: mode as StageMode,
      ...(concurrency !== undefined ? { concurrency: concurrency as number } : {}),
      ...(backpressure !== undefined ? { backpressure: backpressure as BackpressurePolicy } : {}),
    };
  });
}

/** engine.subscribe's ConfigError for stage `index`, its field prefixed with the stage's place. */
function stageError(index: number, error: ConfigError): ConfigError {
  const wrapped = new ConfigError(`stages[${index}].${error.field}`, error.value, `engine.subscribe refused it (${error.message})`);
  (wrapped as { cause?: unknown }).cause = error;
  return wrapped;
}

async function unsubscribeAll(stages: readonly PipelineStage[], counters: StageCounters, options: unknown): Promise<void> {
  if (options !== undefined && (options === null || typeof options !== 'object')) throw new ConfigError('options', options, 'must be { timeout? }');
  const timeout = (options as { timeout?: unknown } | undefined)?.timeout ?? UNSUBSCRIBE_TIMEOUT_MS;
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout < 0 || timeout > MAX_TIMEOUT_MS) {
    throw new ConfigError('timeout', timeout, `must be a finite number of milliseconds in [0, ${MAX_TIMEOUT_MS}] (or left out)`);
  }
  const deadline = Date.now() + timeout;
  for (let i = 0; i < stages.length; i++) {
    const stage = stages[i]!;
    await stage.subscription.unsubscribe(); // idempotent: a second call after a timeout goes on from here
    if (i === stages.length - 1) break;
    // Why wait: the next stage must outlive every handler of this one that may still publish to
    // it. No new message reaches this stage now, so its in-flight count only falls; 0 on two
    // reads in a row (a counter may be late by a batch) means each handler it ran has returned.
    let zeros = 0;
    while (zeros < 2) {
      const inFlight = counters.inFlight(i);
      zeros = inFlight === 0 ? zeros + 1 : 0;
      if (zeros === 2) break;
      if (Date.now() > deadline) {
        throw new EngineError('ERR_DRAIN_TIMEOUT', 'timeout', timeout, `stage ${JSON.stringify(stage.name)} still has ${inFlight} messages in flight; it and the stages before it are unsubscribed, the ones after it not (call unsubscribe() again)`);
      }
      await new Promise<void>((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
    }
  }
}
