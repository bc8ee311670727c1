/**
 * The cluster module's typed errors (src/cluster/). Bad options are ConfigErrors naming the field;
 * what goes wrong at run time is a ClusterError with one of these codes.
 */
import { DispatchError } from '../errors.ts';

export type ClusterErrorCode =
  /** `@redis/client`, the optional peer dependency, is not installed. */
  | 'ERR_CLUSTER_CLIENT_MISSING'
  /** Redis did not accept a connection within connectTimeout. */
  | 'ERR_CLUSTER_CONNECT'
  /** Appends could not be made for appendTimeout ms (Redis unreachable or refusing): flush() rejects. */
  | 'ERR_CLUSTER_APPEND'
  /** A Redis command failed in a way retrying cannot mend (reported to onError; the bridge retries the rest). */
  | 'ERR_CLUSTER_REDIS'
  /** The cluster was closed: publish and flush refuse. */
  | 'ERR_CLUSTER_CLOSED';

export class ClusterError extends DispatchError {
  declare readonly code: ClusterErrorCode;
  constructor(code: ClusterErrorCode, field: string, value: unknown, reason: string, options?: { cause?: unknown }) {
    super(code, field, value, reason, options);
    this.name = 'ClusterError';
  }
}
