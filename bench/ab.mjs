/**
 * Same-process A/B of the engine's per-message paths: engines from two built checkouts
 * (npm run build in each), created in one process; per round a fresh engine per side, both alive,
 * a warm-up run each, then 8 pairs of runs in alternating order (A B, B A, ...), the round's ratio
 * the median of its pairs' ratios; 6 rounds, and the median of their ratios. On this shared 2-vCPU
 * VM a side's speed drifts by up to 2× over seconds even when no other process runs, so only
 * runs a fraction of a second apart compare; a round during which other processes used more than
 * AB_MAX_OTHER cores (0.15; /proc/stat minus this process) is run again, up to AB_RETRIES (3).
 *
 *   node bench/ab.mjs <checkout A> <checkout B> [wasm|js] [publish|send|one-to-one|keyed|in-thread]
 *
 * Cases (ratios are B / A of messages per second):
 *   publish     engine.publish(fields) into a 1-worker group, 1 M messages (the publish path)
 *   send        writer + send, the same
 *   one-to-one  publishBatch of 256 into a 1-worker group (bench/one-to-one.ts's batch case, its
 *               topics, handlers and default options), 1 M messages, timed to the `report` reply:
 *               the consumer's per-record cost is most visible here
 *   keyed       both workers publish into a keyed subscription over both (bench/keyed.ts's case,
 *               its topics, handlers and options), 2 × 0.5 M moves, timed to drain()
 *   in-thread   a worker publishes to its own lane and handles it (bench/in-thread.ts's engine
 *               side), 1 M messages, timed on the worker: one thread, no cross-thread interplay
 *   broadcast   one-to-one's publishBatch into a broadcast subscription over 2 workers, 1 M
 *               messages (2 M deliveries), timed to both workers' `report` replies
 *   request-batch  requestBatch of 256, 2 in flight, into a group of 2 workers (bench/
 *               request-response.ts's topics and handler), 0.5 M requests, every reply checked
 *   request     request() with 512 in flight (a sliding window), the same engine, 0.1 M requests
 * Env: AB_ROUNDS (6), AB_PAIRS (8), AB_MESSAGES (per run; keyed: moves per worker), AB_MAX_OTHER, AB_RETRIES,
 * AB_OPTIONS_A / AB_OPTIONS_B (JSON engine options added on that side: one checkout twice, an option off vs on).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const CASES = {
  publish: { suite: 'o2o', messages: 1_000_000, run: publishRun },
  send: { suite: 'o2o', messages: 1_000_000, run: publishRun },
  'one-to-one': { suite: 'o2o', messages: 1_000_000, run: batchRun },
  keyed: { suite: 'keyed', messages: 500_000, run: keyedRun },
  'in-thread': { suite: 'inthread', messages: 1_000_000, run: inThreadRun },
  broadcast: { suite: 'o2o', messages: 1_000_000, run: batchRun },
  'request-batch': { suite: 'rr', messages: 500_000, run: requestBatchRun },
  request: { suite: 'rr', messages: 100_000, run: requestRun },
};
/** Per suite: its topics export, handler module and how its engine starts (bench/<suite>.ts). */
const SUITES = {
  o2o: { topics: ['o2o-topics.js', 'o2oTopics'], handlers: 'o2o-handlers.js' },
  keyed: { topics: ['keyed-topics.js', 'keyedTopics'], handlers: 'keyed-handlers.js' },
  inthread: { topics: ['inthread-topics.js', 'inThreadTopics'], handlers: 'inthread-handlers.js' },
  rr: { topics: ['rr-topics.js', 'rrTopics'], handlers: 'rr-handlers.js' },
};

const [rootA, rootB] = process.argv.slice(2, 4);
const backend = process.argv[4] ?? 'wasm';
const mode = process.argv[5] ?? 'publish';
if (!rootA || !rootB || !['wasm', 'js'].includes(backend) || !(mode in CASES)) {
  console.error(`usage: node bench/ab.mjs <checkout A> <checkout B> [wasm|js] [${Object.keys(CASES).join('|')}]`);
  process.exit(2);
}
const testCase = CASES[mode];
const suite = SUITES[testCase.suite];
const N = Number(process.env.AB_MESSAGES ?? testCase.messages);
const ROUNDS = Number(process.env.AB_ROUNDS ?? 6);
const PAIRS = Number(process.env.AB_PAIRS ?? 8);
const roots = { base: resolve(rootA), main: resolve(rootB) };
const mods = {};
for (const [k, root] of Object.entries(roots)) {
  mods[k] = {
    api: await import(`${root}/build/src/index.js`),
    topics: (await import(`${root}/build/bench/engine/${suite.topics[0]}`))[suite.topics[1]],
    handlers: new URL(`file://${root}/build/bench/engine/${suite.handlers}`),
  };
}

/** Extra engine options per side (AB_OPTIONS_A / AB_OPTIONS_B: JSON), e.g. '{"latency":false}' to compare an option off and on in one checkout. */
const extra = { base: JSON.parse(process.env.AB_OPTIONS_A ?? '{}'), main: JSON.parse(process.env.AB_OPTIONS_B ?? '{}') };

/** Starts side `k`'s engine as the case's suite does. */
async function startEngine(k) {
  const m = mods[k];
  const createEngine = (options) => m.api.createEngine({ ...options, ...extra[k] });
  if (mode === 'publish' || mode === 'send') {
    const engine = await createEngine({ topics: m.topics, handlers: m.handlers, workers: 1, backend, ringCapacity: 16384 });
    await engine.subscribe('msg', { handler: 'sink', mode: 'group' });
    return engine;
  }
  if (mode === 'one-to-one') {
    const engine = await createEngine({ topics: m.topics, handlers: m.handlers, workers: 1, backend });
    await engine.subscribe('msg', { handler: 'sink', mode: 'group', workers: [0] });
    await engine.subscribe('report', { handler: 'report', mode: 'group', workers: [0] });
    return engine;
  }
  if (mode === 'broadcast') {
    const engine = await createEngine({ topics: m.topics, handlers: m.handlers, workers: 2, backend });
    await engine.subscribe('msg', { handler: 'sink', mode: 'broadcast', workers: [0, 1] });
    await engine.subscribe('report', { handler: 'report', mode: 'broadcast', workers: [0, 1] });
    return engine;
  }
  if (mode === 'request-batch' || mode === 'request') {
    const engine = await createEngine({ topics: m.topics, handlers: m.handlers, workers: 2, backend, ringCapacity: 1024 });
    await engine.subscribe('add', { handler: 'add', mode: 'group', workers: [0, 1] });
    return engine;
  }
  if (mode === 'in-thread') {
    const engine = await createEngine({ topics: m.topics, handlers: m.handlers, workers: 1, backend });
    for (const [topic, handler] of [['kick', 'kick'], ['item', 'sink'], ['next', 'next'], ['report', 'report']]) {
      await engine.subscribe(topic, { handler, mode: 'group', workers: [0] });
    }
    return engine;
  }
  const all = [0, 1];
  const engine = await createEngine({ topics: m.topics, handlers: m.handlers, workers: 2, backend });
  await engine.subscribe('start', { handler: 'start', mode: 'broadcast', workers: all });
  await engine.subscribe('more0', { handler: 'more0', mode: 'group', workers: [0] });
  await engine.subscribe('more1', { handler: 'more1', mode: 'group', workers: [1] });
  await engine.subscribe('move', { handler: 'move', mode: 'keyed', workers: all });
  await engine.subscribe('report', { handler: 'report', mode: 'broadcast', workers: all });
  return engine;
}

/** publish / send: one message per call; returns M messages per second. */
async function publishRun(engine, n) {
  const msg = { seq: 0, value: 0, x: 0, y: 0, stamp: 0 };
  const w = engine.writer('msg');
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    let ok;
    if (mode === 'publish') { msg.seq = i; ok = engine.publish('msg', msg); }
    else { w.seq = i; w.value = 0; w.x = 0; w.y = 0; w.stamp = 0; ok = engine.send('msg'); }
    if (!ok) await engine.whenWritable();
    if ((i & 4095) === 0) await null;
  }
  await engine.drain();
  return n / (performance.now() - t0) / 1000;
}

const BATCH = 256;
/** one-to-one: publishBatch of 256 reused objects, then the `report` request on the same lane. */
async function batchRun(engine, n) {
  const batch = Array.from({ length: BATCH }, () => ({ seq: 0, value: 0, x: 0, y: 0, stamp: 0 }));
  const t0 = performance.now();
  for (let start = 0; start < n; start += BATCH) {
    const size = Math.min(BATCH, n - start);
    const messages = size === BATCH ? batch : batch.slice(0, size);
    for (let i = 0; i < size; i++) {
      const m = messages[i];
      const seq = start + i;
      m.seq = seq; m.value = seq * 2654435761 >>> 0; m.x = seq & 0xffff; m.y = 0; m.stamp = seq + 0.5;
    }
    if (engine.publishBatch('msg', messages) !== size) throw new Error('publishBatch refused messages');
    await engine.whenWritable();
  }
  engine.flush();
  const reports = await engine.requestAll('report', { reset: true }, { timeout: 60_000 });
  const seconds = (performance.now() - t0) / 1000;
  for (const report of reports) {
    if (report.count !== n || report.orderErrors !== 0) throw new Error(`${mode}: handled ${report.count} of ${n}, ${report.orderErrors} out of order`);
  }
  return n / seconds / 1e6;
}

/** request: request() with 512 outstanding, each reply's continuation sending the next; every reply checked. */
async function requestRun(engine, n) {
  let issued = 0;
  let answered = 0;
  const t0 = performance.now();
  await new Promise((resolve, reject) => {
    const issue = () => {
      const i = issued++;
      engine.request('add', { a: i, b: 1 }).then((reply) => {
        if (reply.sum !== i + 1) throw new Error(`request: request ${i} answered ${reply.sum}`);
        answered++;
        if (issued < n) issue();
        else if (answered === n) resolve();
      }).catch(reject);
    };
    for (let k = 0; k < 512; k++) issue();
  });
  return answered / ((performance.now() - t0) / 1000) / 1e6;
}

/** request-batch: requestBatch of 256 reused objects, 2 batches in flight; every reply checked. */
async function requestBatchRun(engine, n) {
  const arrays = [0, 1].map(() => Array.from({ length: BATCH }, () => ({ a: 0, b: 0 })));
  let issued = 0;
  let answered = 0;
  const t0 = performance.now();
  await new Promise((resolve, reject) => {
    const issue = (slot) => {
      const first = issued;
      issued += BATCH;
      const messages = arrays[slot];
      for (let k = 0; k < BATCH; k++) { messages[k].a = first + k; messages[k].b = 1; }
      engine.requestBatch('add', messages).then((replies) => {
        for (let k = 0; k < BATCH; k++) if (replies[k].sum !== first + k + 1) throw new Error(`request-batch: request ${first + k} answered ${replies[k].sum}`);
        answered += BATCH;
        if (issued < n) issue(slot);
        else if (answered >= n) resolve();
      }).catch(reject);
    };
    issue(0);
    issue(1);
  });
  return answered / ((performance.now() - t0) / 1000) / 1e6;
}

/** keyed: `start` makes both workers publish n moves each into the keyed subscription; timed to drain(). */
async function keyedRun(engine, n) {
  const t0 = performance.now();
  engine.publish('start', { remaining: n });
  engine.flush();
  await engine.drain({ timeout: 120_000 });
  const seconds = (performance.now() - t0) / 1000;
  const reports = await engine.requestAll('report', { reset: true }, { timeout: 60_000 });
  const count = reports.reduce((s, r) => s + r.count, 0);
  const orderErrors = reports.reduce((s, r) => s + r.orderErrors, 0);
  if (count !== 2 * n || orderErrors !== 0) throw new Error(`keyed: handled ${count} of ${2 * n}, ${orderErrors} out of order`);
  return (2 * n) / seconds / 1e6;
}

/** in-thread: the worker publishes n items to its own lane and handles them; timed on the worker. */
async function inThreadRun(engine, n) {
  await engine.request('kick', { mode: 0, n }, { timeout: 60_000 });
  await engine.drain({ timeout: 60_000 });
  const tally = await engine.request('report', { reset: true }, { timeout: 60_000 });
  if (tally.count !== n || tally.orderErrors !== 0 || tally.spills !== 0) throw new Error(`in-thread: ${tally.count} of ${n}, ${tally.orderErrors} out of order, ${tally.spills} spills`);
  return n / tally.ms / 1000;
}

function median(values) {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/**
 * One round: a fresh engine per side, both alive, a warm-up run each, then PAIRS pairs of runs
 * (A B, B A, A B, ...): the machine's speed drifts over seconds on a shared VM (a side's figure
 * moved 6 → 11 M/s between rounds on a quiet machine), so each pair's ratio compares runs a
 * fraction of a second apart. The round's figures are the medians of its runs and of its ratios.
 */
async function round(order) {
  const engines = {};
  try {
    for (const k of order) engines[k] = await startEngine(k);
    for (const k of order) await testCase.run(engines[k], N); // warm-up
    const got = { base: [], main: [] };
    const ratios = [];
    for (let p = 0; p < PAIRS; p++) {
      const pair = {};
      for (const k of p % 2 === 0 ? order : [...order].reverse()) pair[k] = await testCase.run(engines[k], N);
      got.base.push(pair.base);
      got.main.push(pair.main);
      ratios.push(pair.main / pair.base);
    }
    return { base: median(got.base), main: median(got.main), ratio: median(ratios) };
  } finally {
    for (const k of order) await engines[k]?.close();
  }
}

/**
 * CPU the rest of the machine used (cores, averaged) since `from`: /proc/stat's busy time minus
 * this process's (all its threads). Other processes (a test run, a build) on a 2-core VM change a
 * cross-thread figure by far more than 5 %: such a round is run again (AB_MAX_OTHER cores, 0.15;
 * up to AB_RETRIES times, 3), and printed with its figure either way.
 */
function cpuMark() {
  let busy = NaN;
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    busy = (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) * 10; // user nice system irq softirq steal, ms (USER_HZ 100)
  } catch { /* not Linux: no figure */ }
  const own = process.cpuUsage();
  return { busy, own: (own.user + own.system) / 1000, at: performance.now() };
}
function otherCores(from) {
  const to = cpuMark();
  return Math.max(0, (to.busy - from.busy) - (to.own - from.own)) / (to.at - from.at);
}

const MAX_OTHER = Number(process.env.AB_MAX_OTHER ?? 0.15);
const RETRIES = Number(process.env.AB_RETRIES ?? 3);
const ratios = [];
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? ['base', 'main'] : ['main', 'base'];
  for (let attempt = 0; ; attempt++) {
    const mark = cpuMark();
    const got = await round(order);
    const other = otherCores(mark);
    const busy = other > MAX_OTHER; // NaN (no /proc/stat): never busy
    console.log(backend, mode, 'round', r, 'A', got.base.toFixed(2), 'B', got.main.toFixed(2), 'B/A', got.ratio.toFixed(3), 'other', Number.isNaN(other) ? '?' : other.toFixed(2), busy && attempt < RETRIES ? '(busy: again)' : '');
    if (busy && attempt < RETRIES) continue;
    ratios.push(got.ratio);
    break;
  }
}
console.log(backend, mode, 'median ratio B/A', median(ratios).toFixed(3), `(${ROUNDS} rounds of ${PAIRS} pairs of ${N.toLocaleString('en')}-message runs)`);
