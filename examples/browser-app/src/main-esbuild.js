/**
 * Entry point for esbuild, which does not rewrite `new URL(..., import.meta.url)` inside the
 * package: import the core's .wasm (esbuild.mjs's `loader: { '.wasm': 'file' }` copies it into
 * the output and gives its path) and pass its URL as `coreUrl`.
 */
import coreFile from 'wasm-dispatch/core.wasm';
import { startApp } from './app.js';

startApp({ coreUrl: new URL(coreFile, import.meta.url) });
