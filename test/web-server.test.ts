/**
 * The static server of the demo and the browser tests (web/server.ts): the isolation headers on
 * its pages and none under /no-isolation/, the wasm MIME type, and no file outside its roots,
 * however the path is spelled. Requests go out raw (node:http), so `..` reaches the server as sent.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { request } from 'node:http';
import { ISOLATION_HEADERS } from '../src/engine/platform-browser.ts';
import { startWebServer, type WebServer } from '../web/server.ts';

let web: WebServer;

beforeAll(async () => {
  web = await startWebServer();
});

afterAll(async () => {
  await web?.close();
});

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** Sends `path` exactly as written (no URL normalisation) and reads the whole reply. */
function get(path: string, method = 'GET'): Promise<Reply> {
  const { hostname, port } = new URL(web.origin);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('latin1') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const COOP = 'cross-origin-opener-policy';
const COEP = 'cross-origin-embedder-policy';

describe('web server', () => {
  test('pages and the core are served cross-origin isolated, .wasm as application/wasm', async () => {
    const wasm = await get('/build/core.release.wasm');
    expect(wasm.status).toBe(200);
    expect(wasm.headers['content-type']).toBe('application/wasm');
    expect(wasm.headers[COOP]).toBe(ISOLATION_HEADERS['Cross-Origin-Opener-Policy']);
    expect(wasm.headers[COEP]).toBe(ISOLATION_HEADERS['Cross-Origin-Embedder-Policy']);
    expect(wasm.body.slice(0, 4)).toBe('\0asm');

    const page = await get('/web/demo/index.html');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers[COOP]).toBe('same-origin');

    const script = await get('/build/web/demo/demo.js?v=1');
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toMatch(/^text\/javascript/);
    expect(script.headers['cache-control']).toBe('no-store');

    expect((await get('/vendor/hdr-histogram-js/hdrhistogram.umd.js')).status).toBe(200);
  });

  test('/no-isolation/ serves the same files without the isolation headers', async () => {
    const page = await get('/no-isolation/web/demo/index.html');
    expect(page.status).toBe(200);
    expect(page.headers[COOP]).toBeUndefined();
    expect(page.headers[COEP]).toBeUndefined();
    expect(page.body).toBe((await get('/web/demo/index.html')).body);
  });

  test('/ redirects to the demo page, on both sides', async () => {
    expect((await get('/')).headers.location).toBe('/web/demo/index.html');
    expect((await get('/no-isolation/')).headers.location).toBe('/no-isolation/web/demo/index.html');
  });

  test.each([
    '/build/../package.json',
    '/build/%2e%2e/package.json',
    '/build/..%2fpackage.json',
    '/web/../../etc/passwd',
    '/no-isolation/build/../package.json',
    '/package.json',
    '/examples/browser-app/package.json',
    '/vendor/hdr-histogram-js/../package.json',
    '/build/%00',
  ])('refuses %s', async (path) => {
    const reply = await get(path);
    expect(reply.status).toBe(404);
    expect(reply.body).not.toContain('"name"');
  });

  test('only GET and HEAD', async () => {
    expect((await get('/web/demo/index.html', 'POST')).status).toBe(405);
    const head = await get('/build/core.release.wasm', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });
});
