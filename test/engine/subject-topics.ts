/** Topics of the first-hour suite: dotted names for pattern subscriptions, and odd handlers. */
import { defineSchema } from '../../src/schema.ts';
import { defineTopics } from '../../src/engine/types.ts';

const Reading = defineSchema({ celsius: 'f64', seq: 'u32' });

export const subjectTopics = defineTopics({
  'sensor.kitchen.temp': { schema: Reading, key: 'seq' },
  'sensor.door.temp': { schema: Reading, key: 'seq' },
  'sensor.door.open': { schema: defineSchema({ open: 'bool', seq: 'u32' }) },
  'sensor.kitchen.wall.temp': { schema: Reading },
  alarm: { schema: defineSchema({ code: 'u32' }) },
  /** Per-worker counts by topic, from the pattern handlers (requestAll). */
  count: {
    schema: defineSchema({ reset: 'bool' }),
    reply: defineSchema({
      kitchenTemp: 'u32', doorTemp: 'u32', doorOpen: 'u32', wallTemp: 'u32', anySensor: 'u32', celsiusSum: 'f64',
      alarms: 'u32', wrongTopic: 'u32',
    }),
  },
  /** Its handler returns a Promise (as a JavaScript user's async handler would). */
  slow: { schema: defineSchema({ n: 'u32' }), reply: defineSchema({ n: 'u32' }) },
});
export type SubjectTopics = typeof subjectTopics;
