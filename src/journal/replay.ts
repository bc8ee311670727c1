/**
 * Replay: re-publishes a journal (or a range of it, by index or time) into an engine, in journal
 * order, from the engine's own thread — at full speed (as fast as the engine takes it, waiting
 * only when a lane pushes back) or at the recorded pace (the gaps between the records' times,
 * divided by `speed`).
 *
 * Each record's bytes are copied straight into the topic's staging record (engine.writer(topic))
 * and sent: no decode, no validation again (they were valid when published), no allocation per
 * message. The journal's topics must exist in the engine with the same schema (ConfigError
 * otherwise): a journal is bytes in its schemas' layout.
 */
import { ConfigError } from '../errors.ts';
import type { Engine } from '../engine/engine.ts';
import type { TopicMap } from '../engine/types.ts';
import type { AnySchema, Flyweight } from '../schema.ts';
import { journalPath, journalTopic, sameTopics, type JournalTopic } from './directory.ts';
import { openJournal, type JournalRecord } from './reader.ts';

export interface ReplayOptions {
  /** First record index to replay (inclusive); default the journal's first. */
  readonly from?: number;
  /** Record index to stop before (exclusive); default the journal's end. */
  readonly to?: number;
  /** Only records appended at or after this wall-clock time (ms since the epoch). */
  readonly fromTime?: number;
  /** Only records appended before this time. */
  readonly toTime?: number;
  /** Only these topics; default every journaled topic. */
  readonly topics?: readonly string[];
  /** 'full' (default): as fast as the engine takes it; 'recorded': the gaps between the records' times. */
  readonly pace?: 'full' | 'recorded';
  /** With pace 'recorded': how many times faster than recorded (default 1). */
  readonly speed?: number;
  /** Called about every `progressEveryMs` (default 250) and once at the end. */
  readonly onProgress?: (progress: ReplayProgress) => void;
  readonly progressEveryMs?: number;
  /** Aborting stops the replay between records; the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

export interface ReplayProgress {
  /** Records published so far. */
  readonly replayed: number;
  /** Records of the journal in the range (before the topic filter). */
  readonly total: number;
  /** Index of the last record read. */
  readonly index: number;
  /** Its time (ms since the epoch). */
  readonly time: number;
}

export interface ReplayResult {
  readonly replayed: number;
  /** Records passed over: other topics, outside the time range. */
  readonly skipped: number;
  /** Corrupt records the reader skipped (CRC failed): segment and offset of each. */
  readonly corrupt: readonly { readonly segment: string; readonly offset: number; readonly reason: string }[];
  readonly first: number;
  readonly last: number;
}

/** Records published between looks at the clock (progress, pace) and turns of the event loop. */
const CHECK_EVERY = 1024;

/** Replays the journal in `dir` into `engine`; resolves once every record was published (not handled: await engine.drain()). */
export async function replayJournal<T extends TopicMap>(engine: Engine<T, any>, dir: string | URL, options: ReplayOptions = {}): Promise<ReplayResult> {
  const pace = options.pace ?? 'full';
  if (pace !== 'full' && pace !== 'recorded') throw new ConfigError('pace', pace, "must be 'full' or 'recorded'");
  const speed = options.speed ?? 1;
  if (typeof speed !== 'number' || !(speed > 0) || speed === Infinity) throw new ConfigError('speed', speed, 'must be a positive number');
  const every = options.progressEveryMs ?? 250;
  const journal = openJournal(journalPath(dir));
  try {
    const topics = engineTopics(engine, journal.topics, options.topics);
    const u8 = new Uint8Array(engine.arena.memory.buffer);
    const range = { from: options.from, to: options.to, fromTime: options.fromTime, toTime: options.toTime };
    const total = Math.max(0, Math.min(options.to ?? journal.nextIndex, journal.nextIndex) - Math.max(options.from ?? journal.firstIndex, journal.firstIndex));
    let replayed = 0;
    let skipped = 0;
    let first = -1;
    let last = -1;
    let time = 0;
    let nextReport = performance.now() + every;
    let start = 0; // pace: performance.now() at the first record
    let firstTime = 0;
    const report = (): void => options.onProgress?.({ replayed, total, index: last, time });
    for (const record of journal.records(range) as IterableIterator<JournalRecord>) {
      const target = topics[record.topic];
      last = record.index;
      time = record.time;
      if (target === undefined) {
        skipped++;
        continue;
      }
      if (first < 0) {
        first = record.index;
        start = performance.now();
        firstTime = record.time;
      }
      if (pace === 'recorded') {
        const due = start + (record.time - firstTime) / speed - performance.now();
        if (due > 1) {
          engine.flush();
          await new Promise((resolve) => setTimeout(resolve, due));
        }
      }
      u8.set(record.payload, target.writer.address);
      if (!engine.send(target.name as keyof T & string)) await engine.whenWritable();
      replayed++;
      if (replayed % CHECK_EVERY === 0) {
        options.signal?.throwIfAborted();
        if (performance.now() >= nextReport) {
          nextReport = performance.now() + every;
          report();
        }
        // A turn of the event loop: the engine's timers (flush, supervision) run meanwhile.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    options.signal?.throwIfAborted();
    engine.flush();
    report();
    return { replayed, skipped, corrupt: [...journal.corrupt], first, last };
  } finally {
    journal.close();
  }
}

/** Journal topic j → the engine topic it is replayed into (undefined: not replayed), checked. */
function engineTopics<T extends TopicMap>(engine: Engine<T, any>, journalTopics: readonly JournalTopic[], only: readonly string[] | undefined) {
  const declared = engine.topics;
  if (only !== undefined) {
    for (const name of only) {
      if (!journalTopics.some((t) => t.name === name)) throw new ConfigError('topics', name, `is not journaled here (${journalTopics.map((t) => t.name).join(', ')})`);
    }
  }
  return journalTopics.map((t) => {
    if (only !== undefined && !only.includes(t.name)) return undefined;
    const spec = (declared as TopicMap)[t.name];
    if (spec === undefined) throw new ConfigError('topics', t.name, 'is journaled but not a topic of this engine');
    if (!sameTopics([journalTopic(t.name, spec.schema as AnySchema)], [t])) {
      throw new ConfigError('topics', t.name, "the engine's schema differs from the journal's (replay copies the recorded bytes)");
    }
    return { name: t.name, writer: engine.writer(t.name as keyof T & string) as unknown as Flyweight<unknown> };
  });
}
