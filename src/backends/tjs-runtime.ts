// The one place that configures transformers.js and loads model folders, so the step model and the PRM
// load the same way in Node (a folder on disk, never the network) and in the browser (a folder served
// by URL, ONNX Runtime's wasm served by the page itself instead of a CDN).

import {
  AutoConfig,
  AutoModel,
  AutoModelForCausalLM,
  AutoTokenizer,
  env,
  Tensor,
  type PreTrainedModel,
  type PreTrainedTokenizer,
} from '@huggingface/transformers';
import { ConfigError, ModelLoadError, TrimError, errorMessage } from '../core/errors.ts';
import { TJS_DEVICES, TJS_DTYPES, type TjsDevice, type TjsDtype, type TjsModelOptions, type TjsRuntimeOptions } from './tjs-options.ts';
import { holdBackNarrowSubgroups } from './webgpu-subgroups.ts';

// The options live in a module without transformers.js (for forms and the CLI); code that loads
// models anyway takes them from here.
export { TJS_DEVICES, TJS_DTYPES, type LoadProgress, type TjsDevice, type TjsDtype, type TjsModelOptions, type TjsRuntimeOptions } from './tjs-options.ts';

/** A loaded folder: the ONNX session behind `model.forward`, its tokenizer and its config. */
export interface TjsLoaded {
  model: PreTrainedModel;
  tokenizer: PreTrainedTokenizer;
  config: Record<string, unknown>;
  device: TjsDevice;
  dtype: TjsDtype;
  /** The folder as the user named it, for messages. */
  label: string;
  /** Longest sequence the model accepts (max_position_embeddings). */
  maxPositions: number;
}

/** The prompt does not fit in the model's context window. */
export class ContextLengthError extends TrimError {
  constructor(
    readonly tokens: number,
    readonly limit: number,
  ) {
    super(
      `The input needs ${tokens} tokens and the model accepts at most ${limit}. Shorten the problem, lower --max-steps or --max-step-tokens, or use a model with a longer context.`,
    );
  }
}

function isNode(): boolean {
  return typeof process !== 'undefined' && !!process.versions?.node;
}

/**
 * Configures transformers.js for this JavaScript realm (each worker is its own). Node never reaches the
 * network: folders are read from disk. Browsers fetch folders by URL from the page's origin or a CORS
 * host; the Hugging Face Hub is never asked. Calling it again only updates the options given.
 */
export function configureTjsRuntime(o: TjsRuntimeOptions = {}): void {
  env.allowRemoteModels = false;
  if (isNode()) {
    env.allowLocalModels = true;
    return;
  }
  if (o.browserCache !== undefined) env.useBrowserCache = o.browserCache;
  holdBackNarrowSubgroups();
  const wasm = env.backends.onnx?.wasm;
  if (o.wasmPaths && wasm) wasm.wasmPaths = o.wasmPaths.mjs ? { wasm: o.wasmPaths.wasm, mjs: o.wasmPaths.mjs } : { wasm: o.wasmPaths.wasm };
}

interface Location {
  /** What transformers.js is given as the model id. */
  id: string;
  /** Browser only: the folder's parent URL, from which transformers.js fetches `{id}/{file}`. */
  host?: string;
}

/** transformers.js' rule for a Hub-style id; a browser folder name is passed as one. */
const MODEL_ID = /^[\w\-.]{1,96}$/;

function locate(model: string): Location {
  if (!model.trim()) throw new ConfigError('The model folder is empty: give a folder path (Node) or URL (browser).');
  if (isNode()) {
    // An absolute path is never a Hub id, so transformers.js reads it from disk as it is.
    const abs = /^([A-Za-z]:)?[\\/]/.test(model) ? model : `${process.cwd()}/${model}`;
    return { id: abs.replace(/[\\/]+$/, '') };
  }
  const here = typeof location !== 'undefined' ? location.href : undefined;
  let url: URL;
  try {
    url = new URL(model.replace(/\/+$/, ''), here);
  } catch {
    throw new ConfigError(`"${model}" is not a URL the browser can fetch a model folder from.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`The model URL "${model}" must be http(s).`);
  const cut = url.pathname.lastIndexOf('/');
  const name = decodeURIComponent(url.pathname.slice(cut + 1));
  if (!MODEL_ID.test(name) || name.includes('..') || name.includes('--'))
    throw new ConfigError(`The model folder name "${name}" (in ${model}) must use only letters, digits, "-", "_" and "." (no ".." or "--").`);
  return { id: name, host: url.origin + url.pathname.slice(0, cut + 1) };
}

/**
 * Points transformers.js' "remote" at the folder's parent URL. Its local-path mode cannot be used in
 * the browser: it skips any path that is a full URL when checking which files exist. The Hub is never
 * the host: every load sets its own.
 */
function fetchFrom(host: string): void {
  env.allowLocalModels = false;
  env.allowRemoteModels = true;
  env.remoteHost = host;
  env.remotePathTemplate = '{model}/';
}

// The host is global in transformers.js, and a browser folder is loaded through it: one load at a time.
let loading: Promise<unknown> = Promise.resolve();

function serialized<T>(run: () => Promise<T>): Promise<T> {
  const next = loading.then(run, run);
  loading = next.catch(() => {});
  return next;
}

function defaultDtype(config: Record<string, unknown>): TjsDtype {
  const own = (config['transformers.js_config'] as { dtype?: unknown } | undefined)?.dtype;
  return typeof own === 'string' && (TJS_DTYPES as readonly string[]).includes(own) ? (own as TjsDtype) : 'fp32';
}

/**
 * Loads config, tokenizer and ONNX session of a folder in the transformers.js layout. `causal-lm` (the
 * default, for every head: `forward` returns all the graph's outputs whatever the head) is the only
 * class whose KV cache transformers.js keeps in GPU buffers on WebGPU; `any` (AutoModel) is for
 * architectures it has no causal-LM class for, at the price of a cache copied back every call.
 */
export async function loadTjs(o: TjsModelOptions, kind: 'causal-lm' | 'any' = 'causal-lm'): Promise<TjsLoaded> {
  const where = locate(o.model);
  const device: TjsDevice = o.device ?? (isNode() ? 'cpu' : 'wasm');
  if (!(TJS_DEVICES as readonly string[]).includes(device)) throw new ConfigError(`Unknown device "${device}". Use one of ${TJS_DEVICES.join(', ')}.`);
  if (o.dtype !== undefined && !(TJS_DTYPES as readonly string[]).includes(o.dtype))
    throw new ConfigError(`Unknown dtype "${o.dtype}". Use one of ${TJS_DTYPES.join(', ')}.`);
  const progress_callback = (p: { status?: string; file?: string; loaded?: number; total?: number }) => {
    if (p.status === 'progress' && typeof p.loaded === 'number' && typeof p.total === 'number')
      o.onProgress?.({ ...(p.file ? { file: p.file } : {}), loaded: p.loaded, total: p.total });
  };
  return serialized(async () => {
    if (where.host) fetchFrom(where.host);
    else configureTjsRuntime();
    try {
      const config = (await AutoConfig.from_pretrained(where.id)) as unknown as Record<string, unknown>;
      const dtype = o.dtype ?? defaultDtype(config);
      const tokenizer = await AutoTokenizer.from_pretrained(where.id, { progress_callback });
      const Auto = kind === 'causal-lm' ? AutoModelForCausalLM : AutoModel;
      const model = await Auto.from_pretrained(where.id, { dtype, device, progress_callback });
      const maxPositions = Number(config.max_position_embeddings) || Number.MAX_SAFE_INTEGER;
      return { model, tokenizer, config, device, dtype, label: o.model, maxPositions };
    } catch (err) {
      throw new ModelLoadError(loadAdvice(o.model, errorMessage(err)), { cause: err });
    }
  });
}

function loadAdvice(label: string, detail: string): string {
  const first = detail.split('\n')[0]!.slice(0, 300);
  const missing = /not found|ENOENT|404|no such file/i.test(detail);
  return missing
    ? `No usable model folder at ${label} (${first}). It needs config.json, tokenizer.json, tokenizer_config.json and onnx/model*.onnx for the chosen dtype; build one with "trim build-model" or convert a checkpoint with "trim convert".`
    : `Cannot load the model at ${label}: ${first}`;
}

/** NaN outputs mean a broken folder or a dtype the device computes wrongly, never a valid answer. */
export function brokenOutput(loaded: TjsLoaded): string {
  return `The model at ${loaded.label} produced NaN outputs on ${loaded.device} with ${loaded.dtype} weights. Try another dtype (fp32) or device, or rebuild the folder.`;
}

/** Token ids as the [1, n] int64 tensor the graphs take. */
export function idsTensor(ids: readonly number[]): Tensor {
  return new Tensor('int64', BigInt64Array.from(ids, (i) => BigInt(i)), [1, ids.length]);
}

/** Encodes text without adding BOS/EOS: prompts are rendered in full by the chat template. */
export function encode(tokenizer: PreTrainedTokenizer, text: string): number[] {
  return text ? tokenizer.encode(text, { add_special_tokens: false }) : [];
}

/** Ids of the given tokens that are single entries of the vocabulary (missing ones are skipped). */
export function tokenIds(tokenizer: PreTrainedTokenizer, tokens: readonly string[]): number[] {
  const out: number[] = [];
  for (const t of tokens) {
    const ids = encode(tokenizer, t);
    if (ids.length === 1) out.push(ids[0]!);
  }
  return out;
}
