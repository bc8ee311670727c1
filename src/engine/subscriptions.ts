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
  POLICY_BLOCK, POLICY_CALLER_RUNS, POLICY_DROP_NEWEST, POLICY_DROP_OLDEST, POLICY_REJECT, routeEntry,
} from './layout.ts';
import { POLICIES, type EngineShape } from './options.ts';
import type { Producer } from './producer.ts';
import { BALANCE_LEAST_LOADED, BALANCE_ROUND_ROBIN, SLOT_RETIRED, type SubscriptionTable } from './subscription-table.ts';
import type { TopicRuntime } from './topic-runtime.ts';
import type { BackpressurePolicy, DeliveryMode, HandlerModule, SubscribeOptions, Subscription, TopicMap } from './types.ts';

const POLICY_CODES: Readonly<Record<BackpressurePolicy, number>> = {
  block: POLICY_BLOCK, reject: POLICY_REJECT, 'drop-oldest': POLICY_DROP_OLDEST,
  'drop-newest': POLICY_DROP_NEWEST, 'caller-runs': POLICY_CALLER_RUNS,
};
const MODE_CODES: Readonly<Record<DeliveryMode, number>> = { broadcast: MODE_BROADCAST, group: MODE_GROUP, keyed: MODE_KEYED };
const ROUTER_PUBLISH_TIMEOUT_MS = 10_000;

export class Subscriptions {
  private readonly live = new Map<number, Subscription>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly handlerNames: readonly string[];

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
  ) {
    this.handlerNames = Object.keys(handlerModule.handlers).sort();
  }

  /** Runs `change` after every earlier subscription change has finished. */
  private serialise<R>(change: () => Promise<R>): Promise<R> {
    const run = this.queue.then(change);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** See Engine.subscribe; `topic` was checked open by the caller. */
  subscribe(topic: () => TopicRuntime, options: SubscribeOptions): Promise<Subscription> {
    return this.serialise(() => this.add(topic(), options));
  }

  private async add(topic: TopicRuntime, options: SubscribeOptions): Promise<Subscription> {
    const topicName = topic.name;
    if (options === null || typeof options !== 'object') throw new ConfigError('options', options, 'must be { handler, mode?, workers?, backpressure?, balance? }');
    const handlerIndex = this.handlerNames.indexOf(options.handler);
    if (handlerIndex < 0) throw new ConfigError('handler', options.handler, `is not a handler of the module (${this.handlerNames.join(', ')})`);
    const handlerTopic = this.handlerModule.handlers[options.handler]!.topic;
    if (handlerTopic !== topicName) throw new ConfigError('handler', options.handler, `handles topic ${JSON.stringify(handlerTopic)}, not ${JSON.stringify(topicName)}`);
    const mode = options.mode ?? 'broadcast';
    if (!(mode in MODE_CODES)) throw new ConfigError('mode', mode, "must be 'broadcast', 'group' or 'keyed'");
    if (mode === 'keyed' && this.topics[topicName]!.key === undefined) throw new ConfigError('mode', mode, `topic ${JSON.stringify(topicName)} declares no key field`);
    const policy = options.backpressure ?? this.topics[topicName]!.backpressure ?? 'block';
    if (!POLICIES.includes(policy)) throw new ConfigError('backpressure', policy, `must be one of ${POLICIES.join(', ')}`);
    const balance = options.balance ?? 'round-robin';
    if (balance !== 'round-robin' && balance !== 'least-loaded') throw new ConfigError('balance', balance, "must be 'round-robin' or 'least-loaded'");
    if (balance === 'least-loaded' && mode !== 'group') throw new ConfigError('balance', balance, "applies to mode 'group' only");
    const workers = options.workers === undefined ? Array.from({ length: this.workers }, (_, w) => w) : [...options.workers];
    if (workers.length === 0) throw new ConfigError('workers', options.workers, 'must name at least one worker');
    for (const w of workers) {
      if (!Number.isInteger(w) || w < 0 || w >= this.workers) throw new ConfigError('workers', options.workers, `must be distinct worker numbers in [0, ${this.workers - 1}]`);
    }
    if (new Set(workers).size !== workers.length) throw new ConfigError('workers', options.workers, 'must not repeat a worker');

    const slot = await this.freeSlot();
    // Before the router publish that makes the slot routable.
    this.table.activate(slot, {
      mode: MODE_CODES[mode], policy: POLICY_CODES[policy], handler: handlerIndex, topic: topic.id,
      balance: balance === 'least-loaded' ? BALANCE_LEAST_LOADED : BALANCE_ROUND_ROBIN,
    });
    // least-loaded groups are routed as broadcast members; the publisher picks one by the balance
    // table (the core's pickLeastLoaded, per record or inside dispatchBatch).
    const routerMode = balance === 'least-loaded' ? MODE_BROADCAST : MODE_CODES[mode];
    const ids: number[] = [];
    for (const w of workers) {
      const id = this.core.routerAddSubscription(this.router, topic.id, routeEntry(w + 1, slot), routerMode, slot);
      if (id < 0) {
        for (const added of ids) this.core.routerRemoveSubscription(this.router, added);
        this.table.free(slot);
        throw new ConfigError('maxSubscriptions', this.shape.maxSubscriptions, 'the routing table is full');
      }
      ids.push(id);
    }
    const subscription: Subscription = {
      id: slot, topic: topicName, handler: options.handler, mode, workers, backpressure: policy, balance,
      unsubscribe: () => this.serialise(() => this.remove(slot, ids)),
    };
    this.live.set(slot, subscription);
    await this.publishRoutes();
    return subscription;
  }

  private async remove(slot: number, ids: readonly number[]): Promise<void> {
    if (!this.live.has(slot)) return;
    for (const id of ids) this.core.routerRemoveSubscription(this.router, id);
    // RETIRED, not FREE: records already in lanes still name this slot and its handler.
    this.table.retire(slot);
    this.live.delete(slot);
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

  /** A FREE slot; else reclaims RETIRED slots once no lane or backlog can hold their records. */
  private async freeSlot(): Promise<number> {
    const free = this.table.firstFree();
    if (free >= 0) return free;
    // Two table publishes after the retirement guarantee no thread routes with a table that had
    // the slot; then empty lanes and backlogs mean no record names it.
    await this.publishRoutes();
    await this.publishRoutes();
    await this.drain({ timeout: 10_000 });
    let found = -1;
    for (let s = 0; s < this.table.slots; s++) {
      if (this.table.state(s) === SLOT_RETIRED) {
        this.table.free(s);
        if (found < 0) found = s;
      }
    }
    if (found < 0) throw new ConfigError('maxSubscriptions', this.table.slots, 'every subscription slot is in use');
    return found;
  }
}
