/**
 * CommonJS: a `.cjs` program requires the package by its name (package.json's "exports" resolve
 * a package's own name from inside it, to build/src as for an installed copy) and runs an engine
 * with a CommonJS handler module on both backends, in a child Node. The package is ES modules;
 * require() loads them through Node's require(esm), unflagged from Node 20.19 and 22.12 (the
 * "engines" range), and only while no module of the entry's graph uses top-level await.
 */
import { describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { BACKENDS } from './harness.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = `${ROOT}test/commonjs/main.cjs`;

describe.each(BACKENDS)('require("wasm-dispatch") from CommonJS (%s)', (backend) => {
  test('createEngine with a CommonJS handler module: publish, drain, requestAll, close', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [MAIN, backend], { cwd: ROOT, timeout: 60_000 })
      .catch((error: { stdout?: string; stderr?: string; message: string }) => {
        throw new Error(`${MAIN} failed: ${error.message}\n${error.stdout ?? ''}${error.stderr ?? ''}`);
      });
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual({
      node: process.versions.node, backend, sameModule: true, workers: 2, count: 10_000, sum: 50_005_000,
    });
  });
});
