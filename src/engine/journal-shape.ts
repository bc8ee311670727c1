/**
 * The journal option (EngineOptions.journal), validated into what every thread is told
 * (EngineShape.journal): which thread writes the journal, where, which topics, how it syncs.
 * Platform-neutral: the files themselves are src/journal/ (Node only), written by that thread
 * (src/journal/journal-thread.ts).
 *
 * The journal thread is one more engine worker, after the application's: thread `workers + 1`,
 * with its own lanes from every thread like any worker. The engine subscribes it to each journaled
 * topic before any other subscription exists, so journaled topic j has subscription slot j
 * (JOURNAL_SLOT) — known to every thread from the shape alone, nothing to send at start.
 */
import { ConfigError } from '../errors.ts';
import type { EngineOptions, JournalFsync, TopicMap } from './types.ts';

export interface JournalShape {
  /** The engine thread that writes the journal (the last worker's thread). */
  readonly thread: number;
  /** The journal's directory, as given (a path, or a file: URL's href). */
  readonly dir: string;
  /** Topic ids journaled; journaled topic j is subscription slot j. */
  readonly topics: readonly number[];
  readonly fsync: JournalFsync;
  readonly segmentBytes: number;
  /** Whole segments older than this (ms) are deleted; 0: kept forever. */
  readonly retainMs: number;
  /** The oldest segments are deleted while the journal is larger than this (bytes); 0: no limit. */
  readonly retainBytes: number;
  /** The durable table (durable-table.ts): set by validateOptions once the slot count is known. */
  readonly durable: SharedArrayBuffer;
}

export const JOURNAL_DEFAULT_FSYNC: JournalFsync = { intervalMs: 100 };
export const JOURNAL_DEFAULT_SEGMENT_BYTES = 64 << 20;
export const JOURNAL_MIN_SEGMENT_BYTES = 64 << 10;
export const JOURNAL_MAX_SEGMENT_BYTES = 1 << 30;
const MAX_INTERVAL_MS = 600_000;

/** Journaled topic `index`'s subscription slot (the engine takes slots 0..J-1 first). */
export function journalSlot(index: number): number {
  return index;
}

/**
 * Validates options.journal (undefined: no journal). `thread` is the journal thread's number
 * (the application's workers + 1).
 */
export function validateJournal(options: EngineOptions<TopicMap>, topicNames: readonly string[], thread: number): Omit<JournalShape, 'durable'> | undefined {
  const option = options.journal as unknown;
  if (option === undefined) return undefined;
  if (option === null || typeof option !== 'object') throw new ConfigError('journal', option, 'must be { dir, topics?, fsync?, segmentBytes? }');
  const o = option as { dir?: unknown; topics?: unknown; fsync?: unknown; segmentBytes?: unknown; retention?: unknown };
  let dir: string;
  if (typeof o.dir === 'string' && o.dir !== '') dir = o.dir;
  else if (o.dir instanceof URL && o.dir.protocol === 'file:') dir = o.dir.href;
  else throw new ConfigError('journal.dir', o.dir, 'must be a directory path or a file: URL');
  // Request topics are not journaled: the journal's copy would be one more receiver to answer.
  const requests = new Set(topicNames.filter((name) => options.topics[name]!.reply !== undefined));
  let names: readonly string[];
  if (o.topics === undefined) names = topicNames.filter((name) => !requests.has(name));
  else if (Array.isArray(o.topics) && o.topics.length > 0) names = o.topics as string[];
  else throw new ConfigError('journal.topics', o.topics, 'must be a non-empty array of declared topic names (default: every topic without a reply schema)');
  const topics: number[] = [];
  for (const name of names) {
    const id = topicNames.indexOf(name);
    if (typeof name !== 'string' || id < 0) throw new ConfigError('journal.topics', name, `is not a declared topic (${topicNames.join(', ')})`);
    if (topics.includes(id)) throw new ConfigError('journal.topics', name, 'is named twice');
    if (requests.has(name)) throw new ConfigError('journal.topics', name, 'is a request topic (it has a reply schema): requests are not journaled');
    topics.push(id);
  }
  if (topics.length === 0) throw new ConfigError('journal.topics', o.topics, 'no topic to journal: every topic has a reply schema');
  const fsync = o.fsync ?? JOURNAL_DEFAULT_FSYNC;
  if (fsync !== 'none' && fsync !== 'always') {
    const interval = (fsync as { intervalMs?: unknown } | null)?.intervalMs;
    if (typeof fsync !== 'object' || typeof interval !== 'number' || !Number.isInteger(interval) || interval < 1 || interval > MAX_INTERVAL_MS) {
      throw new ConfigError('journal.fsync', fsync, `must be 'none', 'always' or { intervalMs } with intervalMs an integer in [1, ${MAX_INTERVAL_MS}]`);
    }
  }
  const segmentBytes = o.segmentBytes ?? JOURNAL_DEFAULT_SEGMENT_BYTES;
  if (typeof segmentBytes !== 'number' || !Number.isInteger(segmentBytes) || segmentBytes < JOURNAL_MIN_SEGMENT_BYTES || segmentBytes > JOURNAL_MAX_SEGMENT_BYTES) {
    throw new ConfigError('journal.segmentBytes', segmentBytes, `must be an integer in [${JOURNAL_MIN_SEGMENT_BYTES}, ${JOURNAL_MAX_SEGMENT_BYTES}]`);
  }
  const retention = (o.retention ?? {}) as { maxAgeMs?: unknown; maxBytes?: unknown };
  if (typeof retention !== 'object' || retention === null) throw new ConfigError('journal.retention', o.retention, 'must be { maxAgeMs?, maxBytes? }');
  const retainMs = retention.maxAgeMs ?? 0;
  if (typeof retainMs !== 'number' || !Number.isInteger(retainMs) || retainMs < 0) throw new ConfigError('journal.retention.maxAgeMs', retainMs, 'must be a whole number of ms (0: forever)');
  const retainBytes = retention.maxBytes ?? 0;
  if (typeof retainBytes !== 'number' || !Number.isInteger(retainBytes) || (retainBytes !== 0 && retainBytes < 2 * segmentBytes)) {
    throw new ConfigError('journal.retention.maxBytes', retainBytes, `must be 0 (no limit) or at least two segments (${2 * segmentBytes} bytes)`);
  }
  return {
    thread, dir, topics, fsync: typeof fsync === 'object' ? { intervalMs: (fsync as { intervalMs: number }).intervalMs } : fsync, segmentBytes,
    retainMs, retainBytes,
  };
}
