/**
 * One-to-one benchmark, producer side: writes `messages` records per run into the ring, each
 * carrying its sequence number, and folds every seq into the checksum the consumer must match.
 *
 * single: ringTryClaim, write the seq straight into the record (zero copy), ringFlush every
 *         FLUSH_EVERY records: the write-combining path, one shared HEAD store per 32 records.
 * batch:  write BATCH records into this thread's scratch block, then ringTryPushBatch (copy +
 *         flush in one call), pushing the rest again when the ring took only part of them.
 *
 * A full ring: flush, poll SPIN_POLLS times, then park (bindings/park.ts) at most PARK_TIMEOUT_MS
 * at a time, checking the deadline and ABORT between parks. The loops allocate nothing.
 */
import { ADDRESS_MIN } from '../../assembly/layout/arena.ts';
import { STATUS_CLOSED } from '../../assembly/layout/status.ts';
import { parkProducer } from '../../bindings/park.ts';
import {
  BATCH, CHECKSUM_SEED, CTRL_ABORT, CTRL_STAGE, FLUSH_MASK, PARK_TIMEOUT_MS, PRODUCER_THREAD,
  RECORD_GEN_WORD, RECORD_SEQ_WORD, RECORD_SIZE, RECORD_WORDS, ROLE_PRODUCER, SPIN_POLLS,
  STAGE_PARKED, STAGE_RUNNING, checksumStep, nowNs, type RunReport,
} from './ring-common.ts';
import { attachRingWorker, serveRuns } from './ring-worker.ts';

const { data, core, ring, i32, u32, control, scratch } = attachRingWorker(PRODUCER_THREAD);

let parks = 0;
let produced = 0;
let failure: string | null = null;

/** Called when the ring is full: false when the run must stop (failure is set). */
function waitForSpace(deadline: number): boolean {
  if (Atomics.load(control, CTRL_ABORT) !== 0) {
    failure = 'producer: the consumer gave up (ABORT)';
    return false;
  }
  if (Date.now() > deadline) {
    failure = 'producer: ring still full at the deadline';
    return false;
  }
  parks++;
  // parkProducer flushes first, so the consumer can always drain what was claimed.
  Atomics.store(control, CTRL_STAGE + ROLE_PRODUCER, STAGE_PARKED);
  parkProducer(core, i32, ring, PARK_TIMEOUT_MS);
  Atomics.store(control, CTRL_STAGE + ROLE_PRODUCER, STAGE_RUNNING);
  return true;
}

function produceSingle(gen: number, messages: number, deadline: number): number {
  let hash = CHECKSUM_SEED;
  let spins = 0;
  let seq = 0;
  while (seq < messages) {
    const record = core.ringTryClaim(ring);
    if (record >= ADDRESS_MIN) {
      const w = record >> 2;
      u32[w + RECORD_SEQ_WORD] = seq;
      u32[w + RECORD_GEN_WORD] = gen;
      hash = checksumStep(hash, seq);
      seq++;
      // Write-combining: one HEAD store publishes the last FLUSH_EVERY records.
      if ((seq & FLUSH_MASK) === 0) core.ringFlush(ring);
      spins = 0;
      continue;
    }
    if (record === STATUS_CLOSED) {
      failure = `producer: ring closed at seq ${seq}`;
      break;
    }
    // Full: publish what is claimed before waiting, or the consumer could never catch up.
    if (spins === 0) core.ringFlush(ring);
    if (++spins < SPIN_POLLS) continue;
    spins = 0;
    if (!waitForSpace(deadline)) break;
  }
  core.ringFlush(ring);
  produced = seq;
  return hash;
}

function produceBatch(gen: number, messages: number, deadline: number): number {
  let hash = CHECKSUM_SEED;
  let spins = 0;
  let seq = 0;
  const base = scratch >> 2;
  while (seq < messages && failure === null) {
    const count = Math.min(BATCH, messages - seq);
    for (let i = 0, w = base; i < count; i++, w += RECORD_WORDS) {
      u32[w + RECORD_SEQ_WORD] = seq + i;
      u32[w + RECORD_GEN_WORD] = gen;
      hash = checksumStep(hash, seq + i);
    }
    let done = 0;
    while (done < count) {
      const pushed = core.ringTryPushBatch(ring, scratch + done * RECORD_SIZE, count - done);
      if (pushed > 0) {
        done += pushed;
        spins = 0;
        continue;
      }
      if (pushed < 0) {
        failure = `producer: ring closed at seq ${seq + done} (ringTryPushBatch returned ${pushed})`;
        break;
      }
      if (++spins < SPIN_POLLS) continue;
      spins = 0;
      if (!waitForSpace(deadline)) break;
    }
    seq += done;
  }
  produced = seq;
  return hash;
}

serveRuns(control, ROLE_PRODUCER, (gen, messages, deadline): RunReport => {
  parks = 0;
  produced = 0;
  failure = null;
  const start = nowNs();
  const checksum = data.mode === 'single' ? produceSingle(gen, messages, deadline) : produceBatch(gen, messages, deadline);
  const end = nowNs();
  return {
    role: 'producer', gen, start, end, records: produced, checksum,
    badRecords: 0, firstBadIndex: -1, firstBadSeq: -1, firstBadGen: -1, parks, failure,
  };
});
