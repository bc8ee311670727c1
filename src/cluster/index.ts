/**
 * `wasm-dispatch/cluster`: cluster topics over Redis Streams. Needs the optional peer dependency
 * `@redis/client` (node-redis). See cluster.ts.
 */
export { createCluster, Cluster, type ClusterOptions, type ClusterTopicOptions, type ClusterStats } from './cluster.ts';
export { ClusterError, type ClusterErrorCode } from './errors.ts';
export type { RedisOptions } from './redis.ts';
export type { OwnershipChange } from './ownership.ts';
