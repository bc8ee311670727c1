/**
 * Entry point for webpack 5: nothing to add. webpack emits the core's .wasm from the package's
 * own `new URL('../core.release.wasm', import.meta.url)` and rewrites that URL.
 */
import { startApp } from './app.js';

startApp();
