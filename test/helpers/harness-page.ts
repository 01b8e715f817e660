// Builds a one-page harness (an HTML file beside its scripts) the way the browser tests and the real-size
// benchmark serve models: relative base, ONNX Runtime's wasm copied in, one entry. transformers.js and ONNX
// Runtime are one large chunk by nature, so no size warning.

import { resolve } from 'node:path';
import { build } from 'vite';
import { ortWasm } from '../../src/app/build/vite-plugins.ts';

export async function buildHarnessPage(opts: { root: string; html: string; outDir: string; esWorkers?: boolean }): Promise<void> {
  await build({
    root: opts.root,
    configFile: false,
    base: './',
    logLevel: 'warn',
    plugins: [ortWasm()],
    ...(opts.esWorkers ? { worker: { format: 'es' as const } } : {}),
    build: {
      outDir: opts.outDir,
      emptyOutDir: true,
      target: 'es2022',
      chunkSizeWarningLimit: 1e9,
      rollupOptions: { input: resolve(opts.root, opts.html) },
    },
  });
}
