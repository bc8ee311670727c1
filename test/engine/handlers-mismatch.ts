/** A handler module whose `tick` schema differs from the test topics: the engine must refuse it. */
import { defineSchema } from '../../src/schema.ts';
import { defineHandlers, defineTopics } from '../../src/engine/types.ts';
import { topics } from './topics.ts';

const other = defineTopics({ ...topics, tick: { schema: defineSchema({ producer: 'u32', seq: 'u32', value: 'f64', key: 'u32' }), key: 'key' } });
export default defineHandlers(other, { t: { topic: 'tick', handle() {} } });
