/**
 * Core ops on one thread, Wasm vs JS, with benchmark.js: ring push/pop, route lookup, key hashing
 * and batch dispatch (route + enqueue in one call).
 *
 *   this thread: push 32 records ──▶ ring (1024 × 16 B) ──▶ pop the same 32 records
 *
 * One arena, one ring per backend; the Wasm core and the JS twin run over the same memory. One
 * benchmark call moves RECORDS_PER_CALL records through the ring and back, starting and ending
 * empty, so every case measures the ring ops plus writing and reading one u32 per record — the
 * least work a real producer and consumer do:
 *   single claim/peek: ringTryClaim + write seq in place, ringFlush; ringTryPeek + read seq in
 *                      place, ringCommit (the zero-copy path: one flush/commit per 32 records)
 *   single push/pop:   write seq to a staging record, ringTryPush (copy), ringFlush; ringTryPop
 *                      (copy out) + read seq, ringCommit
 *   batch 32:          write 32 seqs to staging, ringTryPushBatch; ringTryPopBatch, read 32 seqs
 *   route lookup:      routerEnter, 32 × routerRoute of a topic with a broadcast, a round-robin
 *                      group of 2 and a keyed group of 3 (3 lanes each), routerLeave
 *   hash 16 B:         32 × hashBytes of a 16-byte key (MurmurHash3), compared with the other backend
 *   dispatchBatch 32:  route + push 32 staged records to those 3 lanes (96 copies) in one call, then
 *                      pop them back with ringTryPopBatch (one per ring)
 * Every popped seq is checked against the one pushed (verified = no mismatch, no failed op, ring
 * empty at the end); route counts and hashes are checked too.
 *   encode + decode:   32 × write a 24-byte message's 5 fields through the schema's writer
 *                      flyweight and read them back through its reader (src/schema.ts). The codec
 *                      is the same TypeScript on both backends, so this row is measured once (js). Rates are records/s: benchmark.js's calls/s × RECORDS_PER_CALL; median,
 * min and max come from its samples, ± is its relative margin of error of the mean.
 */
import Benchmark from 'benchmark';
import { ADDRESS_MIN } from '../assembly/layout/arena.ts';
import { STATUS_OK } from '../assembly/layout/status.ts';
import type { Backend, CoreOps } from '../bindings/core-ops.ts';
import { createJsCore } from '../bindings/js/index.ts';
import { instantiateCore, loadCoreModule } from '../bindings/wasm.ts';
import { createArena } from '../src/arena.ts';
import { defineSchema } from '../src/schema.ts';
import { KEY_U32, ROUTE_RING_SHIFT } from '../assembly/layout/dispatch.ts';
import { MODE_BROADCAST, MODE_GROUP, MODE_KEYED } from '../assembly/layout/router.ts';
import { median, selected, type BenchEntry, type BenchOptions } from './results.ts';

const SUITE = 'micro';
const CAPACITY = 1024;
const RECORD_SIZE = 16;
const RECORD_WORDS = RECORD_SIZE >> 2;
const RECORDS_PER_CALL = 32;

/** A case's benchmark body plus what it found while running. */
interface Probe {
  fn: () => void;
  /** Records that went through the ring and were checked. */
  records(): number;
  /** Failed ops plus popped seqs that did not match. */
  errors(): number;
}

/** What a backend's cases work on: its own ring, router and three dispatch lanes. */
interface Ctx { router: number; lanes: readonly number[]; table: number; pushed: number; out: number; result: number }

interface CaseDef {
  name: string;
  /** Measured for this backend only (code both backends share). */
  only?: Backend;
  make(core: CoreOps, ring: number, u32: Uint32Array, src: number, dst: number, ctx: Ctx): Probe;
}

const CASES: readonly CaseDef[] = [
  { name: `single claim/peek ×${RECORDS_PER_CALL}`, make: singleClaimPeek },
  { name: `single push/pop ×${RECORDS_PER_CALL}`, make: singlePushPop },
  { name: `batch ${RECORDS_PER_CALL}`, make: batch },
  { name: `route lookup ×${RECORDS_PER_CALL}`, make: routeLookup },
  { name: `hash 16 B ×${RECORDS_PER_CALL}`, make: hash16 },
  { name: `dispatchBatch ${RECORDS_PER_CALL} → 3 lanes`, make: dispatch },
  { name: `encode + decode 24 B ×${RECORDS_PER_CALL}`, make: encodeDecode, only: 'js' },
];

const Tick = defineSchema({ seq: 'u32', player: 'u32', x: 'f32', y: 'f32', stamp: 'f64' });

function encodeDecode(_core: CoreOps, _ring: number, u32: Uint32Array, src: number): Probe {
  const messages = src + 8192; // apart from the staging records other cases overwrite
  const writer = Tick.writer(u32.buffer as SharedArrayBuffer);
  const reader = Tick.reader(u32.buffer as SharedArrayBuffer);
  let done = 0;
  let errors = 0;
  const fn = (): void => {
    for (let i = 0; i < RECORDS_PER_CALL; i++) {
      const w = writer.at(messages + i * Tick.size);
      w.seq = done + i;
      w.player = i;
      w.x = i * 0.5;
      w.y = 1.5;
      w.stamp = i * 2;
    }
    for (let i = 0; i < RECORDS_PER_CALL; i++) {
      const r = reader.at(messages + i * Tick.size);
      if (r.seq !== done + i || r.player !== i || r.x !== i * 0.5 || r.y !== 1.5 || r.stamp !== i * 2) errors++;
    }
    done += RECORDS_PER_CALL;
  };
  return { fn, records: () => done, errors: () => errors };
}

const TOPIC = 0;
const LANES_PER_MESSAGE = 3;

function routeLookup(core: CoreOps, _ring: number, _u32: Uint32Array, _src: number, _dst: number, ctx: Ctx): Probe {
  let routed = 0;
  let errors = 0;
  const fn = (): void => {
    core.routerEnter(ctx.router, 0);
    for (let i = 0; i < RECORDS_PER_CALL; i++) {
      if (core.routerRoute(ctx.router, 0, TOPIC, i * 2654435761, ctx.out) !== LANES_PER_MESSAGE) errors++;
      else routed++;
    }
    core.routerLeave(ctx.router, 0);
  };
  return { fn, records: () => routed, errors: () => errors };
}

function hash16(core: CoreOps, _ring: number, u32: Uint32Array, src: number): Probe {
  let hashed = 0;
  let errors = 0;
  // Keys live apart from the staging records the other cases overwrite.
  const keys = src + 16384;
  const memory = new Uint8Array(u32.buffer);
  const expected = new Int32Array(RECORDS_PER_CALL);
  const referenceBytes = new Uint8Array(16);
  for (let i = 0; i < RECORDS_PER_CALL; i++) {
    for (let b = 0; b < 16; b++) referenceBytes[b] = (i * 31 + b) & 0xff;
    memory.set(referenceBytes, keys + i * 16);
    expected[i] = createJsCore(referenceBytes.buffer).hashBytes(0, 16);
  }
  const fn = (): void => {
    for (let i = 0; i < RECORDS_PER_CALL; i++) {
      if (core.hashBytes(keys + i * 16, 16) !== expected[i]) errors++;
      else hashed++;
    }
  };
  return { fn, records: () => hashed, errors: () => errors };
}

function dispatch(core: CoreOps, _ring: number, u32: Uint32Array, src: number, dst: number, ctx: Ctx): Probe {
  let pushed = 0;
  let popped = 0;
  let errors = 0;
  const srcWord = src >> 2;
  const fn = (): void => {
    for (let i = 0, w = srcWord; i < RECORDS_PER_CALL; i++, w += RECORD_WORDS) u32[w + 1] = (pushed + i) >>> 0;
    core.routerEnter(ctx.router, 0);
    const n = core.dispatchBatch(ctx.router, 0, TOPIC, src, RECORDS_PER_CALL, RECORD_SIZE, KEY_U32, 4, 4, ctx.table, 0, ctx.pushed, 0, ctx.out, ctx.result);
    core.routerLeave(ctx.router, 0);
    if (n !== RECORDS_PER_CALL) errors++;
    pushed = (pushed + RECORDS_PER_CALL) >>> 0;
    let copies = 0;
    for (const lane of ctx.lanes) {
      core.ringFlush(lane);
      let from = popped;
      const m = core.ringTryPopBatch(lane, dst, RECORDS_PER_CALL * LANES_PER_MESSAGE);
      copies += m;
      // Each lane sees the records in order (a subset for the groups); seqs only rise.
      for (let i = 0, w = dst >> 2; i < m; i++, w += RECORD_WORDS) {
        if (u32[w + 1]! < from) errors++;
        from = u32[w + 1]!;
      }
    }
    for (let i = 0; i < ctx.lanes.length; i++) u32[(ctx.pushed >> 2) + i] = 0;
    if (copies !== RECORDS_PER_CALL * LANES_PER_MESSAGE) errors++;
    popped = pushed;
  };
  return { fn, records: () => popped * LANES_PER_MESSAGE, errors: () => errors };
}

function singleClaimPeek(core: CoreOps, ring: number, u32: Uint32Array): Probe {
  let pushed = 0;
  let popped = 0;
  let errors = 0;
  const fn = (): void => {
    for (let i = 0; i < RECORDS_PER_CALL; i++) {
      const record = core.ringTryClaim(ring);
      if (record < ADDRESS_MIN) { errors++; continue; }
      u32[record >> 2] = pushed;
      pushed = (pushed + 1) >>> 0;
    }
    core.ringFlush(ring);
    for (let i = 0; i < RECORDS_PER_CALL; i++) {
      const record = core.ringTryPeek(ring);
      if (record < ADDRESS_MIN) { errors++; continue; }
      if (u32[record >> 2] !== popped) errors++;
      popped = (popped + 1) >>> 0;
    }
    core.ringCommit(ring);
  };
  return { fn, records: () => popped, errors: () => errors + (pushed - popped) };
}

function singlePushPop(core: CoreOps, ring: number, u32: Uint32Array, src: number, dst: number): Probe {
  let pushed = 0;
  let popped = 0;
  let errors = 0;
  const srcWord = src >> 2;
  const dstWord = dst >> 2;
  const fn = (): void => {
    for (let i = 0; i < RECORDS_PER_CALL; i++) {
      u32[srcWord] = pushed;
      if (core.ringTryPush(ring, src) !== STATUS_OK) { errors++; continue; }
      pushed = (pushed + 1) >>> 0;
    }
    core.ringFlush(ring);
    for (let i = 0; i < RECORDS_PER_CALL; i++) {
      if (core.ringTryPop(ring, dst) !== STATUS_OK) { errors++; continue; }
      if (u32[dstWord] !== popped) errors++;
      popped = (popped + 1) >>> 0;
    }
    core.ringCommit(ring);
  };
  return { fn, records: () => popped, errors: () => errors + (pushed - popped) };
}

function batch(core: CoreOps, ring: number, u32: Uint32Array, src: number, dst: number): Probe {
  let pushed = 0;
  let popped = 0;
  let errors = 0;
  const srcWord = src >> 2;
  const dstWord = dst >> 2;
  const fn = (): void => {
    for (let i = 0, w = srcWord; i < RECORDS_PER_CALL; i++, w += RECORD_WORDS) u32[w] = (pushed + i) >>> 0;
    const n = core.ringTryPushBatch(ring, src, RECORDS_PER_CALL);
    if (n !== RECORDS_PER_CALL) errors++;
    if (n > 0) pushed = (pushed + n) >>> 0;
    const m = core.ringTryPopBatch(ring, dst, RECORDS_PER_CALL);
    if (m !== n) errors++;
    for (let i = 0, w = dstWord; i < m; i++, w += RECORD_WORDS) {
      if (u32[w] !== popped) errors++;
      popped = (popped + 1) >>> 0;
    }
  };
  return { fn, records: () => popped, errors: () => errors + (pushed - popped) };
}

function maxTimeSeconds(options: BenchOptions): number {
  if (options.quick) return 0.3;
  if (options.full) return 4;
  return 1.5;
}

/** Runs the micro cases selected by `options` (synchronously, on this thread). */
export async function runRingMicro(options: BenchOptions, log: (line: string) => void): Promise<BenchEntry[]> {
  const module = await loadCoreModule();
  // Rings 0/1: the ring cases (wasm/js); 2..4 and 5..7: each backend's three dispatch lanes.
  const arena = createArena({
    threads: 1,
    rings: Array.from({ length: 8 }, () => ({ capacity: CAPACITY, recordSize: RECORD_SIZE })),
    routers: [{ maxTopics: 2, maxSubscriptions: 8 }, { maxTopics: 2, maxSubscriptions: 8 }],
    scratchBytes: 65536,
  }, (memory) => instantiateCore(module, memory));
  const cores: Record<Backend, CoreOps> = { wasm: instantiateCore(module, arena.memory), js: createJsCore(arena.memory) };
  // A ring per backend; each case leaves its ring empty, so cases can share it.
  const rings: Record<Backend, number> = { wasm: arena.ring(0).address, js: arena.ring(1).address };
  const u32 = new Uint32Array(arena.memory.buffer);
  const src = arena.scratchOf(0).address;
  const dst = src + RECORDS_PER_CALL * RECORD_SIZE * 4;
  const ctxs = {} as Record<Backend, Ctx>;
  (['wasm', 'js'] as const).forEach((who, b) => {
    const core = cores[who];
    const router = arena.router(b).address;
    const lanes = [2, 3, 4].map((r) => arena.ring(r + b * 3).address);
    const base = src + 32768 + b * 4096;
    lanes.forEach((lane, i) => { u32[(base >> 2) + i] = lane; });
    core.routerTryLock(router, 0);
    // Route entries: ring-table index << ROUTE_RING_SHIFT, tag 0.
    core.routerAddSubscription(router, TOPIC, 0 << ROUTE_RING_SHIFT, MODE_BROADCAST, 1);
    core.routerAddSubscription(router, TOPIC, 1 << ROUTE_RING_SHIFT, MODE_GROUP, 2);
    core.routerAddSubscription(router, TOPIC, 2 << ROUTE_RING_SHIFT, MODE_GROUP, 2);
    for (const ring of [0, 1, 2]) core.routerAddSubscription(router, TOPIC, ring << ROUTE_RING_SHIFT, MODE_KEYED, 3);
    core.routerTryPublish(router);
    ctxs[who] = { router, lanes, table: base, pushed: base + 64, result: base + 128, out: base + 256 };
  });

  const suite = new Benchmark.Suite(SUITE);
  const probes = new Map<Benchmark, { def: CaseDef; who: Backend; probe: Probe }>();
  for (const def of CASES) {
    for (const who of ['wasm', 'js'] as const) {
      if (def.only !== undefined && def.only !== who) continue;
      if (!selected(options, SUITE, def.name, who)) continue;
      const probe = def.make(cores[who], rings[who], u32, src, dst, ctxs[who]);
      suite.add(`${def.name} ${who}`, probe.fn, { maxTime: maxTimeSeconds(options), minSamples: Math.max(5, options.runs) });
      probes.set((suite as unknown as ArrayLike<Benchmark>)[suite.length - 1]!, { def, who, probe });
    }
  }
  if (probes.size === 0) return [];
  log(`${SUITE}: ${probes.size} cases, ~${maxTimeSeconds(options)} s each (benchmark.js), ${RECORDS_PER_CALL} records per call`);
  suite.on('cycle', (event: Benchmark.Event) => log(`  ${String(event.target)}`));
  suite.run({ async: false });

  const entries: BenchEntry[] = [];
  for (const [bench, { def, who, probe }] of probes) {
    const sample = bench.stats.sample;
    const ringEmpty = cores[who].ringSize(rings[who]) === 0;
    const failure = bench.error ? String((bench.error as Error).message ?? bench.error) : null;
    const verified = failure === null && probe.errors() === 0 && probe.records() > 0 && ringEmpty;
    entries.push({
      suite: SUITE, case: def.name, who, metric: 'msgs_per_s', unit: 'msg/s',
      median: RECORDS_PER_CALL / median(sample),
      min: RECORDS_PER_CALL / Math.max(...sample),
      max: RECORDS_PER_CALL / Math.min(...sample),
      runs: sample.length,
      verified,
      rme: Math.round(bench.stats.rme * 100) / 100,
      ...(verified ? {} : { error: failure ?? `${probe.errors()} errors, ${probe.records()} records, ring ${ringEmpty ? 'empty' : 'not empty'} at the end` }),
    });
  }
  return entries;
}
