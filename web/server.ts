/**
 * The static server of the browser demo, the browser tests and the bundler examples: sirv
 * serves the repository's build output and pages, and its `setHeaders` adds the two headers that
 * make a page cross-origin isolated (SharedArrayBuffer needs them). sirv also maps a path to a
 * file under its root (refusing any path that leaves it) and sends the MIME types a browser
 * insists on (application/wasm for streaming compilation, text/javascript for module workers).
 *
 *   /build/...                      compiled package, demo and test pages (npm run build)
 *   /web/...                        the HTML pages
 *   /examples/browser-app/dist/...  the bundler example's output
 *   /vendor/hdr-histogram-js/...    the latency histogram's browser build (from node_modules)
 *   /no-isolation/<path>            the same files WITHOUT the isolation headers (to show the error page)
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sirv, { type RequestHandler } from 'sirv';
// The headers the engine's isolation error names: one definition for both.
import { ISOLATION_HEADERS } from '../src/engine/platform-browser.ts';

/** The repository root (this file runs from build/web/server.js). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** URL prefix → directory under the repository; nothing else is served. */
const ROOTS: ReadonlyArray<readonly [string, string]> = [
  ['/build/', 'build'],
  ['/web/', 'web'],
  ['/examples/browser-app/dist/', 'examples/browser-app/dist'],
  ['/vendor/hdr-histogram-js/', 'node_modules/hdr-histogram-js/dist'],
];

const NO_ISOLATION_PREFIX = '/no-isolation';

/** On every response: nothing cached (the build changes under a running server), no type sniffing. */
const COMMON_HEADERS = Object.freeze({ 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });

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

/**
 * A sirv handler per root, with or without the isolation headers. `dev` mode looks files up on
 * every request: the tests build the examples after the server started.
 */
function rootHandlers(isolated: boolean): ReadonlyArray<readonly [string, RequestHandler]> {
  const headers: Record<string, string> = isolated ? { ...COMMON_HEADERS, ...ISOLATION_HEADERS } : { ...COMMON_HEADERS };
  const setHeaders = (response: ServerResponse): void => {
    for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
  };
  return ROOTS.map(([prefix, dir]) => [prefix, sirv(join(REPO_ROOT, dir), { dev: true, dotfiles: false, setHeaders })] as const);
}

export function startWebServer(options: WebServerOptions = {}): Promise<WebServer> {
  const index = options.index ?? '/web/demo/index.html';
  const handlers = { isolated: rootHandlers(true), plain: rootHandlers(false) };
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const url = request.url ?? '/';
    const query = url.indexOf('?');
    let pathname = query === -1 ? url : url.slice(0, query);
    const isolated = !(pathname === NO_ISOLATION_PREFIX || pathname.startsWith(`${NO_ISOLATION_PREFIX}/`));
    if (!isolated) pathname = pathname.slice(NO_ISOLATION_PREFIX.length) || '/';
    const notFound = (): void => {
      response.writeHead(404, { ...COMMON_HEADERS, 'Content-Type': 'text/plain; charset=utf-8' }).end(`not found: ${pathname}\n`);
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { ...COMMON_HEADERS, Allow: 'GET, HEAD' }).end();
      return;
    }
    if (pathname === '/') {
      response.writeHead(302, { ...COMMON_HEADERS, Location: (isolated ? '' : NO_ISOLATION_PREFIX) + index }).end();
      return;
    }
    const root = (isolated ? handlers.isolated : handlers.plain).find(([prefix]) => pathname.startsWith(prefix));
    if (root === undefined) {
      notFound();
      return;
    }
    // sirv maps the rest of the path to a file under its root.
    request.url = `/${pathname.slice(root[0].length)}${query === -1 ? '' : url.slice(query)}`;
    root[1](request, response, notFound);
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
