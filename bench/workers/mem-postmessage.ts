/**
 * postMessage consumer of the memory suite (bench/memory.ts): a worker_thread that receives
 * `{ seq, value, x, stamp }` objects, one postMessage each, folds them into the same checksum as
 * the engine's handler, and acks every ACK_EVERY messages (the publisher's flow control).
 * `{ probe: 'start' }` resets the tally and opens this thread's heap window; `{ probe: 'stop' }`
 * (posted after a run's messages, so handled after all of them) closes it and replies.
 */
import { parentPort } from 'node:worker_threads';
import { HeapWindow } from '../heap-window.ts';
import { ACK_EVERY, foldTick } from './mem-common.ts';

interface Tick { seq: number; value: number; x: number; stamp: number; probe?: undefined }
interface Probe { probe: 'start' | 'stop' }

const port = parentPort!;
const state = new Float64Array(2); // [count, checksum]
const window = new HeapWindow();

port.on('message', (message: Tick | Probe) => {
  if (message.probe === undefined) {
    const count = ++state[0]!;
    state[1] = foldTick(state[1]!, message.seq, message.value, message.x, message.stamp);
    if (count % ACK_EVERY === 0) port.postMessage({ acked: count });
    return;
  }
  if (message.probe === 'start') {
    state[0] = 0;
    state[1] = 0;
    window.start();
    port.postMessage({ started: true });
  } else {
    const measured = window.stop();
    port.postMessage({ count: state[0]!, checksum: state[1]!, gcEvents: measured.gcEvents, allocatedBytes: measured.allocatedBytes });
  }
});
port.postMessage({ ready: true });
