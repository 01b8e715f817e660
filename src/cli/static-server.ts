// A small static file server for the built page (and, in tests, for fixture models beside it).
// No dependency: the page is a static site, so all it needs is correct MIME types, no path escape, and
// the security headers a meta tag cannot carry.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, resolve, sep } from 'node:path';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.txt': 'text/plain; charset=utf-8',
  '.onnx': 'application/octet-stream',
  '.onnx_data': 'application/octet-stream',
  '.bin': 'application/octet-stream',
};

/**
 * The page's Content-Security-Policy: the one index.html carries in its meta tag, plus what only a header
 * can say (frame-ancestors: no other site may frame the page and trick clicks on it). Sent on every file,
 * because workers take their policy from their own script's response: ONNX Runtime (in the model
 * workers) needs 'wasm-unsafe-eval' and imports its wasm factory from a blob: URL, and the remote model
 * may be any host (connect-src *). The browser tests run the page and its workers under this header.
 */
export const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval' blob:",
  "worker-src 'self' blob:",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  'connect-src *',
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers every file gets (README, "The page", shows them in a static host's _headers format). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': PAGE_CSP,
  'X-Content-Type-Options': 'nosniff',
  // The remote model's server is told nothing about the page that called it.
  'Referrer-Policy': 'no-referrer',
};

export interface StaticServerOptions {
  /** Folder served at "/". */
  dir: string;
  /** Extra folders served under a URL prefix, e.g. { '/models/': '/path/to/models' }. */
  mounts?: Record<string, string>;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
}

export interface StaticServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Maps a URL path to a file under one of the roots, or null if it would leave them. */
export function resolvePath(urlPath: string, roots: [prefix: string, dir: string][]): string | null {
  let path: string;
  try {
    path = decodeURIComponent(urlPath.split('?')[0]!.split('#')[0]!);
  } catch {
    return null;
  }
  if (path.includes('\0')) return null;
  for (const [prefix, dir] of roots) {
    if (!path.startsWith(prefix)) continue;
    const root = resolve(dir);
    const file = resolve(root, '.' + sep + path.slice(prefix.length));
    return file === root || file.startsWith(root + sep) ? file : null;
  }
  return null;
}

export async function startStaticServer(opts: StaticServerOptions): Promise<StaticServer> {
  // Longest prefix first so a mount wins over "/".
  const roots = [...Object.entries(opts.mounts ?? {}), ['/', opts.dir] as [string, string]].sort((a, b) => b[0].length - a[0].length);
  const server = createServer(async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...SECURITY_HEADERS, Allow: 'GET, HEAD' }).end();
      return;
    }
    let file = resolvePath(req.url ?? '/', roots);
    try {
      if (file && (await stat(file)).isDirectory()) file = resolve(file, 'index.html');
      const info = file ? await stat(file) : null;
      if (!file || !info?.isFile()) throw new Error('not found');
      const type = MIME[extname(file).toLowerCase()] ?? 'application/octet-stream';
      const immutable = /[/\\]assets[/\\]/.test(file);
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        'Content-Type': type,
        'Content-Length': info.size,
        'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
        // Models and the page may be used from another origin (a page on one host, models on another).
        'Access-Control-Allow-Origin': '*',
      });
      if (req.method === 'HEAD') return void res.end();
      createReadStream(file).pipe(res);
    } catch {
      res.writeHead(404, { ...SECURITY_HEADERS, 'Content-Type': 'text/plain; charset=utf-8' }).end('Not found\n');
    }
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => ok());
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host ?? '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    server,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
