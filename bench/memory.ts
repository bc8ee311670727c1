/**
 * Memory per message: GC events and heap bytes allocated on each side of a one-to-one stream,
 * the engine (both backends) beside postMessage.
 *
 *   child process main thread (publisher)              worker thread (consumer)
 *   ┌────────────────────────────────┐                 ┌─────────────────────────────┐
 *   │ heap window: GC, GCProfiler on │  writer+send    │ heap window opened by probe │
 *   │ sync loop of N messages        │ ──────────────▶ │ handler reads the flyweight │
 *   │ heap window closed             │  (engine lane)  │ closed by probe after N     │
 *   └────────────────────────────────┘  postMessage    └─────────────────────────────┘
 *                      │                ({ seq, value, x, stamp } objects, acked every 10 k)
 *                      └── one JSON line per run ──▶ this process (bench/memory.ts)
 *
 * Each side (wasm, js, postMessage) is a child process running build/bench/workers/mem-publisher.js,
 * so this process's own allocation stays out of the numbers; the three stay up for the whole suite
 * and take turns run by run (alternating order). Each side measures where it happens: a GCProfiler
 * window on the publisher's main thread around the synchronous publishing loops, and one in the
 * consumer's thread, opened and closed by a probe sent on the same lane/port as the messages and
 * reported back at the end (bench/heap-window.ts). Every timed run verifies that the consumer
 * handled exactly N messages with the publisher's checksum (VerificationError otherwise).
 *
 * Metrics per (case 'publisher' | 'consumer', who): 'gc_events' (GCs in the window) and
 * 'heap_bytes_per_msg' (bytes allocated in the window / N: heap growth plus what the window's GCs
 * freed). The engine publishes with writer+send (ringCapacity 65536, as in the zero-allocation
 * test); postMessage sends one small object per message. N is 10 M for the engine (1 M with
 * --quick); postMessage runs ~0.7 M msg/s here, so it gets fewer (see the log line): its gc_events
 * cover fewer messages, its heap_bytes_per_msg is per message like the others.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WARMUP_RUNS, measureCases, verify, within, type Side, type Slot } from './engine-common.ts';
import { selected, type BenchOptions, type EngineBenchEntry, type EngineWho } from './results.ts';
import type { MemWho, PublisherData, PublisherReport } from './workers/mem-common.ts';

const SUITE = 'memory';
const PUBLISHER = fileURLToPath(new URL('./workers/mem-publisher.js', import.meta.url));
const WHOS: readonly MemWho[] = ['wasm', 'js', 'postMessage'];
const CASES = ['publisher', 'consumer'] as const;
type MemCase = (typeof CASES)[number];
export type MemoryMetric = 'gc_events' | 'heap_bytes_per_msg';
const METRICS: readonly MemoryMetric[] = ['gc_events', 'heap_bytes_per_msg'];
type MemKey = `${MemCase} ${MemoryMetric}`;
/** Where a run's values go: each case's GC events and bytes per message. */
const SLOTS: readonly Slot<MemKey>[] = CASES.flatMap((name) => METRICS.map((metric) => ({ key: `${name} ${metric}` as const, case: name, metric })));

/** One entry of this suite: an engine entry that also says how many messages each run sent. */
export interface MemoryEntry extends EngineBenchEntry {
  /** Messages per timed run behind the numbers. */
  messages: number;
}

function messagesPerRun(who: EngineWho, options: BenchOptions): number {
  if (who === 'postMessage') return options.quick ? 100_000 : options.full ? 2_000_000 : 500_000;
  return options.quick ? 1_000_000 : 10_000_000;
}
/** Warm-up runs are shorter: they only have to get the loops optimised and the heap settled. */
function warmupMessages(who: EngineWho, options: BenchOptions): number {
  return Math.min(messagesPerRun(who, options), options.quick ? 300_000 : 1_000_000);
}

/** A publisher child process answering one JSON line per run. */
class PublisherProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterator<string>;
  private stderr = '';

  constructor(readonly who: MemWho) {
    const data: PublisherData = { who };
    this.child = spawn(process.execPath, [PUBLISHER, JSON.stringify(data)], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (chunk: Buffer) => { this.stderr = (this.stderr + chunk.toString()).slice(-2000); });
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  async nextLine(): Promise<unknown> {
    const { value, done } = await this.lines.next();
    if (done) throw new Error(`${this.who} publisher exited (code ${this.child.exitCode}): ${this.stderr.trim()}`);
    return JSON.parse(value) as unknown;
  }

  async run(messages: number): Promise<PublisherReport> {
    this.child.stdin.write(`${JSON.stringify({ messages })}\n`);
    return await this.nextLine() as PublisherReport;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end(`${JSON.stringify({ quit: true })}\n`);
    const timer = setTimeout(() => this.child.kill(), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

function check(report: PublisherReport, n: number): void {
  const problems: string[] = [];
  if (report.error !== null && report.error !== undefined) problems.push(report.error);
  if (report.count !== n) problems.push(`consumer handled ${report.count} of ${n} messages`);
  if (!report.checksumMatches) problems.push('consumer checksum != publisher checksum');
  verify(problems);
}

/** Runs the memory suite's sides selected by `options` (filter ids: `memory/publisher/wasm`, …). */
export async function runMemory(options: BenchOptions, log: (line: string) => void): Promise<MemoryEntry[]> {
  const whos = WHOS.filter((who) => CASES.some((name) => selected(options, SUITE, name, who)));
  if (whos.length === 0) return [];
  const counts = whos.map((who) => `${messagesPerRun(who, options).toLocaleString('en')} for ${who}`).join(', ');
  log(`${SUITE}: ${options.runs} timed runs after ${WARMUP_RUNS} warm-ups, messages per run: ${counts} (publisher: a child process's main thread → 1 worker)`);

  const publishers = new Map<MemWho, PublisherProcess>();
  try {
    for (const who of whos) publishers.set(who, new PublisherProcess(who));
    // Every publisher is up before any runs; one that failed to start fails its side's first run.
    const startErrors = new Map<MemWho, Error>();
    for (const who of whos) {
      try {
        await within(60_000, `${who} publisher start`, publishers.get(who)!.nextLine());
      } catch (error) {
        startErrors.set(who, error as Error);
      }
    }
    const sides = whos.map((who): Side<MemKey> => ({
      who,
      run: async (timed) => {
        const failed = startErrors.get(who);
        if (failed !== undefined) throw failed;
        const n = timed ? messagesPerRun(who, options) : warmupMessages(who, options);
        const report = await within(120_000 + n / 100, `${who} run`, publishers.get(who)!.run(n));
        check(report, n);
        const values: Partial<Record<MemKey, number>> = {};
        for (const name of CASES) {
          values[`${name} gc_events`] = report[name].gcEvents;
          values[`${name} heap_bytes_per_msg`] = report[name].allocatedBytes / n;
        }
        return values;
      },
    }));
    const entries = await measureCases(SUITE, sides, SLOTS, options, log);
    return entries
      .filter((entry) => selected(options, SUITE, entry.case, entry.who))
      .map((entry) => ({ ...entry, messages: messagesPerRun(entry.who, options) }));
  } finally {
    await Promise.all([...publishers.values()].map((p) => p.stop()));
  }
}
