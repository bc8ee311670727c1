/**
 * package-lock.json against package.json, offline: the checks `npm ci` makes before it installs
 * anything, so `npm test` catches a lockfile that a fresh clone's `npm ci` would refuse. The root
 * entry repeats package.json's name, version, license, engines and dependency ranges, and every
 * dependency of every locked package (optional ones included: other platforms' native bindings,
 * which npm locks but installs only where they run) resolves to a locked package, looked up the
 * way Node does (nested node_modules first, then each enclosing one).
 *
 * `.ci/run` also checks, with the registry, that `npm install` would write this lockfile byte for
 * byte; regenerate it with `npm install --package-lock-only --ignore-scripts --no-audit --no-fund`.
 */
import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

type Ranges = Record<string, string>;
interface Manifest {
  readonly name?: string;
  readonly version?: string;
  readonly license?: string;
  readonly engines?: Ranges;
  readonly dependencies?: Ranges;
  readonly devDependencies?: Ranges;
  readonly optionalDependencies?: Ranges;
  readonly peerDependencies?: Ranges;
  readonly peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}
interface LockEntry extends Manifest {
  readonly link?: boolean;
}
interface Lockfile {
  readonly name: string;
  readonly version: string;
  readonly lockfileVersion: number;
  readonly packages: Record<string, LockEntry>;
}

const manifest = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as Manifest;
const lock = JSON.parse(readFileSync(`${ROOT}package-lock.json`, 'utf8')) as Lockfile;

/** The lockfile key Node would load `name` from when required by the package at `from` ('' = root). */
function resolveFrom(from: string, name: string): string | undefined {
  for (let dir = from; ; dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/node_modules/')))) {
    const key = `${dir === '' ? '' : `${dir}/`}node_modules/${name}`;
    if (key in lock.packages) return key;
    if (dir === '') return undefined;
  }
}

/** Dependencies `npm ci` must find locked: regular, optional and non-optional peers. */
function required(entry: LockEntry): string[] {
  const peers = Object.keys(entry.peerDependencies ?? {}).filter((name) => entry.peerDependenciesMeta?.[name]?.optional !== true);
  return [...Object.keys(entry.dependencies ?? {}), ...Object.keys(entry.optionalDependencies ?? {}), ...peers];
}

describe('package-lock.json agrees with package.json (what npm ci checks)', () => {
  test('lockfile version 3, with the root entry npm writes from package.json', () => {
    expect(lock.lockfileVersion).toBe(3);
    expect({ name: lock.name, version: lock.version }).toEqual({ name: manifest.name, version: manifest.version });
    const rootEntry = lock.packages['']!;
    const pick = (m: Manifest): Manifest => ({
      name: m.name, version: m.version, license: m.license, engines: m.engines,
      dependencies: m.dependencies, devDependencies: m.devDependencies, optionalDependencies: m.optionalDependencies,
    });
    expect(pick(rootEntry)).toEqual(pick(manifest));
  });

  test('every dependency of every locked package is locked (optional per-platform bindings too)', () => {
    const missing: string[] = [];
    for (const [key, entry] of Object.entries(lock.packages)) {
      if (entry.link === true) continue;
      const deps = key === '' ? [...required(entry), ...Object.keys(entry.devDependencies ?? {})] : required(entry);
      for (const name of deps) {
        if (resolveFrom(key, name) === undefined) missing.push(`${name} (needed by ${key === '' ? 'the root' : key})`);
      }
    }
    expect(missing).toEqual([]);
  });
});
