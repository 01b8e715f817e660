// The small model on the device through transformers.js: one step per call from our own decode loop
// over model.forward, so that sampling is seeded (generate() has no seed), the stop at "\n\n" is
// decided on decoded text, Stop is honoured between tokens, and the KV cache outlives the call: the
// next step's prompt is this prompt plus the accepted step, and only the new tokens are run.
//
// Works unchanged in Node (device cpu, a folder path) and in a browser worker (webgpu or wasm, a URL).

import { AbortedError, ModelLoadError } from '../core/errors.ts';
import { getTemplate, renderContinuation, type ChatTemplate } from '../core/prompt.ts';
import type { Sampling, StepModel, StepRequest, StepResult } from '../core/types.ts';
import { defuseControlTokens } from './control-tokens.ts';
import { KvCache, type Forwarder } from './kv-cache.ts';
import { logProbOf, NO_FILTERS, resolveSampling, sampleToken, samplingRng, type SamplingConfig } from './sampler.ts';
import type { TokenProbe } from './self-check.ts';
import { StepDecoder } from './step-decoder.ts';
import type { TjsModelOptions } from './tjs-options.ts';
import { brokenOutput, encode, loadTjs, tokenIds, type TjsLoaded } from './tjs-runtime.ts';

export interface TjsStepModelOptions extends TjsModelOptions {
  /** Chat template id or object; default by the folder's model_type (qwen2 → qwen2.5, llama → llama3). */
  template?: ChatTemplate | string;
  /** System prompt; the reference math prompt by default. */
  system?: string;
  /** Defaults under each request's sampling; unset knobs come from the folder's generation_config.json. */
  sampling?: Sampling;
  /** Keep the KV cache between calls (default true). Off, every call runs its whole prompt. */
  reuseCache?: boolean;
  /** Prompt tokens per forward call (bounds the logits buffer: tokens × vocabulary). */
  prefillChunk?: number;
  id?: string;
}

/**
 * A step result with the log-probability of every sampled token under the model (before sampling
 * filters); `confidence` is the least likely of those that wrote the text (StepResult.confidence).
 */
export interface TjsStepResult extends StepResult {
  logprobs: number[];
}

/** Where the last call's prompt tokens came from. */
export interface PromptReuse {
  promptTokens: number;
  /** Prompt tokens whose K/V were already cached. */
  cachedTokens: number;
  /** Whether the cache lives in GPU buffers. */
  kvOnGpu: boolean;
}

export interface TjsStepModel extends StepModel, TokenProbe {
  next(r: StepRequest): Promise<TjsStepResult>;
  /** "tjs:<folder> (wasm, q4)". */
  readonly description: string;
  readonly lastReuse: PromptReuse | null;
  dispose(): Promise<void>;
}

const TEMPLATE_BY_MODEL_TYPE: Record<string, string> = { qwen2: 'qwen2.5', llama: 'llama3' };

export async function loadTjsStepModel(o: TjsStepModelOptions): Promise<TjsStepModel> {
  const loaded = await loadTjs(o);
  return tjsStepModel(loaded, o);
}

/** A step model over an already loaded folder. */
export function tjsStepModel(loaded: TjsLoaded, o: Omit<TjsStepModelOptions, keyof TjsModelOptions> = {}): TjsStepModel {
  const { tokenizer, config } = loaded;
  const template =
    typeof o.template === 'object' ? o.template : getTemplate(o.template ?? TEMPLATE_BY_MODEL_TYPE[String(config.model_type)] ?? 'qwen2.5');
  const defaults = resolveSampling(o.sampling, generationDefaults(loaded));
  const stopIds = new Set([...tokenIds(tokenizer, template.stopTokens), ...eosIds(loaded)]);
  const model = loaded.model as unknown as Forwarder;
  const cacheOptions = { maxPositions: loaded.maxPositions, chunk: o.prefillChunk ?? 256 };
  const cache = new KvCache(model, cacheOptions);
  // Probing self-check prompts shares nothing with drafting: its own cache keeps the draft's intact.
  const probeCache = new KvCache(model, cacheOptions);
  const reuse = o.reuseCache ?? true;
  const decode = (ids: readonly number[]) => tokenizer.decode(ids as number[], { skip_special_tokens: true });
  // One call at a time: two interleaved decode loops would corrupt the shared cache.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(run: () => Promise<T>): Promise<T> => {
    const next = queue.then(run, run);
    queue = next.catch(() => {});
    return next;
  };
  let lastReuse: PromptReuse | null = null;

  /** Brings `cache` to exactly `ids` and returns the logits after its last token. */
  async function prefill(c: KvCache, ids: number[], signal?: AbortSignal): Promise<Float32Array> {
    if (!reuse) c.reset();
    // At least the last prompt token is run: its logits are not cached, and they give the first token.
    const keep = Math.min(c.commonPrefix(ids), ids.length - 1);
    await c.truncate(keep, signal);
    let last: Float32Array | null = null;
    await c.extend(ids.slice(keep), {
      ...(signal ? { signal } : {}),
      read: (rows) => (last = rows.data.slice((rows.count - 1) * rows.width, rows.count * rows.width)),
    });
    lastReuse = { promptTokens: ids.length, cachedTokens: keep, kvOnGpu: c.onGpu };
    return last!;
  }

  async function generate(r: StepRequest): Promise<TjsStepResult> {
    const check = () => {
      if (r.signal?.aborted) throw new AbortedError();
    };
    check();
    const prompt = renderContinuation(
      template,
      defuseControlTokens(r.problem),
      r.steps.map(defuseControlTokens),
      defuseControlTokens(r.partial ?? ''),
      o.system,
    );
    const ids = encode(tokenizer, prompt);
    let logits = await prefill(cache, ids, r.signal);
    // A regenerated step starts from this same prompt: on the GPU, roll back here without recomputing.
    cache.mark();
    const cfg: SamplingConfig = resolveSampling(r.sampling, defaults);
    const rng = samplingRng(r.sampling?.seed);
    // The last sampled token is never run, so a full context still leaves room for one more.
    const maxTokens = Math.max(1, Math.min(r.maxTokens, loaded.maxPositions - ids.length + 1));
    const steps = new StepDecoder({ decode, stopIds, maxTokens, ...(r.onText ? { onText: r.onText } : {}) });
    const logprobs: number[] = [];
    for (;;) {
      const id = sampleToken(logits, cfg, rng);
      const lp = logProbOf(logits, id);
      if (Number.isNaN(lp)) throw new ModelLoadError(brokenOutput(loaded));
      logprobs.push(lp);
      const done = steps.push(id);
      if (done)
        return {
          text: done.text,
          finish: done.finish,
          promptTokens: ids.length,
          completionTokens: done.tokens,
          confidence: minTokenProbability(logprobs.slice(0, done.textTokens)),
          logprobs,
        };
      check();
      await cache.extend([id], { read: (rows) => (logits = rows.data) });
    }
  }

  async function probe(prompt: string, candidates: readonly string[], signal?: AbortSignal): Promise<number[]> {
    if (signal?.aborted) throw new AbortedError();
    const ids = encode(tokenizer, prompt);
    const first = softmax(await prefill(probeCache, ids, signal));
    const out: number[] = [];
    for (const c of candidates) {
      const cids = encode(tokenizer, c);
      if (cids.length === 0) {
        out.push(0);
        continue;
      }
      // A candidate spelled by several tokens: the probability of the whole spelling.
      let p = first[cids[0]!] ?? 0;
      if (cids.length > 1 && p > 0) {
        await probeCache.peek(cids.slice(0, -1), (rows) => {
          for (let j = 1; j < cids.length; j++) p *= Math.exp(logProbOf(rows.data.subarray((j - 1) * rows.width, j * rows.width), cids[j]!));
        });
      }
      out.push(p);
    }
    return out;
  }

  return {
    id: o.id ?? `tjs:${loaded.label}`,
    where: 'device',
    description: `tjs:${loaded.label} (${loaded.device}, ${loaded.dtype})`,
    get lastReuse() {
      return lastReuse;
    },
    next: (r) => serial(() => generate(r)),
    nextTokenProbabilities: (prompt, candidates, signal) => serial(() => probe(prompt, candidates, signal)),
    async dispose() {
      await serial(async () => {
        cache.dispose();
        probeCache.dispose();
        await loaded.model.dispose();
      });
    },
  };
}

/** StepResult.confidence from the log-probabilities (raw logits, T = 1) of the tokens that wrote the step. */
export function minTokenProbability(logprobs: readonly number[]): number {
  let min = 0;
  for (const lp of logprobs) if (lp < min) min = lp;
  return Math.exp(min);
}

function softmax(logits: Float32Array): Float32Array {
  let max = -Infinity;
  for (const x of logits) if (x > max) max = x;
  const out = new Float32Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += out[i] = Math.exp(logits[i]! - max);
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}

function generationDefaults(loaded: TjsLoaded): SamplingConfig {
  const g = ((loaded.model as unknown as { generation_config?: Record<string, unknown> }).generation_config ?? {}) as Record<string, unknown>;
  const num = (x: unknown, d: number) => (typeof x === 'number' && Number.isFinite(x) ? x : d);
  return {
    temperature: g.do_sample === false ? 0 : num(g.temperature, NO_FILTERS.temperature),
    topP: num(g.top_p, NO_FILTERS.topP),
    topK: num(g.top_k, NO_FILTERS.topK),
  };
}

function eosIds(loaded: TjsLoaded): number[] {
  const g = (loaded.model as unknown as { generation_config?: { eos_token_id?: unknown } }).generation_config;
  const ids = [g?.eos_token_id, loaded.config.eos_token_id].flat();
  return ids.filter((x): x is number => typeof x === 'number');
}
