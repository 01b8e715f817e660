import { defineConfig } from 'vite';

// Relative base: the built page works from any path of any static host.
export default defineConfig({
  base: './',
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: false },
});
