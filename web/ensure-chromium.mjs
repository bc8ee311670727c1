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
import { ensureProgram } from './debian-package.mjs';

const path = process.env.WD_CHROMIUM ?? '/usr/bin/chromium';
ensureProgram({ path, envName: 'WD_CHROMIUM', pkg: 'chromium', purpose: 'The browser tests' });
console.log(`== ${execFileSync(path, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()}`);
