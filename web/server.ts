/**
 * A small static server for the browser demo, the browser tests and the bundler examples (Node's
 * http, no framework): serves the repository's build output and pages with the two headers that
 * make a page cross-origin isolated (SharedArrayBuffer needs them) and the MIME types a browser
 * insists on (application/wasm for streaming compilation, text/javascript for module workers).
 *
 *   /build/...               compiled package, demo and test pages (npm run build)
 *   /web/...                 the HTML pages
 *   /examples/<app>/dist/... the bundler examples' output
 *   /vendor/hdr-histogram-js the latency histogram's browser build (from node_modules)
 *   /no-isolation/<path>     the same files WITHOUT the isolation headers (to show the error page)
 *
 * Only files under those roots are served, never a path that leaves them.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
// The headers the engine's isolation error names: one definition for both.
import { ISOLATION_HEADERS } from '../src/engine/platform-browser.ts';

/** The repository root (this file runs from build/web/server.js). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));


const MIME_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/** URL prefix → directory under the repository. */
const ROOTS: ReadonlyArray<readonly [string, string]> = [
  ['/build/', 'build'],
  ['/web/', 'web'],
  ['/examples/', 'examples'],
  ['/vendor/hdr-histogram-js/', 'node_modules/hdr-histogram-js/dist'],
];

const NO_ISOLATION_PREFIX = '/no-isolation';

export interface WebServer {
  readonly server: Server;
  /** e.g. http://127.0.0.1:8080 */
  readonly origin: string;
  close(): Promise<void>;
}

export interface WebServerOptions {
  /** 0 (default) picks a free port. */
  readonly port?: number;
  readonly host?: string;
  /** Where `/` redirects; default /web/demo/index.html. */
  readonly index?: string;
}

/** Maps a URL path to a file, or undefined if it is outside every root. */
export function resolveFile(pathname: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  for (const [prefix, dir] of ROOTS) {
    if (!decoded.startsWith(prefix)) continue;
    const base = join(REPO_ROOT, dir);
    const file = normalize(join(base, decoded.slice(prefix.length)));
    if (file !== base && !file.startsWith(base + sep)) return undefined;
    // The examples serve only what their bundlers built.
    if (dir === 'examples' && !file.split(sep).includes('dist')) return undefined;
    return file;
  }
  return undefined;
}

export function startWebServer(options: WebServerOptions = {}): Promise<WebServer> {
  const index = options.index ?? '/web/demo/index.html';
  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    let pathname = url.pathname;
    const isolated = !(pathname === NO_ISOLATION_PREFIX || pathname.startsWith(NO_ISOLATION_PREFIX + '/'));
    if (!isolated) pathname = pathname.slice(NO_ISOLATION_PREFIX.length) || '/';
    const headers: Record<string, string> = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };
    if (isolated) Object.assign(headers, ISOLATION_HEADERS);
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { ...headers, Allow: 'GET, HEAD' }).end();
      return;
    }
    if (pathname === '/' || pathname.endsWith('/')) {
      const target = pathname === '/' ? index : `${pathname}index.html`;
      response.writeHead(302, { ...headers, Location: (isolated ? '' : NO_ISOLATION_PREFIX) + target }).end();
      return;
    }
    const file = resolveFile(pathname);
    const info = file === undefined ? undefined : await stat(file).catch(() => undefined);
    if (file === undefined || info === undefined || !info.isFile()) {
      response.writeHead(404, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' }).end(`not found: ${pathname}\n`);
      return;
    }
    headers['Content-Type'] = MIME_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
    headers['Content-Length'] = String(info.size);
    response.writeHead(200, headers);
    if (request.method === 'HEAD') {
      response.end();
      return;
    }
    createReadStream(file).on('error', () => response.destroy()).pipe(response);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      const { address, port } = server.address() as AddressInfo;
      resolve({
        server,
        origin: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
        close: () => new Promise<void>((done) => {
          server.closeAllConnections();
          server.close(() => done());
        }),
      });
    });
  });
}
