/**
 * Back-pressure under 2× overload, on both backends: one worker whose handler busy-waits MICROS µs
 * per message, fed by the engine's thread at twice that rate, through a 32-record lane. For every
 * policy the accounting is exact: routed = delivered + droppedOldest + droppedNewest + rejected,
 * what the worker counted equals delivered - callerRuns, and the messages publish() reported as
 * refused are exactly the rejected or dropped-newest ones. Also publishBatch into a least-loaded
 * group of 2 such workers under 'reject' (the batch stops at a full chosen lane and the policy
 * takes over there). Sizes scale with WD_STRESS.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { BACKENDS, STRESS } from './harness.ts';
import { reports, startEngine, within, type TestEngine } from './engine/harness.ts';
import type { BackpressurePolicy } from '../src/engine/types.ts';

const MESSAGES = Math.round(3000 * STRESS);
const MICROS = 20;

function busyWait(micros: number): void {
  const end = performance.now() + micros / 1000;
  while (performance.now() < end) { /* pacing */ }
}

describe.each(BACKENDS)('engine back-pressure (%s)', (backend) => {
  let engine: TestEngine & { errors: Error[] };
  beforeAll(async () => { engine = await startEngine(backend, { workers: 1, ringCapacity: 32, flushEvery: 4 }); });
  afterAll(async () => { await engine?.close({ timeout: 5000 }); });

  const policies: BackpressurePolicy[] = ['block', 'reject', 'drop-newest', 'drop-oldest', 'caller-runs'];
  test.each(policies)('%s: exact accounting at 2× overload', async (policy) => {
    const before = engine.stats().topics.load;
    const sub = await engine.subscribe('load', { handler: 'load', mode: 'group', backpressure: policy });
    let refused = 0;
    let waits = 0;
    let expectedSum = 0;
    for (let seq = 0; seq < MESSAGES; seq++) {
      expectedSum += seq;
      if (!engine.publish('load', { seq, micros: MICROS })) {
        if (policy === 'block') {
          waits++;
          await within(10_000, 'whenWritable', engine.whenWritable());
        } else refused++;
      }
      busyWait(MICROS / 2);
      if ((seq & 63) === 0) await null; // let thread 0's loop run now and then, as an app would
    }
    await within(30_000, 'drain', engine.drain());
    const after = engine.stats().topics.load;
    const d = (k: keyof typeof after): number => (after[k] as number) - (before[k] as number);
    const [worker] = await reports(engine, 'load');
    expect(d('routed')).toBe(MESSAGES);
    expect(d('delivered') + d('droppedOldest') + d('droppedNewest') + d('rejected')).toBe(d('routed'));
    expect(worker!.count).toBe(d('delivered') - d('callerRuns'));
    expect(refused).toBe(d('rejected') + d('droppedNewest'));
    switch (policy) {
      case 'block':
        expect(waits).toBeGreaterThan(0);
        expect(worker!.count).toBe(MESSAGES);
        expect(worker!.sum).toBe(expectedSum);
        break;
      case 'reject':
        expect(d('rejected')).toBeGreaterThan(0);
        expect(d('droppedNewest') + d('droppedOldest')).toBe(0);
        break;
      case 'drop-newest':
        expect(d('droppedNewest')).toBeGreaterThan(0);
        expect(d('rejected') + d('droppedOldest')).toBe(0);
        break;
      case 'drop-oldest':
        expect(d('droppedOldest')).toBeGreaterThan(0);
        expect(d('rejected') + d('droppedNewest')).toBe(0);
        expect(refused).toBe(0);
        break;
      case 'caller-runs':
        expect(d('callerRuns')).toBeGreaterThan(0);
        expect(d('delivered')).toBe(MESSAGES);
        expect(d('rejected') + d('droppedNewest') + d('droppedOldest')).toBe(0);
        break;
    }
    await sub.unsubscribe();
    expect(engine.stats().backlog).toBe(0);
  });

  test('tryPublish never queues: full lanes answer "full" and the message stays with the caller', async () => {
    const before = engine.stats().topics.load;
    const sub = await engine.subscribe('load', { handler: 'load', mode: 'group', backpressure: 'block' });
    let full = 0;
    let ok = 0;
    let sum = 0;
    for (let seq = 0; seq < 500; seq++) {
      const status = engine.tryPublish('load', { seq, micros: MICROS });
      if (status === 'full') full++;
      else {
        ok++;
        sum += seq;
      }
    }
    expect(engine.stats().backlog).toBe(0);
    await within(30_000, 'drain', engine.drain());
    const [worker] = await reports(engine, 'load');
    expect(full).toBeGreaterThan(0);
    expect({ count: worker!.count, sum: worker!.sum }).toEqual({ count: ok, sum });
    expect(engine.stats().topics.load.rejected - before.rejected).toBe(full);
    await sub.unsubscribe();
  });
});

describe.each(BACKENDS)('engine back-pressure, publishBatch into a least-loaded group (%s)', (backend) => {
  let engine: TestEngine & { errors: Error[] };
  beforeAll(async () => { engine = await startEngine(backend, { workers: 2, ringCapacity: 32, flushEvery: 4 }); });
  afterAll(async () => { await engine?.close({ timeout: 5000 }); });

  test("reject: what publishBatch took is delivered exactly once, the rest rejected; both workers get a share", async () => {
    const before = engine.stats().topics.load;
    const sub = await engine.subscribe('load', { handler: 'load', mode: 'group', balance: 'least-loaded', backpressure: 'reject' });
    let taken = 0;
    const chunk = 100;
    for (let start = 0; start < MESSAGES; start += chunk) {
      const messages = Array.from({ length: chunk }, (_, k) => ({ seq: start + k, micros: MICROS }));
      taken += engine.publishBatch('load', messages);
      busyWait(MICROS * chunk / 4); // 2× overload for the two workers together
      await null;
    }
    await within(30_000, 'drain', engine.drain());
    const after = engine.stats().topics.load;
    const d = (k: keyof typeof after): number => (after[k] as number) - (before[k] as number);
    const workers = await reports(engine, 'load');
    expect(d('routed')).toBe(MESSAGES);
    expect(d('rejected')).toBeGreaterThan(0);
    expect({ delivered: d('delivered'), published: d('published'), dropped: d('droppedNewest') + d('droppedOldest') })
      .toEqual({ delivered: MESSAGES - d('rejected'), published: taken, dropped: 0 });
    expect(taken).toBe(MESSAGES - d('rejected'));
    expect(workers.reduce((t, w) => t + w.count, 0)).toBe(taken);
    for (const w of workers) expect(w.count).toBeGreaterThan(0);
    await sub.unsubscribe();
    expect(engine.stats().backlog).toBe(0);
    expect(engine.errors).toEqual([]);
  });
});
