/**
 * The public types of subscriptions and requests: subscribe()'s options (delivery mode, balance,
 * circuit breaker, stealing, concurrency), the Subscription it resolves to, and request()'s
 * options. types.ts re-exports every public type.
 */
import type { BackpressurePolicy, Priority } from './topic-types.ts';

/** How a group subscription picks its one member. */
export type Balance = 'round-robin' | 'least-loaded';
/** broadcast: every member gets every message; group: exactly one member; keyed: the member the key's hash picks. */
export type DeliveryMode = 'broadcast' | 'group' | 'keyed';

/** A circuit breaker of a subscription (per worker): see SubscribeOptions.circuit. */
export interface CircuitOptions {
  /** Handler errors (throws) within `windowMs` that open the circuit, 1..255. */
  readonly failures: number;
  /** The window failures are counted in, ms. */
  readonly windowMs: number;
  /** How long the circuit stays open before one trial message runs (half-open), ms. */
  readonly cooldownMs: number;
}

export interface SubscribeOptions<H extends string = string> {
  /** Name of the handler (a key of the handler module's handlers) that receives the messages. */
  readonly handler: H;
  /** Default 'broadcast'. */
  readonly mode?: DeliveryMode;
  /** Workers (0..N-1) that take part; default all. */
  readonly workers?: readonly number[];
  /** Overrides the topic's policy for this subscription. */
  readonly backpressure?: BackpressurePolicy;
  /** group mode only; default 'round-robin'. */
  readonly balance?: Balance;
  /**
   * A circuit breaker on each member worker: after `failures` handler errors within `windowMs` the
   * circuit opens, and the subscription's messages on that worker are not run but dead-lettered
   * with reason 'circuit-open'; after `cooldownMs` one trial message runs (half-open): success
   * closes the circuit, an error opens it again. Default: none.
   */
  readonly circuit?: CircuitOptions;
  /**
   * group mode only: work stealing. A member that is idle takes records of this subscription
   * queued behind a busy member (one at a time, newest first, exactly once), so one slow message
   * does not hold up the ones behind it while other members wait. Default false.
   */
  readonly steal?: boolean;
  /**
   * Async handlers (a handler that returns a Promise): how many of this subscription's deliveries
   * one member worker runs at once, their promises pending (1..65535, default 64). At the limit
   * the worker stops taking this lane's records (in order) until one settles. Synchronous
   * handlers are unaffected.
   */
  readonly concurrency?: number;
  /**
   * Node, with a journal of this topic (EngineOptions.journal): a durable subscription under this
   * name (1–64 of A–Z a–z 0–9 . _ -). Its messages come from the journal, not the publishers:
   * while it is absent (unsubscribed, engine closed, process restarted) they are kept; when a
   * subscription of the same name comes back it receives them from its acknowledged position, then
   * the new ones, with no gap. Mode 'group' (default here) or 'keyed'. README "Durable subscriptions".
   */
  readonly durable?: string;
}

export interface Subscription {
  /** Its first slot in the subscription table. */
  readonly id: number;
  /** The topic or pattern subscribed to. */
  readonly topic: string;
  /** The declared topics it receives: the topic itself, or every topic the pattern matched. */
  readonly topics: readonly string[];
  readonly handler: string;
  readonly mode: DeliveryMode;
  readonly workers: readonly number[];
  /** Its policy (a pattern without one given: each topic's own default; this is the first topic's). */
  readonly backpressure: BackpressurePolicy;
  readonly balance: Balance;
  /** The durable name (SubscribeOptions.durable), if durable. */
  readonly durable?: string;
  /** Stops routing new messages to it; messages already accepted are still delivered. */
  unsubscribe(): Promise<void>;
}

export interface RequestOptions {
  /** Milliseconds before the request rejects with ERR_REQUEST_TIMEOUT; default none. */
  readonly timeout?: number;
  /** Aborting rejects the request with ERR_REQUEST_ABORTED. */
  readonly signal?: AbortSignal;
  /** Priority class of the request (its reply travels in the same class); default: the topic's. */
  readonly priority?: Priority;
}
