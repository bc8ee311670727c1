import { chromium } from 'playwright-core';
import { startWebServer } from './build/web/server.js';
const opts = JSON.parse(process.argv[2] ?? '{"workers":2,"batch":256,"seconds":2}');
const path = process.argv[3] ?? '/web/demo/index.html';
const web = await startWebServer();
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox','--disable-gpu','--disable-quic','--no-first-run','--disable-background-networking','--disable-component-update','--disable-sync'] });
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
page.on('console', m => console.log('console:', m.text())); page.on('pageerror', e => console.log('pageerror:', e.message));
await page.goto(web.origin + path);
await page.waitForFunction(() => document.body.dataset.state !== undefined, null, { timeout: 15000 });
await page.waitForTimeout(300);
console.log('state', await page.evaluate(() => [document.body.dataset.state, document.body.dataset.error]));
if (path.includes('no-isolation')) {
  await page.screenshot({ path: '/tmp/demo-noiso.png', fullPage: true });
  console.log(await page.evaluate((o) => window.demo.run(o).then(r => r, e => 'rejected: ' + e.message), opts));
  console.log('state', await page.evaluate(() => [document.body.dataset.state, document.body.dataset.error]));
  await page.screenshot({ path: '/tmp/demo-noiso2.png', fullPage: true });
} else {
  await page.waitForFunction(() => document.body.dataset.state === 'ready', null, { timeout: 15000 });
  const t = Date.now();
  console.log(await page.evaluate((o) => window.demo.run(o), opts));
  console.log('took', Date.now() - t, 'ms; state', await page.evaluate(() => document.body.dataset.state));
  await page.screenshot({ path: '/tmp/demo.png', fullPage: true });
}
await browser.close(); await web.close();
