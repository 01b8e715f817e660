// What this browser can run, found before any model is fetched: WebGPU or not (and why not), whether
// the adapter has shader-f16 (q4f16 WebLLM models need it), and roughly how much memory there is.

export type WebGpuStatus =
  | {
      available: true;
      vendor: string;
      architecture: string;
      /** A software or fallback adapter (SwiftShader): correct but very slow. */
      fallback: boolean;
      shaderF16: boolean;
      /** Largest buffer the adapter allows, a rough proxy for usable GPU memory. */
      maxBufferBytes: number;
      /** Largest buffer one shader may bind as storage: an embedding table must fit in it (0: not reported). */
      maxStorageBindingBytes: number;
    }
  | { available: false; reason: string };

export interface Capabilities {
  webgpu: WebGpuStatus;
  /** navigator.deviceMemory (Chromium, rounded and capped at 8), or null. */
  deviceMemoryGB: number | null;
  wasm: boolean;
}

interface AdapterLike {
  features: { has(name: string): boolean };
  limits: { maxBufferSize?: number; maxStorageBufferBindingSize?: number };
  info?: { vendor?: string; architecture?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}

export interface NavigatorLike {
  gpu?: { requestAdapter(opts?: { powerPreference?: string }): Promise<AdapterLike | null> };
  deviceMemory?: number;
}

const ADAPTER_TIMEOUT_MS = 5000;

export async function preflight(nav: NavigatorLike, wasm = typeof WebAssembly === 'object'): Promise<Capabilities> {
  const deviceMemoryGB = typeof nav.deviceMemory === 'number' ? nav.deviceMemory : null;
  return { webgpu: await probeWebGpu(nav), deviceMemoryGB, wasm };
}

async function probeWebGpu(nav: NavigatorLike): Promise<WebGpuStatus> {
  if (!nav.gpu) return { available: false, reason: 'this browser has no WebGPU (navigator.gpu is missing)' };
  let adapter: AdapterLike | null;
  try {
    adapter = await Promise.race([
      nav.gpu.requestAdapter({ powerPreference: 'high-performance' }),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer in ${ADAPTER_TIMEOUT_MS / 1000} s`)), ADAPTER_TIMEOUT_MS)),
    ]);
  } catch (err) {
    return { available: false, reason: `asking for a WebGPU adapter failed (${err instanceof Error ? err.message : String(err)})` };
  }
  if (!adapter) return { available: false, reason: 'WebGPU is present but no GPU adapter is available (it is disabled, blocklisted or unsupported here)' };
  return {
    available: true,
    vendor: adapter.info?.vendor || 'unknown',
    architecture: adapter.info?.architecture || 'unknown',
    fallback: !!(adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter),
    shaderF16: adapter.features.has('shader-f16'),
    maxBufferBytes: Math.max(adapter.limits.maxBufferSize ?? 0, adapter.limits.maxStorageBufferBindingSize ?? 0),
    maxStorageBindingBytes: finiteOr0(Math.min(adapter.limits.maxBufferSize ?? Infinity, adapter.limits.maxStorageBufferBindingSize ?? Infinity)),
  };
}

const finiteOr0 = (x: number) => (Number.isFinite(x) ? x : 0);

/** Where transformers.js models run for a device choice. */
export function tjsDevice(choice: 'auto' | 'webgpu' | 'wasm', caps: Capabilities): 'webgpu' | 'wasm' {
  if (choice === 'wasm') return 'wasm';
  if (choice === 'webgpu') return caps.webgpu.available ? 'webgpu' : 'wasm';
  // A software adapter is slower than WebAssembly on the CPU for our sizes.
  return caps.webgpu.available && !caps.webgpu.fallback ? 'webgpu' : 'wasm';
}

/** One plain sentence for the page about what will run where. */
export function describeCapabilities(caps: Capabilities): string {
  const mem = caps.deviceMemoryGB ? ` About ${caps.deviceMemoryGB} GB of memory reported.` : '';
  const g = caps.webgpu;
  if (!g.available)
    return `No WebGPU: ${g.reason}. Local models run on the CPU with WebAssembly (slower; WebLLM models need WebGPU), or use the remote model only.${mem}`;
  const gpu = `${g.vendor} ${g.architecture}`.trim();
  const f16 = g.shaderF16 ? 'with shader-f16' : 'without shader-f16, so WebLLM models use q4f32 weights';
  const soft = g.fallback ? ' It is a software (fallback) adapter: correct but slow, so small models run on WebAssembly by default.' : '';
  return `WebGPU available (${gpu}, ${f16}; largest buffer ${Math.round(g.maxBufferBytes / 2 ** 20)} MiB).${soft}${mem}`;
}
