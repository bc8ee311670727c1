/**
 * Handlers of the latency suite. `busyUs` spins that long (wall time: the handler-time histogram
 * can be checked against it); `ask` replies with the queue wait it saw itself (its start minus the
 * message's sentAt, on the same clock the engine samples with); `later` settles after delayMs.
 */
import { defineHandlers } from '../../src/engine/types.ts';
import { latencyTopics } from './latency-topics.ts';

function spin(us: number): void {
  const end = performance.now() + us / 1000;
  while (performance.now() < end) { /* CPU-bound */ }
}

export default defineHandlers(latencyTopics, {
  work: { topic: 'work', handle: (m) => spin(m.busyUs) },
  ask: {
    topic: 'ask',
    handle(m) {
      const waitMs = performance.timeOrigin + performance.now() - m.sentAt;
      spin(m.busyUs);
      return { waitMs };
    },
  },
  later: { topic: 'later', handle: (m) => new Promise<void>((resolve) => setTimeout(resolve, m.delayMs)) },
});
