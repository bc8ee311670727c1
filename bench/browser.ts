/**
 * The browser: the engine in module Web Workers beside a postMessage worker pool, in headless
 * Chromium (Debian's chromium, driven by playwright-core), measured by the demo page itself
 * (web/demo/demo.ts: `window.demo.run`), so `npm run demo:web` shows the same thing live.
 *
 *   page thread (the producer)                       Web Workers 1..N
 *   publishBatch(B) / publish() of 'tick' ──lanes──▶  group (round-robin or least-loaded): count + sum
 *   request('ping') round trips ◀─────────────────── reply
 *
 *   baseline: page ──postMessage(array of B objects)──▶ N plain module workers (at most 64 posts
 *             in flight each), acks back; ping / pong round trips
 *
 * One run of a side is one demo run of that contender alone: a throughput phase (messages the
 * workers handled per second: the median of 200 ms samples), then sequential ping round trips
 * (p50/p99), then every worker's count and value sum, which must equal what the page sent
 * (else the run fails verification). The engine's lanes hold as many messages as the postMessage
 * window (the demo's laneCapacity), so both sides buffer alike. Sides take turns run by run
 * (measureSides), after warm-up runs, on one page: its JIT state is shared, as it would be.
 *
 * Needs Chromium (WD_CHROMIUM or /usr/bin/chromium) and the built pages; without Chromium the
 * suite says so and measures nothing (the browser tests, not the benchmark, insist on it).
 */
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM_PATH, chromiumInstalled, launchChromium } from '../web/chromium.ts';
import { startWebServer, type WebServer } from '../web/server.ts';
import { measureSides, within, type Side } from './engine-common.ts';
import { selected, type BenchOptions, type EngineBenchEntry, type EngineWho } from './results.ts';

const SUITE = 'browser';
const RUN_TIMEOUT_MS = 60_000;

interface DemoRow { contender: string; medianMps: number; p50Us: number; p99Us: number; checksumOk: boolean; checksum?: string; error?: string }

interface Case {
  workers: number;
  batch: number;
  /** The engines' tick group (the postMessage pool always deals round-robin). */
  balance: 'round-robin' | 'least-loaded';
  whos: readonly EngineWho[];
}

const ALL: readonly EngineWho[] = ['wasm', 'js', 'postMessage'];
const ENGINES: readonly EngineWho[] = ['wasm', 'js'];

/**
 * Cases: one worker (a core left to the page), two (as many as this VM's cores), and two in a
 * least-loaded group (the engines only: publishBatch's per-record pick inside dispatchBatch).
 */
function cases(options: BenchOptions): Case[] {
  const one: Case = { workers: 1, batch: 256, balance: 'round-robin', whos: ALL };
  const two: Case = { workers: 2, batch: 256, balance: 'round-robin', whos: ALL };
  const leastLoaded: Case = { workers: 2, batch: 256, balance: 'least-loaded', whos: ENGINES };
  if (options.quick) return [one];
  if (options.full) return [one, two, leastLoaded, { workers: 1, batch: 1, balance: 'round-robin', whos: ALL }];
  return [one, two, leastLoaded];
}

/** Seconds of a run's throughput phase (the demo takes whole seconds). */
function seconds(options: BenchOptions): number {
  return options.full ? 3 : 1;
}

export async function runBrowser(options: BenchOptions, log: (line: string) => void): Promise<EngineBenchEntry[]> {
  const chosen = cases(options).filter((c) => c.whos.some((who) => selected(options, SUITE, caseName(c), who)));
  if (chosen.length === 0) return [];
  log(`${SUITE}: headless Chromium, the demo page's contenders (web/demo/)`);
  if (!chromiumInstalled()) {
    log(`  skipped: no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set WD_CHROMIUM)`);
    return [];
  }
  let web: WebServer | undefined;
  let browser: Browser | undefined;
  const entries: EngineBenchEntry[] = [];
  try {
    web = await startWebServer();
    browser = await launchChromium(RUN_TIMEOUT_MS);
    const page = await browser.newPage();
    await page.goto(`${web.origin}/web/demo/index.html`, { timeout: RUN_TIMEOUT_MS });
    await page.waitForFunction("document.body.dataset.state === 'ready'", null, { timeout: RUN_TIMEOUT_MS });
    log(`  ${browser.version()}, ${await page.evaluate(() => navigator.hardwareConcurrency)} logical cores`);
    for (const c of chosen) {
      const name = caseName(c);
      log(` ${name}`);
      const sides: Side[] = c.whos.filter((who) => selected(options, SUITE, name, who)).map((who) => ({
        who,
        run: async () => {
          const row = await demoRun(page, who, c, seconds(options));
          return { msgs_per_s: row.medianMps * 1e6, rtt_p50_us: row.p50Us, rtt_p99_us: row.p99Us };
        },
      }));
      entries.push(...await measureSides(SUITE, name, sides, ['msgs_per_s', 'rtt_p50_us', 'rtt_p99_us'], options, log));
    }
  } finally {
    await browser?.close();
    await web?.close();
  }
  return entries;
}

function caseName(c: Case): string {
  const publishing = c.batch === 1 ? 'publish' : `publishBatch ${c.batch}`;
  return `${publishing}, ${c.workers} worker${c.workers === 1 ? '' : 's'}${c.balance === 'least-loaded' ? ', least-loaded' : ''}`;
}

/** One demo run of `who` alone; throws unless the page's checksum matched. */
async function demoRun(page: Page, who: EngineWho, c: Case, runSeconds: number): Promise<DemoRow> {
  // The demo names its contenders as the benchmark does: 'wasm', 'js', 'postMessage'.
  const contender = who;
  const rows = await within(RUN_TIMEOUT_MS, `${who} demo run`, page.evaluate(
    (o) => (globalThis as any).demo.run(o).catch((error: Error) => [{ contender: o.contenders[0], error: String(error?.message ?? error) }]),
    { workers: c.workers, batch: c.batch, balance: c.balance, seconds: runSeconds, contenders: [contender] },
  )) as DemoRow[];
  const row = rows.find((r) => r.contender === contender);
  if (row === undefined) throw new Error(`the demo page returned no row for ${contender}`);
  if (row.error !== undefined) throw new Error(row.error);
  if (!row.checksumOk) throw new Error(row.checksum ?? 'checksum mismatch: the workers counted other messages than were sent');
  return row;
}
