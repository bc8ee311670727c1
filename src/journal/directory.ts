/**
 * The journal directory as files: the manifest (written once, atomically: a temporary file, fsync,
 * rename, fsync of the directory), the segment listing, and fsync of the directory itself, which
 * is what makes a newly created file's name survive a power loss on Linux file systems.
 */
import { closeSync, fsyncSync, openSync, readFileSync, readdirSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, JournalError } from '../errors.ts';
import type { AnySchema } from '../schema.ts';
import { FORMAT_VERSION, MANIFEST_FILE, parseSegmentName } from './format.ts';

/** One topic as the journal records it: the engine's topic name, its schema spec and message size. */
export interface JournalTopic {
  readonly name: string;
  /** The topic's schema spec, anything JSON can hold; compared as JSON on reopen. */
  readonly spec: unknown;
  /** Message size in bytes (the schema's). Recorded, not enforced on appends. */
  readonly size: number;
}

/** A topic as a journal records it, from its name and schema. */
export function journalTopic(name: string, schema: AnySchema): JournalTopic {
  return { name, spec: schema.spec, size: schema.size };
}

/** A journal directory given as a path, a file: URL or its href (EngineShape keeps hrefs), as a path. */
export function journalPath(dir: string | URL): string {
  return dir instanceof URL || dir.startsWith('file:') ? fileURLToPath(dir) : dir;
}

/** manifest.json. */
export interface Manifest {
  readonly version: number;
  readonly topics: readonly JournalTopic[];
}

/** A segment file and the first record index its name says. */
export interface SegmentFile {
  readonly name: string;
  readonly firstIndex: number;
}

/** Topic numbers are u16 in a record. */
export const MAX_TOPICS = 0x10000;

/** Checks topics and returns a plain copy of them (name, spec, size only), as the manifest holds it. */
export function normalizeTopics(topics: unknown): JournalTopic[] {
  if (!Array.isArray(topics) || topics.length === 0 || topics.length > MAX_TOPICS) {
    throw new ConfigError('topics', topics, `must be an array of 1..${MAX_TOPICS} topics`);
  }
  return topics.map((topic: unknown, i) => {
    const t = topic as Partial<JournalTopic> | null;
    if (t === null || typeof t !== 'object' || typeof t.name !== 'string') {
      throw new ConfigError(`topics[${i}].name`, t?.name, 'must be a string');
    }
    if (!Number.isSafeInteger(t.size) || t.size! < 0) throw new ConfigError(`topics[${i}].size`, t.size, 'must be a non-negative integer');
    let spec: unknown;
    try {
      spec = JSON.parse(JSON.stringify(t.spec ?? null)) as unknown;
    } catch (cause) {
      throw new ConfigError(`topics[${i}].spec`, t.spec, `must be JSON-serialisable (${(cause as Error).message})`);
    }
    return { name: t.name, spec, size: t.size! };
  });
}

/** The same topics, spec compared as JSON text. */
export function sameTopics(a: readonly JournalTopic[], b: readonly JournalTopic[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The manifest, or null if the directory has none. */
export function readManifest(dir: string): Manifest | null {
  let text: string;
  try {
    text = readFileSync(join(dir, MANIFEST_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new JournalError('ERR_JOURNAL_MANIFEST', 'manifest', join(dir, MANIFEST_FILE), 'cannot be read', { cause: error });
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(text) as Manifest;
  } catch (error) {
    throw new JournalError('ERR_JOURNAL_MANIFEST', 'manifest', join(dir, MANIFEST_FILE), 'is not JSON', { cause: error });
  }
  if (manifest.version !== FORMAT_VERSION) {
    throw new JournalError('ERR_JOURNAL_MANIFEST', 'manifest.version', manifest.version, `this build reads version ${FORMAT_VERSION}`);
  }
  return { version: manifest.version, topics: normalizeTopics(manifest.topics) };
}

/** Writes manifest.json atomically and durably (it is written once, when the journal is created). */
export function writeManifest(dir: string, topics: readonly JournalTopic[]): void {
  const path = join(dir, MANIFEST_FILE);
  const temporary = `${path}.tmp`;
  const fd = openSync(temporary, 'w');
  try {
    writeSync(fd, `${JSON.stringify({ version: FORMAT_VERSION, topics }, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
  syncDirectory(dir);
}

/** The directory's segments, oldest first. */
export function listSegments(dir: string): SegmentFile[] {
  const segments: SegmentFile[] = [];
  for (const name of readdirSync(dir)) {
    const firstIndex = parseSegmentName(name);
    if (firstIndex >= 0) segments.push({ name, firstIndex });
  }
  return segments.sort((a, b) => a.firstIndex - b.firstIndex);
}

/** fsync of the directory: makes created, renamed and removed names durable. */
export function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
