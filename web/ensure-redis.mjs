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
import { delimiter, join } from 'node:path';
import { ensureProgram, runnable } from './debian-package.mjs';

const DEBIAN_PATH = '/usr/bin/redis-server';

/** `redis-server` on PATH, else Debian's path (which may not exist yet). */
function defaultPath() {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && runnable(join(dir, 'redis-server'))) return join(dir, 'redis-server');
  }
  return DEBIAN_PATH;
}

const path = process.env.WD_REDIS_SERVER ?? defaultPath();
ensureProgram({ path, envName: 'WD_REDIS_SERVER', pkg: 'redis-server', purpose: 'The cluster tests' });
// `redis-server --version` prints e.g. "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 …".
const version = execFileSync(path, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
const match = /\bv=(\S+)/.exec(version);
console.log(`== Redis server v=${match === null ? version : match[1]}`);
