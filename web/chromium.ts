/**
 * The Chromium the browser tests and the browser benchmark drive: Debian's `chromium` package
 * (WD_CHROMIUM names another binary; web/ensure-chromium.mjs installs it), launched headless by
 * playwright-core, which cannot download browsers on this project's machines.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = process.env.WD_CHROMIUM ?? '/usr/bin/chromium';

/** Headless, and no background traffic: this machine's network is closed (see the env notes). */
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export function chromiumInstalled(): boolean {
  return existsSync(CHROMIUM_PATH);
}

/** Launches CHROMIUM_PATH; rejects after `timeoutMs` if it does not come up. */
export function launchChromium(timeoutMs: number): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: timeoutMs });
}
