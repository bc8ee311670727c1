/**
 * The public types of topics: a topic's declaration (schema, reply schema, key, default policy and
 * priority, admission, shedding), the message, reply, reader and writer types derived from it, and
 * defineTopics. types.ts re-exports every public type.
 */
import type { Message, Schema, SchemaReader, SchemaSpec, SchemaWriter } from '../schema.ts';

/** What a publisher does when a receiving lane is full. */
export type BackpressurePolicy = 'block' | 'reject' | 'drop-oldest' | 'drop-newest' | 'caller-runs';
/**
 * A message's priority class. Each class has its own lane between every two threads; a worker
 * handles higher classes first, while lower ones keep a share (options.priorityWeights).
 */
export type Priority = 'high' | 'normal' | 'low';

/** One topic's declaration. */
export interface TopicSpec<S extends SchemaSpec = SchemaSpec, R extends SchemaSpec = SchemaSpec> {
  /** The schema of its messages. */
  readonly schema: Schema<S>;
  /** The schema of replies, for request/response. */
  readonly reply?: Schema<R>;
  /** The field whose MurmurHash3 picks the member of a keyed subscription. */
  readonly key?: keyof S & string;
  /** Default back-pressure policy of its subscriptions; default 'block' (loses nothing). */
  readonly backpressure?: BackpressurePolicy;
  /** Priority class of its messages unless a publish says otherwise; default 'normal'. */
  readonly priority?: Priority;
  /**
   * Admission control, over every publishing thread. `maxInFlight`: at most that many deliveries
   * of this topic (one per receiving subscription member) published and not yet handled; a
   * delivery beyond it is refused (counted admissionRefused). `rate`: at most `rate` publishes
   * per second, with bursts of up to `burst` (default a tenth of a second's worth); a publish
   * beyond it is refused before routing (counted rateLimited). Either way publish returns false
   * at once (tryPublish 'full'), and `await engine.whenWritable(topic)` waits for room.
   */
  readonly admission?: { readonly maxInFlight?: number; readonly rate?: number; readonly burst?: number };
  /**
   * Load shedding by priority at publish time: while a receiver's lanes from the publishing
   * thread hold `low` × a lane's capacity (default 0.5), its low-priority deliveries are shed;
   * from `normal` (default 0.8) normal ones too; each stops once the fill falls below half its
   * threshold. High is never shed. `true`: the defaults. Counted per class in stats (shed).
   */
  readonly shed?: boolean | { readonly low?: number; readonly normal?: number };
}

/** Topic name → declaration. */
export type TopicMap = { readonly [name: string]: TopicSpec<any, any> };
export type TopicName<T extends TopicMap> = keyof T & string;
type SpecOf<X> = X extends Schema<infer S> ? S : never;
/** The plain-object message of topic K. */
export type TopicMessage<T extends TopicMap, K extends TopicName<T>> = Message<SpecOf<T[K]['schema']>>;
/**
 * The topics that declare a reply schema: request() and requestAll() take only these (every name
 * when T is not known, as in plain JavaScript: then the engine checks at run time).
 */
export type ReplyTopicName<T extends TopicMap> = string extends TopicName<T>
  ? string
  : { [K in TopicName<T>]: T[K] extends { readonly reply: Schema<any> } ? K : never }[TopicName<T>];
/** The plain-object reply of topic K (never for topics without a reply schema; a union for a union of topics). */
export type TopicReply<T extends TopicMap, K extends TopicName<T>> = K extends unknown ? (T[K]['reply'] extends Schema<infer R> ? Message<R> : never) : never;
/** The flyweight reader a handler of topic K receives (a union for a union of topics: a pattern's). */
export type TopicReader<T extends TopicMap, K extends TopicName<T>> = K extends unknown ? SchemaReader<SpecOf<T[K]['schema']>> : never;
/** The flyweight writer of topic K's staging record. */
export type TopicWriter<T extends TopicMap, K extends TopicName<T>> = SchemaWriter<SpecOf<T[K]['schema']>>;

/** Declares topics; returns them unchanged (typed). */
export function defineTopics<const T extends TopicMap>(topics: T): T {
  return topics;
}
