/**
 * The SPSC ring across real worker threads, every [producer backend, consumer backend] pair.
 *
 *   producer worker ── push / batch / claim ──▶ ring (64 × 24 B) ──▶ consumer worker ── check
 *
 * Bulk run: WD_STRESS × 200 000 records of (seq, hashed payload, check word). Checked: 0 lost,
 * 0 duplicated, in order, no torn record (payload matches its seq: HEAD is never published before
 * the record is written, a slot is never overwritten before TAIL frees it), the checksum, and the
 * final ring words. The indices start just below 2^32, so every run also wraps them across threads.
 *
 * Wake-up litmus: a worker parks (bindings/park.ts) on one side; the main thread then flushes,
 * commits or closes from the other. Allowed outcomes: 'woken' (notified, or the word changed before
 * it slept) and 'ready' (saw the change before sleeping). Forbidden: 'timed-out' — a lost wake-up.
 * No test asserts on timing; every wait is bounded.
 */
import { describe, expect, test } from '@jest/globals';
import { ADDRESS_MIN } from '../assembly/layout/arena.ts';
import {
  RING_CACHED_HEAD_OFFSET, RING_CACHED_TAIL_OFFSET, RING_CLAIM_OFFSET, RING_CONSUMER_CLOSED_OFFSET,
  RING_CONSUMER_PARKED_OFFSET, RING_HEAD_OFFSET, RING_PRODUCER_CLOSED_OFFSET, RING_PRODUCER_PARKED_OFFSET,
  RING_READ_OFFSET, RING_TAIL_OFFSET,
} from '../assembly/layout/ring.ts';
import { STATUS_FULL } from '../assembly/layout/status.ts';
import type { Backend } from '../bindings/core-ops.ts';
import type { ParkResult } from '../bindings/park.ts';
import { BACKENDS, PAIRS, STRESS, newArena, pairName, runWorker } from './harness.ts';
import {
  RECORD_BYTES, RING_CAPACITY, VARIANTS, expectedChecksum, type RingRunData, type RingRunReport, type Variant,
} from './workers/ring-common.ts';

const RECORDS = Math.round(200_000 * STRESS);
const TIMEOUT_MS = 60_000 + RECORDS / 10;
/** Free-running indices start this far below 2^32 (as an i32: negative), so the run crosses it. */
const START_INDEX = -(RECORDS >> 1);
/** Computed once: code in jest's VM context runs ~10× slower than in the workers, and at large
 *  WD_STRESS recomputing this per test dominated the run. */
const EXPECTED_CHECKSUM = expectedChecksum(RECORDS);

describe.each(PAIRS.map((pair) => [pairName(pair), pair] as const))('ring across threads %s', (name, [producerBackend, consumerBackend]) => {
  test.each(VARIANTS.map((variant) => [variant]))(`${name}: %s: ${RECORDS} records, 0 lost, 0 duplicated, in order, intact`, async (variant: Variant) => {
    const t = await newArena({
      threads: 2,
      rings: [{ capacity: RING_CAPACITY, recordSize: RECORD_BYTES, producer: 0, consumer: 1 }],
      scratchBytes: 65536,
    });
    const ring = t.arena.ring(0).address;
    const i32 = t.views.i32;
    const word = (offset: number) => (ring + offset) >> 2;
    for (const offset of [RING_HEAD_OFFSET, RING_CLAIM_OFFSET, RING_CACHED_TAIL_OFFSET, RING_TAIL_OFFSET, RING_READ_OFFSET, RING_CACHED_HEAD_OFFSET]) {
      i32[word(offset)] = START_INDEX;
    }

    const deadline = Date.now() + TIMEOUT_MS - 5_000;
    const side = (role: 'producer' | 'consumer', backend: Backend, thread: number): RingRunData => ({
      module: t.module, memory: t.memory, backend, role, variant, ring, scratch: t.scratch(thread), records: RECORDS, deadline,
    });
    const [producer, consumer] = await Promise.all([
      runWorker<RingRunReport>('ring-spsc', side('producer', producerBackend, 0), TIMEOUT_MS),
      runWorker<RingRunReport>('ring-spsc', side('consumer', consumerBackend, 1), TIMEOUT_MS),
    ]);

    expect(producer.errors).toEqual([]);
    expect(consumer.errors).toEqual([]);
    expect(producer.count).toBe(RECORDS);
    expect({ received: consumer.count, lost: consumer.lost, duplicated: consumer.duplicated, torn: consumer.torn })
      .toEqual({ received: RECORDS, lost: 0, duplicated: 0, torn: 0 });
    expect(consumer.checksum).toBe(EXPECTED_CHECKSUM);

    const end = (START_INDEX + RECORDS) | 0;
    expect([RING_HEAD_OFFSET, RING_CLAIM_OFFSET, RING_TAIL_OFFSET, RING_READ_OFFSET].map((offset) => Atomics.load(i32, word(offset))))
      .toEqual([end, end, end, end]);
    expect(t.cores[producerBackend].ringSize(ring)).toBe(0);
    expect(t.cores[consumerBackend].ringPending(ring)).toBe(0);
    expect([RING_PRODUCER_CLOSED_OFFSET, RING_CONSUMER_CLOSED_OFFSET, RING_PRODUCER_PARKED_OFFSET, RING_CONSUMER_PARKED_OFFSET]
      .map((offset) => Atomics.load(i32, word(offset)))).toEqual([1, 1, 0, 0]);
  }, TIMEOUT_MS + 10_000);
});

/** How long a litmus park may sleep before it counts as a lost wake-up. */
const PARK_TIMEOUT_MS = 20_000;

/** Resolves once `flag` reads 1 (the worker announced it parks); rejects after PARK_TIMEOUT_MS. */
async function untilSet(i32: Int32Array, flag: number): Promise<void> {
  const giveUp = Date.now() + PARK_TIMEOUT_MS;
  while (Atomics.load(i32, flag) !== 1) {
    if (Date.now() > giveUp) throw new Error('the worker never announced that it parks');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

describe.each(BACKENDS)('ring wake-ups across threads, waker %s', (waker) => {
  const sleeper: Backend = waker === 'wasm' ? 'js' : 'wasm';
  const ALLOWED: ParkResult[] = ['woken', 'ready'];

  const setup = async () => {
    const t = await newArena({ threads: 2, rings: [{ capacity: 4, recordSize: 8 }] });
    const ring = t.arena.ring(0).address;
    const core = t.cores[waker];
    const park = (side: 'producer' | 'consumer') =>
      runWorker<ParkResult>('ring-park', { module: t.module, memory: t.memory, backend: sleeper, ring, side, timeoutMs: PARK_TIMEOUT_MS }, PARK_TIMEOUT_MS + 10_000);
    /** Fills the ring (published, nothing committed), so a producer has to park. */
    const fill = () => {
      for (let k = 0; k < 4; k++) expect(core.ringTryClaim(ring)).toBeGreaterThanOrEqual(ADDRESS_MIN);
      expect(core.ringTryClaim(ring)).toBe(STATUS_FULL);
      core.ringFlush(ring);
    };
    return { t, ring, core, park, fill, i32: t.views.i32 };
  };

  test(`${waker} flush wakes a ${sleeper}-side consumer parked on HEAD (flush returns 1)`, async () => {
    const { ring, core, park, i32 } = await setup();
    const parked = park('consumer');
    await untilSet(i32, (ring + RING_CONSUMER_PARKED_OFFSET) >> 2);
    expect(core.ringTryClaim(ring)).toBeGreaterThanOrEqual(ADDRESS_MIN);
    expect(core.ringFlush(ring)).toBe(1);
    expect(ALLOWED).toContain(await parked);
  });

  test(`${waker} commit wakes a ${sleeper}-side producer parked on TAIL (commit returns 1)`, async () => {
    const { ring, core, park, fill, i32 } = await setup();
    fill();
    const parked = park('producer');
    await untilSet(i32, (ring + RING_PRODUCER_PARKED_OFFSET) >> 2);
    expect(core.ringTryPeek(ring)).toBeGreaterThanOrEqual(ADDRESS_MIN);
    expect(core.ringCommit(ring)).toBe(1);
    expect(ALLOWED).toContain(await parked);
  });

  test(`${waker} producer close wakes a ${sleeper}-side parked consumer`, async () => {
    const { ring, core, park, i32 } = await setup();
    const parked = park('consumer');
    await untilSet(i32, (ring + RING_CONSUMER_PARKED_OFFSET) >> 2);
    core.ringCloseProducer(ring);
    expect(ALLOWED).toContain(await parked);
  });

  test(`${waker} consumer close wakes a ${sleeper}-side parked producer`, async () => {
    const { ring, core, park, fill, i32 } = await setup();
    fill();
    const parked = park('producer');
    await untilSet(i32, (ring + RING_PRODUCER_PARKED_OFFSET) >> 2);
    core.ringCloseConsumer(ring);
    expect(ALLOWED).toContain(await parked);
  });
});
