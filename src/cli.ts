#!/usr/bin/env node
/**
 * The package's command line (`npx wasm-dispatch …`), Node only:
 *
 *   wasm-dispatch journal <dir>                       what a journal holds: topics, records, times, segments, corrupt records
 *   wasm-dispatch replay <dir> --engine <module>      re-publishes a journal into the engine the module's default export creates
 *         [--from N] [--to N] [--from-time T] [--to-time T]   a range, by record index or time (ISO 8601 or ms since the epoch)
 *         [--topics a,b] [--pace full|recorded] [--speed X]
 *
 * The replay module's default export is an async function that returns a started engine with its
 * subscriptions made (the program's own createEngine call): the CLI replays into it with a
 * progress line on stderr, waits until every replayed message was handled (drain), closes it, and
 * prints what it did. Exit code 2 for a bad command line, 1 for an error.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { openJournal } from './journal/reader.ts';
import { replayJournal, type ReplayProgress } from './journal/replay.ts';
import type { Engine } from './engine/engine.ts';
import type { TopicMap } from './engine/types.ts';

const USAGE = `usage:
  wasm-dispatch journal <dir>
  wasm-dispatch replay <dir> --engine <module.js> [--from N] [--to N] [--from-time T] [--to-time T] [--topics a,b] [--pace full|recorded] [--speed X]`;

class UsageError extends Error {}

async function main(argv: readonly string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      engine: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, 'from-time': { type: 'string' }, 'to-time': { type: 'string' },
      topics: { type: 'string' }, pace: { type: 'string' }, speed: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, dir, ...rest] = positionals;
  if (values.help === true) {
    console.log(USAGE);
    return;
  }
  if (dir === undefined || rest.length > 0) throw new UsageError(command === undefined ? 'a command is needed' : `${command} takes one directory`);
  if (command === 'journal') return describe(dir);
  if (command !== 'replay') throw new UsageError(`unknown command ${command}`);
  if (values.engine === undefined) throw new UsageError('replay needs --engine <module>: its default export creates the engine to replay into');
  const factory = (await import(pathToFileURL(resolve(values.engine)).href) as { default?: unknown }).default;
  if (typeof factory !== 'function') throw new UsageError(`${values.engine}: its default export must be a function that returns a started engine`);
  const engine = await (factory as () => Promise<Engine<TopicMap, any>>)();
  const progress = new ProgressLine();
  try {
    const result = await replayJournal(engine, dir, {
      from: whole('from', values.from), to: whole('to', values.to), fromTime: time('from-time', values['from-time']), toTime: time('to-time', values['to-time']),
      topics: values.topics?.split(','), pace: values.pace as 'full' | 'recorded' | undefined, speed: values.speed === undefined ? undefined : Number(values.speed),
      onProgress: (p) => progress.draw(p),
    });
    progress.end();
    await engine.drain({ timeout: 600_000 });
    console.log(`replayed ${result.replayed} records (index ${result.first}..${result.last}), passed over ${result.skipped}, corrupt ${result.corrupt.length}`);
    for (const c of result.corrupt) console.log(`  corrupt: ${c.segment} at byte ${c.offset}: ${c.reason}`);
  } finally {
    progress.end();
    await engine.close();
  }
}

/** Prints what the journal in `dir` holds. */
function describe(dir: string): void {
  const journal = openJournal(dir);
  try {
    const counts = new Array<number>(journal.topics.length).fill(0);
    let first: { index: number; time: number } | undefined;
    let last: { index: number; time: number } | undefined;
    for (const record of journal.records()) {
      counts[record.topic]!++;
      first ??= { index: record.index, time: record.time };
      last = { index: record.index, time: record.time };
    }
    console.log(`journal ${resolve(dir)}: records ${journal.firstIndex}..${journal.nextIndex - 1}`);
    if (first !== undefined) console.log(`  from ${new Date(first.time).toISOString()} to ${new Date(last!.time).toISOString()}`);
    journal.topics.forEach((topic, j) => console.log(`  topic ${topic.name}: ${counts[j]} records of ${topic.size} bytes`));
    for (const c of journal.corrupt) console.log(`  corrupt: ${c.segment} at byte ${c.offset}: ${c.reason}`);
  } finally {
    journal.close();
  }
}

function whole(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new UsageError(`--${name}=${text}: must be a whole number`);
  return Number(text);
}

function time(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms)) throw new UsageError(`--${name}=${text}: must be an ISO 8601 time or ms since the epoch`);
  return ms;
}

/** One status line on stderr: redrawn in place on a terminal, a plain line a second elsewhere. */
class ProgressLine {
  private readonly tty = process.stderr.isTTY === true;
  private lastLine = 0;
  private drawn = false;

  draw(p: ReplayProgress): void {
    const fraction = p.total > 0 ? Math.min(1, p.replayed / p.total) : 1;
    const bar = '#'.repeat(Math.round(fraction * 20)).padEnd(20, '-');
    const text = `[${bar}] ${p.replayed}/${p.total} records  index ${p.index}  ${p.time > 0 ? new Date(p.time).toISOString() : ''}`;
    if (this.tty) {
      process.stderr.write(`\r${text}\x1b[K`);
      this.drawn = true;
    } else if (performance.now() - this.lastLine >= 1000 || p.replayed >= p.total) {
      this.lastLine = performance.now();
      process.stderr.write(`${text}\n`);
    }
  }

  end(): void {
    if (this.drawn) process.stderr.write('\n');
    this.drawn = false;
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof UsageError ? `${error.message}\n${USAGE}` : error);
  process.exitCode = error instanceof UsageError ? 2 : 1;
});
