/**
 * Mesh consumer: drains its inbound rings (one per producer) round-robin and checks every record:
 * integrity (check word), per-(producer, key) order for keyed, exact sequence for broadcast,
 * FIFO per producer for group, and the pooled payload before releasing its slot.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ADDRESS_MIN } from '../../assembly/layout/arena.ts';
import { STATUS_CLOSED, STATUS_OK } from '../../assembly/layout/status.ts';
import { parkConsumer } from '../../bindings/park.ts';
import { attach, type WorkerBase } from './attach.ts';
import {
  KEYS, PRODUCERS, TOPICS, TOPIC_BROADCAST, TOPIC_GROUP, TOPIC_KEYED, checkOf, keyOf, ringIndex, topicOf,
  type ConsumerData, type ConsumerReport,
} from './mesh-common.ts';

const data = workerData as WorkerBase & ConsumerData;
const { core, arena, i32, u32 } = attach(data);
const pool = arena.pool(0).address;
const rings: number[] = [];
for (let p = 0; p < PRODUCERS; p++) rings.push(arena.ring(ringIndex(p, data.consumer)).address);

const errors: string[] = [];
const error = (message: string): void => {
  if (errors.length < 10) errors.push(message);
};
const counts = Array.from({ length: PRODUCERS }, () => new Array<number>(TOPICS).fill(0));
const sums = Array.from({ length: PRODUCERS }, () => new Array<number>(TOPICS).fill(0));
const keys = Array.from({ length: PRODUCERS }, () => [0, 0]);
/** Last seq seen per (producer, key) for keyed, per producer for broadcast and group; -1 = none. */
const lastKeyed = new Int32Array(PRODUCERS * KEYS).fill(-1);
const lastBroadcast = new Int32Array(PRODUCERS).fill(-1);
const lastGroup = new Int32Array(PRODUCERS).fill(-1);

function check(record: number, expectedProducer: number): void {
  const w = record >> 2;
  const producer = u32[w]!;
  const seq = u32[w + 1]! | 0;
  const key = u32[w + 2]!;
  const topic = u32[w + 3]!;
  const slot = u32[w + 4]!;
  if (producer !== expectedProducer) return error(`record from producer ${producer} on producer ${expectedProducer}'s ring`);
  if ((u32[w + 5]! | 0) !== checkOf(producer, seq) || topic !== topicOf(seq) || key !== keyOf(seq)) {
    return error(`torn record: producer ${producer} seq ${seq} key ${key} topic ${topic}`);
  }
  counts[producer]![topic]! += 1;
  sums[producer]![topic] = (sums[producer]![topic]! + seq) >>> 0;
  if (topic === TOPIC_KEYED) {
    const at = producer * KEYS + key;
    if (seq <= lastKeyed[at]!) error(`keyed order broken: producer ${producer} key ${key}: ${seq} after ${lastKeyed[at]}`);
    lastKeyed[at] = seq;
    keys[producer]![key >> 5] = (keys[producer]![key >> 5]! | (1 << (key & 31))) >>> 0;
  } else if (topic === TOPIC_BROADCAST) {
    const expected = lastBroadcast[producer]! < 0 ? TOPIC_BROADCAST : lastBroadcast[producer]! + TOPICS;
    if (seq !== expected) error(`broadcast from producer ${producer}: got ${seq}, expected ${expected}`);
    lastBroadcast[producer] = seq;
  } else {
    if (seq <= lastGroup[producer]!) error(`group order broken: producer ${producer}: ${seq} after ${lastGroup[producer]}`);
    lastGroup[producer] = seq;
    if (slot < ADDRESS_MIN || u32[slot >> 2] !== seq || u32[(slot >> 2) + 1] !== producer || (u32[(slot >> 2) + 2]! | 0) !== checkOf(producer, seq)) {
      error(`bad pooled payload for producer ${producer} seq ${seq} at ${slot}`);
    } else if (core.poolRelease(pool, slot) !== STATUS_OK) {
      error(`release of slot ${slot} failed`);
    }
  }
}

const closed = new Uint8Array(PRODUCERS);
let open = PRODUCERS;
let idle = 0;
while (open > 0) {
  let progressed = false;
  for (let p = 0; p < PRODUCERS; p++) {
    if (closed[p]) continue;
    const ring = rings[p]!;
    for (let n = 0; n < 64; n++) {
      const record = core.ringTryPeek(ring);
      if (record < ADDRESS_MIN) {
        if (record === STATUS_CLOSED) {
          closed[p] = 1;
          open--;
        }
        break;
      }
      check(record, p);
      progressed = true;
    }
    core.ringCommit(ring);
  }
  if (progressed) {
    idle = 0;
  } else if (++idle > 64) {
    // Nothing anywhere: sleep on one inbound ring briefly (bounded), then poll all again.
    const p = closed[0] ? 1 : 0;
    parkConsumer(i32, rings[p]!, 1);
    if (Date.now() > data.deadline) {
      error(`consumer ${data.consumer} passed its deadline with ${open} producers open`);
      break;
    }
  }
}
parentPort!.postMessage({ errors, counts, sums, keys } satisfies ConsumerReport);
