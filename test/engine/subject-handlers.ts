/**
 * Handlers of the first-hour suite: pattern handlers that count what they see by ctx.topic, an
 * alarm that throws on code 13, and an async handler (which the engine must refuse clearly).
 */
import { defineHandlers } from '../../src/engine/types.ts';
import { subjectTopics } from './subject-topics.ts';

const counts = { kitchenTemp: 0, doorTemp: 0, doorOpen: 0, wallTemp: 0, anySensor: 0, celsiusSum: 0, alarms: 0, wrongTopic: 0 };

/** This thread's counts (the engine's own thread runs caller-runs handlers from this same module). */
export function threadCounts(): Readonly<typeof counts> {
  return { ...counts };
}

function countTopic(topic: string): void {
  if (topic === 'sensor.kitchen.temp') counts.kitchenTemp++;
  else if (topic === 'sensor.door.temp') counts.doorTemp++;
  else if (topic === 'sensor.door.open') counts.doorOpen++;
  else if (topic === 'sensor.kitchen.wall.temp') counts.wallTemp++;
}

export default defineHandlers(subjectTopics, {
  temps: {
    topic: 'sensor.*.temp',
    handle(m, ctx) {
      if (!ctx.topic.endsWith('.temp')) counts.wrongTopic++; // a record of another topic reached it
      countTopic(ctx.topic);
      counts.celsiusSum += m.celsius;
    },
  },
  anySensor: {
    topic: 'sensor.>',
    handle(_m, ctx) {
      counts.anySensor++;
      if (!ctx.topic.startsWith('sensor.')) throw new Error(`sensor.> got ${ctx.topic}`);
    },
  },
  doorOpen: { topic: 'sensor.door.open', handle(_m, ctx) { countTopic(ctx.topic); } },
  alarm: {
    topic: 'alarm',
    handle(m) {
      if (m.code === 13) throw new Error('alarm 13 went off');
    },
  },
  /** Publishes a door reading from inside the handler (under caller-runs: from inside a publish). */
  alarmRelay: {
    topic: 'alarm',
    handle(m, ctx) {
      counts.alarms++;
      ctx.publish('sensor.door.temp', { celsius: m.code, seq: 0 });
      if (ctx.topic !== 'alarm') counts.wrongTopic++;
    },
  },
  count: {
    topic: 'count',
    handle(q) {
      const reply = { ...counts };
      if (q.reset) for (const key of Object.keys(counts) as (keyof typeof counts)[]) counts[key] = 0;
      return reply;
    },
  },
  slow: {
    topic: 'slow',
    // An async handler: the reply is what it resolves to; n = 0 rejects.
    async handle(m) {
      const n = m.n;
      await new Promise((resolve) => setTimeout(resolve, 2));
      if (n === 0) throw new Error('slow: n = 0 rejects');
      // The message is still valid after the await (its record stays in the lane until this settles).
      return { n: m.n * 10 };
    },
  },
});
