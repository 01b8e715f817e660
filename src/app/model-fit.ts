// Before a transformers.js model is downloaded: will it fit where it is about to run? Judged from the
// folder's config.json (a few KB) and the sizes of its ONNX files (HEAD requests), against the limits
// that real-size models meet first: WebGPU's largest storage buffer (the float32 embedding table of a
// Qwen2.5 1.5B is 0.93 GB), WebAssembly's 4 GiB memory per worker, and the storage quota of the cache.

import type { Capabilities } from './capabilities.ts';

const MB = 2 ** 20;
const GiB = 2 ** 30;

/**
 * Weights a WebAssembly worker can hold: 4 GiB of address space, less ONNX Runtime's own copy of the
 * graph, the KV cache and activations. bench:real-size loads 1.7 GB of q4 weights (the 1.5B PRM) in one.
 */
export const WASM_WEIGHT_LIMIT = 3 * GiB;

export interface FolderFacts {
  /** The folder as the user named it, for messages. */
  label: string;
  config: Record<string, unknown>;
  /** Bytes of the ONNX files that will be fetched, or null when the server did not say. */
  downloadBytes: number | null;
}

/** The ONNX files transformers.js fetches for the folder's own dtype (what the workers load). */
export function onnxFiles(config: Record<string, unknown>): string[] {
  const tjs = (config['transformers.js_config'] ?? {}) as { dtype?: unknown; use_external_data_format?: unknown };
  const dtype = typeof tjs.dtype === 'string' ? tjs.dtype : 'fp32';
  const base = dtype === 'fp32' ? 'model.onnx' : `model_${dtype}.onnx`;
  const ext = tjs.use_external_data_format;
  const chunks = typeof ext === 'number' ? ext : ext === true ? 1 : typeof ext === 'object' && ext ? Number((ext as Record<string, unknown>)[base] ?? 0) : 0;
  return [`onnx/${base}`, ...Array.from({ length: chunks }, (_, i) => `onnx/${base}_data${i === 0 ? '' : `_${i}`}`)];
}

/** Bytes of the largest single weight: the embedding table, which every dtype this project writes keeps in float32. */
export function largestTensorBytes(config: Record<string, unknown>): number {
  const vocab = Number(config.vocab_size ?? 0);
  const hidden = Number(config.hidden_size ?? 0);
  return Number.isFinite(vocab * hidden) ? vocab * hidden * 4 : 0;
}

export interface FitVerdict {
  /** Why the model cannot run here and what to do; null when it can. */
  refuse: string | null;
  /** Things that work but cost (no room in the cache: every load downloads again). */
  warnings: string[];
}

const mb = (b: number) => `${Math.round(b / MB)} MB`;

/** Whether the folder fits on `device`, given what the browser reported; `freeStorage` from navigator.storage.estimate(). */
export function judgeFit(f: FolderFacts, device: 'webgpu' | 'wasm', caps: Capabilities, freeStorage: number | null): FitVerdict {
  const warnings: string[] = [];
  const largest = largestTensorBytes(f.config);
  if (device === 'webgpu' && caps.webgpu.available) {
    const limit = caps.webgpu.maxStorageBindingBytes;
    if (limit > 0 && largest > limit) {
      return {
        refuse:
          `${f.label} cannot run on this GPU: its embedding table is ${mb(largest)} as float32, and the largest buffer a shader may use here is ${mb(limit)}. ` +
          'Choose the WebAssembly device in Settings (slower, but no such limit), or a model with a smaller vocabulary × hidden size.',
        warnings,
      };
    }
  }
  if (device === 'wasm' && f.downloadBytes !== null && f.downloadBytes > WASM_WEIGHT_LIMIT) {
    return {
      refuse:
        `${f.label} is ${mb(f.downloadBytes)} of weights, more than WebAssembly's 4 GiB memory can hold with room to run it (${mb(WASM_WEIGHT_LIMIT)}). ` +
        'Use WebGPU on a machine that has it, a smaller or more quantized model (q4), or run it on a server (trim serve) and point the page at it.',
      warnings,
    };
  }
  if (f.downloadBytes !== null && freeStorage !== null && f.downloadBytes > freeStorage) {
    warnings.push(`${f.label} (${mb(f.downloadBytes)}) does not fit in the ${mb(freeStorage)} of storage this site may still use, so the browser cannot keep it: every load downloads it again.`);
  }
  return { refuse: null, warnings };
}

/** Reads config.json and the ONNX files' sizes without downloading the weights. */
export async function folderFacts(url: string, label: string, fetchFn: typeof fetch = fetch): Promise<FolderFacts> {
  const base = url.endsWith('/') ? url : `${url}/`;
  const res = await fetchFn(`${base}config.json`);
  if (!res.ok) throw new Error(`${label}: config.json answered ${res.status}; check the model URL (it should be the folder that holds config.json and onnx/).`);
  const config = (await res.json()) as Record<string, unknown>;
  let total = 0;
  for (const file of onnxFiles(config)) {
    const head = await fetchFn(`${base}${file}`, { method: 'HEAD' }).catch(() => null);
    const len = Number(head?.ok ? head.headers.get('content-length') : NaN);
    if (!Number.isFinite(len) || len <= 0) return { label, config, downloadBytes: null };
    total += len;
  }
  return { label, config, downloadBytes: total };
}
