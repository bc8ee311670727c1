/**
 * A process the durable suite kills with SIGKILL: an engine journaling `order` into argv[2] with a
 * durable subscription 'ledger' (handler `logged`, which logs every id it handles under
 * WD_JOURNAL_LOG). Mode 'publish' continues the ids from the journal's end and publishes until
 * killed, printing "started" once subscribed; mode 'catch-up' only subscribes, drains and closes
 * (the subscription resumes from its saved position).
 */
import { createEngine } from '../../src/index.ts';
import { openJournal } from '../../src/journal/reader.ts';
import { journalTopics } from '../engine/journal-topics.ts';

const [dir, mode, build] = process.argv.slice(2) as [string, 'publish' | 'catch-up', string];
let next = 0;
try {
  const journal = openJournal(dir);
  next = journal.nextIndex; // ids equal indexes: one topic, one publisher, no journal-thread crash
  journal.close();
} catch {
  next = 0; // no journal yet
}
const engine = await createEngine({
  topics: journalTopics, handlers: new URL('../engine/journal-handlers.js', import.meta.url), workers: 2,
  coreBuild: build === 'debug' ? 'debug' : 'release', journal: { dir, topics: ['order'], fsync: 'none' },
});
await engine.subscribe('order', { handler: 'logged', durable: 'ledger' });
if (mode === 'catch-up') {
  await engine.drain();
  await engine.close();
} else {
  console.log('started');
  for (;;) {
    for (let i = 0; i < 200; i++, next++) {
      if (!engine.publish('order', { id: next, customer: next % 13, amount: 1 })) await engine.whenWritable();
    }
    await new Promise((resolve) => setTimeout(resolve, 1)); // at most ~200 k orders/s: a catch-up run of seconds, not minutes
  }
}
