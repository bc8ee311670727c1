/**
 * A program that forgets close(): creates an engine, publishes (or requests), and ends its main
 * module. The process must exit by itself once the work is done (an idle engine holds nothing
 * open). On exit it prints, synchronously, what the engine's shared counters say was handled.
 *
 *   node idle-exit.js <backend> <coreBuild> publish|request|idle <count>
 */
import { createEngine } from '../../src/index.ts';
import { subjectTopics } from '../engine/subject-topics.ts';

const [backend, coreBuild, mode, countText] = process.argv.slice(2) as ['wasm' | 'js', 'release' | 'debug', string, string];
const count = Number(countText);
const engine = await createEngine({
  topics: subjectTopics, handlers: new URL('../engine/subject-handlers.js', import.meta.url), backend, coreBuild, workers: 2,
});
await engine.subscribe('sensor.*.temp', { handler: 'temps', mode: 'keyed' });
await engine.subscribe('count', { handler: 'count', mode: 'group' });
let replied = 0;
process.on('exit', () => {
  const stats = engine.stats();
  const delivered = stats.topics['sensor.kitchen.temp']!.delivered + stats.topics['sensor.door.temp']!.delivered;
  console.log(JSON.stringify({ delivered, replied, requests: stats.topics.count!.delivered }));
});
if (mode === 'publish') {
  for (let i = 0; i < count; i++) {
    if (!engine.publish(i % 2 === 0 ? 'sensor.kitchen.temp' : 'sensor.door.temp', { celsius: 20, seq: i })) await engine.whenWritable();
  }
} else if (mode === 'request') {
  // The reply comes back to a process with nothing else to do: the pending request holds it open.
  void engine.request('count', { reset: false }).then(() => { replied++; });
}
// 'idle': nothing in flight at all.
