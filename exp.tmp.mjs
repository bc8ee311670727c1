import { chromium } from 'playwright-core';
import { startWebServer } from './build/web/server.js';
const web = await startWebServer();
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox','--disable-gpu','--disable-quic','--no-first-run','--disable-background-networking','--disable-component-update','--disable-sync'] });
const page = await browser.newPage();
page.on('console', m => console.log('console:', m.text())); page.on('pageerror', e => console.log('pageerror:', e.message));
await page.goto(web.origin + '/web/test/index.html');
await page.waitForFunction(() => document.body.dataset.ready === 'true');
const cases = JSON.parse(process.argv[2]);
for (const c of cases) {
  const r = await page.evaluate(async (c) => {
    const { createEngine } = await import('/build/src/browser.js');
    const { topics } = await import('/build/web/demo/topics.js');
    const engine = await createEngine({ topics, handlers: new URL('/build/web/demo/handlers.js', location.href), backend: c.backend, workers: c.workers, ...(c.spin !== undefined ? { spin: c.spin } : {}) });
    await engine.subscribe('tick', { handler: 'tick', mode: 'group', ...(c.ll ? { balance: 'least-loaded' } : {}) });
    await engine.subscribe('ping', { handler: 'ping', mode: 'group' });
    const batch = Array.from({ length: c.batch }, (_, i) => ({ seq: i, value: i, key: i & 63 }));
    const t0 = performance.now(); let sent = 0; let waits = 0; let pubMs = 0, waitMs = 0; let lastYield = t0;
    while (performance.now() - t0 < 2000) {
      if (c.batch === 1) { for (let i = 0; i < 1024; i++) { if (!engine.publish('tick', batch[0])) { waits++; await engine.whenWritable(); } } sent += 1024; }
      else { const a = performance.now(); engine.publishBatch('tick', batch); const b = performance.now(); pubMs += b - a; sent += c.batch; await engine.whenWritable(); const d = performance.now() - b; waitMs += d; if (d > 0.05) waits++; }
      if (c.yieldMs && performance.now() - lastYield > c.yieldMs) { await new Promise(r => { const ch = new MessageChannel(); ch.port1.onmessage = r; ch.port2.postMessage(0); }); lastYield = performance.now(); }
    }
    const st = engine.stats(); const handled = st.topics.tick.delivered; const wk = st.workers.map(w => Math.round(w.busyMs));
    const el = performance.now() - t0;
    await engine.drain({ timeout: 20000 });
    const lat = [];
    for (let i = 0; i < 300; i++) { const s = performance.now(); await engine.request('ping', { stamp: 0 }, { timeout: 5000 }); lat.push(performance.now() - s); }
    lat.sort((a, b) => a - b);
    await engine.close();
    return { ...c, Mps: +(handled / el / 1000).toFixed(2), sentMps: +(sent / el / 1000).toFixed(2), waits, pubMs: Math.round(pubMs), waitMs: Math.round(waitMs), wk, p50: +(lat[150] * 1000).toFixed(0), p99: +(lat[297] * 1000).toFixed(0) };
  }, c);
  console.log(JSON.stringify(r));
}
await browser.close(); await web.close();
