/**
 * Subscriptions: subscribe and unsubscribe on the engine's thread — validate the options, take a
 * slot of the subscription table (reusing retired slots once no record can name them), add one
 * router subscription per member, and publish the routing table. Changes are serialised.
 */
import type { CoreOps } from '../../bindings/core-ops.ts';
import { MODE_BROADCAST, MODE_GROUP, MODE_KEYED } from '../../assembly/layout/router.ts';
import { STATUS_BUSY, STATUS_OK } from '../../assembly/layout/status.ts';
import { ConfigError, EngineError } from '../errors.ts';
import {
  CLAIMS_STEAL, LOCAL_HANDLER, POLICY_BLOCK, POLICY_CALLER_RUNS, POLICY_DROP_NEWEST, POLICY_DROP_OLDEST, POLICY_REJECT, routeEntry,
} from './layout.ts';
import type { Durables } from './durables.ts';
import { journalSlot, type JournalShape } from './journal-shape.ts';
import { MAX_TIMER_MS, POLICIES, type EngineShape } from './options.ts';
import { isPattern, subjectMatches } from './subjects.ts';
import type { Producer } from './producer.ts';
import type { ControlBlock } from './control-block.ts';
import { BALANCE_LEAST_LOADED, BALANCE_ROUND_ROBIN, SLOT_RETIRED, type SubscriptionTable } from './subscription-table.ts';
import type { TopicRuntime } from './topic-runtime.ts';
import type { BackpressurePolicy, CircuitOptions, DeliveryMode, HandlerModule, SubscribeOptions, Subscription, TopicMap } from './types.ts';

const POLICY_CODES: Readonly<Record<BackpressurePolicy, number>> = {
  block: POLICY_BLOCK, reject: POLICY_REJECT, 'drop-oldest': POLICY_DROP_OLDEST,
  'drop-newest': POLICY_DROP_NEWEST, 'caller-runs': POLICY_CALLER_RUNS,
};
const MODE_CODES: Readonly<Record<DeliveryMode, number>> = { broadcast: MODE_BROADCAST, group: MODE_GROUP, keyed: MODE_KEYED };
const ROUTER_PUBLISH_TIMEOUT_MS = 10_000;
/** Async handlers' deliveries one member runs at once, unless the subscription says (SubscribeOptions.concurrency). */
export const DEFAULT_CONCURRENCY = 64;

export class Subscriptions {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly handlerNames: readonly string[];
  /** Member workers of every subscribed slot (stats: the circuits to show). */
  readonly members = new Map<number, readonly number[]>();

  constructor(
    private readonly topics: TopicMap,
    private readonly handlerModule: HandlerModule,
    private readonly workers: number,
    private readonly shape: EngineShape,
    private readonly core: CoreOps,
    /** The router's address (thread 0 holds its writer lock). */
    private readonly router: number,
    private readonly table: SubscriptionTable,
    private readonly producer: Producer,
    private readonly yieldFn: () => Promise<void>,
    /** Waits until no lane or backlog holds a record (slot reuse). */
    private readonly drain: (options: { timeout: number }) => Promise<void>,
    /** Thread 0's control block (its STEAL word). */
    private readonly control0: ControlBlock,
    /** Durable subscriptions (with a journal). */
    private readonly durables: Durables | undefined,
  ) {
    this.handlerNames = Object.keys(handlerModule.handlers).sort();
  }

  /** Runs `change` after every earlier subscription change has finished. */
  private serialise<R>(change: () => Promise<R>): Promise<R> {
    const run = this.queue.then(change);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * See Engine.subscribe. `subject` is a topic name or a pattern (subjects.ts); `resolve` names
   * the topics it stands for (checked when the change runs: the engine may have closed by then).
   */
  subscribe(subject: string, resolve: () => readonly TopicRuntime[], options: SubscribeOptions): Promise<Subscription> {
    return this.serialise(() => this.add(subject, resolve(), options));
  }

  private async add(subject: string, topics: readonly TopicRuntime[], options: SubscribeOptions): Promise<Subscription> {
    if (options === null || typeof options !== 'object') throw new ConfigError('options', options, 'must be { handler, mode?, workers?, backpressure?, balance?, circuit?, steal?, concurrency?, durable? }');
    const handlerIndex = this.handlerNames.indexOf(options.handler);
    if (handlerIndex < 0) throw new ConfigError('handler', options.handler, `is not a handler of the module (${this.handlerNames.join(', ')})`);
    // A handler serves its own topic, or its pattern: subscribed as that pattern, or to one topic it matches.
    const handlerSubject = this.handlerModule.handlers[options.handler]!.topic;
    if (handlerSubject !== subject && !(!isPattern(subject) && isPattern(handlerSubject) && subjectMatches(handlerSubject, subject))) {
      throw new ConfigError('handler', options.handler, `handles ${JSON.stringify(handlerSubject)}, not ${JSON.stringify(subject)}`);
    }
    const mode = options.mode ?? (options.durable !== undefined ? 'group' : 'broadcast');
    if (typeof mode !== 'string' || !Object.hasOwn(MODE_CODES, mode)) throw new ConfigError('mode', mode, "must be 'broadcast', 'group' or 'keyed'");
    for (const topic of topics) {
      if (mode === 'keyed' && this.topics[topic.name]!.key === undefined) throw new ConfigError('mode', mode, `topic ${JSON.stringify(topic.name)} declares no key field`);
    }
    // Unless given, each topic's own default policy.
    const policies = topics.map((topic) => options.backpressure ?? this.topics[topic.name]!.backpressure ?? 'block');
    for (const policy of policies) {
      if (typeof policy !== 'string' || !POLICIES.includes(policy)) throw new ConfigError('backpressure', policy, `must be one of ${POLICIES.join(', ')}`);
    }
    const balance = options.balance ?? 'round-robin';
    if (balance !== 'round-robin' && balance !== 'least-loaded') throw new ConfigError('balance', balance, "must be 'round-robin' or 'least-loaded'");
    if (balance === 'least-loaded' && mode !== 'group') throw new ConfigError('balance', balance, "applies to mode 'group' only");
    if (options.workers !== undefined && !Array.isArray(options.workers)) throw new ConfigError('workers', options.workers, `must be an array of distinct worker numbers in [0, ${this.workers - 1}]`);
    const workers = options.workers === undefined ? Array.from({ length: this.workers }, (_, w) => w) : [...options.workers];
    if (workers.length === 0) throw new ConfigError('workers', options.workers, 'must name at least one worker');
    for (const w of workers) {
      if (!Number.isInteger(w) || w < 0 || w >= this.workers) throw new ConfigError('workers', options.workers, `must be distinct worker numbers in [0, ${this.workers - 1}]`);
    }
    if (new Set(workers).size !== workers.length) throw new ConfigError('workers', options.workers, 'must not repeat a worker');
    const circuit = checkCircuit(options.circuit);
    const steal = options.steal ?? false;
    if (typeof steal !== 'boolean') throw new ConfigError('steal', steal, 'must be true or false');
    if (this.shape.deterministic) checkDeterministic(balance, steal, circuit, policies);
    if (steal && mode !== 'group') throw new ConfigError('steal', steal, "applies to mode 'group' only (keyed subscriptions keep each key's order on one worker; broadcast has no one to take over)");
    const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 0xffff) throw new ConfigError('concurrency', options.concurrency, 'must be an integer in [1, 65535]');
    let members = 0;
    for (const w of workers) if (w < 32) members |= 1 << w;
    // A durable subscription is fed by the journal thread (durables.ts), not routed from publishers.
    if (options.durable !== undefined && this.durables === undefined) throw new ConfigError('durable', options.durable, 'durable subscriptions need options.journal');
    const durable = options.durable === undefined ? undefined : this.durables!.check(options.durable, subject, topics.length, mode, balance, steal, workers);

    // least-loaded groups are routed as broadcast members; the publisher picks one by the balance
    // table (the core's pickLeastLoaded, per record or inside dispatchBatch).
    const routerMode = balance === 'least-loaded' ? MODE_BROADCAST : MODE_CODES[mode];
    // Every slot first: reclaiming retired slots publishes the table, which must not happen
    // while this subscription is half added.
    const slots = await this.freeSlots(topics.length);
    const ids: number[] = [];
    try {
      for (let t = 0; t < topics.length; t++) {
        const topic = topics[t]!;
        const slot = slots[t]!;
        // Before the router publish that makes the slot routable.
        this.table.activate(slot, {
          mode: MODE_CODES[mode], policy: POLICY_CODES[policies[t]!], handler: handlerIndex, topic: topic.id,
          balance: balance === 'least-loaded' ? BALANCE_LEAST_LOADED : BALANCE_ROUND_ROBIN, circuit, steal, members, concurrency,
        });
        if (durable !== undefined) {
          await this.durables!.activate(slot, options.durable!, topic.name, durable.journaled, durable.mode, durable.position, workers, this.yieldFn);
          continue;
        }
        for (const w of workers) {
          const id = this.core.routerAddSubscription(this.router, topic.id, routeEntry(w + 1, slot), routerMode, slot);
          if (id < 0) throw new ConfigError('maxSubscriptions', this.shape.maxSubscriptions, 'the routing table is full');
          ids.push(id);
        }
      }
    } catch (error) {
      // Nothing of it was published: its router entries and slots go back as they were.
      for (const id of ids) this.core.routerRemoveSubscription(this.router, id);
      for (const slot of slots) this.table.free(slot);
      throw error;
    }
    let removed = false;
    const subscription: Subscription = {
      id: slots[0]!, topic: subject, topics: topics.map((topic) => topic.name), handler: options.handler, mode, workers,
      backpressure: policies[0]!, balance, ...(options.durable !== undefined ? { durable: options.durable } : {}),
      // Once only: its slots and router ids may belong to a later subscription afterwards.
      unsubscribe: () => this.serialise(async () => {
        if (removed) return;
        removed = true;
        if (durable !== undefined) await this.durables!.deactivate(slots[0]!, this.yieldFn);
        await this.remove(slots, ids);
      }),
    };
    for (const slot of slots) this.members.set(slot, workers);
    // Idle workers look for records to steal from now on (a sticky word: records may outlive the subscription).
    if (steal) Atomics.or(this.control0.i32, this.control0.steal, CLAIMS_STEAL);
    await this.publishRoutes();
    return subscription;
  }

  /**
   * A subscription whose one member is the engine's own thread (engine.consume): a group slot
   * whose handler is LOCAL_HANDLER (the thread's own, set with Consumer.setLocalHandler before
   * this is called), routed to thread 0, with the topic's back-pressure policy.
   */
  subscribeLocal(topic: TopicRuntime, concurrency: number, onSlot: (slot: number) => void): Promise<{ readonly slot: number; unsubscribe(): Promise<void> }> {
    return this.serialise(async () => {
      const [slot] = await this.freeSlots(1);
      const policy = this.topics[topic.name]!.backpressure ?? 'block';
      this.table.activate(slot!, {
        mode: MODE_GROUP, policy: POLICY_CODES[policy], handler: LOCAL_HANDLER, topic: topic.id, balance: BALANCE_ROUND_ROBIN, concurrency,
      });
      onSlot(slot!);
      const id = this.core.routerAddSubscription(this.router, topic.id, routeEntry(0, slot!), MODE_GROUP, slot!);
      if (id < 0) {
        this.table.free(slot!);
        throw new ConfigError('maxSubscriptions', this.shape.maxSubscriptions, 'the routing table is full');
      }
      await this.publishRoutes();
      let removed = false;
      return {
        slot: slot!,
        unsubscribe: () => this.serialise(async () => {
          if (removed) return;
          removed = true;
          await this.remove([slot!], [id]);
        }),
      };
    });
  }

  /**
   * The journal's subscriptions (journal-shape.ts), made before any other: journaled topic j takes
   * slot j, a LOCAL_HANDLER slot routed to the journal thread alone, whose handler that thread sets
   * (src/journal/journal-thread.ts). Policy 'block': a journal never drops a message; one that
   * falls behind pushes back on publishers like a slow worker.
   */
  async subscribeJournal(journal: JournalShape, topics: readonly TopicRuntime[]): Promise<void> {
    const slots = await this.serialise(() => this.freeSlots(journal.topics.length));
    for (let j = 0; j < journal.topics.length; j++) {
      const slot = slots[j]!;
      if (slot !== journalSlot(j)) throw new Error(`unreachable: journaled topic ${j} got slot ${slot}`);
      const topic = topics[journal.topics[j]!]!;
      this.table.activate(slot, {
        mode: MODE_GROUP, policy: POLICY_BLOCK, handler: LOCAL_HANDLER, topic: topic.id, balance: BALANCE_ROUND_ROBIN, concurrency: DEFAULT_CONCURRENCY,
      });
      if (this.core.routerAddSubscription(this.router, topic.id, routeEntry(journal.thread, slot), MODE_GROUP, slot) < 0) {
        throw new ConfigError('maxSubscriptions', this.shape.maxSubscriptions, 'the routing table is full');
      }
    }
    await this.serialise(() => this.publishRoutes());
  }

  private async remove(slots: readonly number[], ids: readonly number[]): Promise<void> {
    for (const id of ids) this.core.routerRemoveSubscription(this.router, id);
    // RETIRED, not FREE: records already in lanes still name these slots and their handler.
    for (const slot of slots) {
      this.table.retire(slot);
      this.members.delete(slot);
    }
    await this.publishRoutes();
  }

  /** Makes the edited subscription list the live routing table (retrying while readers hold the old one). */
  private async publishRoutes(): Promise<void> {
    const deadline = Date.now() + ROUTER_PUBLISH_TIMEOUT_MS;
    for (;;) {
      this.producer.flushAll(); // thread 0 leaves the table too
      const status = this.core.routerTryPublish(this.router);
      if (status === STATUS_OK) return;
      if (status !== STATUS_BUSY || Date.now() > deadline) {
        throw new EngineError('ERR_ENGINE_CLOSED', 'router', status, 'could not publish the routing table (a thread stayed inside one table version too long)');
      }
      await this.yieldFn();
    }
  }

  /** `count` FREE slots; reclaims RETIRED slots first if there are not enough. */
  private async freeSlots(count: number): Promise<number[]> {
    let free = this.table.freeSlots(count);
    if (free.length === count) return free;
    // Two table publishes after the retirement guarantee no thread routes with a table that had
    // the slot; then empty lanes and backlogs mean no record names it.
    await this.publishRoutes();
    await this.publishRoutes();
    await this.drain({ timeout: 10_000 });
    for (let s = 0; s < this.table.slots; s++) if (this.table.state(s) === SLOT_RETIRED) this.table.free(s);
    free = this.table.freeSlots(count);
    if (free.length < count) throw new ConfigError('maxSubscriptions', this.table.slots, count === 1 ? 'every subscription slot is in use' : `${count} slots are needed (one per matched topic) and fewer are free`);
    return free;
  }

}

/** Deterministic mode (EngineOptions.deterministic) refuses what makes delivery depend on load or time. */
function checkDeterministic(balance: string, steal: boolean, circuit: CircuitOptions | undefined, policies: readonly string[]): void {
  const why = 'depends on load or time: not in deterministic mode';
  if (balance !== 'round-robin') throw new ConfigError('balance', balance, `which member a message goes to ${why}`);
  if (steal) throw new ConfigError('steal', steal, `who runs a message ${why}`);
  if (circuit !== undefined) throw new ConfigError('circuit', circuit, `whether a message runs ${why}`);
  const other = policies.find((policy) => policy !== 'block');
  if (other !== undefined) throw new ConfigError('backpressure', other, `only 'block': what other policies do ${why}`);
}

/** SubscribeOptions.circuit, checked: ConfigError naming the field. */
function checkCircuit(circuit: unknown): CircuitOptions | undefined {
  if (circuit === undefined) return undefined;
  if (circuit === null || typeof circuit !== 'object') throw new ConfigError('circuit', circuit, 'must be { failures, windowMs, cooldownMs }');
  const { failures, windowMs, cooldownMs } = circuit as Record<string, unknown>;
  const check = (field: string, value: unknown, min: number, max: number): number => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new ConfigError(`circuit.${field}`, value, `must be an integer in [${min}, ${max}]`);
    return value;
  };
  return {
    failures: check('failures', failures, 1, 255),
    windowMs: check('windowMs', windowMs, 1, MAX_TIMER_MS),
    cooldownMs: check('cooldownMs', cooldownMs, 0, MAX_TIMER_MS),
  };
}
