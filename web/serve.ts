/**
 * `npm run demo:web`: serves the live demo page (and the browser tests' pages) on localhost with
 * cross-origin isolation. PORT and HOST override 8080 and 127.0.0.1.
 */
import { startWebServer } from './server.ts';

const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';
const web = await startWebServer({ port, host });
console.log(`wasm-dispatch demo: ${web.origin}/  (Ctrl-C stops the server)`);
console.log(`  the same page without the isolation headers (shows the typed error): ${web.origin}/no-isolation/web/demo/index.html`);
const stop = () => void web.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
