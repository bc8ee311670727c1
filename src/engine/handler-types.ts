/**
 * The public types of handler modules: the context a handler gets, message and batch handler
 * definitions, the handler module (and the handler names subscribe() accepts), and defineHandlers.
 * types.ts re-exports every public type.
 */
import type { SubjectPattern, TopicsMatching } from './subjects.ts';
import type { Priority, TopicMap, TopicMessage, TopicName, TopicReader, TopicReply, TopicWriter } from './topic-types.ts';

/** What a handler can do besides reading its message; one per thread, reused for every message. */
export interface HandlerContext<T extends TopicMap> {
  /** Worker number 0..N-1, or -1 on the engine's own thread (a caller-runs delivery). */
  readonly worker: number;
  /**
   * Which delivery of this message this call is: 1 the first time; more when earlier deliveries
   * crashed or hung their worker, which was restarted and handed the message again (at-least-once:
   * whatever those deliveries did before they died, including publishing, has happened). For a
   * cluster topic's message (wasm-dispatch/cluster), Redis's delivery count: more than 1 when a
   * node that failed had read it before.
   */
  readonly deliveries: number;
  /** The topic of the message being handled (tells a pattern's handler which topic it got). */
  readonly topic: TopicName<T>;
  /** Publishes from this thread (see Engine.publish). */
  publish<K extends TopicName<T>>(topic: K, fields: TopicMessage<T, K>, priority?: Priority): boolean;
  /** This thread's staging writer of `topic`: set fields, then `send(topic)`. Allocation-free. */
  writer<K extends TopicName<T>>(topic: K): TopicWriter<T, K>;
  /** Publishes what the staging writer of `topic` holds. */
  send(topic: TopicName<T>, priority?: Priority): boolean;
  /** Makes everything this thread published visible now (it also happens after each batch). */
  flush(): void;
}

/**
 * A handler of topic S — a topic name, or a pattern (subjects.ts: `sensor.*.temp`, `sensor.>`)
 * whose handler reads any matching topic's messages (ctx.topic says which): one message per call
 * (`handle`), or the run of its messages waiting in a lane (`handleBatch`).
 */
export type HandlerDef<T extends TopicMap, S extends string> = MessageHandlerDef<T, S> | BatchHandlerDef<T, S>;

/** A handler that runs one message per call. */
export interface MessageHandlerDef<T extends TopicMap, S extends string> {
  readonly topic: S;
  /**
   * Runs one message (a flyweight over it in place: valid during the call). A request's reply is
   * its return value. It may return a Promise (an async handler): the message stays valid, in its
   * lane, until the promise settles; a request is answered with what it resolves to, and a
   * rejection counts as a handler error. Read `ctx.topic` and `ctx.deliveries` before the first
   * await (the context is shared by the thread's deliveries).
   */
  handle(message: TopicReader<T, TopicsMatching<T, S>>, ctx: HandlerContext<T>): TopicReply<T, TopicsMatching<T, S>> | void | PromiseLike<TopicReply<T, TopicsMatching<T, S>> | void>;
}

/**
 * A batch handler: each call gets the run of consecutive messages of its subscription waiting in
 * one lane (natural batching: what is there, never waiting for more, unless `linger`), at most
 * `maxBatch`.
 */
export interface BatchHandlerDef<T extends TopicMap, S extends string> {
  readonly topic: S;
  /** Most messages per call (default: the engine's `batch`). */
  readonly maxBatch?: number;
  /**
   * ms a run shorter than maxBatch may wait in its lane for more messages before the call (0..60000;
   * default 0: call with what is there). The clock starts when the worker first finds the run;
   * meanwhile the lane waits behind it (records of other subscriptions in the same lane too), and
   * the worker parks until the linger ends or a message comes. A caller-runs or stolen delivery
   * never lingers.
   */
  readonly linger?: number;
  /**
   * Runs a batch: `batch.at(i)` (or iteration) re-points one flyweight at message i, so read what
   * you need from a message before taking the next. Requests in the batch are answered with
   * element i of the returned array (or of what its promise resolves to). It may return a Promise:
   * the whole batch stays valid until it settles; a rejection fails every message of the batch.
   */
  handleBatch(batch: TopicBatch<TopicReader<T, TopicsMatching<T, S>>>, ctx: HandlerContext<T>):
    readonly (TopicReply<T, TopicsMatching<T, S>> | undefined)[] | void | PromiseLike<readonly (TopicReply<T, TopicsMatching<T, S>> | undefined)[] | void>;
}

/** The messages of one batch handler call: `length`, `at(i)`, and iteration (one flyweight, re-pointed). */
export interface TopicBatch<M> extends Iterable<M> {
  readonly length: number;
  at(index: number): M;
}

/** Handler name → the topic (or pattern) it handles. */
export type HandlerTopics<T extends TopicMap = TopicMap> = { readonly [name: string]: TopicName<T> | SubjectPattern };

/**
 * What a handler module's default export is: made by defineHandlers. `H` (handler name → topic)
 * exists only in the type, so that subscribe() accepts only the names of the module's handlers of
 * that topic when the engine knows the module's type (createEngine<typeof topics, typeof handlers>).
 */
export interface HandlerModule<T extends TopicMap = TopicMap, H extends HandlerTopics<T> = HandlerTopics<T>> {
  readonly topics: T;
  /** The handlers by name (each typed precisely where defineHandlers declared it). */
  readonly handlers: { readonly [name: string]: HandlerDef<any, any> };
  /** Runs once per thread before its first message (worker state, caches...). */
  readonly setup?: (ctx: HandlerContext<T>) => void;
  /** Type only (never set): the handlers' topics by name. */
  readonly handlerTopics?: H;
}

/**
 * The names of module M's handlers that may subscribe to subject K: handlers of K itself, and for
 * a topic name also handlers of a pattern it matches (any string when M's handlers are not known).
 */
export type HandlerNameFor<M, K extends string> = M extends { readonly topics: infer T extends TopicMap; readonly handlerTopics?: infer H }
  ? string extends keyof H ? string
    : { [N in keyof H]: H[N] extends K ? N : K extends TopicsMatching<T, H[N] & string> ? N : never }[keyof H] & string
  : string;

/**
 * Declares the handlers a worker runs. The module that calls this must `export default` the
 * result; the engine imports it in every worker (and on its own thread for caller-runs).
 */
export function defineHandlers<T extends TopicMap, const H extends HandlerTopics<T>>(
  topics: T,
  handlers: { readonly [N in keyof H]: HandlerDef<T, H[N]> },
  options: { setup?: (ctx: HandlerContext<T>) => void } = {},
): HandlerModule<T, H> {
  return { topics, handlers, setup: options.setup } as HandlerModule<T, H>;
}
