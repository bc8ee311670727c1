/**
 * Helpers of the supervision suite: engines over the fault topics and handlers, the delivery logs
 * the handlers write (fault-handlers.ts), and the judges that compare them with what was sent.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, type Engine } from '../../src/index.ts';
import type { EngineError } from '../../src/errors.ts';
import type { DeadLetter, EngineOptions, EngineStats } from '../../src/engine/types.ts';
import { CORE_BUILD } from '../harness.ts';
import { CHILD_BASE, FAULT, childValue, faultDirPointer, faultTopics, type FaultTopics } from './fault-topics.ts';
import { within } from './harness.ts';

export const FAULT_HANDLERS = new URL('./fault-handlers.js', import.meta.url);

export type FaultEngine = Engine<FaultTopics> & {
  /** What onError received. */
  errors: EngineError[];
  /** When each of `errors` arrived (Date.now()). */
  errorTimes: number[];
  /** Every state each worker was seen in by a 5 ms sampler of stats() (while the event loop is free). */
  statesSeen: Set<string>[];
  /** What onDeadLetter received. */
  letters: DeadLetter[];
  /** The directory of the delivery logs (and setup-failure markers). */
  dir: string;
};

const started: FaultEngine[] = [];
const samplers = new Map<FaultEngine, ReturnType<typeof setInterval>>();

/**
 * An engine over the fault topics (2 workers, 32-record lanes unless overridden) whose workers log
 * to a fresh directory; `whoami` is subscribed on every worker.
 */
export async function startFaultEngine(backend: 'wasm' | 'js', options: Partial<EngineOptions<FaultTopics>> = {}): Promise<FaultEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'wd-sup-'));
  // Every worker (successors too) reads the log directory from this file when it starts.
  writeFileSync(faultDirPointer(), dir);
  const errors: EngineError[] = [];
  const errorTimes: number[] = [];
  const letters: DeadLetter[] = [];
  let engine: Engine<FaultTopics>;
  try {
    engine = await within(30_000, 'createEngine', createEngine<FaultTopics>({
      topics: faultTopics, handlers: FAULT_HANDLERS, backend, workers: 2, ringCapacity: 32, coreBuild: CORE_BUILD,
      onError: (e) => { errors.push(e as EngineError); errorTimes.push(Date.now()); }, onDeadLetter: (letter) => letters.push(letter), ...options,
    }));
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const statesSeen = Array.from({ length: engine.workers }, () => new Set<string>());
  const fe = Object.assign(engine, { errors, errorTimes, letters, dir, statesSeen });
  started.push(fe);
  samplers.set(fe, setInterval(() => {
    try {
      engine.stats().workers.forEach((w, i) => statesSeen[i]!.add(w.state));
    } catch {
      // closed
    }
  }, 5));
  await within(10_000, 'subscribe whoami', fe.subscribe('whoami', { handler: 'whoami', mode: 'broadcast' }));
  return fe;
}

/** Closes every engine started since the last call and removes its logs (WD_KEEP_LOGS=1 keeps them). */
export async function closeFaultEngines(): Promise<void> {
  for (const engine of started.splice(0)) {
    clearInterval(samplers.get(engine));
    samplers.delete(engine);
    await within(20_000, 'close', engine.close({ timeout: 5000 })).catch(() => undefined);
    if (process.env.WD_KEEP_LOGS === undefined) rmSync(engine.dir, { recursive: true, force: true });
    else console.log(`logs kept in ${engine.dir}`);
  }
  rmSync(faultDirPointer(), { force: true });
}

/** Makes the next `count` successors of `worker` fail in setup(). */
export function failNextSetups(engine: FaultEngine, worker: number, count: number): void {
  for (let i = 0; i < count; i++) writeFileSync(join(engine.dir, `setup-fail-w${worker}-${Date.now()}-${Math.random().toString(36).slice(2)}`), '');
}

/** Setup-failure markers not claimed yet. */
export function unclaimedSetupFailures(engine: FaultEngine): number {
  return readdirSync(engine.dir).filter((name) => name.startsWith('setup-fail-')).length;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every 5 ms; throws naming `what` if it is not true within `ms`. */
export async function waitFor(ms: number, what: string, condition: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(5);
  }
}

/** Errors onError received with `code` (optionally for `worker`). */
export function errorsOf(engine: FaultEngine, code: string, worker?: number): EngineError[] {
  return engine.errors.filter((e) => e.code === code && (worker === undefined || e.value === worker));
}

/** Publishes, honouring back-pressure (a publish that returned false waits for whenWritable). */
export async function put<K extends keyof FaultTopics & string>(engine: FaultEngine, topic: K, fields: Parameters<FaultEngine['publish']>[1] & object): Promise<boolean> {
  const ok = engine.publish(topic, fields as never);
  if (!ok) await within(30_000, `whenWritable after publishing ${topic}`, engine.whenWritable());
  return ok;
}

// ── delivery logs ────────────────────────────────────────────────────────────────────────────────

/** One completed handler call, as a worker logged it. */
export interface Call {
  worker: number;
  code: number;
  producer: number;
  key: number;
  seq: number;
  deliveries: number;
  value: number;
  threadId: number;
}

export interface Logs {
  /** Every completed call, per worker in the order they ran (worker 0's first). */
  calls: Call[];
  /** setup() runs per worker: threadId and whether it failed (injected). */
  setups: { worker: number; threadId: number; failed: boolean }[];
}

export function readLogs(engine: FaultEngine): Logs {
  const calls: Call[] = [];
  const setups: Logs['setups'] = [];
  for (let w = 0; w < engine.workers; w++) {
    const file = join(engine.dir, `w${w}.log`);
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line === '') continue;
      const parts = line.split(' ');
      if (parts[0] === 'S') setups.push({ worker: w, threadId: Number(parts[2]), failed: false });
      else if (parts[0] === 'X') setups[setups.length - 1]!.failed = true;
      else {
        const [code, producer, key, seq, deliveries, value, threadId] = parts.map(Number) as [number, number, number, number, number, number, number];
        calls.push({ worker: w, code, producer, key, seq, deliveries, value, threadId });
      }
    }
  }
  return { calls, setups };
}

// ── what was sent ────────────────────────────────────────────────────────────────────────────────

/** A job the test expects to be handled: one the test published, or a fan's child. */
export interface Job { producer: number; key: number; seq: number; value: number }

export const jobId = (producer: number, key: number, seq: number): string => `${producer}/${key}/${seq}`;

/** The main thread's job traffic (producer `producer`): per-key consecutive sequences, recorded. */
export class Traffic {
  readonly jobs: Job[] = [];
  private readonly seqs = new Map<number, number>();
  constructor(readonly producer = 0) {}

  /** The next job of `key` (recorded as expected unless `expect` is false: a poison message). */
  next(key: number, fault: number = FAULT.none, target = 0, victim = 0, expect = true) {
    const seq = this.seqs.get(key) ?? 0;
    this.seqs.set(key, seq + 1);
    const value = (Math.imul(seq + 1, 2654435761) ^ Math.imul(key + 1, 97)) >>> 12;
    if (expect) this.jobs.push({ producer: this.producer, key, seq, value });
    return { producer: this.producer, seq, value, key, fault, target, victim };
  }
}

/** A fan the test published: its children are expected jobs. */
export interface Fan { id: number; count: number; key: number; /** whether its first delivery dies after publishing half */ diesMidway: boolean }

/**
 * The children of `fans`: a fan whose first delivery dies midway leaves that delivery's first half
 * (published and flushed before it died) and its second delivery's full set; others one full set.
 */
export function childrenOf(fans: readonly Fan[]): Job[] {
  const jobs: Job[] = [];
  for (const fan of fans) {
    const sets: [gen: number, count: number][] = fan.diesMidway ? [[1, fan.count >> 1], [2, fan.count]] : [[1, fan.count]];
    for (const [gen, count] of sets) {
      for (let i = 0; i < count; i++) jobs.push({ producer: CHILD_BASE + fan.id * 8 + gen, key: fan.key, seq: i, value: childValue(fan.id, i) });
    }
  }
  return jobs;
}

// ── judges ───────────────────────────────────────────────────────────────────────────────────────

export interface Verdict {
  /** Calls of this handler in the logs. */
  calls: number;
  /** Of them, calls with deliveries > 1. */
  redelivered: number;
  /** Everything wrong (at most 25 lines): empty if the handler got what it should. */
  problems: string[];
}

/**
 * Judges one job handler's calls against `jobs`:
 *  - every expected copy handled at least once (broadcast: once per member worker; else once in
 *    all), nothing handled that was not sent (phantoms), values intact (checksums);
 *  - duplicates only among redeliveries: at most one call per copy with deliveries === 1;
 *  - order, per worker and (producer, key) stream, ignoring a repeat that is a redelivery: strict
 *    (broadcast, keyed: exactly the expected sequence) or rising (group); keyed: each stream on one
 *    worker only (ownership survives restarts);
 *  - calls only on member workers.
 */
export function judgeJobs(
  calls: readonly Call[], jobs: readonly Job[], code: number, mode: 'broadcast' | 'group' | 'keyed', members: readonly number[],
  /** partial: some jobs may be missing (refused or dropped): no missing check, and order only rises. */
  { partial = false }: { partial?: boolean } = {},
): Verdict {
  const problems: string[] = [];
  let overflow = 0;
  const problem = (text: string): void => {
    if (problems.length < 24) problems.push(text);
    else overflow++;
  };
  const expected = new Map<string, number>();
  const streams = new Map<string, number[]>();
  for (const job of jobs) {
    expected.set(jobId(job.producer, job.key, job.seq), job.value);
    const stream = `${job.producer}/${job.key}`;
    let list = streams.get(stream);
    if (list === undefined) streams.set(stream, (list = []));
    list.push(job.seq);
  }
  for (const list of streams.values()) list.sort((a, b) => a - b);

  const mine = calls.filter((c) => c.code === code);
  const copies = new Map<string, Call[]>();
  for (const c of mine) {
    const id = jobId(c.producer, c.key, c.seq);
    const value = expected.get(id);
    if (value === undefined) {
      problem(`phantom ${id} on worker ${c.worker} (deliveries ${c.deliveries})`);
      continue;
    }
    if (value !== c.value) problem(`${id}: value ${c.value}, sent ${value}`);
    if (!members.includes(c.worker)) problem(`${id} handled on worker ${c.worker}, not a member`);
    const copy = mode === 'broadcast' ? `w${c.worker}:${id}` : id;
    let list = copies.get(copy);
    if (list === undefined) copies.set(copy, (list = []));
    list.push(c);
  }
  let missing = 0;
  const expectCopy = (copy: string): void => {
    if (copies.has(copy)) return;
    if (++missing <= 5) problem(`missing ${copy}`);
  };
  if (!partial) {
    for (const id of expected.keys()) {
      if (mode === 'broadcast') for (const w of members) expectCopy(`w${w}:${id}`);
      else expectCopy(id);
    }
  }
  if (missing > 5) problem(`${missing} copies missing in all`);
  let twice = 0;
  for (const [copy, list] of copies) {
    const first = list.filter((c) => c.deliveries === 1).length;
    if (first > 1 && ++twice <= 5) problem(`${copy} handled ${list.length} times, ${first} of them as a first delivery`);
  }
  if (twice > 5) problem(`${twice} copies handled twice as a first delivery in all`);

  // Order: per worker and stream, in log order.
  const perStream = new Map<string, { worker: number; seqs: number[]; seen: Set<number> }>();
  const owners = new Map<string, Set<number>>();
  for (const c of mine) {
    const stream = `${c.producer}/${c.key}`;
    if (!streams.has(stream)) continue; // a phantom, reported above
    const at = `${c.worker}|${stream}`;
    let s = perStream.get(at);
    if (s === undefined) perStream.set(at, (s = { worker: c.worker, seqs: [], seen: new Set() }));
    if (s.seen.has(c.seq) && c.deliveries > 1) continue; // a redelivery's repeat
    s.seen.add(c.seq);
    s.seqs.push(c.seq);
    let o = owners.get(stream);
    if (o === undefined) owners.set(stream, (o = new Set()));
    o.add(c.worker);
  }
  let disorder = 0;
  for (const [at, s] of perStream) {
    const stream = at.slice(at.indexOf('|') + 1);
    let bad: string | undefined;
    if (mode === 'group' || partial) {
      for (let i = 1; i < s.seqs.length && bad === undefined; i++) if (s.seqs[i]! <= s.seqs[i - 1]!) bad = `seq ${s.seqs[i]} after ${s.seqs[i - 1]}`;
    } else {
      const want = streams.get(stream)!;
      for (let i = 0; i < Math.max(want.length, s.seqs.length) && bad === undefined; i++) {
        if (s.seqs[i] !== want[i]) bad = `position ${i}: seq ${s.seqs[i]}, expected ${want[i]} (previous ${s.seqs[i - 1]})`;
      }
    }
    if (bad !== undefined && ++disorder <= 5) problem(`order of stream ${stream} on worker ${s.worker}: ${bad}`);
  }
  if (disorder > 5) problem(`${disorder} streams out of order in all`);
  if (mode === 'keyed') {
    let split = 0;
    for (const [stream, o] of owners) if (o.size > 1 && ++split <= 5) problem(`keyed stream ${stream} handled on workers ${[...o].join(', ')}`);
  }
  if (overflow > 0) problems.push(`... and ${overflow} more`);
  return { calls: mine.length, redelivered: mine.filter((c) => c.deliveries > 1).length, problems };
}

/**
 * Judges the calls of a handler whose messages are identified by seq alone (ask, fan): every one
 * of `ids` handled at least once, no other, at most once as a first delivery.
 */
export function judgeIds(calls: readonly Call[], code: number, ids: readonly number[]): Verdict {
  const problems: string[] = [];
  const mine = calls.filter((c) => c.code === code);
  const byId = new Map<number, Call[]>();
  for (const c of mine) {
    let list = byId.get(c.seq);
    if (list === undefined) byId.set(c.seq, (list = []));
    list.push(c);
  }
  const want = new Set(ids);
  for (const id of ids) if (!byId.has(id)) problems.push(`missing ${id}`);
  for (const [id, list] of byId) {
    if (!want.has(id)) problems.push(`phantom ${id}`);
    if (list.filter((c) => c.deliveries === 1).length > 1) problems.push(`${id} handled ${list.length} times as a first delivery`);
  }
  return { calls: mine.length, redelivered: mine.filter((c) => c.deliveries > 1).length, problems: problems.slice(0, 25) };
}

/**
 * The accounting identity, per topic: routed = delivered + deadLettered + droppedOldest +
 * droppedNewest + rejected + lost + admissionRefused + shed; and redelivered ≤ delivered, circuitOpen ≤ deadLettered.
 * Returns the topics that break it, described (empty: all hold).
 */
export function identityProblems(stats: EngineStats): string[] {
  const problems: string[] = [];
  for (const [name, t] of Object.entries(stats.topics)) {
    const shed = t.shed.high + t.shed.normal + t.shed.low;
    const sum = t.delivered + t.deadLettered + t.droppedOldest + t.droppedNewest + t.rejected + t.lost + t.admissionRefused + shed;
    if (t.routed !== sum) {
      problems.push(`${name}: routed ${t.routed} ≠ delivered ${t.delivered} + deadLettered ${t.deadLettered} + droppedOldest ${t.droppedOldest} + droppedNewest ${t.droppedNewest} + rejected ${t.rejected} + lost ${t.lost} + admissionRefused ${t.admissionRefused} + shed ${shed} = ${sum}`);
    }
    if (t.redelivered > t.delivered) problems.push(`${name}: redelivered ${t.redelivered} > delivered ${t.delivered}`);
    if (t.circuitOpen > t.deadLettered) problems.push(`${name}: circuitOpen ${t.circuitOpen} > deadLettered ${t.deadLettered}`);
  }
  const lost = Object.values(stats.topics).reduce((s, t) => s + t.lost, 0);
  if (stats.lostToCrashes !== lost) problems.push(`lostToCrashes ${stats.lostToCrashes} ≠ the topics' lost ${lost}`);
  return problems;
}

/** Every worker's identity now: worker → thread id of its current incarnation. */
export async function threadIds(engine: FaultEngine): Promise<Map<number, number>> {
  const replies = await engine.requestAll('whoami', { nonce: 0 }, { timeout: 20_000 });
  return new Map(replies.map((r) => [r.worker, r.threadId]));
}

/** A small seeded PRNG (mulberry32): [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
