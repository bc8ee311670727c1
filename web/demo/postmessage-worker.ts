/**
 * The postMessage baseline's worker (a plain module Web Worker, no engine): receives ticks as
 * plain objects, one per postMessage or an array of them per postMessage, counts them and sums
 * their values, the same work as the engine's tick handler.
 *
 *   page → worker   { kind: 'start', ackEvery }     reset; answered with { kind: 'ready' }
 *                   { seq, value, key }             one tick
 *                   [{ seq, value, key }, ...]      a batch of ticks
 *                   { kind: 'ping', stamp }         answered with { kind: 'pong', stamp }
 *                   { kind: 'report' }              answered with { kind: 'report', posts, count, sum }
 *   worker → page   { kind: 'ack', posts, count, sum } after every `ackEvery` data posts
 *
 * The acks are what lets the page bound the messages in flight (a window of unacknowledged
 * posts, see demo.ts) and count throughput as messages handled, not merely posted.
 */

interface Tick { seq: number; value: number; key: number; kind?: undefined }
type Control =
  | { kind: 'start'; ackEvery: number }
  | { kind: 'ping'; stamp: number }
  | { kind: 'report' };

interface WorkerScope {
  addEventListener(type: 'message', listener: (event: { data: Tick | Tick[] | Control }) => void): void;
  postMessage(message: unknown): void;
}
const scope = globalThis as unknown as WorkerScope;

let ackEvery = 16;
let posts = 0;
let count = 0;
let sum = 0;
/** Reused: postMessage clones it, so one object serves every ack. */
const ack = { kind: 'ack', posts: 0, count: 0, sum: 0 };

function acknowledge(): void {
  ack.posts = posts;
  ack.count = count;
  ack.sum = sum;
  scope.postMessage(ack);
}

scope.addEventListener('message', (event) => {
  const data = event.data;
  if (Array.isArray(data)) {
    for (let i = 0; i < data.length; i++) sum += data[i]!.value;
    count += data.length;
    if (++posts % ackEvery === 0) acknowledge();
    return;
  }
  switch (data.kind) {
    case undefined:
      count++;
      sum += data.value;
      if (++posts % ackEvery === 0) acknowledge();
      break;
    case 'ping':
      scope.postMessage({ kind: 'pong', stamp: data.stamp });
      break;
    case 'report':
      scope.postMessage({ kind: 'report', posts, count, sum });
      break;
    case 'start':
      ackEvery = Math.max(1, data.ackEvery | 0);
      posts = 0;
      count = 0;
      sum = 0;
      scope.postMessage({ kind: 'ready' });
      break;
  }
});
