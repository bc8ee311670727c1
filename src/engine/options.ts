/**
 * Engine options: validation (a ConfigError naming the field and value for every bad option) and
 * the numbers every thread derives from them (EngineShape), plus a fingerprint of the topics so a
 * worker can prove its handler module declares the same schemas as the engine.
 */
import { ARENA_MAX_BYTES, ARENA_MAX_ENTRIES } from '../../assembly/layout/arena.ts';
import { RING_HEADER_BYTES, RING_MAX_CAPACITY, RING_MAX_RECORD_SIZE } from '../../assembly/layout/ring.ts';
import { SCRATCH_MAX_BYTES } from '../arena.ts';
import { ConfigError, EngineError } from '../errors.ts';
import type { AnySchema } from '../schema.ts';
import { BATCH_RECORDS, MAX_WORKERS, PRIORITY_CLASSES, PRIORITY_NAMES, RECORD_HEADER_BYTES, controlLayout, recordBytesOf, scratchLayout, type ControlLayout } from './layout.ts';
import { durableTableBytes } from './durable-table.ts';
import { poolSlotBytes } from './fan-out-pool.ts';
import { validateJournal, type JournalShape } from './journal-shape.ts';
import { DEFAULT_SAMPLE_EVERY, latencyBufferBytes, type LatencyShape } from './latency.ts';
import { SHED_LOW_DEFAULT, SHED_NORMAL_DEFAULT } from './shedder.ts';
import { isPattern } from './subjects.ts';
import type { SupervisionOptions } from './supervisor.ts';
import type { BackpressurePolicy, EngineOptions, RequestOptions, TopicMap } from './types.ts';

/** Numbers every thread derives identically from the engine's options (sent to every worker). */
export interface EngineShape {
  /** Engine thread count: workers + 1 (+ 1 more with a journal: its thread is the last). */
  readonly threads: number;
  readonly topicNames: readonly string[];
  /** Bytes per ring record: RECORD_HEADER_BYTES + the largest message or reply, rounded to 8. */
  readonly recordSize: number;
  /** Per topic id: the bytes its records use (recordBytesOf), what a push, a stage or a spill copies; ≤ recordSize. */
  readonly topicRecordBytes: readonly number[];
  readonly ringCapacity: number;
  readonly maxSubscriptions: number;
  readonly flushEvery: number;
  readonly batch: number;
  readonly spin: number;
  /**
   * Whether `spin` is the default, which a worker spends only while the engine threads that are
   * awake fit the machine's `cores` (worker.ts); an explicit spin is always spent.
   */
  readonly adaptiveSpin: boolean;
  /** Logical cores of the machine (the platform's count). */
  readonly cores: number;
  /** Milliseconds a worker waits for space under 'block' before it spills into its backlog. */
  readonly blockTimeout: number;
  /**
   * Milliseconds a worker under 'block' keeps waiting for a full lane whose consumer is being
   * restarted before it spills: half of handlerTimeout (so the wait is not mistaken for a hang),
   * else RESTART_WAIT_MS; never less than blockTimeout.
   */
  readonly restartWait: number;
  /** Async handlers: ms a delivery's promise may stay pending before it fails with ERR_HANDLER_TIMEOUT (handlerTimeout; 0: never). */
  readonly asyncTimeout: number;
  /** Records per spill region (a worker's backlog for one lane, in shared memory: backlog.ts). */
  readonly spillCapacity: number;
  /** Epoch ms of the engine's creation: rate buckets keep their times as ms since it (admission.ts). */
  readonly epochMs: number;
  /** The starvation guard's weights by class (high, normal, low): options.priorityWeights. */
  readonly priorityWeights: readonly number[];
  readonly control: ControlLayout;
  /** Router slots: maxSubscriptions × workers (a subscription has one router entry per member). */
  readonly routerSubscriptions: number;
  /** Latency histograms and their sampling (latency.ts); undefined with latency: false. */
  readonly latency: LatencyShape | undefined;
  /** The journal thread and what it writes (journal-shape.ts); undefined without options.journal. */
  readonly journal: JournalShape | undefined;
  /** The fan-out pool's slots (fan-out-pool.ts); undefined without options.pool, or when no topic is pooled. */
  readonly pool: PoolShape | undefined;
  /** Per topic id: 1 if its messages go through the fan-out pool when routed to two or more receivers. */
  readonly topicPooled: readonly number[];
  /** options.deterministic: choices that depend on load or time are refused (subscriptions.ts, topic-runtime.ts priorityOf). */
  readonly deterministic: boolean;
}

/** The fan-out pool's size: `slots` slots of `slotBytes` bytes (REFS and the largest pooled message). */
export interface PoolShape {
  readonly slots: number;
  readonly slotBytes: number;
}

export const POLICIES: readonly BackpressurePolicy[] = ['block', 'reject', 'drop-oldest', 'drop-newest', 'caller-runs'];
const MAX_TOPICS = 1024;
/** Slots stay below REPLY_SUBSCRIPTION (a record's SUBSCRIPTION is a u16). */
const MAX_SUBSCRIPTIONS = 1024;
const MAX_FLUSH_EVERY = 4096;
/**
 * Bytes of a thread's spill regions in all (one region per consumer thread): what a worker can
 * hold in backlogs that survive it, before a backlog moves to its heap.
 */
const SPILL_BUDGET_BYTES = 1 << 20;
/** EngineShape.restartWait without a handlerTimeout: a successor usually runs within ~100 ms. */
const RESTART_WAIT_MS = 5000;

/** The longest delay a timer holds (setTimeout clamps longer ones to 1 ms): 2^31 - 1 ms, ~24.8 days. */
export const MAX_TIMER_MS = 0x7fffffff;

/**
 * A timeout argument (request, drain, close): undefined, or a finite number of milliseconds in
 * [0, MAX_TIMER_MS]; anything else is a ConfigError naming `field`.
 */
export function checkTimeout(field: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_TIMER_MS) {
    throw new ConfigError(field, value, `must be a finite number of milliseconds in [0, ${MAX_TIMER_MS}] (or left out)`);
  }
  return value;
}

/**
 * The checks request(), requestAll() and requestBatch() (`call`) make before anything is sent:
 * `topic` has a reply schema, and `options` is { timeout?, signal?, priority? } with a valid
 * timeout and signal (a ConfigError naming the field otherwise). Returns the timeout.
 */
export function checkRequestOptions(topic: { readonly name: string; readonly reply: unknown }, options: RequestOptions, call: string): number | undefined {
  if (topic.reply === undefined) throw new ConfigError('topic', topic.name, `has no reply schema: declare { reply } to use ${call}`);
  if (options === null || typeof options !== 'object') throw new ConfigError('options', options, 'must be { timeout?, signal?, priority? }');
  const timeout = checkTimeout('timeout', options.timeout);
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new ConfigError('signal', signal, 'must be an AbortSignal');
  return timeout;
}

/** The rejection of a request (or batch) of `topic` whose signal was aborted before it was sent. */
export function abortedBeforeSending(topic: string, signal: AbortSignal): EngineError {
  return new EngineError('ERR_REQUEST_ABORTED', 'topic', topic, 'the signal was already aborted', { cause: signal.reason });
}

/**
 * Most workers an engine can have: its arena directory holds (workers + 1)² × PRIORITY_CLASSES
 * lanes, a scratch block per thread and the router (ARENA_MAX_ENTRIES entries).
 */
export const MAX_ENGINE_WORKERS = (() => {
  let workers = MAX_WORKERS;
  while (workers > 1 && (workers + 1) ** 2 * PRIORITY_CLASSES + workers + 2 > ARENA_MAX_ENTRIES) workers--;
  return workers;
})();

/** Defaults of the numeric options (types.ts documents each option). */
export const DEFAULTS = {
  ringCapacity: 1024,
  maxSubscriptions: 64,
  flushEvery: 64,
  batch: 256,
  spin: 20_000,
  blockTimeout: 50,
  startTimeout: 30_000,
  maxRestarts: 10,
  restartWindowMs: 60_000,
  minBackoffMs: 10,
  maxBackoffMs: 1000,
  maxDeliveries: 3,
  poolMinBytes: 16 * 1024,
} as const;

export interface ValidatedOptions {
  readonly shape: EngineShape;
  /** The application's workers (options.workers): subscriptions' members are among them. */
  readonly workers: number;
  /** Engine worker threads started: the application's, and the journal's if any (shape.threads − 1). */
  readonly engineWorkers: number;
  readonly backend: 'wasm' | 'js';
  readonly coreBuild: 'release' | 'debug';
  readonly startTimeout: number;
  readonly supervision: SupervisionOptions;
  /** Arena scratch bytes per thread: control block, staging records, route output. */
  readonly scratchBytes: number;
}

/** Validates `options`; `defaultWorkers` is the platform's default worker count, `cores` its logical cores. */
export function validateOptions(options: EngineOptions<TopicMap>, defaultWorkers: number, cores: number = defaultWorkers): ValidatedOptions {
  if (options === null || typeof options !== 'object') throw new ConfigError('options', options, 'must be an object');
  const workers = integer('workers', options.workers ?? Math.max(1, Math.min(MAX_ENGINE_WORKERS, defaultWorkers)), 1, MAX_ENGINE_WORKERS);
  const backend = options.backend ?? 'wasm';
  if (backend !== 'wasm' && backend !== 'js') throw new ConfigError('backend', backend, "must be 'wasm' or 'js'");
  const coreBuild = options.coreBuild ?? 'release';
  if (coreBuild !== 'release' && coreBuild !== 'debug') throw new ConfigError('coreBuild', coreBuild, "must be 'release' or 'debug'");
  const ringCapacity = integer('ringCapacity', options.ringCapacity ?? DEFAULTS.ringCapacity, 2, RING_MAX_CAPACITY);
  if ((ringCapacity & (ringCapacity - 1)) !== 0) throw new ConfigError('ringCapacity', ringCapacity, 'must be a power of two');
  const maxSubscriptions = integer('maxSubscriptions', options.maxSubscriptions ?? DEFAULTS.maxSubscriptions, 1, MAX_SUBSCRIPTIONS);
  const flushEvery = integer('flushEvery', options.flushEvery ?? DEFAULTS.flushEvery, 1, MAX_FLUSH_EVERY);
  const batch = integer('batch', options.batch ?? DEFAULTS.batch, 1, 65536);
  const spin = integer('spin', options.spin ?? DEFAULTS.spin, 0, 1e7);
  // Left out: the worker loop spins only while the awake engine threads fit the cores (worker.ts).
  const adaptiveSpin = options.spin === undefined;
  const blockTimeout = integer('blockTimeout', options.blockTimeout ?? DEFAULTS.blockTimeout, 0, 600_000);
  const startTimeout = integer('startTimeout', options.startTimeout ?? DEFAULTS.startTimeout, 1, 600_000);
  const handlers = options.handlers as unknown;
  if (handlers === undefined || handlers === null || (typeof handlers !== 'string' && typeof handlers !== 'object')) {
    throw new ConfigError('handlers', handlers, 'must be the path or URL of the handler module every worker imports (or, in a browser bundle, the module itself)');
  }
  if (options.worker !== undefined && typeof options.worker !== 'function') throw new ConfigError('worker', options.worker, 'must be a function that starts a Web Worker');
  if (options.coreUrl !== undefined && typeof options.coreUrl !== 'string' && !(options.coreUrl instanceof URL)) {
    throw new ConfigError('coreUrl', options.coreUrl, "must be the URL of the core's .wasm file");
  }
  if (options.onError !== undefined && typeof options.onError !== 'function') throw new ConfigError('onError', options.onError, 'must be a function');
  const supervision = validateSupervision(options);
  const priorityWeights = validateWeights(options.priorityWeights);
  const restartWait = Math.max(blockTimeout, supervision.handlerTimeout !== undefined ? Math.floor(supervision.handlerTimeout / 2) : RESTART_WAIT_MS);

  const topicNames = validateTopics(options.topics);
  const deterministic = options.deterministic ?? false;
  if (typeof deterministic !== 'boolean') throw new ConfigError('deterministic', deterministic, 'must be true or false');
  if (deterministic) checkDeterministicTopics(options.topics, topicNames);
  // The journal thread is one more worker, after the application's (journal-shape.ts).
  const journalOptions = validateJournal(options, topicNames, workers + 1);
  const engineWorkers = workers + (journalOptions !== undefined ? 1 : 0);
  if (engineWorkers > MAX_ENGINE_WORKERS) throw new ConfigError('workers', workers, `with a journal (its own thread), at most ${MAX_ENGINE_WORKERS - 1}`);
  // The journal's subscriptions come on top of the application's maxSubscriptions.
  const slots = maxSubscriptions + (journalOptions?.topics.length ?? 0);
  if (slots > MAX_SUBSCRIPTIONS) throw new ConfigError('maxSubscriptions', maxSubscriptions, `with ${journalOptions!.topics.length} journaled topics (a subscription each), at most ${MAX_SUBSCRIPTIONS - journalOptions!.topics.length}`);
  const journal = journalOptions === undefined ? undefined : { ...journalOptions, durable: new SharedArrayBuffer(durableTableBytes(slots)) };
  let largest = 8;
  const topicRecordBytes: number[] = [];
  for (const name of topicNames) {
    const topic = options.topics[name]!;
    const messageBytes = (topic.schema as AnySchema).size;
    const replyBytes = (topic.reply as AnySchema | undefined)?.size ?? 0;
    largest = Math.max(largest, messageBytes, replyBytes);
    topicRecordBytes.push(recordBytesOf(messageBytes, replyBytes));
  }
  const recordSize = recordBytesOf(largest, 0);
  const { pool, topicPooled } = validatePool(options.pool, topicNames.map((name) => (options.topics[name]!.schema as AnySchema).size), ringCapacity);
  if (recordSize > RING_MAX_RECORD_SIZE) {
    throw new ConfigError('topics', `${recordSize - RECORD_HEADER_BYTES} bytes`, `the largest message must fit a ring record of ${RING_MAX_RECORD_SIZE} bytes with its ${RECORD_HEADER_BYTES}-byte header`);
  }
  const threads = engineWorkers + 1;
  // The lanes alone (threads² rings) must fit the arena: say so by the option that sizes them.
  const lanes = threads * threads * PRIORITY_CLASSES;
  const laneBytes = lanes * (RING_HEADER_BYTES + ringCapacity * recordSize);
  if (laneBytes > ARENA_MAX_BYTES) {
    throw new ConfigError('ringCapacity', ringCapacity, `${lanes} lanes (${workers} workers + the main thread, squared, × ${PRIORITY_CLASSES} priority classes) of ${recordSize}-byte records need ${laneBytes} bytes; the arena holds at most ${ARENA_MAX_BYTES}`);
  }
  const routerSubscriptions = slots * engineWorkers;
  const control = controlLayout(topicNames.length, slots);
  const spillCapacity = Math.floor(SPILL_BUDGET_BYTES / (threads * PRIORITY_CLASSES * recordSize));
  const latency = validateLatency(options.latency, threads, topicNames.length, ringCapacity);
  const scratchBytes = scratchLayout(control, topicNames.length, recordSize, routerSubscriptions, threads, spillCapacity).bytes;
  if (scratchBytes > SCRATCH_MAX_BYTES) {
    // Mostly publishBatch's staging (BATCH_RECORDS records) and a staging record per topic: say so by the message size.
    throw new ConfigError('topics', `${largest} bytes`, `the largest message makes ${recordSize}-byte records; a thread's scratch block (publishBatch's staging of ${BATCH_RECORDS} records, a staging record per topic, the control block) would need ${scratchBytes} bytes, and at most ${SCRATCH_MAX_BYTES} fit: make the largest message smaller`);
  }
  return {
    workers, engineWorkers, backend, coreBuild, startTimeout, scratchBytes, supervision,
    shape: { threads, topicNames, recordSize, topicRecordBytes, ringCapacity, maxSubscriptions: slots, flushEvery, batch, spin, adaptiveSpin, cores, blockTimeout, restartWait, asyncTimeout: supervision.handlerTimeout ?? 0, spillCapacity, priorityWeights, epochMs: Date.now(), control, routerSubscriptions, latency, journal, deterministic, pool, topicPooled },
  };
}

/** Deterministic mode refuses topic settings whose effect depends on load or time (EngineOptions.deterministic). */
function checkDeterministicTopics(topics: TopicMap, names: readonly string[]): void {
  const why = 'depends on load or time: not in deterministic mode';
  for (const name of names) {
    const topic = topics[name]!;
    if (topic.priority !== undefined && topic.priority !== 'normal') throw new ConfigError(`topics.${name}.priority`, topic.priority, `a class other than 'normal' ${why} (the order across classes does)`);
    if (topic.admission !== undefined) throw new ConfigError(`topics.${name}.admission`, topic.admission, why);
    if (topic.shed !== undefined && topic.shed !== false) throw new ConfigError(`topics.${name}.shed`, topic.shed, why);
    if (topic.backpressure !== undefined && topic.backpressure !== 'block') throw new ConfigError(`topics.${name}.backpressure`, topic.backpressure, `only 'block': what other policies do ${why}`);
  }
}

/** The fan-out pool's slot data takes at most this much of the arena; the default slots at most POOL_DEFAULT_BYTES. */
const POOL_BUDGET_BYTES = 256 * 1024 * 1024;
const POOL_DEFAULT_BYTES = 16 * 1024 * 1024;

/** The pool option: which topics (by message bytes, `messageBytes[id]`) are pooled, and the pool's size (undefined: none). */
function validatePool(option: EngineOptions<TopicMap>['pool'], messageBytes: readonly number[], ringCapacity: number): { pool: PoolShape | undefined; topicPooled: number[] } {
  if (option === undefined || option === false) return { pool: undefined, topicPooled: messageBytes.map(() => 0) };
  if (option === null || typeof option !== 'object') throw new ConfigError('pool', option, 'must be { slots?, minBytes? } or false');
  const minBytes = integer('pool.minBytes', option.minBytes ?? DEFAULTS.poolMinBytes, 64, 65535);
  const topicPooled = messageBytes.map((bytes) => (bytes >= minBytes ? 1 : 0));
  const largest = Math.max(0, ...messageBytes.filter((bytes) => bytes >= minBytes));
  const slotBytes = poolSlotBytes(largest);
  // Default: a slot per message two full lanes hold (a message in flight holds one until its
  // slowest receiver is done), halved while that passes POOL_DEFAULT_BYTES.
  let fallback = Math.min(65536, 2 * ringCapacity);
  while (fallback > 1 && fallback * slotBytes > POOL_DEFAULT_BYTES) fallback >>= 1;
  const slots = integer('pool.slots', option.slots ?? fallback, 1, 65536);
  if ((slots & (slots - 1)) !== 0) throw new ConfigError('pool.slots', slots, 'must be a power of two');
  if (largest === 0) return { pool: undefined, topicPooled };
  if (slots * slotBytes > POOL_BUDGET_BYTES) {
    throw new ConfigError('pool.slots', slots, `${slots} slots of ${slotBytes} bytes (the largest pooled message, ${largest} bytes, + 8) need ${slots * slotBytes} bytes; at most ${POOL_BUDGET_BYTES}: fewer slots, or a higher minBytes`);
  }
  return { pool: { slots, slotBytes }, topicPooled };
}

/** Latency histograms take at most this much (virtual) memory; beyond it, a ConfigError says to turn them off. */
const LATENCY_BUDGET_BYTES = 1 << 30;

function validateLatency(option: EngineOptions<TopicMap>['latency'], threads: number, topics: number, ringCapacity: number): LatencyShape | undefined {
  if (option === false) return undefined;
  if (option !== undefined && (option === null || typeof option !== 'object')) throw new ConfigError('latency', option, 'must be an object ({ sampleEvery }) or false');
  const sampleEvery = integer('latency.sampleEvery', option?.sampleEvery ?? DEFAULT_SAMPLE_EVERY, 1, 1 << 20);
  const bytes = latencyBufferBytes(threads, topics, ringCapacity);
  if (bytes > LATENCY_BUDGET_BYTES) {
    throw new ConfigError('latency', option ?? {}, `${topics} topics × ${threads} threads need ${bytes} bytes of latency histograms (at most ${LATENCY_BUDGET_BYTES}): pass latency: false`);
  }
  // Zero-filled: every histogram starts empty. The pages a thread never records into are never touched.
  return { buffer: new SharedArrayBuffer(bytes), sampleEvery, stretch: option?.sampleEvery === undefined };
}

function validateSupervision(options: EngineOptions<TopicMap>): SupervisionOptions {
  const restart = options.restart as unknown;
  let policy: SupervisionOptions['restart'];
  if (restart !== false) {
    if (restart !== undefined && (restart === null || typeof restart !== 'object')) throw new ConfigError('restart', restart, 'must be { maxRestarts?, windowMs?, minBackoffMs?, maxBackoffMs? } or false');
    const r = (restart ?? {}) as Record<string, unknown>;
    const minBackoffMs = integer('restart.minBackoffMs', r.minBackoffMs ?? DEFAULTS.minBackoffMs, 0, MAX_TIMER_MS);
    policy = {
      maxRestarts: integer('restart.maxRestarts', r.maxRestarts ?? DEFAULTS.maxRestarts, 0, 1e9),
      windowMs: integer('restart.windowMs', r.windowMs ?? DEFAULTS.restartWindowMs, 1, MAX_TIMER_MS),
      minBackoffMs,
      maxBackoffMs: integer('restart.maxBackoffMs', r.maxBackoffMs ?? Math.max(minBackoffMs, DEFAULTS.maxBackoffMs), minBackoffMs, MAX_TIMER_MS),
    };
  }
  const handlerTimeout = options.handlerTimeout === undefined ? undefined : integer('handlerTimeout', options.handlerTimeout, 1, MAX_TIMER_MS);
  const maxDeliveries = integer('maxDeliveries', options.maxDeliveries ?? DEFAULTS.maxDeliveries, 1, 1000);
  if (options.onDeadLetter !== undefined && typeof options.onDeadLetter !== 'function') throw new ConfigError('onDeadLetter', options.onDeadLetter, 'must be a function');
  return { restart: policy, handlerTimeout, maxDeliveries, onDeadLetter: options.onDeadLetter };
}

function validateWeights(value: unknown): number[] {
  if (value === undefined) return [16, 4, 1];
  if (value === null || typeof value !== 'object') throw new ConfigError('priorityWeights', value, 'must be { high?, normal?, low? }');
  const w = value as Record<string, unknown>;
  const high = integer('priorityWeights.high', w.high ?? 16, 1, 65536);
  const normal = integer('priorityWeights.normal', w.normal ?? Math.min(high, 4), 1, high);
  const low = integer('priorityWeights.low', w.low ?? 1, 1, normal);
  return [high, normal, low];
}

function validateScheduling(name: string, topic: TopicMap[string]): void {
  if (topic.priority !== undefined && !PRIORITY_NAMES.includes(topic.priority)) {
    throw new ConfigError(`topics.${name}.priority`, topic.priority, "must be 'high', 'normal' or 'low'");
  }
  const admission = topic.admission as unknown;
  if (admission !== undefined) {
    if (admission === null || typeof admission !== 'object') throw new ConfigError(`topics.${name}.admission`, admission, 'must be { maxInFlight?, rate?, burst? }');
    const a = admission as { maxInFlight?: unknown; rate?: unknown; burst?: unknown };
    if (a.maxInFlight === undefined && a.rate === undefined) throw new ConfigError(`topics.${name}.admission`, admission, 'must set maxInFlight, rate, or both');
    if (a.maxInFlight !== undefined) integer(`topics.${name}.admission.maxInFlight`, a.maxInFlight, 1, 0x3fffffff);
    if (a.rate !== undefined && (typeof a.rate !== 'number' || !Number.isFinite(a.rate) || a.rate <= 0 || a.rate > 1e7)) {
      throw new ConfigError(`topics.${name}.admission.rate`, a.rate, 'must be messages per second in (0, 10^7]');
    }
    if (a.burst !== undefined) {
      if (a.rate === undefined) throw new ConfigError(`topics.${name}.admission.burst`, a.burst, 'needs a rate');
      integer(`topics.${name}.admission.burst`, a.burst, 1, 2_000_000);
    }
  }
  const shed = topic.shed as unknown;
  if (shed !== undefined && typeof shed !== 'boolean') {
    if (shed === null || typeof shed !== 'object') throw new ConfigError(`topics.${name}.shed`, shed, 'must be true, false or { low?, normal? }');
    const { low, normal } = shed as { low?: unknown; normal?: unknown };
    const fraction = (field: string, v: unknown, min: number): number => {
      if (typeof v !== 'number' || !(v > min) || v > 1) throw new ConfigError(`topics.${name}.shed.${field}`, v, `must be a fraction of a lane's capacity in (${min}, 1]`);
      return v;
    };
    const lowAt = low === undefined ? SHED_LOW_DEFAULT : fraction('low', low, 0);
    if (normal !== undefined) fraction('normal', normal, lowAt);
    else if (lowAt >= SHED_NORMAL_DEFAULT) throw new ConfigError(`topics.${name}.shed.low`, low, `must be below normal (default ${SHED_NORMAL_DEFAULT}), or give normal too`);
  }
}

function validateTopics(topics: TopicMap): string[] {
  if (topics === null || typeof topics !== 'object') throw new ConfigError('topics', topics, 'must be an object: topic name → { schema, reply?, key?, backpressure? }');
  const names = Object.keys(topics);
  if (names.length === 0) throw new ConfigError('topics', topics, 'must declare at least one topic');
  if (names.length > MAX_TOPICS) throw new ConfigError('topics', `${names.length} topics`, `at most ${MAX_TOPICS}`);
  for (const name of names) {
    if (isPattern(name)) throw new ConfigError('topics', name, "a topic name's tokens must not be the wildcards '*' or '>' (they make patterns: subscribe('sensor.*.temp'))");
    const topic = topics[name];
    if (topic === null || typeof topic !== 'object') throw new ConfigError(`topics.${name}`, topic, 'must be { schema, reply?, key?, backpressure? }');
    if (!isSchema(topic.schema)) throw new ConfigError(`topics.${name}.schema`, topic.schema, 'must be a schema made by defineSchema');
    if (topic.reply !== undefined && !isSchema(topic.reply)) throw new ConfigError(`topics.${name}.reply`, topic.reply, 'must be a schema made by defineSchema');
    if (topic.key !== undefined && !(topic.schema as AnySchema).fields.some((f) => f.name === topic.key)) {
      throw new ConfigError(`topics.${name}.key`, topic.key, 'must name a field of the topic schema');
    }
    if (topic.backpressure !== undefined && !POLICIES.includes(topic.backpressure)) {
      throw new ConfigError(`topics.${name}.backpressure`, topic.backpressure, `must be one of ${POLICIES.join(', ')}`);
    }
    validateScheduling(name, topic);
  }
  return names;
}

function isSchema(value: unknown): value is AnySchema {
  return value !== null && typeof value === 'object' && typeof (value as AnySchema).writer === 'function' && Array.isArray((value as AnySchema).fields);
}

function integer(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(field, value, `must be an integer in [${min}, ${max}]`);
  }
  return value;
}

/** A string that differs whenever two topic maps would lay messages out differently. */
export function topicFingerprint(topics: TopicMap, names: readonly string[]): string {
  return JSON.stringify(names.map((name) => {
    const topic = topics[name];
    if (topic === undefined) return [name, null];
    const layout = (schema: AnySchema | undefined) => schema && [schema.size, schema.fields.map((f) => [f.name, f.type, f.offset, f.size])];
    // Every thread reads a topic's priority, admission and shedding from its own copy of the map.
    return [name, layout(topic.schema as AnySchema), layout(topic.reply as AnySchema | undefined), topic.key ?? null, topic.priority ?? null, topic.admission ?? null, topic.shed ?? null];
  }));
}
