/**
 * One side of the cross-thread ring run (test/ring-threads.test.ts): the producer pushes records
 * 0..records-1 and closes; the consumer takes them until CLOSED, checking each record's content,
 * its order, and summing the checks. Each side runs on its own backend in its own thread.
 *
 * Idle sides spin, yield briefly after IDLE_SPINS fruitless polls (the machine may have fewer
 * cores than busy threads), and give up at the deadline: the side that gives up closes its end of
 * the ring, so the other side stops as well, and both report what they saw. Nothing here waits
 * without a timeout.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ADDRESS_MIN } from '../../assembly/layout/arena.ts';
import { RING_RECORD_SIZE_OFFSET } from '../../assembly/layout/ring.ts';
import { STATUS_CLOSED, STATUS_EMPTY, STATUS_FULL, STATUS_OK } from '../../assembly/layout/status.ts';
import { parkConsumer, parkProducer } from '../../bindings/park.ts';
import { attach } from './attach.ts';
import {
  COMMIT_EVERY, FLUSH_EVERY, MAX_BATCH, PAYLOAD_WORDS, RECORD_BYTES, recordError, writeRecord, type RingRunData,
  type RingRunReport,
} from './ring-common.ts';

const data = workerData as RingRunData;
const { core, i32 } = attach(data);
const { ring, scratch, records, deadline, variant } = data;

/** Fruitless polls before an idle side yields (spin variants) or parks (park variant). */
const IDLE_SPINS = 256;
/** One yield: a timed wait on a word nobody changes (milliseconds). */
const YIELD_MS = 0.05;
/** Longest single park; the loop re-checks the deadline after each one (milliseconds). */
const PARK_MAX_MS = 100;
/** Where the consumer copies records to (its own scratch block; the producer stages in its own). */
const DESTINATION = scratch;
/** A scratch word that stays 0, for timed yields: past the largest staging or destination area. */
const YIELD_WORD = (scratch + (MAX_BATCH + 24) * RECORD_BYTES) >> 2;

const report: RingRunReport = { role: data.role, count: 0, checksum: 0, lost: 0, duplicated: 0, torn: 0, errors: [] };
function fail(message: string): void {
  if (report.errors.length < 10) report.errors.push(`${data.role} (${data.backend}, ${variant}): ${message}`);
}

let idle = 0;
/** Called after a poll found nothing to do. False once the deadline has passed. */
function waitABit(side: 'producer' | 'consumer'): boolean {
  if (++idle < (variant === 'park' ? IDLE_SPINS >> 2 : IDLE_SPINS)) return true;
  const left = deadline - Date.now();
  if (left <= 0) return false;
  if (variant === 'park') {
    // Either park returns at once ('ready') or it slept until the other side's flush/commit/close
    // notified it — or the timeout, which is not an error: the deadline decides.
    if (side === 'producer') parkProducer(core, i32, ring, Math.min(left, PARK_MAX_MS));
    else parkConsumer(i32, ring, Math.min(left, PARK_MAX_MS));
  } else {
    Atomics.wait(i32, YIELD_WORD, 0, YIELD_MS);
  }
  idle = 0;
  return true;
}

function produce(): void {
  const staging = scratch;
  let seq = 0;
  outer: while (seq < records) {
    if (variant === 'batch') {
      const size = Math.min(records - seq, 1 + ((seq * 7) % MAX_BATCH));
      for (let k = 0; k < size; k++) writeRecord(i32, staging + k * RECORD_BYTES, seq + k);
      let pushed = 0;
      while (pushed < size) {
        const n = core.ringTryPushBatch(ring, staging + pushed * RECORD_BYTES, size - pushed);
        if (n < 0) {
          fail(`push batch returned ${n} at seq ${seq + pushed}`);
          break outer;
        }
        if (n > 0) {
          pushed += n;
          idle = 0;
        } else if (!waitABit('producer')) {
          fail(`deadline passed at seq ${seq + pushed}`);
          break outer;
        }
      }
      seq += size;
      continue;
    }
    let status: number;
    if (variant === 'claim') {
      const record = core.ringTryClaim(ring);
      if (record >= ADDRESS_MIN) writeRecord(i32, record, seq);
      status = record >= ADDRESS_MIN ? STATUS_OK : record;
    } else {
      writeRecord(i32, staging, seq);
      status = core.ringTryPush(ring, staging);
    }
    if (status === STATUS_OK) {
      idle = 0;
      if (++seq % FLUSH_EVERY === 0) core.ringFlush(ring);
    } else if (status === STATUS_FULL) {
      // Publish what is claimed before waiting: the consumer can only free space it can see.
      core.ringFlush(ring);
      if (!waitABit('producer')) {
        fail(`deadline passed at seq ${seq}`);
        break;
      }
    } else {
      fail(`push returned ${status} at seq ${seq}`);
      break;
    }
  }
  report.count = seq;
  core.ringCloseProducer(ring);
}

let expected = 0;
function check(at: number): void {
  const problem = recordError(i32, at);
  if (problem !== '') {
    report.torn++;
    fail(problem);
  }
  const seq = i32[at >> 2]!;
  if (seq === expected) {
    expected++;
  } else if (seq > expected) {
    report.lost += seq - expected;
    fail(`expected seq ${expected}, got ${seq}`);
    expected = seq + 1;
  } else {
    report.duplicated++;
    fail(`expected seq ${expected}, got ${seq} again`);
  }
  report.checksum = (report.checksum + i32[(at >> 2) + 1 + PAYLOAD_WORDS]!) | 0;
  report.count++;
}

function consume(): void {
  const recordSize = i32[(ring + RING_RECORD_SIZE_OFFSET) >> 2]!;
  for (;;) {
    if (variant === 'batch') {
      const n = core.ringTryPopBatch(ring, DESTINATION, 1 + ((report.count * 13) % (MAX_BATCH + 20)));
      if (n === -STATUS_CLOSED) return;
      if (n < 0) return fail(`pop batch returned ${n}`);
      for (let k = 0; k < n; k++) check(DESTINATION + k * recordSize);
      if (n > 0) idle = 0;
      else if (!waitABit('consumer')) return fail(`deadline passed after ${report.count} records`);
      continue;
    }
    let status: number;
    if (variant === 'claim') {
      const record = core.ringTryPeek(ring);
      if (record >= ADDRESS_MIN) check(record);
      status = record >= ADDRESS_MIN ? STATUS_OK : record;
    } else {
      status = core.ringTryPop(ring, DESTINATION);
      if (status === STATUS_OK) check(DESTINATION);
    }
    if (status === STATUS_OK) {
      idle = 0;
      if (report.count % COMMIT_EVERY === 0) core.ringCommit(ring);
    } else if (status === STATUS_EMPTY) {
      // Free what was read before waiting: the producer may be waiting for exactly that space.
      core.ringCommit(ring);
      if (!waitABit('consumer')) return fail(`deadline passed after ${report.count} records`);
    } else if (status === STATUS_CLOSED) {
      core.ringCommit(ring);
      return;
    } else {
      return fail(`pop returned ${status}`);
    }
  }
}

if (data.role === 'producer') {
  produce();
} else {
  consume();
  // Whether drained or given up: refuse further pushes, so a producer still running stops.
  core.ringCloseConsumer(ring);
}
report.checksum >>>= 0;
parentPort!.postMessage(report);
