/**
 * The journal thread's role (Node): the engine's last worker, subscribed to every journaled topic
 * (src/engine/journal-shape.ts), writes each batch it is handed from a lane into the journal
 * (writer.ts) and commits it before the handler returns.
 *
 * Why commit per batch, inside the handler: a record is committed in its lane (the producer may
 * reuse its space) only after its handler returned, so every record the engine counts as handled
 * by this thread has been written to the operating system — a journal thread that crashes loses
 * nothing: what it had not written is redelivered to its successor (which may write the batch it
 * died in a second time: at-least-once, told apart by index). Under load a batch is up to the
 * engine's `batch` records, so the write (and with fsync 'always' the fdatasync: group commit) is
 * paid per batch, not per message.
 *
 * Each record gets its publishing thread from the lane it came through (BatchRuns.batchLane) and
 * that thread's next sequence from the writer; the wall-clock time is read once per batch.
 *
 * Besides writing, the thread forwards the journal to durable subscriptions (durable.ts: the
 * worker loop calls its pump every pass) and applies retention (retention.ts) after commits.
 */
import { journalSlot } from '../engine/journal-shape.ts';
import type { WorkerStartData } from '../engine/platform.ts';
import type { ThreadRuntime } from '../engine/thread.ts';
import type { TopicBatch } from '../engine/types.ts';
import type { Flyweight } from '../schema.ts';
import type { JournalRole } from '../engine/worker.ts';
import { DurableForwarder } from './durable.ts';
import { Retention } from './retention.ts';
import { journalPath, journalTopic } from './directory.ts';
import { JournalWriter, type JournalTopic } from './writer.ts';

/** Starts the journal's writer on this thread, sets its subscriptions' handlers, and returns the thread's role (worker.ts JournalRole). */
export function startJournalThread(runtime: ThreadRuntime, data: WorkerStartData, report: (message: string) => void): ReturnType<JournalRole> {
  const shape = data.shape.journal!;
  const dir = journalPath(shape.dir);
  const byId = runtime.topics.byId;
  const writer = JournalWriter.open({ dir, topics: journalTopics(runtime, shape.topics), fsync: shape.fsync, segmentBytes: shape.segmentBytes });
  // Damage found on opening, and corrupt records met while forwarding, reach onError (once each).
  const { tornAt, truncatedBytes, corrupt } = writer.recovery;
  if (tornAt !== undefined) report(`a torn record was cut off ${tornAt.segment} at byte ${tornAt.offset} (${truncatedBytes} bytes: a crash mid-write)`);
  const seen = new Set<string>();
  const reportCorrupt = (segment: string, offset: number, reason: string): void => {
    if (seen.has(`${segment}@${offset}`)) return;
    seen.add(`${segment}@${offset}`);
    report(`a corrupt record in ${segment} at byte ${offset} (${reason}) is skipped`);
  };
  for (const c of corrupt) reportCorrupt(c.segment, c.offset, c.reason);
  const retention = new Retention(dir, shape.retainMs, shape.retainBytes);
  const intervalMs = typeof shape.fsync === 'object' ? shape.fsync.intervalMs : 0;
  const forwarder = new DurableForwarder(runtime, writer, dir, reportCorrupt);
  forwarder.published(retention.first);
  const u8 = new Uint8Array(data.memory.buffer);
  const threads = data.shape.threads;
  const consumer = runtime.consumer;
  for (let j = 0; j < shape.topics.length; j++) {
    const topic = byId[shape.topics[j]!]!;
    const size = topic.schema.size;
    consumer.setLocalHandler(journalSlot(j), {
      topic: topic.name,
      maxBatch: data.shape.batch,
      handleBatch(batch: TopicBatch<unknown>): void {
        const lane = consumer.runs.batchLane;
        const thread = lane < 0 ? data.thread : lane % threads;
        const time = Date.now();
        for (let i = 0; i < batch.length; i++) writer.append(j, thread, time, u8, (batch.at(i) as Flyweight<unknown>).address, size);
        writer.commit();
        // Before the batch counts handled: drain() then knows of these records (durable-table.ts).
        forwarder.published(retention.apply(time));
      },
    });
  }
  return {
    pump: () => forwarder.pump(),
    parkMs: (longest) => {
      const forwarding = forwarder.parkMs(longest);
      if (intervalMs === 0 || writer.durableIndex === writer.committedIndex) return forwarding;
      // Idle with commits not yet synced (an interval policy): sync them when the interval is up,
      // and wake by then, so the loss window stays one interval when publishing stops.
      writer.syncIfDue();
      return writer.durableIndex === writer.committedIndex ? forwarding : Math.min(forwarding, intervalMs);
    },
    close: () => {
      forwarder.close();
      writer.close();
    },
  };
}

/** The journaled topics as the journal's manifest records them (a reopened journal must match). */
export function journalTopics(runtime: Pick<ThreadRuntime, 'topics'>, ids: readonly number[]): JournalTopic[] {
  return ids.map((id) => {
    const topic = runtime.topics.byId[id]!;
    return journalTopic(topic.name, topic.schema);
  });
}
