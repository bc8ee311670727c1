/**
 * Latency histograms across real workers (both backends): the sampling identity (stamped =
 * queue-wait samples + skipped) after drain, over two workers, publish and publishBatch; handler
 * times never below what the handler spun; queue waits bounded by the waits the handlers saw
 * themselves (a unit or clock error would break it); with sampleEvery 1 every request's round trip counted; async
 * handlers timed to their settle; the exposition parses and its counts equal the histograms';
 * latency: false and bad options. The default interval's stretching for a busy producer, against a
 * clock the test moves, and the identity with the default over real workers.
 */
import { describe, expect, jest, test } from '@jest/globals';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { createEngine } from '../src/index.ts';
import { ConfigError } from '../src/errors.ts';
import { LATENCY_BUCKETS } from '../src/metrics/latency.ts';
import { DEFAULT_SAMPLE_EVERY, LatencyProbe, MAX_STRETCHED_INTERVAL, latencyBufferBytes } from '../src/engine/latency.ts';
import { RING_CLAIM_OFFSET, RING_DATA_OFFSET } from '../assembly/layout/ring.ts';
import { BACKENDS, CORE_BUILD, STRESS } from './harness.ts';
import { latencyTopics, type LatencyTopics } from './engine/latency-topics.ts';
import type latencyHandlers from './engine/latency-handlers.ts';

const HANDLERS = new URL('./engine/latency-handlers.js', import.meta.url);
const N = Math.round(2_000 * STRESS);

function start(backend: 'wasm' | 'js', options: { workers?: number; latency?: { sampleEvery?: number } | false } = {}) {
  return createEngine<LatencyTopics, typeof latencyHandlers>({
    topics: latencyTopics, handlers: HANDLERS, backend, coreBuild: CORE_BUILD, workers: options.workers ?? 2, onError: () => undefined,
    ...(options.latency !== undefined ? { latency: options.latency } : {}),
  });
}

const nowMs = (): number => performance.timeOrigin + performance.now();

describe.each(BACKENDS)('latency histograms (%s)', (backend) => {
  test('sampling identity after drain: stamped = queue-wait samples + skipped; one handler time per queue wait (2 workers, publish and publishBatch)', async () => {
    const engine = await start(backend, { latency: { sampleEvery: 7 } });
    try {
      await engine.subscribe('work', { handler: 'work', mode: 'group' });
      for (let round = 0; round < 10; round++) {
        for (let n = 0; n < N / 20; n++) engine.publish('work', { n, busyUs: n % 50 === 0 ? 100 : 0 });
        engine.publishBatch('work', Array.from({ length: N / 20 }, (_, n) => ({ n, busyUs: 0 })));
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      await engine.drain({ timeout: 20_000 });
      const report = engine.latency();
      const work = report.topics.work!;
      expect(report.stamped).toBeGreaterThan(0);
      expect(work.queueWait.count).toBeGreaterThan(0);
      expect(work.queueWait.count + report.skipped).toBe(report.stamped);
      expect(work.handler.count).toBe(work.queueWait.count);
      // Far fewer than one sample per message (at most one in 7 pushes is stamped).
      expect(report.stamped).toBeLessThanOrEqual(Math.ceil(N / 7) + 2);
      expect(engine.latency('work').topics).toEqual({ work: expect.anything() });
    } finally {
      await engine.close();
    }
  });

  test('requests: every round trip counted; queue waits lie within the waits the handlers saw; handler times never below what they spun', async () => {
    const engine = await start(backend, { workers: 1, latency: { sampleEvery: 1 } });
    try {
      await engine.subscribe('ask', { handler: 'ask', mode: 'group' });
      const count = Math.round(300 * STRESS);
      const busyUs = 200;
      // A burst: the later requests wait behind the earlier ones' 200 µs each.
      const replies = await Promise.all(Array.from({ length: count }, (_, n) => engine.request('ask', { n, busyUs, sentAt: nowMs() }, { timeout: 30_000 })));
      await engine.drain({ timeout: 20_000 });
      const seen = replies.map((reply) => reply.waitMs);
      const { ask } = engine.latency().topics;
      expect(ask!.roundTrip.count).toBe(count);
      // sampleEvery 1: every request is stamped and timed (replies never are).
      expect(engine.latency()).toMatchObject({ stamped: count, skipped: 0 });
      expect(ask!.queueWait.count).toBe(count);
      // The engine stamps just after sentAt was taken and reads its clock just before the handler
      // does: its waits are the handlers' own, a little shorter (ns; buckets ≤ 0.8 % wide, 50 µs
      // of clock skew between threads; 2 ms for a pause between the two clock reads).
      const ns = (p: number): number => [...seen].sort((a, b) => a - b)[Math.ceil((p / 100) * seen.length) - 1]! * 1e6;
      const longestSeenNs = ns(100);
      for (const p of [50, 99, 100]) {
        expect(ask!.queueWait.percentile(p)).toBeLessThanOrEqual(ns(p) * 1.01 + 50_000);
        expect(ask!.queueWait.percentile(p)).toBeGreaterThanOrEqual(ns(p) - 2e6);
      }
      expect(ask!.handler.min).toBeGreaterThanOrEqual(busyUs * 1000 * 0.99);
      // A round trip holds a wait and a handler run.
      expect(ask!.roundTrip.min).toBeGreaterThanOrEqual(busyUs * 1000 * 0.99);
      expect(ask!.roundTrip.max).toBeGreaterThanOrEqual(longestSeenNs * 0.99);
      expect(ask!.roundTrip.percentile(50)).toBeLessThanOrEqual(ask!.roundTrip.max);
    } finally {
      await engine.close();
    }
  });

  test('async handlers are timed to their settle', async () => {
    const engine = await start(backend, { workers: 1, latency: { sampleEvery: 1 } });
    try {
      await engine.subscribe('later', { handler: 'later', mode: 'group' });
      for (let n = 0; n < 20; n++) {
        engine.publish('later', { n, delayMs: 20 });
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      await engine.drain({ timeout: 20_000 });
      const { later } = engine.latency().topics;
      expect(later!.handler.count).toBeGreaterThan(0);
      expect(later!.handler.count).toBe(later!.queueWait.count);
      // setTimeout(20) fires no earlier than ~19 ms on the handler's clock (libuv rounds to ms).
      expect(later!.handler.min).toBeGreaterThanOrEqual(18e6);
    } finally {
      await engine.close();
    }
  });

  test('metrics(): latency families parse, in seconds, their counts and sums equal the histograms', async () => {
    const engine = await start(backend, { workers: 1, latency: { sampleEvery: 1 } });
    try {
      await engine.subscribe('ask', { handler: 'ask', mode: 'group' });
      for (let n = 0; n < 50; n++) await engine.request('ask', { n, busyUs: 50, sentAt: nowMs() }, { timeout: 30_000 });
      await engine.drain({ timeout: 20_000 });
      const { ask } = engine.latency().topics;
      const text = engine.metrics();
      const families = new Map(parsePrometheusTextFormat(text).map((family) => [family.name, family]));
      // The parser drops a typed histogram's labels but `le`: the series are read untyped (as in metrics.test).
      const untyped = parsePrometheusTextFormat(text.replace(/^# TYPE .*\n/gm, ''));
      const samples = (name: string) => untyped.filter((f) => f.name === name).flatMap((f) => f.metrics);
      const check = (name: string, histogram: { count: number; sum: number }): void => {
        expect(families.get(name)?.type).toBe('HISTOGRAM');
        const count = samples(`${name}_count`);
        expect(count.map((m) => m.labels?.topic)).toEqual(['ask']); // topics without samples have no series
        expect(Number(count[0]!.value)).toBe(histogram.count);
        expect(Number(samples(`${name}_sum`)[0]!.value)).toBeCloseTo(histogram.sum / 1e9, 9);
        const buckets = samples(`${name}_bucket`);
        expect(buckets.map((m) => m.labels?.le)).toEqual([...LATENCY_BUCKETS.map(String), '+Inf']);
        expect(Number(buckets.at(-1)!.value)).toBe(histogram.count);
        const values = buckets.map((m) => Number(m.value));
        expect(values).toEqual([...values].sort((a, b) => a - b)); // cumulative
      };
      check('wasm_dispatch_request_duration_seconds', ask!.roundTrip);
      check('wasm_dispatch_queue_wait_seconds', ask!.queueWait);
      check('wasm_dispatch_handler_duration_seconds', ask!.handler);
      expect(ask!.roundTrip.count).toBe(50);
    } finally {
      await engine.close();
    }
  });
});

describe('the default sampling interval stretches for a busy producer', () => {
  /** A probe of thread 0 of a 2-thread engine, a ring at RING whose last claimed slot is 0, and a clock the test sets. */
  function probe(sampleEvery: number, stretch: boolean) {
    const RING = 1024;
    const arena = new ArrayBuffer(1 << 16);
    new Uint32Array(arena)[(RING + RING_CLAIM_OFFSET) >> 2] = 1; // slot 0 was claimed last
    const shape = { threads: 2, topicNames: ['t'], ringCapacity: 4, epochMs: 0, latency: { buffer: new SharedArrayBuffer(latencyBufferBytes(2, 1, 4)), sampleEvery, stretch } };
    const p = new LatencyProbe(shape, 0, arena);
    let clock = 0;
    const spy = jest.spyOn(performance, 'now').mockImplementation(() => clock);
    const stamps = (gapMs: number, n: number): number[] => Array.from({ length: n }, () => { clock += gapMs; return p.stamp(1, RING, 64); });
    return { stamps, restore: () => spy.mockRestore() };
  }

  test('stamps under 1 ms apart double it up to MAX_STRETCHED_INTERVAL; over 4 ms apart halve it back to sampleEvery; 1–4 ms keep it', () => {
    const { stamps, restore } = probe(DEFAULT_SAMPLE_EVERY, true);
    try {
      // The first stamp has no gap to go by: it keeps sampleEvery.
      expect(stamps(0.01, 9)).toEqual([128, 256, 512, 1024, 2048, 4096, 8192, 8192, 8192]);
      expect(MAX_STRETCHED_INTERVAL).toBe(8192);
      expect(stamps(2, 3)).toEqual([8192, 8192, 8192]);
      expect(stamps(10, 8)).toEqual([4096, 2048, 1024, 512, 256, 128, 128, 128]);
    } finally {
      restore();
    }
  });

  test('a sampleEvery the user set is kept exactly, however fast the stamps come', () => {
    const { stamps, restore } = probe(128, false);
    try {
      expect(stamps(0.001, 5)).toEqual([128, 128, 128, 128, 128]);
    } finally {
      restore();
    }
  });

  test.each(BACKENDS)('with the default over 2 workers (%s): the identity holds, and never more stamps than every 128th push', async (backend) => {
    const engine = await start(backend);
    try {
      await engine.subscribe('work', { handler: 'work', mode: 'group' });
      const n = Math.round(200_000 * STRESS);
      for (let start = 0; start < n; start += 256) {
        engine.publishBatch('work', Array.from({ length: 256 }, (_, k) => ({ n: start + k, busyUs: 0 })));
        await engine.whenWritable();
      }
      await engine.drain({ timeout: 20_000 });
      const report = engine.latency();
      expect(report.stamped).toBeGreaterThan(0);
      expect(report.topics.work!.queueWait.count + report.skipped).toBe(report.stamped);
      expect(report.stamped).toBeLessThanOrEqual(Math.ceil(n / DEFAULT_SAMPLE_EVERY) + 2);
    } finally {
      await engine.close();
    }
  });
});

describe('latency options', () => {
  test('latency: false: no histograms, latency() is a ConfigError, metrics() has no latency families', async () => {
    const engine = await start('wasm', { workers: 1, latency: false });
    try {
      await engine.subscribe('ask', { handler: 'ask', mode: 'group' });
      await engine.request('ask', { n: 1, busyUs: 0, sentAt: nowMs() }, { timeout: 30_000 });
      expect(() => engine.latency()).toThrow(ConfigError);
      expect(engine.metrics()).not.toMatch(/request_duration|queue_wait|handler_duration/);
    } finally {
      await engine.close();
    }
  });

  test('bad latency options and topics are ConfigErrors naming the field', async () => {
    for (const [latency, field] of [[{ sampleEvery: 0 }, 'latency.sampleEvery'], [{ sampleEvery: 1.5 }, 'latency.sampleEvery'], ['often', 'latency']] as const) {
      const error = await start('wasm', { latency: latency as never }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).field).toBe(field);
    }
    const engine = await start('wasm', { workers: 1 });
    try {
      expect(() => engine.latency('nope' as never)).toThrow(ConfigError);
    } finally {
      await engine.close();
    }
  });
});

