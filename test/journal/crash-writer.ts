/**
 * The child process of journal-crash.test.ts: opens the journal in argv[2] with fsync policy
 * argv[3], then appends seeded random batches forever, telling the parent on stdout, with one
 * synchronous write per line so nothing sits in a stream buffer when it is killed:
 *
 *   open <nextIndex> <truncatedBytes> <corrupt count>   after JournalWriter.open returned
 *   appending <last index>                                before a batch is appended (a batch larger
 *                                                         than the buffer reaches the OS in append)
 *   committed <last index>                                after commit returned
 *
 * The parent SIGKILLs it at a random point. Payloads, topics and threads derive from the index
 * (records.ts), so the parent can check every record without being told them.
 */
import { writeSync } from 'node:fs';
import { JournalWriter, type FsyncPolicy } from '../../src/journal/index.ts';
import { MAX_TEST_PAYLOAD, TOPICS, fillPayload, random, threadOf, topicOf } from './records.ts';

export const CRASH_THREADS = 8;
export const CRASH_SEGMENT_BYTES = 64 * 1024;
export const CRASH_BUFFER_BYTES = 32 * 1024;

const [dir, policy, seed] = process.argv.slice(2) as [string, FsyncPolicy, string];
const writer = JournalWriter.open({ dir, topics: TOPICS, fsync: policy, segmentBytes: CRASH_SEGMENT_BYTES, bufferBytes: CRASH_BUFFER_BYTES });
const say = (line: string): void => {
  writeSync(1, `${line}\n`);
};
say(`open ${writer.nextIndex} ${writer.recovery.truncatedBytes} ${writer.recovery.corrupt.length}`);
const next = random(Number(seed));
const payload = new Uint8Array(MAX_TEST_PAYLOAD);
for (;;) {
  // Mostly small batches; now and then one larger than the buffer, which append writes out early.
  const batch = next() < 0.05 ? 500 + Math.floor(next() * 1000) : 1 + Math.floor(next() * 64);
  say(`appending ${writer.nextIndex + batch - 1}`);
  for (let b = 0; b < batch; b++) {
    const i = writer.nextIndex;
    const length = fillPayload(i, payload);
    writer.append(topicOf(i), threadOf(i, CRASH_THREADS), Date.now(), payload, 0, length);
  }
  writer.commit();
  say(`committed ${writer.nextIndex - 1}`);
}
