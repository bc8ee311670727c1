/**
 * Handler module of the one-to-one suite's "beside a 56 KiB topic" engines: the same `sink` and
 * `report` handlers as o2o-handlers.ts, declared over o2oBulkTopics (a module's topics must equal
 * its engine's).
 */
import { defineHandlers } from '../../src/engine/types.ts';
import o2o from './o2o-handlers.ts';
import { o2oBulkTopics } from './o2o-topics.ts';

export default defineHandlers(o2oBulkTopics, { sink: o2o.handlers.sink!, report: o2o.handlers.report! } as const);
