// Options of the transformers.js backends, apart from the library itself: settings forms and the CLI
// check them without loading transformers.js and ONNX Runtime.

/** Where a model runs: `cpu` in Node, `webgpu` or `wasm` in the browser. */
export type TjsDevice = 'webgpu' | 'wasm' | 'cpu';
export const TJS_DEVICES: readonly TjsDevice[] = ['webgpu', 'wasm', 'cpu'];

/** Weight formats a model folder can hold, as onnx/model{suffix}.onnx. */
export const TJS_DTYPES = ['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4'] as const;
export type TjsDtype = (typeof TJS_DTYPES)[number];

export interface LoadProgress {
  file?: string;
  loaded: number;
  total: number;
  text?: string;
}

export interface TjsRuntimeOptions {
  /** ONNX Runtime Web's files as the page serves them (browser only; its default is a CDN). */
  wasmPaths?: { wasm: string; mjs?: string };
  /** Keep fetched model files in the browser's Cache Storage (default true). */
  browserCache?: boolean;
}

/** What every local backend is loaded from. */
export interface TjsModelOptions {
  /** Node: a folder path. Browser: the folder's URL (absolute, or relative to the page or worker). */
  model: string;
  /** Default: `cpu` in Node, `wasm` in the browser. */
  device?: TjsDevice;
  /** Default: the folder's own choice (config.json "transformers.js_config".dtype), else fp32. */
  dtype?: TjsDtype;
  onProgress?: (p: LoadProgress) => void;
}
