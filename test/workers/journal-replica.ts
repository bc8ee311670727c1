/**
 * The engine `wasm-dispatch replay --engine` creates in the CLI test: the journal suites' topics
 * and handlers, `order` subscribed keyed by `logged` (which logs each id it handles).
 */
import { createEngine } from '../../src/index.ts';
import { journalTopics } from '../engine/journal-topics.ts';

export default async function replica() {
  const engine = await createEngine({ topics: journalTopics, handlers: new URL('../engine/journal-handlers.js', import.meta.url), workers: 2 });
  await engine.subscribe('order', { handler: 'logged', mode: 'keyed' });
  return engine;
}
