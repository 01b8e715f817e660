import { defineConfig } from 'vite';
import { ortWasm, SERVICE_WORKER_SOURCE, serviceWorker, sizeReport } from './src/app/build/vite-plugins.ts';

// Relative base: the built page works from any path of any static host.
export default defineConfig({
  base: './',
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: false },
  // The page serves ONNX Runtime's wasm itself, precaches its shell in a service worker, and reports
  // the size of its JavaScript (see src/app/build/vite-plugins.ts).
  plugins: [ortWasm(), serviceWorker(SERVICE_WORKER_SOURCE), sizeReport()],
});
