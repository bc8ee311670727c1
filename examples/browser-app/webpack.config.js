/**
 * The whole webpack configuration this app needs: wasm-dispatch's "browser" export, its core's
 * .wasm (`new URL('../core.release.wasm', import.meta.url)` inside the package) and the app's
 * worker (`new Worker(new URL('./engine-worker.js', import.meta.url))`) are all handled by
 * webpack 5's defaults. The small plugin below only copies index.html into dist/webpack/ (a real project
 * would use html-webpack-plugin or copy-webpack-plugin).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import webpack from 'webpack';

const here = fileURLToPath(new URL('.', import.meta.url));

class CopyIndexHtml {
  apply(compiler) {
    compiler.hooks.thisCompilation.tap('CopyIndexHtml', (compilation) => {
      compilation.hooks.processAssets.tap({ name: 'CopyIndexHtml', stage: webpack.Compilation.PROCESS_ASSETS_STAGE_ADDITIONAL }, () => {
        compilation.emitAsset('index.html', new webpack.sources.RawSource(readFileSync(`${here}index.html`)));
      });
    });
  }
}

export default {
  mode: 'production',
  target: 'web',
  context: here,
  entry: { main: './src/main-webpack.js' },
  output: { path: `${here}dist/webpack`, clean: true },
  plugins: [new CopyIndexHtml()],
};
