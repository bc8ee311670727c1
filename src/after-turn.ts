/**
 * When the current event-loop turn is over, on any host: the moment a batcher (src/batcher.ts)
 * with maxWaitMs 0 closes its open batch.
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
