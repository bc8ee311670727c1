/** Handler module of the metrics benchmark: one pattern handler for all 64 topics, doing nothing. */
import { defineHandlers } from '../../src/engine/types.ts';
import { metricsBenchTopics } from './metrics-topics.ts';

export default defineHandlers(metricsBenchTopics, {
  any: { topic: 'bench.>', handle() { /* counted by the engine */ } },
});
