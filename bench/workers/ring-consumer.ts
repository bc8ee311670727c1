/**
 * One-to-one benchmark, consumer side: reads `messages` records per run, checks each one's seq
 * (strictly 0, 1, 2 … within the run) and gen, and folds every seq into the checksum the
 * producer computed over what it wrote.
 *
 * single: ringTryPeek, read the record in place (zero copy), ringCommit every FLUSH_EVERY records
 *         and before waiting on an empty ring (the producer may be waiting for that space).
 * batch:  ringTryPopBatch of up to BATCH records into this thread's scratch block (copy + commit
 *         in one call), then read them there.
 *
 * An empty ring: poll SPIN_POLLS times, then park (bindings/park.ts) at most PARK_TIMEOUT_MS at
 * a time, checking the deadline and ABORT between parks. The loops allocate nothing.
 */
import { ADDRESS_MIN } from '../../assembly/layout/arena.ts';
import { STATUS_CLOSED } from '../../assembly/layout/status.ts';
import { parkConsumer } from '../../bindings/park.ts';
import {
  BATCH, CHECKSUM_SEED, CONSUMER_THREAD, CTRL_ABORT, CTRL_STAGE, FLUSH_MASK, PARK_TIMEOUT_MS,
  RECORD_GEN_WORD, RECORD_SEQ_WORD, RECORD_WORDS, ROLE_CONSUMER, SPIN_POLLS, STAGE_PARKED,
  STAGE_RUNNING, checksumStep, nowNs, type RunReport,
} from './ring-common.ts';
import { attachRingWorker, serveRuns } from './ring-worker.ts';

const { data, core, ring, i32, u32, control, scratch } = attachRingWorker(CONSUMER_THREAD);

let parks = 0;
let received = 0;
let badRecords = 0;
let firstBadIndex = -1;
let firstBadSeq = -1;
let firstBadGen = -1;
let failure: string | null = null;

/** Called when the ring is empty: false when the run must stop (failure is set). */
function waitForRecords(deadline: number): boolean {
  if (Atomics.load(control, CTRL_ABORT) !== 0) {
    failure = `consumer: the producer gave up (ABORT) after ${received} records`;
    return false;
  }
  if (Date.now() > deadline) {
    failure = `consumer: ring still empty at the deadline after ${received} records`;
    return false;
  }
  parks++;
  Atomics.store(control, CTRL_STAGE + ROLE_CONSUMER, STAGE_PARKED);
  parkConsumer(i32, ring, PARK_TIMEOUT_MS);
  Atomics.store(control, CTRL_STAGE + ROLE_CONSUMER, STAGE_RUNNING);
  return true;
}

function noteBad(seq: number, gen: number): void {
  if (badRecords === 0) {
    firstBadIndex = received;
    firstBadSeq = seq;
    firstBadGen = gen;
  }
  badRecords++;
}

function consumeSingle(gen: number, messages: number, deadline: number): number {
  let hash = CHECKSUM_SEED;
  let spins = 0;
  let count = 0;
  while (count < messages) {
    const record = core.ringTryPeek(ring);
    if (record >= ADDRESS_MIN) {
      const w = record >> 2;
      const seq = u32[w + RECORD_SEQ_WORD]!;
      if (seq !== count || u32[w + RECORD_GEN_WORD] !== gen) {
        received = count;
        noteBad(seq, u32[w + RECORD_GEN_WORD]!);
      }
      hash = checksumStep(hash, seq);
      count++;
      if ((count & FLUSH_MASK) === 0) core.ringCommit(ring);
      spins = 0;
      continue;
    }
    if (record === STATUS_CLOSED) {
      failure = `consumer: ring closed after ${count} records`;
      break;
    }
    // Empty: free what was read before waiting; a producer waiting for space needs it.
    if (spins === 0) core.ringCommit(ring);
    if (++spins < SPIN_POLLS) continue;
    spins = 0;
    received = count;
    if (!waitForRecords(deadline)) break;
  }
  core.ringCommit(ring);
  received = count;
  return hash;
}

function consumeBatch(gen: number, messages: number, deadline: number): number {
  let hash = CHECKSUM_SEED;
  let spins = 0;
  let count = 0;
  const base = scratch >> 2;
  while (count < messages) {
    const popped = core.ringTryPopBatch(ring, scratch, BATCH);
    if (popped > 0) {
      for (let i = 0, w = base; i < popped; i++, w += RECORD_WORDS) {
        const seq = u32[w + RECORD_SEQ_WORD]!;
        if (seq !== count || u32[w + RECORD_GEN_WORD] !== gen) {
          received = count;
          noteBad(seq, u32[w + RECORD_GEN_WORD]!);
        }
        hash = checksumStep(hash, seq);
        count++;
      }
      spins = 0;
      continue;
    }
    if (popped < 0) {
      failure = `consumer: ring closed after ${count} records (ringTryPopBatch returned ${popped})`;
      break;
    }
    if (++spins < SPIN_POLLS) continue;
    spins = 0;
    received = count;
    if (!waitForRecords(deadline)) break;
  }
  received = count;
  return hash;
}

serveRuns(control, ROLE_CONSUMER, (gen, messages, deadline): RunReport => {
  parks = 0;
  received = 0;
  badRecords = 0;
  firstBadIndex = -1;
  firstBadSeq = -1;
  firstBadGen = -1;
  failure = null;
  const start = nowNs();
  const checksum = data.mode === 'single' ? consumeSingle(gen, messages, deadline) : consumeBatch(gen, messages, deadline);
  const end = nowNs();
  if (failure === null && received !== messages) failure = `consumer: received ${received} of ${messages} records`;
  return { role: 'consumer', gen, start, end, records: received, checksum, badRecords, firstBadIndex, firstBadSeq, firstBadGen, parks, failure };
});
