#!/usr/bin/env node
/**
 * Makes sure the browser tests have a Chromium: `npm test` and .ci/run call this first.
 *
 * The tests drive Debian's `chromium` package with playwright-core (`npx playwright install`
 * cannot download browsers on this project's machines). If it is missing and this runs as root
 * with apt-get (a fresh CI or container machine), it is installed; otherwise this fails with the
 * command to run. WD_CHROMIUM names another Chromium binary.
 *
 * Plain JavaScript with no dependencies: .ci/run calls it before `npm install`.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

const path = process.env.WD_CHROMIUM ?? '/usr/bin/chromium';

function runnable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function hasAptGet() {
  try {
    execFileSync('apt-get', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

if (!runnable(path)) {
  if (process.env.WD_CHROMIUM !== undefined) {
    console.error(`WD_CHROMIUM=${path} is not an executable file`);
    process.exit(1);
  }
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !hasAptGet()) {
    console.error(`The browser tests need Chromium at ${path}. Install it (Debian/Ubuntu: sudo apt-get install chromium) or set WD_CHROMIUM to a Chromium binary.`);
    process.exit(1);
  }
  console.log('== installing chromium with apt-get (for the browser tests)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  if (!runnable(path)) {
    console.error(`apt-get installed chromium, but ${path} is still missing`);
    process.exit(1);
  }
}
console.log(`== ${execFileSync(path, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()}`);
