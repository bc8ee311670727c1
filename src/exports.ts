/**
 * What both entry points export (src/index.ts for Node, src/browser.ts for browsers): everything
 * but createEngine, which each entry binds to its platform.
 *
 * The engine (createEngine: workers, topics with schemas, publish/subscribe, request/response,
 * back-pressure, stats) and, beneath it, the core: the arena (one shared WebAssembly.Memory holding
 * rings, slot pools and routing tables), the two backends over it (Wasm and the TypeScript twin),
 * parking helpers, status codes and typed errors. Beside them, for handlers and any thread:
 * createBatcher (calls toward I/O coalesced into batches) and its log-linear Histogram; over an
 * engine, createPipeline (stages on disjoint workers, with per-stage figures); and observability:
 * formatPrometheus (stats as Prometheus text) and createMetricsWindow (rates and busy fractions
 * between two reads). The OpenTelemetry adapter is the `wasm-dispatch/otel` entry.
 */
export { Engine } from './engine/engine.ts';
export type { ConsumeOptions } from './engine/consume.ts';
export {
  defineTopics, defineHandlers,
  type BackpressurePolicy, type Balance, type DeliveryMode, type TopicSpec, type TopicMap, type TopicName,
  type TopicMessage, type TopicReply, type TopicReader, type TopicWriter, type HandlerContext,
  type HandlerDef, type MessageHandlerDef, type BatchHandlerDef, type TopicBatch, type HandlerModule, type EngineOptions, type SubscribeOptions, type Subscription,
  type RequestOptions, type WebWorkerLike, type TopicStats, type LaneStats, type WorkerStats, type EngineStats, type TopicLatency, type LatencyReport,
  type ReplyTopicName, type HandlerNameFor, type HandlerTopics, type DeadLetter, type DeadLetterReason,
  type CircuitOptions, type CircuitStats, type Priority, type JournalOptions, type JournalFsync, type JournalStats, type DurableStats,
} from './engine/types.ts';
export type { SubjectPattern, TopicsMatching } from './engine/subjects.ts';
export {
  Arena, attachArena, createArena, planArena, allocateArenaMemory,
  type ArenaConfig, type ArenaPlan, type RingSpec, type PoolSpec, type RouterSpec,
  type RingInfo, type PoolInfo, type RouterInfo, type ScratchInfo,
} from './arena.ts';
export {
  DispatchError, ConfigError, ArenaError, ModuleError, EngineError, BatcherError,
  type ArenaErrorCode, type EngineErrorCode, type BatcherErrorCode,
} from './errors.ts';
export { createBatcher, BATCHER_DEFAULTS, type Batcher, type BatcherOptions, type BatchFunction, type BatcherStats } from './batcher.ts';
export { Histogram, bucketIndex, bucketLowest, bucketHighest, histogramWords, type HistogramOptions } from './histogram.ts';
export {
  formatPrometheus, PROMETHEUS_CONTENT_TYPE, MESSAGING_DURATION_BUCKETS, type PrometheusOptions, type HistogramExport, type HistogramSource,
} from './metrics/prometheus.ts';
export { LATENCY_BUCKETS } from './metrics/latency.ts';
export {
  createMetricsWindow, type MetricsWindow, type MetricsWindowOptions, type WindowReading, type TopicWindow, type WorkerWindow,
  type EventLoopWindow, type TopicCounts,
} from './metrics/window.ts';
export type { StatsSource, TopicCounter } from './metrics/instruments.ts';
export {
  createCore, createJsCore, instantiateCore, loadCoreModule, coreModuleUrl, CoreAbortError,
  parkConsumer, parkProducer, parkProducerAsync, CORE_OP_NAMES,
  type Backend, type CoreOps, type ParkResult,
} from '../bindings/index.ts';
export * from '../assembly/layout/status.ts';
export { ADDRESS_MIN, MAX_THREADS } from '../assembly/layout/arena.ts';
export { MODE_BROADCAST, MODE_GROUP, MODE_KEYED } from '../assembly/layout/router.ts';
export {
  defineSchema, SCHEMA_MESSAGE_ALIGN,
  type Schema, type SchemaSpec, type FieldSpec, type FieldType, type ScalarType, type FieldLayout,
  type Message, type MessageOf, type SchemaReader, type SchemaWriter, type FlyweightOptions,
} from './schema.ts';
export { createPipeline, type Pipeline, type PipelineStage, type StageSpec, type StageMode, type PipelineStats, type StageStats } from './pipeline.ts';
