/**
 * What web/ensure-chromium.mjs and web/ensure-redis.mjs share: make sure a program a test suite
 * needs is there, installing its Debian package with apt-get when it is missing and this runs as
 * root with apt-get (a fresh CI or container machine); otherwise fail with the command to run.
 *
 * Plain JavaScript with no dependencies: .ci/run calls the scripts before `npm install`.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

export function runnable(file) {
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

/**
 * Exits the process with a message unless `path` is runnable after this: `envName` set (the user
 * named the binary) is never second-guessed; otherwise Debian's `pkg` is installed if we can.
 * `purpose` says which tests need it.
 */
export function ensureProgram({ path, envName, pkg, purpose }) {
  if (runnable(path)) return;
  if (process.env[envName] !== undefined) {
    console.error(`${envName}=${path} is not an executable file`);
    process.exit(1);
  }
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !hasAptGet()) {
    console.error(`${purpose} need ${pkg} at ${path}. Install it (Debian/Ubuntu: sudo apt-get install ${pkg}) or set ${envName} to the binary.`);
    process.exit(1);
  }
  console.log(`== installing ${pkg} with apt-get (for ${purpose.toLowerCase()})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', pkg], { stdio: ['ignore', 'ignore', 'inherit'], env });
  if (!runnable(path)) {
    console.error(`apt-get installed ${pkg}, but ${path} is still missing`);
    process.exit(1);
  }
}
