// Test page: runs the shared call script (tjs-plan.ts) in the browser when the test asks, with ONNX
// Runtime's wasm served by this page, and reports what WebGPU adapter it ran on.

import { configureTjsRuntime } from '../../src/backends/tjs-runtime.ts';
import { runTjsPlan, type TjsPlan, type TjsPlanResult } from './tjs-plan.ts';

declare global {
  interface Window {
    tjsRun(plan: TjsPlan): Promise<TjsPlanResult & { adapter: string | null }>;
  }
}

const ort = (file: string) => new URL(`./ort/${file}`, location.href).href;
configureTjsRuntime({ wasmPaths: { wasm: ort('ort-wasm-simd-threaded.asyncify.wasm'), mjs: ort('ort-wasm-simd-threaded.asyncify.mjs') }, browserCache: false });

async function adapterName(): Promise<string | null> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<{ info?: { architecture?: string; vendor?: string } } | null> } }).gpu;
  const adapter = await gpu?.requestAdapter();
  return adapter ? (adapter.info?.architecture ?? adapter.info?.vendor ?? 'unknown') : null;
}

window.tjsRun = async (plan) => ({ ...(await runTjsPlan(plan)), adapter: await adapterName() });
document.body.dataset.ready = 'true';
