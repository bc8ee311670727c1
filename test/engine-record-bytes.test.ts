/**
 * Records of different sizes through the same lanes, on both backends. A lane's records are sized
 * for the engine's largest message (here `big`, 16 KiB), but each record is copied by its own
 * topic's bytes — pushed, staged by publishBatch, kept in and pumped out of a backlog, sent as a
 * reply larger than its request — so an 8-byte message does not cost 16 KiB. These tests check
 * that nothing a handler reads is left out by the shorter copies: every sequence in order, every
 * payload byte (a function of its message's seq, so a stale tail from an earlier, different record
 * in the same ring slot shows), through lanes of 8 records that keep the main thread's backlog in
 * play. Sizes scale with WD_STRESS.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createEngine, type Engine } from '../src/index.ts';
import { BACKENDS, CORE_BUILD, STRESS } from './harness.ts';
import { within } from './engine/harness.ts';
import { BIG_BYTES, ECHO_BYTES, badBytes, fillPayload, sizesTopics, type SizesTopics } from './engine/sizes-topics.ts';

const HANDLERS = new URL('./engine/sizes-handlers.js', import.meta.url);
const SMALL = Math.round(20_000 * STRESS);
/** A big message after every BIG_EVERY-th small one. */
const BIG_EVERY = 16;

interface Report { worker: number; small: number; smallOrder: number; smallSum: number; big: number; bigOrder: number; bigBadBytes: number }

describe.each(BACKENDS)('records copied by their topic\'s size (%s)', (backend) => {
  let engine: Engine<SizesTopics>;
  const errors: Error[] = [];
  /** Largest engine.stats().backlog seen when a publish said to wait. */
  let maxBacklog = 0;

  beforeAll(async () => {
    engine = await createEngine<SizesTopics>({
      topics: sizesTopics, handlers: HANDLERS, backend, workers: 2, ringCapacity: 8, coreBuild: CORE_BUILD, onError: (e) => errors.push(e),
    });
    await engine.subscribe('small', { handler: 'small', workers: [0] });
    await engine.subscribe('big', { handler: 'big', workers: [0] });
    await engine.subscribe('echo', { handler: 'echo', workers: [1] });
    await engine.subscribe('report', { handler: 'report', workers: [0] });
  });
  afterAll(async () => { await engine?.close({ timeout: 5000 }); });

  async function waitIfTold(accepted: boolean): Promise<void> {
    if (accepted) return;
    maxBacklog = Math.max(maxBacklog, engine.stats().backlog);
    await engine.whenWritable();
  }

  async function report(): Promise<Report> {
    return await engine.request('report', { reset: true }, { timeout: 20_000 }) as Report;
  }

  test(`publish(): ${SMALL} small messages with a 16 KiB one after every ${BIG_EVERY}th, one worker, every field whole`, async () => {
    // One buffer, refilled per message: publish copies it into the record (or the backlog) at once.
    const payload = new Uint8Array(BIG_BYTES);
    let smallSum = 0;
    let bigs = 0;
    for (let seq = 0; seq < SMALL; seq++) {
      const value = (seq * 2654435761) >>> 16;
      smallSum += value;
      await waitIfTold(engine.publish('small', { seq, value }));
      if (seq % BIG_EVERY === BIG_EVERY - 1) {
        fillPayload(payload, bigs);
        await waitIfTold(engine.publish('big', { seq: bigs, payload }));
        bigs++;
      }
    }
    await within(60_000, 'drain', engine.drain());
    expect(await report()).toEqual({ worker: 0, small: SMALL, smallOrder: 0, smallSum, big: bigs, bigOrder: 0, bigBadBytes: 0 });
    // The 8-record lanes filled and the main thread's backlog took records (Backlog.push, pumpBacklog).
    expect(maxBacklog).toBeGreaterThan(0);
    expect(errors).toEqual([]);
  });

  test('publishBatch(): batches of 256 small messages staged at their own size between 16 KiB ones', async () => {
    let smallSum = 0;
    let bigs = 0;
    const payload = new Uint8Array(BIG_BYTES);
    for (let start = 0; start < SMALL; start += 256) {
      const batch = Array.from({ length: Math.min(256, SMALL - start) }, (_, k) => {
        const value = ((start + k) * 40503) & 0xffff;
        smallSum += value;
        return { seq: start + k, value };
      });
      let sent = 0;
      while (sent < batch.length) {
        sent += engine.publishBatch('small', sent === 0 ? batch : batch.slice(sent));
        if (sent < batch.length) await engine.whenWritable();
      }
      fillPayload(payload, bigs);
      await waitIfTold(engine.publish('big', { seq: bigs, payload }));
      bigs++;
    }
    await within(60_000, 'drain', engine.drain());
    expect(await report()).toEqual({ worker: 0, small: SMALL, smallOrder: 0, smallSum, big: bigs, bigOrder: 0, bigBadBytes: 0 });
    expect(errors).toEqual([]);
  });

  test('request(): a 4-byte request answered by a 2 KiB reply, 500 at once, every reply byte whole', async () => {
    const n = Math.round(500 * STRESS);
    const replies = await within(60_000, 'replies', Promise.all(Array.from({ length: n }, (_, seq) => engine.request('echo', { seq }, { timeout: 30_000 }))));
    let bad = 0;
    replies.forEach((r, seq) => {
      if (r.seq !== seq || r.payload.length !== ECHO_BYTES) bad++;
      else bad += badBytes(r.payload, seq);
    });
    expect(bad).toBe(0);
    expect(errors).toEqual([]);
  });
});
