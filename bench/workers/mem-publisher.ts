/**
 * Publisher process of the memory suite (bench/memory.ts); protocol in mem-common.ts. It runs as
 * the main thread of a process of its own (an application publishes from its main thread; the
 * suite's own process allocates for itself), publishing each run's messages from a plain
 * synchronous loop inside this thread's heap window:
 *
 *   wasm | js:    writer+send of 24-byte ticks ──▶ engine lane ──▶ 1 worker: `tick` handler (flyweight)
 *   postMessage:  postMessage({ seq, value, x, stamp }) ──▶ 1 worker_thread (acks every ACK_EVERY)
 *
 * The consumer opens its window before the run (the engine's `probe` request, or a postMessage
 * probe) and closes it after the last message (the same lane/port, so after all of them). The
 * loops allocate nothing of their own: the running checksum lives in a typed array, and the await
 * (whenWritable, or the next ack) sits in the caller of the loop.
 */
import { Worker } from 'node:worker_threads';
import { createInterface } from 'node:readline';
import { createEngine, type Engine } from '../../src/index.ts';
import { memTopics, type MemTopics } from '../engine/mem-handlers.ts';
import { HeapWindow } from '../heap-window.ts';
import { ACK_EVERY, foldTick, type PublisherData, type PublisherReport } from './mem-common.ts';

const data = JSON.parse(process.argv[2]!) as PublisherData;
/** Messages per call of a publishing loop: the loop is entered many times, so TurboFan optimises
 *  the whole function (not only its loop, by on-stack replacement) early in the warm-up. */
const CHUNK = 50_000;
/** The engine's lane: 64 Ki records, as in the engine's zero-allocation test. */
const RING_CAPACITY = 65536;
const expected = new Float64Array(1);
const window = new HeapWindow();

function print(line: unknown): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

interface Publisher {
  run(messages: number): Promise<PublisherReport>;
  close(): Promise<void>;
}

async function enginePublisher(backend: 'wasm' | 'js'): Promise<Publisher> {
  const errors: Error[] = [];
  const engine: Engine<MemTopics> = await createEngine({
    topics: memTopics, handlers: new URL('../engine/mem-handlers.js', import.meta.url), workers: 1,
    backend, ringCapacity: RING_CAPACITY, onError: (error) => errors.push(error),
  });
  await engine.subscribe('tick', { handler: 'tick', mode: 'group' });
  await engine.subscribe('probe', { handler: 'probe', mode: 'group' });
  const writer = engine.writer('tick');

  /** Publishes [from, to) until a send asks the caller to wait; returns where it stopped. */
  function fill(from: number, to: number): number {
    for (let i = from; i < to; i++) {
      const value = i & 0xffff;
      const x = (i & 1023) * 0.5;
      const stamp = i * 2;
      writer.seq = i;
      writer.value = value;
      writer.x = x;
      writer.stamp = stamp;
      expected[0] = foldTick(expected[0]!, i, value, x, stamp);
      if (!engine.send('tick')) return i + 1;
    }
    return to;
  }

  return {
    async run(messages) {
      await engine.drain();
      await engine.request('probe', { start: true });
      expected[0] = 0;
      window.start();
      for (let at = 0; at < messages;) {
        const end = Math.min(messages, at + CHUNK);
        const stopped = fill(at, end);
        if (stopped < end) await engine.whenWritable();
        at = stopped;
      }
      engine.flush();
      const publisher = window.stop();
      await engine.drain();
      const consumer = await engine.request('probe', { start: false });
      return {
        messages, publisher,
        consumer: { gcEvents: consumer.gcEvents, allocatedBytes: consumer.allocatedBytes },
        count: consumer.count, checksumMatches: consumer.checksum === expected[0],
        error: errors.length > 0 ? `engine reported: ${errors[0]!.message}` : null,
      };
    },
    close: () => engine.close({ timeout: 5_000 }),
  };
}

async function postMessagePublisher(): Promise<Publisher> {
  const worker = new Worker(new URL('./mem-postmessage.js', import.meta.url));
  const acked = new Float64Array(1);
  let waiter: ((message: unknown) => void) | null = null;
  let failure: Error | null = null;
  const next = (): Promise<unknown> => (failure ? Promise.reject(failure) : new Promise((resolve) => { waiter = resolve; }));
  worker.on('message', (message: { acked?: number }) => {
    if (message.acked !== undefined) acked[0] = message.acked;
    const w = waiter;
    waiter = null;
    w?.(message);
  });
  worker.on('error', (error) => { failure = error; });
  await next(); // ready

  /** Posts [from, to) as one small object each. */
  function fill(from: number, to: number): void {
    for (let i = from; i < to; i++) {
      const value = i & 0xffff;
      const x = (i & 1023) * 0.5;
      const stamp = i * 2;
      worker.postMessage({ seq: i, value, x, stamp });
      expected[0] = foldTick(expected[0]!, i, value, x, stamp);
    }
  }

  return {
    async run(messages) {
      acked[0] = 0;
      const started = next();
      worker.postMessage({ probe: 'start' });
      await started;
      expected[0] = 0;
      window.start();
      for (let at = 0; at < messages;) {
        const end = Math.min(messages, at + ACK_EVERY);
        fill(at, end);
        at = end;
        // Flow control: at most two ack intervals in flight (postMessage's queue is unbounded).
        while (acked[0]! < at - ACK_EVERY) await next();
      }
      const publisher = window.stop();
      let reply: unknown;
      const stopped = (async () => { do reply = await next(); while ((reply as { count?: number }).count === undefined); })();
      worker.postMessage({ probe: 'stop' });
      await stopped;
      const consumer = reply as { count: number; checksum: number; gcEvents: number; allocatedBytes: number };
      return {
        messages, publisher,
        consumer: { gcEvents: consumer.gcEvents, allocatedBytes: consumer.allocatedBytes },
        count: consumer.count, checksumMatches: consumer.checksum === expected[0], error: null,
      };
    },
    close: () => worker.terminate().then(() => undefined),
  };
}

const publisher = data.who === 'postMessage' ? await postMessagePublisher() : await enginePublisher(data.who);
print({ ready: true });
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const command = JSON.parse(line) as { messages?: number; quit?: boolean };
  if (command.quit || command.messages === undefined) break;
  try {
    print(await publisher.run(command.messages));
  } catch (error) {
    print({ messages: command.messages, error: (error as Error).message });
  }
}
lines.close();
await publisher.close();
process.exit(0);
