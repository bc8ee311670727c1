/**
 * When the current job or event-loop turn is over, on any host: the moments a batcher
 * (src/batcher.ts) with maxWaitMs 0 closes its open batch (its `dispatch` option).
 */
/**
 * Runs `callback` once the current event-loop turn is over: after the task running now and every
 * microtask it queues, and after the other tasks of the same phase (Node's setImmediate: all the
 * timers and I/O callbacks that fired together). A MessageChannel message where there is no
 * setImmediate (browsers), which unlike setTimeout(0) is not clamped to 4 ms when nested.
 */
export const afterTurn: (callback: () => void) => void =
  typeof setImmediate === 'function' ? (callback) => { setImmediate(callback); }
    : typeof MessageChannel === 'function' ? channelScheduler()
      : (callback) => { setTimeout(callback, 0); };

function channelScheduler(): (callback: () => void) => void {
  let queue: (() => void)[] = [];
  let channel: MessageChannel | undefined;
  return (callback) => {
    if (channel === undefined) {
      channel = new MessageChannel();
      channel.port1.onmessage = () => {
        const run = queue;
        queue = [];
        for (const next of run) next();
      };
    }
    queue.push(callback);
    if (queue.length === 1) channel.port2.postMessage(null);
  };
}

const resolved = Promise.resolve();
const nextTick = (globalThis as { process?: { nextTick?: (callback: () => void) => void } }).process?.nextTick;

/**
 * Runs `callback` once the task running now and every microtask it queued (promise chains
 * included) are done, before any other task — DataLoader's schedule: a promise job that queues a
 * process.nextTick, which Node runs after the microtask queue is empty. Hosts without
 * process.nextTick (browsers) have no hook after the last microtask: there it is afterTurn.
 */
export const afterJob: (callback: () => void) => void =
  typeof nextTick === 'function' ? (callback) => { void resolved.then(() => nextTick(callback)); } : afterTurn;
