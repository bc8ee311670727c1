/**
 * Builds the app with esbuild into dist/esbuild/: `node esbuild.mjs`.
 *
 * Two entry points, main-esbuild.js (the page) and engine-worker.js (the app's engine worker,
 * handlers bundled in), so both land in dist/esbuild/, where app.js's
 * `new URL('./engine-worker.js', import.meta.url)` finds the worker. esbuild follows
 * wasm-dispatch's "browser" export condition by itself (platform 'browser'); the one extra is the
 * `.wasm` file loader: main-esbuild.js imports 'wasm-dispatch/core.wasm', esbuild copies the file
 * into the output and the import gives its path, which main-esbuild.js passes as `coreUrl`.
 */
import { copyFile, rm } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

const here = fileURLToPath(new URL('.', import.meta.url));

/** Builds dist/ and returns esbuild's result (warnings included); rejects with its errors. */
export async function build({ logLevel = 'warning' } = {}) {
  await rm(`${here}dist/esbuild`, { recursive: true, force: true });
  const result = await esbuild.build({
    absWorkingDir: here,
    entryPoints: { main: 'src/main-esbuild.js', 'engine-worker': 'src/engine-worker.js' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    outdir: 'dist/esbuild',
    loader: { '.wasm': 'file' },
    minify: true,
    sourcemap: true,
    logLevel,
  });
  await copyFile(`${here}index.html`, `${here}dist/esbuild/index.html`);
  return result;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  build().catch(() => { process.exitCode = 1; }); // esbuild has printed the errors
}
