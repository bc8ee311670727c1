/** Mesh producer: routes its messages through the router into its rings (one per consumer). */
import { parentPort, workerData } from 'node:worker_threads';
import { ADDRESS_MIN } from '../../assembly/layout/arena.ts';
import { STATUS_CLOSED } from '../../assembly/layout/status.ts';
import { parkProducer } from '../../bindings/park.ts';
import { attach, type WorkerBase } from './attach.ts';
import { CONSUMERS, MESH_RECORD_SIZE, TOPIC_GROUP, checkOf, keyOf, producerThread, ringIndex, topicOf, type ProducerData } from './mesh-common.ts';

const data = workerData as WorkerBase & ProducerData;
const { core, arena, i32, u32 } = attach(data);
const thread = producerThread(data.producer);
const router = arena.router(0).address;
const pool = arena.pool(0).address;
const out = arena.scratchOf(thread).address;
const rings: number[] = [];
for (let c = 0; c < CONSUMERS; c++) rings.push(arena.ring(ringIndex(data.producer, c)).address);
const FLUSH_EVERY = 32;

function fail(message: string): never {
  parentPort!.postMessage({ error: message });
  throw new Error(message);
}

let waits = 0;
for (let seq = 0; seq < data.messages; seq++) {
  if (seq % FLUSH_EVERY === 0) {
    if (seq > 0) {
      for (const ring of rings) core.ringFlush(ring);
      core.routerLeave(router, thread);
    }
    core.routerEnter(router, thread);
    if (Date.now() > data.deadline) fail(`producer ${data.producer} passed its deadline at seq ${seq}`);
  }
  const topic = topicOf(seq);
  const key = keyOf(seq);
  const lanes = core.routerRoute(router, thread, topic, core.hashU32(key), out);
  if (lanes < 1) fail(`route returned ${lanes} for topic ${topic}`);
  for (let i = 0; i < lanes; i++) {
    const lane = u32[(out >> 2) + i]!;
    const ring = rings[lane]!;
    let slot = 0;
    if (topic === TOPIC_GROUP) {
      slot = core.poolTryAlloc(pool);
      while (slot < ADDRESS_MIN) {
        // Pool exhausted: consumers release slots as they read; make our records visible and wait.
        for (const r of rings) core.ringFlush(r);
        if (++waits % 1024 === 0 && Date.now() > data.deadline) fail(`producer ${data.producer}: pool exhausted past the deadline`);
        Atomics.wait(i32, out >> 2, i32[out >> 2]!, 0.05); // a bounded sleep: nobody notifies this private word
        slot = core.poolTryAlloc(pool);
      }
      u32[slot >> 2] = seq;
      u32[(slot >> 2) + 1] = data.producer;
      u32[(slot >> 2) + 2] = checkOf(data.producer, seq) >>> 0;
    }
    let record = core.ringTryClaim(ring);
    while (record < ADDRESS_MIN) {
      if (record === STATUS_CLOSED) fail(`ring to consumer ${lane} closed under producer ${data.producer}`);
      parkProducer(core, i32, ring, 1);
      if (++waits % 256 === 0 && Date.now() > data.deadline) fail(`producer ${data.producer}: ring full past the deadline`);
      record = core.ringTryClaim(ring);
    }
    const w = record >> 2;
    u32[w] = data.producer;
    u32[w + 1] = seq;
    u32[w + 2] = key;
    u32[w + 3] = topic;
    u32[w + 4] = slot;
    u32[w + 5] = checkOf(data.producer, seq) >>> 0;
  }
}
core.routerLeave(router, thread);
for (const ring of rings) core.ringCloseProducer(ring);
parentPort!.postMessage({ error: null, waits });
