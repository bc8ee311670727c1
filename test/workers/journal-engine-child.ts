/**
 * A process the journal suite kills with SIGKILL: an engine journaling `order` with fsync
 * 'always' into argv[2], which continues the ids from the journal's end (an earlier run's) and
 * publishes in rounds, printing "drained <ids so far>" after each round's drain() resolved — a
 * promise that every order up to there is on disk. Prints "started" once publishing begins.
 */
import { createEngine } from '../../src/index.ts';
import { openJournal } from '../../src/journal/reader.ts';
import { journalTopics } from '../engine/journal-topics.ts';

const dir = process.argv[2]!;
const coreBuild = process.argv[3] === 'debug' ? 'debug' : 'release';
let next = 0;
try {
  const journal = openJournal(dir);
  for (const record of journal.records()) next = record.index + 1; // ids equal indexes in this suite
  journal.close();
} catch {
  next = 0; // no journal yet
}
const engine = await createEngine({
  topics: journalTopics, handlers: new URL('../engine/journal-handlers.js', import.meta.url), workers: 1, coreBuild,
  journal: { dir, topics: ['order'], fsync: 'always' },
});
await engine.subscribe('order', { handler: 'order', mode: 'keyed' });
await engine.subscribe('fill', { handler: 'fill', mode: 'group' });
console.log('started');
for (;;) {
  for (let i = 0; i < 500; i++, next++) {
    if (!engine.publish('order', { id: next, customer: next % 97, amount: 1 })) await engine.whenWritable();
  }
  await engine.drain();
  console.log(`drained ${next}`);
  await new Promise((resolve) => setTimeout(resolve, 2)); // a few hundred thousand orders a run, not millions: the checks stay quick
}
