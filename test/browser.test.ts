/**
 * The package in a real browser: Debian's headless Chromium driven by playwright-core, pages
 * served by web/server.ts (cross-origin isolated; /no-isolation/ serves the same files without the
 * headers). Nothing here is simulated: the engine runs in module Web Workers over a shared
 * WebAssembly.Memory, and its results are judged by the same per-worker checksums and order checks
 * as the Node suites (test/engine/topics.ts and handlers.ts, loaded by the page).
 *
 *   harness page   delivery (group + keyed) across 2 Web Workers, both backends, the package's
 *                  worker and an app's own worker; the event-loop fallback without
 *                  Atomics.waitAsync; request/response; the typed error without isolation
 *   demo page      runs all three contenders briefly; a screenshot is saved for people to see
 *   examples       examples/browser-app bundled by webpack 5 and by esbuild from `npm pack`
 *                  output, run on both backends
 *
 * Chromium must be installed (.ci/run does `apt-get install chromium`); WD_CHROMIUM overrides
 * its path. Without it this suite fails: a browser test that cannot run is not a pass.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM_PATH, chromiumInstalled, launchChromium } from '../web/chromium.ts';
import { buildBrowserExamples, type BuiltExample } from '../web/examples.ts';
import { startWebServer, type WebServer } from '../web/server.ts';
import { within } from './engine/harness.ts';
import { CORE_BUILD, STRESS } from './harness.ts';

/** Where the demo's screenshot goes (gitignored; the README shows a committed copy). */
export const SCREENSHOT_DIR = fileURLToPath(new URL('../../test-results/browser/', import.meta.url));
const MESSAGES = Math.round(100_000 * STRESS);
const STEP_MS = 60_000;

let web: WebServer;
let browser: Browser;
const pageErrors: string[] = [];

async function open(path: string, ready: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (error) => pageErrors.push(`${path}: ${error.message}`));
  await page.goto(web.origin + path, { timeout: STEP_MS });
  await page.waitForFunction(ready, null, { timeout: STEP_MS });
  return page;
}

beforeAll(async () => {
  if (!chromiumInstalled()) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install Debian's chromium (apt-get install chromium) or set WD_CHROMIUM`);
  }
  web = await startWebServer();
  browser = await launchChromium(STEP_MS);
}, STEP_MS);

// An uncaught error on any page fails the test that was running.
afterEach(() => {
  expect(pageErrors.splice(0)).toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await web?.close();
});

interface Report { worker: number; count: number; sum: number; sumSquares: number; orderErrors: number; keysLow: number }
interface DeliveryResult {
  sent: { count: number; accepted: number; sum: number; sumSquares: number };
  group: Report[];
  keyed: Report[];
  waitAsync: boolean;
  /** Atomics.wait calls on the page's thread (must be 0) and Atomics.waitAsync calls. */
  mainThread: { waits: number; asyncWaits: number };
  errors: string[];
}

function total(reports: Report[], field: 'count' | 'sum' | 'sumSquares' | 'orderErrors'): number {
  return reports.reduce((acc, r) => acc + r[field], 0);
}

/** Exactly-once and per-key order, judged from what every worker counted. */
function expectDelivered(result: DeliveryResult, workers: number): void {
  expect(result.errors).toEqual([]);
  expect(result.sent.accepted).toBe(result.sent.count);
  for (const reports of [result.group, result.keyed]) {
    expect(reports.map((r) => r.worker)).toEqual([...Array(workers).keys()]);
    expect(total(reports, 'count')).toBe(result.sent.count);
    expect(total(reports, 'sum')).toBe(result.sent.sum);
    expect(total(reports, 'sumSquares')).toBe(result.sent.sumSquares);
    expect(total(reports, 'orderErrors')).toBe(0);
  }
  // Both workers did take part: the group spreads the load, keyed splits the keys.
  for (const r of result.group) expect(r.count).toBeGreaterThan(0);
  for (const r of result.keyed) expect(r.count).toBeGreaterThan(0);
  // Keyed: every key went to exactly one worker.
  const keySets = result.keyed.map((r) => r.keysLow);
  expect(keySets.reduce((a, b) => a | b, 0)).toBe(0xffff);
  expect(keySets.reduce((a, b) => a & b, 0xffff)).toBe(0);
}

describe.each(['wasm', 'js'] as const)('browser: engine in Web Workers (%s)', (backend) => {
  let page: Page;
  beforeAll(async () => {
    page = await open('/web/test/index.html', "document.body.dataset.ready === 'true'");
  }, STEP_MS);
  afterAll(async () => { await page?.close(); });

  test.each([false, true])(`delivers ${MESSAGES} ticks across 2 Web Workers with checksums and per-key order (app's own worker script: %s)`, async (ownWorker) => {
    const result = await within(STEP_MS, 'delivery', page.evaluate((o) => (globalThis as any).harness.delivery(o),
      { backend, workers: 2, messages: MESSAGES, keys: 16, batch: 256, ownWorker, coreBuild: CORE_BUILD })) as DeliveryResult;
    expect(result.waitAsync).toBe(true);
    expect(result.mainThread.waits).toBe(0);
    expect(result.mainThread.asyncWaits).toBeGreaterThan(0);
    expectDelivered(result, 2);
  });

  test('request/response: 2000 concurrent requests, every reply checked, both workers answer; a throwing handler rejects typed', async () => {
    const result = await within(STEP_MS, 'requests', page.evaluate((o) => (globalThis as any).harness.requests(o),
      { backend, workers: 2, count: 2000, coreBuild: CORE_BUILD })) as { count: number; wrong: number; workers: number[]; failed: unknown; after: number; errors: string[] };
    expect(result.count).toBe(2000);
    expect(result.wrong).toBe(0);
    expect(result.workers).toEqual([0, 1]);
    expect(result.failed).toEqual({ name: 'EngineError', code: 'ERR_REQUEST_FAILED' });
    expect(result.after).toBe(5);
    expect(result.errors).toHaveLength(1);
  });
});

test('browser: a Web Worker that dies of an uncaught error is detected as crashed, reported once; the other keeps serving', async () => {
  const page = await open('/web/test/index.html', "document.body.dataset.ready === 'true'");
  try {
    const result = await within(STEP_MS, 'crash', page.evaluate((o) => (globalThis as any).harness.crash(o),
      { backend: 'wasm', coreBuild: CORE_BUILD })) as { states: string[]; reply: unknown; refused: boolean; rejected: number; errors: string[] };
    expect(result.states).toEqual(['running', 'crashed']);
    expect(result.reply).toEqual({ sum: 4, worker: 0 });
    expect(result.refused).toBe(true);
    expect(result.rejected).toBe(1);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatch(/^EngineError: worker=1: crashed: .*crash 9/);
  } finally {
    await page.close();
  }
  // The worker's uncaught error reached the engine as the Worker's error event; afterEach checks
  // that no page error was left uncaught.
});

test('browser: a Web Worker that dies is restarted in place: keyed traffic through a small ring loses nothing, the successor answers', async () => {
  const page = await open('/web/test/index.html', "document.body.dataset.ready === 'true'");
  try {
    const result = await within(STEP_MS, 'respawn', page.evaluate((o) => (globalThis as any).harness.respawn(o),
      { backend: 'js', coreBuild: CORE_BUILD, messages: 5000 })) as {
      sent: number; states: string[]; restarts: number[]; reply: unknown; tick: { routed: number; delivered: number; lost: number; rejected: number }; backlog: number; errors: string[];
    };
    expect(result.states).toEqual(['running', 'running']);
    expect(result.restarts).toEqual([0, 1]);
    expect(result.reply).toEqual({ sum: 5, worker: 1 });
    // Every tick accepted was handled once: the dead worker's lanes went to its successor.
    expect(result.tick).toEqual({ routed: result.sent, delivered: result.sent, lost: 0, rejected: 0 });
    expect(result.backlog).toBe(0);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatch(/^EngineError: worker=1: crashed: .*crash 9/);
  } finally {
    await page.close();
  }
});

test('browser: a request queued behind a Web Worker\'s crash is answered by its successor, on both backends', async () => {
  const page = await open('/web/test/index.html', "document.body.dataset.ready === 'true'");
  try {
    for (const backend of ['wasm', 'js'] as const) {
      const result = await within(STEP_MS, `restart (${backend})`, page.evaluate((o) => (globalThis as any).harness.restart(o),
        { backend, coreBuild: CORE_BUILD })) as { states: string[]; restarts: number[]; first: unknown; after: unknown; lost: number; identity: boolean; errors: string[] };
      expect(result.states).toEqual(['running', 'running']);
      expect(result.restarts).toEqual([0, 1]);
      expect(result.first).toEqual({ sum: 42, worker: 1 });
      expect(result.after).toEqual({ sum: 4, worker: 1 });
      expect(result.lost).toBe(0);
      expect(result.identity).toBe(true);
      expect(result.errors).toHaveLength(1);
      expect(result.errors[0]).toMatch(/^EngineError: worker=1: crashed: .*crash 9/);
    }
  } finally {
    await page.close();
  }
});

test('browser: a Web Worker that dies three times while ticks flow: every death seen, drain completes, routed = delivered, nothing lost (both backends)', async () => {
  const page = await open('/web/test/index.html', "document.body.dataset.ready === 'true'");
  try {
    for (const backend of ['wasm', 'js'] as const) {
      const result = await within(STEP_MS, `crashes (${backend})`, page.evaluate((o) => (globalThis as any).harness.crashes(o),
        { backend, coreBuild: CORE_BUILD, crashes: 3 })) as {
        sent: number; drained: string; missed: number; crashMessages: number; restarts: number[]; states: string[]; backlog: number; errors: string[];
        tick: { routed: number; delivered: number; lost: number; rejected: number; redelivered: number };
      };
      // A crash message handled without a crash seen means a thread the engine had replaced (and
      // whose lanes its successor consumes) was still running.
      expect({ backend, missed: result.missed, crashMessages: result.crashMessages, drained: result.drained, states: result.states, restarts: result.restarts, backlog: result.backlog, errors: result.errors.length })
        .toEqual({ backend, missed: 0, crashMessages: 3, drained: 'drained', states: ['running', 'running'], restarts: [0, 3], backlog: 0, errors: 3 });
      expect(result.tick).toEqual({ routed: 2 * result.sent, delivered: 2 * result.sent, lost: 0, rejected: 0, redelivered: 0 });
    }
  } finally {
    await page.close();
  }
});

test('browser: without Atomics.waitAsync the main thread falls back to polling on the event loop, and delivers the same', async () => {
  const page = await open('/web/test/index.html', "document.body.dataset.ready === 'true'");
  try {
    const result = await within(STEP_MS, 'fallback delivery', page.evaluate((o) => (globalThis as any).harness.delivery(o),
      { backend: 'wasm', workers: 2, messages: MESSAGES, keys: 16, batch: 64, noWaitAsync: true, coreBuild: CORE_BUILD })) as DeliveryResult;
    expect(result.waitAsync).toBe(false);
    expect(result.mainThread.waits).toBe(0);
    expectDelivered(result, 2);
    const requests = await within(STEP_MS, 'fallback requests', page.evaluate((o) => (globalThis as any).harness.requests(o),
      { backend: 'js', workers: 2, count: 500, noWaitAsync: true })) as { count: number; wrong: number };
    expect(requests).toMatchObject({ count: 500, wrong: 0 });
  } finally {
    await page.close();
  }
});

test('browser: a page served without COOP/COEP gets EngineError ERR_NOT_ISOLATED naming both headers', async () => {
  const page = await open('/no-isolation/web/test/index.html', "document.body.dataset.ready === 'true'");
  try {
    const result = await within(STEP_MS, 'isolation', page.evaluate(() => (globalThis as any).harness.isolation())) as { crossOriginIsolated: boolean; error: Record<string, unknown> | null };
    expect(result.crossOriginIsolated).toBe(false);
    expect(result.error).toMatchObject({ name: 'EngineError', code: 'ERR_NOT_ISOLATED', field: 'crossOriginIsolated', isEngineError: true });
    expect(result.error!.message).toContain('Cross-Origin-Opener-Policy: same-origin');
    expect(result.error!.message).toContain('Cross-Origin-Embedder-Policy: require-corp');
  } finally {
    await page.close();
  }
  // The isolated page is isolated: the error is about the headers, not the browser.
  const isolated = await open('/web/test/index.html', "document.body.dataset.ready === 'true'");
  try {
    expect(await isolated.evaluate(() => globalThis.crossOriginIsolated)).toBe(true);
  } finally {
    await isolated.close();
  }
});

describe('browser: the demo page (npm run demo:web)', () => {
  test('runs Wasm, JS and postMessage with checksums; a screenshot is saved', async () => {
    const page = await open('/web/demo/index.html', "document.body.dataset.state === 'ready'");
    try {
      const rows = await within(STEP_MS * 2, 'demo run', page.evaluate(() => (globalThis as any).demo.run({ workers: 2, batch: 256, seconds: 1 }))) as {
        contender: string; medianMps: number; checksumOk: boolean; messages: number; queueWaitUs: number[]; handlerUs: number[];
      }[];
      expect(rows.map((r) => r.contender).sort()).toEqual(['js', 'postMessage', 'wasm']);
      for (const row of rows) {
        expect(row.checksumOk).toBe(true);
        expect(row.messages).toBeGreaterThan(0);
        expect(row.medianMps).toBeGreaterThan(0);
        // The engines' own latency histograms (sampled in the workers, read from shared memory): p50 ≤ p99 ≤ p99.9.
        if (row.contender === 'postMessage') continue;
        const [p50, p99, p999] = row.queueWaitUs;
        expect(p50).toBeGreaterThanOrEqual(0);
        expect(p99).toBeGreaterThanOrEqual(p50!);
        expect(p999).toBeGreaterThanOrEqual(p99!);
        expect(row.handlerUs[0]).toBeGreaterThanOrEqual(0);
      }
      expect(await page.evaluate(() => document.getElementById('live-latency')!.textContent)).toMatch(/queue wait p50 .* µs · handler p50 .* samples/);
      expect(await page.evaluate(() => document.body.dataset.state)).toBe('done');
      mkdirSync(SCREENSHOT_DIR, { recursive: true });
      await page.screenshot({ path: `${SCREENSHOT_DIR}demo.png`, fullPage: true });
      expect(existsSync(`${SCREENSHOT_DIR}demo.png`)).toBe(true);
    } finally {
      await page.close();
    }
  });

  test('without isolation the page shows the typed error naming the headers', async () => {
    const page = await open('/no-isolation/web/demo/index.html', "document.body.dataset.state === 'ready' || document.body.dataset.state === 'error'");
    try {
      await within(STEP_MS, 'demo run', page.evaluate(() => (globalThis as any).demo.run({ workers: 1, batch: 16, seconds: 1, contenders: ['wasm'] }).catch(() => undefined)));
      expect(await page.evaluate(() => document.body.dataset.state)).toBe('error');
      const text = await page.evaluate(() => document.body.innerText);
      expect(text).toContain('Cross-Origin-Opener-Policy');
      expect(text).toContain('Cross-Origin-Embedder-Policy');
    } finally {
      await page.close();
    }
  });
});

describe('browser: the example app bundled by webpack 5 and by esbuild (examples/browser-app)', () => {
  let built: BuiltExample[];
  beforeAll(async () => {
    built = await buildBrowserExamples();
  }, STEP_MS * 3);

  test('both bundlers built their app from the packed package, without warnings', () => {
    expect(built.map((b) => b.name).sort()).toEqual(['esbuild', 'webpack']);
    // esbuild bundles for platform 'browser': an import of a Node built-in anywhere in the
    // package's browser graph would have failed this build.
    for (const example of built) expect(example.warnings).toEqual([]);
  });

  test.each([
    ['webpack', 'wasm'], ['webpack', 'js'], ['esbuild', 'wasm'], ['esbuild', 'js'],
  ] as const)('%s app on %s: delivers with checksums across 2 workers and answers a request', async (name, backend) => {
    const example = built.find((b) => b.name === name)!;
    const page = await open(`${example.page}?backend=${backend}`, 'document.body.dataset.result !== undefined');
    try {
      const result = JSON.parse(await page.evaluate(() => document.body.dataset.result!)) as { ok: boolean; backend: string; error?: unknown };
      expect(result).toMatchObject({ ok: true, backend });
    } finally {
      await page.close();
    }
  });

  test.each(['webpack', 'esbuild'] as const)('%s app with a bad option: the typed error survives minification (name, code, field)', async (name) => {
    const example = built.find((b) => b.name === name)!;
    const page = await open(`${example.page}?backend=bogus`, 'document.body.dataset.result !== undefined');
    try {
      const result = JSON.parse(await page.evaluate(() => document.body.dataset.result!)) as { ok: boolean; error?: { name: string; code: string; message: string } };
      expect(result.ok).toBe(false);
      expect(result.error).toMatchObject({ name: 'ConfigError', code: 'ERR_CONFIG' });
      expect(result.error!.message).toContain('backend="bogus"');
    } finally {
      await page.close();
    }
  });
});

