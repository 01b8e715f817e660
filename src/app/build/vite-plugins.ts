// Build-time helpers for the page (they run in Node inside `vite build`, never in the browser):
// - ONNX Runtime's wasm is served by the page itself (its default is a CDN, unreachable offline);
// - the service worker is compiled from TypeScript and given the files to precache and the build's version;
// - the size of the JavaScript a visitor downloads is printed, apart from workers and wasm.

import { createReadStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { transformWithOxc, type Plugin } from 'vite';

const require = createRequire(import.meta.url);

/** ONNX Runtime Web files transformers.js loads at run time, served from ./ort/. */
export const ORT_FILES = ['ort-wasm-simd-threaded.asyncify.wasm', 'ort-wasm-simd-threaded.asyncify.mjs'] as const;

function ortDist(): string {
  // The package's main file lives in its dist/ folder, beside the wasm.
  return dirname(require.resolve('onnxruntime-web'));
}

export function ortWasm(): Plugin {
  return {
    name: 'trim:ort-wasm',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const name = req.url?.match(/\/ort\/([\w.-]+)$/)?.[1];
        if (!name || !(ORT_FILES as readonly string[]).includes(name)) return next();
        res.setHeader('Content-Type', name.endsWith('.wasm') ? 'application/wasm' : 'text/javascript');
        createReadStream(join(ortDist(), name)).pipe(res);
      });
    },
    generateBundle() {
      for (const name of ORT_FILES) this.emitFile({ type: 'asset', fileName: `ort/${name}`, source: readFileSync(join(ortDist(), name)) });
    },
  };
}

/** Files never precached: source maps, wasm and models are large and fetched (and cached) on use. */
const NOT_PRECACHED = /\.map$|\.wasm$|^ort\/|^models\/|\.(woff|ttf)$/;
/** Larger files are cached when first used instead of on every first visit (the WebLLM runtime, ~6 MB). */
const PRECACHE_MAX_BYTES = 2_500_000;

/** Files of the public folder (copied as they are into the build), by path relative to it; models left out. */
function publicFiles(dir: string | false): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  if (!dir || !existsSync(dir)) return files;
  const walk = (rel: string) => {
    for (const entry of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (NOT_PRECACHED.test(path)) continue;
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) files.set(path, readFileSync(join(dir, path)));
    }
  };
  walk('');
  return files;
}

/**
 * Compiles the service worker and gives it the files to precache and the build's version: a hash of
 * every emitted file and every public file (models aside), so any change, a data file's included, is a
 * new version (a new sw.js, which browsers install as an update).
 */
export function serviceWorker(source: string): Plugin {
  let publicDir: string | false = false;
  return {
    name: 'trim:service-worker',
    apply: 'build',
    configResolved(config) {
      publicDir = config.publicDir || false;
    },
    generateBundle: {
      // After Vite's own hooks, so that the bundle holds index.html too.
      order: 'post',
      async handler(_opts, bundle) {
        const outputs = Object.values(bundle).map((f) => ({ name: f.fileName, bytes: Buffer.from(f.type === 'chunk' ? f.code : f.source) }));
        const statics = [...publicFiles(publicDir)].map(([name, bytes]) => ({ name, bytes }));
        const all = [...outputs, ...statics].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        // index.html is cached under the page's own URL, './'.
        const precached = all.filter((f) => f.name !== 'index.html' && !NOT_PRECACHED.test(f.name) && f.bytes.length <= PRECACHE_MAX_BYTES);
        const precache = ['./', ...precached.map((f) => f.name)];
        const hash = createHash('sha256');
        for (const f of all) hash.update(`${f.name}\0${f.bytes.length}\0`).update(f.bytes);
        const version = hash.digest('hex').slice(0, 12);
        const { code } = await transformWithOxc(readFileSync(source, 'utf8'), source, { lang: 'ts' });
        const out = code.replace('self.__PRECACHE__', JSON.stringify(precache)).replace('self.__VERSION__', JSON.stringify(version));
        if (out === code) this.error('service worker placeholders not found');
        this.emitFile({ type: 'asset', fileName: 'sw.js', source: out });
      },
    },
  };
}

export interface SizeReport {
  /** JS the page loads before anything is chosen (entry + static imports). */
  initial: { raw: number; gzip: number; files: string[] };
  /** JS the page imports on demand on the main thread (e.g. WebLLM's client). */
  lazy: { raw: number; gzip: number; files: string[] };
  /** Worker bundles (transformers.js, ONNX Runtime's JS, WebLLM), loaded when a model is used. */
  workers: { raw: number; gzip: number; files: string[] };
  css: { raw: number; gzip: number };
}

export const INITIAL_JS_TARGET_GZIP = 300 * 1024;
export const SIZE_REPORT = Symbol.for('trim.page.sizeReport');

export function sizeReport(): Plugin {
  return {
    name: 'trim:size-report',
    apply: 'build',
    writeBundle(_opts, bundle) {
      const size = (f: (typeof bundle)[string]) => {
        const buf = Buffer.from(f.type === 'chunk' ? f.code : f.source);
        return { raw: buf.length, gzip: gzipSync(buf, { level: 9 }).length };
      };
      const chunks = new Map(Object.values(bundle).flatMap((f) => (f.type === 'chunk' ? [[f.fileName, f] as const] : [])));
      const initial = new Set<string>();
      const visit = (name: string) => {
        if (initial.has(name)) return;
        initial.add(name);
        chunks.get(name)?.imports.forEach(visit);
      };
      for (const c of chunks.values()) if (c.isEntry) visit(c.fileName);
      const sum = (names: string[]) =>
        names.reduce((a, n) => {
          const s = size(bundle[n]!);
          return { raw: a.raw + s.raw, gzip: a.gzip + s.gzip, files: [...a.files, n] };
        }, { raw: 0, gzip: 0, files: [] as string[] });
      const all = Object.keys(bundle);
      const report: SizeReport = {
        initial: sum([...initial]),
        lazy: sum([...chunks.keys()].filter((n) => !initial.has(n))),
        workers: sum(all.filter((n) => bundle[n]!.type === 'asset' && /\.m?js$/.test(n) && n !== 'sw.js' && !n.startsWith('ort/'))),
        css: sum(all.filter((n) => n.endsWith('.css'))),
      };
      const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
      const ok = report.initial.gzip <= INITIAL_JS_TARGET_GZIP ? 'within' : 'OVER';
      console.log(
        [
          '',
          `App JavaScript loaded by the page: ${kb(report.initial.gzip)} gzipped (${kb(report.initial.raw)} raw), ${ok} the ${kb(INITIAL_JS_TARGET_GZIP)} target.`,
          `  + CSS: ${kb(report.css.gzip)} gzipped.`,
          `  Loaded on demand on the main thread (WebLLM client): ${kb(report.lazy.gzip)} gzipped.`,
          `  Model workers (transformers.js + ONNX Runtime JS, WebLLM), loaded when a model is used: ${kb(report.workers.gzip)} gzipped.`,
          '  Not counted: models and ONNX Runtime wasm (fetched and cached on first use).',
          '',
        ].join('\n'),
      );
      // The config file is bundled apart from callers' modules; a global symbol carries the report to them (tests).
      (globalThis as Record<symbol, unknown>)[SIZE_REPORT] = report;
    },
  };
}

export const SERVICE_WORKER_SOURCE = fileURLToPath(new URL('../service-worker.ts', import.meta.url));
