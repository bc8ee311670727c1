#!/usr/bin/env node
/**
 * Makes sure the cluster tests have a Redis server: `npm test` and .ci/run call this first.
 *
 * The cluster tests start their own `redis-server` processes (test/cluster/redis-server.ts), each
 * on a free loopback port with its own temp dir. The binary is `redis-server` on PATH, else
 * /usr/bin/redis-server (Debian's `redis-server` package). If it is missing and this runs as root
 * with apt-get (a fresh CI or container machine), it is installed; otherwise this fails with the
 * command to run. WD_REDIS_SERVER names another redis-server binary.
 *
 * Installing the Debian package may also enable and start a system Redis service on port 6379 on
 * some machines (where systemd runs). That is harmless here: the tests never use port 6379.
 *
 * Plain JavaScript with no dependencies: .ci/run calls it before `npm install`.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const DEBIAN_PATH = '/usr/bin/redis-server';

function runnable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `redis-server` on PATH, else Debian's path (which may not exist yet). */
function defaultPath() {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && runnable(join(dir, 'redis-server'))) return join(dir, 'redis-server');
  }
  return DEBIAN_PATH;
}

function hasAptGet() {
  try {
    execFileSync('apt-get', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const path = process.env.WD_REDIS_SERVER ?? defaultPath();

if (!runnable(path)) {
  if (process.env.WD_REDIS_SERVER !== undefined) {
    console.error(`WD_REDIS_SERVER=${path} is not an executable file`);
    process.exit(1);
  }
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !hasAptGet()) {
    console.error(`The cluster tests need redis-server (on PATH or at ${DEBIAN_PATH}). Install it (Debian/Ubuntu: sudo apt-get install redis-server) or set WD_REDIS_SERVER to a redis-server binary.`);
    process.exit(1);
  }
  console.log('== installing redis-server with apt-get (for the cluster tests)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  // May start a system service on port 6379 (see above): the tests never use that port.
  execFileSync('apt-get', ['install', '-y', '-qq', 'redis-server'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  if (!runnable(path)) {
    console.error(`apt-get installed redis-server, but ${path} is still missing`);
    process.exit(1);
  }
}
// `redis-server --version` prints e.g. "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 …".
const version = execFileSync(path, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
const match = /\bv=(\S+)/.exec(version);
console.log(`== Redis server v=${match === null ? version : match[1]}`);
