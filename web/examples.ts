/**
 * Builds the bundler example (examples/browser-app, once with webpack 5 and once with esbuild) the way a user
 * of the published package would: `npm pack` the repository (so only what package.json's "files"
 * ships, reached only through its "exports"), extract the tarball as each example's
 * node_modules/wasm-dispatch, then run each bundler through its Node API with the example's own
 * configuration (webpack.config.js; esbuild.mjs's build()). The pages land in dist/<bundler>/,
 * which web/server.ts serves with the isolation headers.
 *
 * The bundlers themselves come from the repository's node_modules (the examples' package.json
 * files only document what a user installs; nothing is installed there): Node's resolution walks
 * up from each example to find them.
 *
 *   node build/web/examples.js      builds both and prints what each wrote (after npm run build);
 *                                   then `npm run demo:web` serves /examples/browser-app/dist/<bundler>/index.html
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { BuildFailure, BuildResult, Message } from 'esbuild';
import type { Configuration, Stats } from 'webpack';
import { REPO_ROOT } from './server.ts';

const run = promisify(execFile);

export interface BuiltExample {
  readonly name: 'webpack' | 'esbuild';
  /** URL path of the built page on web/server.ts, e.g. /examples/browser-app/dist/webpack/index.html. */
  readonly page: string;
  /** Wall time of the bundler run, ms. */
  readonly buildMs: number;
  /** What the bundler wrote, relative to the example's dist/. */
  readonly files: string[];
  /** The bundler's warnings, formatted (empty when there were none). */
  readonly warnings: string[];
}

/** The example app: one source, built by each bundler into dist/<bundler>/. */
const APP_DIR = 'examples/browser-app';

/** What the package must ship for the examples: a stale or missing build fails here, not in a bundler. */
const REQUIRED_BUILD = ['build/src/browser.js', 'build/src/engine/serve-worker.js', 'build/core.release.wasm'];

/**
 * Packs the package, installs the tarball into every example and builds each with its bundler.
 * Rejects with the bundler's errors if a build fails. Needs the build (npm run build) first.
 */
export async function buildBrowserExamples(): Promise<BuiltExample[]> {
  const missing = REQUIRED_BUILD.filter((file) => !existsSync(join(REPO_ROOT, file)));
  if (missing.length > 0) {
    throw new Error(`the package is not built (missing ${missing.join(', ')}): run \`npm run build\` first`);
  }
  const tarball = await packPackage();
  try {
    await installTarball(tarball.file, join(REPO_ROOT, APP_DIR));
  } finally {
    await rm(tarball.dir, { recursive: true, force: true });
  }
  return [await buildWebpack(), await buildEsbuild()];
}

/** `npm pack` in the repository root, into a fresh temporary directory; no lifecycle scripts. */
async function packPackage(): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'wasm-dispatch-pack-'));
  try {
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
      cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024, shell: process.platform === 'win32',
    });
    const [packed] = JSON.parse(stdout) as { filename: string }[];
    if (packed === undefined) throw new Error(`npm pack printed no package: ${stdout}`);
    return { dir, file: join(dir, packed.filename) };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Replaces <example>/node_modules/wasm-dispatch with the tarball's contents. */
async function installTarball(tarball: string, exampleDir: string): Promise<void> {
  const target = join(exampleDir, 'node_modules', 'wasm-dispatch');
  await rm(target, { recursive: true, force: true });
  await mkdir(target, { recursive: true });
  // Every entry of an npm tarball sits under package/.
  await run('tar', ['-xzf', tarball, '--strip-components=1', '-C', target]);
}

async function buildWebpack(): Promise<BuiltExample> {
  const dir = join(REPO_ROOT, APP_DIR);
  const { default: webpack } = await import('webpack');
  const { default: config } = (await import(pathToFileURL(join(dir, 'webpack.config.js')).href)) as { default: Configuration };
  const began = performance.now();
  const compiler = webpack(config);
  const stats = await new Promise<Stats>((resolve, reject) => {
    compiler.run((error, result) => {
      compiler.close((closeError) => {
        if (error ?? closeError) reject(error ?? closeError);
        else resolve(result!);
      });
    });
  });
  const buildMs = performance.now() - began;
  const info = stats.toJson({ all: false, errors: true, warnings: true });
  const format = (m: { message: string; moduleName?: string }) => (m.moduleName ? `${m.moduleName}: ${m.message}` : m.message);
  if (stats.hasErrors()) {
    throw new Error(`webpack failed to build ${APP_DIR}:\n${(info.errors ?? []).map(format).join('\n\n')}`);
  }
  return {
    name: 'webpack', page: `/${APP_DIR}/dist/webpack/index.html`, buildMs,
    files: await listFiles(join(dir, 'dist', 'webpack')), warnings: (info.warnings ?? []).map(format),
  };
}

async function buildEsbuild(): Promise<BuiltExample> {
  const dir = join(REPO_ROOT, APP_DIR);
  const esbuild = await import('esbuild');
  const { build } = (await import(pathToFileURL(join(dir, 'esbuild.mjs')).href)) as {
    build(options: { logLevel: 'silent' }): Promise<BuildResult>;
  };
  const format = async (messages: Message[], kind: 'error' | 'warning') =>
    (await esbuild.formatMessages(messages, { kind, color: false })).map((text) => text.trimEnd());
  const began = performance.now();
  let result: BuildResult;
  try {
    result = await build({ logLevel: 'silent' });
  } catch (error) {
    const failure = error as Partial<BuildFailure>;
    if (!Array.isArray(failure.errors)) throw error;
    throw new Error(`esbuild failed to build ${APP_DIR}:\n${(await format(failure.errors, 'error')).join('\n')}`);
  }
  const buildMs = performance.now() - began;
  return {
    name: 'esbuild', page: `/${APP_DIR}/dist/esbuild/index.html`, buildMs,
    files: await listFiles(join(dir, 'dist', 'esbuild')), warnings: await format(result.warnings, 'warning'),
  };
}

/** Every file under `dir`, relative to it, sorted. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => relative(dir, join(entry.parentPath, entry.name))).sort();
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const example of await buildBrowserExamples()) {
    console.log(`${example.name}: ${example.page} in ${Math.round(example.buildMs)} ms (${example.files.join(', ')})`);
    for (const warning of example.warnings) console.log(`  warning: ${warning}`);
  }
}
