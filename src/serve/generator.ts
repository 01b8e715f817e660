// Text generation for the server: a raw prompt in, text out, with the OpenAI/vLLM stopping rules (stop
// strings on decoded text, stop token ids, end of sequence, max_tokens). It drives the same pieces the
// project's transformers.js step model uses (KV cache, seeded sampler) on an arbitrary prompt instead
// of "problem + steps". The KV cache outlives requests: a client continuing its own text (the next
// step of a solution) only pays for the new tokens.

import { AbortedError } from '../core/errors.ts';
import { KvCache, type Forwarder } from '../backends/kv-cache.ts';
import { logProbOf, resolveSampling, sampleToken, samplingRng, type SamplingConfig } from '../backends/sampler.ts';
import { encode, type TjsLoaded } from '../backends/tjs-runtime.ts';
import type { Sampling } from '../core/types.ts';
import { ApiError } from './api-error.ts';
import { StopMatcher } from './stops.ts';

export type FinishReason = 'stop' | 'length';

export interface GenerateRequest {
  prompt: string | readonly number[];
  /** null: up to the end of the context. */
  maxTokens: number | null;
  stop: readonly string[];
  stopTokenIds: readonly number[];
  includeStop: boolean;
  sampling: Sampling;
  /**
   * Report each output token's log-probability with this many most likely alternatives (0: none);
   * null or absent: no logprobs.
   */
  logprobs?: number | null;
  signal?: AbortSignal;
  /**
   * Text that can no longer change, as it is produced, with the logprobs (when asked) of the tokens
   * whose whole text has now been reported (a token still growing, or that may be cut, waits).
   */
  onText?: (delta: string, tokens: readonly TokenLogprob[]) => void;
}

/**
 * One output token as OpenAI's logprobs describe it. `logprob` is under the model's untempered
 * distribution (softmax of the raw logits, what vLLM ≥ 0.10 reports by default), whatever the request's
 * temperature, top-k or top-p. `token` is the token's part of the returned text: the tokens of a
 * result spell its text exactly. A character split over tokens belongs to the token that completes it
 * (the others have ""), and the token that ran into a stop string keeps only its text before it;
 * tokens with no text in the result (only the stop string, end of sequence) are not reported.
 */
export interface TokenLogprob {
  token: string;
  logprob: number;
  /** The most likely tokens at this position, each decoded alone, most likely first. */
  top: { token: string; logprob: number }[];
}

export interface GenerateResult {
  text: string;
  finishReason: FinishReason;
  /** vLLM's stop_reason: the stop string or stop token id that ended the text; null for EOS or length. */
  stopReason: string | number | null;
  promptTokens: number;
  /** Every sampled token, the one that stopped the text included. */
  completionTokens: number;
  /** When asked for (GenerateRequest.logprobs): every token of `text`, in order. */
  tokens?: TokenLogprob[];
}

export interface Generator {
  readonly maxModelLen: number;
  readonly vocabSize: number;
  /** Tokens of a text prompt (no BOS/EOS added: chat prompts are rendered in full). */
  tokenize(text: string): number[];
  /** Checks the request against the context and returns the tokens it will run (synchronous: a 400 comes before queueing). */
  plan(r: GenerateRequest): { ids: number[]; maxTokens: number };
  generate(r: GenerateRequest, planned?: { ids: number[]; maxTokens: number }): Promise<GenerateResult>;
  dispose(): Promise<void>;
}

function generationConfig(loaded: TjsLoaded): Record<string, unknown> {
  return ((loaded.model as unknown as { generation_config?: Record<string, unknown> }).generation_config ?? {}) as Record<string, unknown>;
}

/** The folder's default sampling (vLLM serves generation_config.json's values when a request omits them). */
function defaults(loaded: TjsLoaded): SamplingConfig {
  const g = generationConfig(loaded);
  const num = (x: unknown, d: number) => (typeof x === 'number' && Number.isFinite(x) ? x : d);
  return { temperature: g.do_sample === false ? 0 : num(g.temperature, 1), topP: num(g.top_p, 1), topK: num(g.top_k, 0) };
}

function eosIds(loaded: TjsLoaded): Set<number> {
  const ids = [generationConfig(loaded).eos_token_id, loaded.config.eos_token_id].flat();
  return new Set(ids.filter((x): x is number => typeof x === 'number'));
}

export function textGenerator(loaded: TjsLoaded): Generator {
  const { tokenizer } = loaded;
  const model = loaded.model as unknown as Forwarder;
  const maxModelLen = loaded.maxPositions;
  const vocabSize = Number(loaded.config.vocab_size) || Number.MAX_SAFE_INTEGER;
  const cache = new KvCache(model, { maxPositions: maxModelLen, chunk: 256 });
  const base = defaults(loaded);
  const eos = eosIds(loaded);
  const decode = (ids: readonly number[]) => tokenizer.decode(ids as number[], { skip_special_tokens: true });

  function plan(r: GenerateRequest): { ids: number[]; maxTokens: number } {
    const ids = typeof r.prompt === 'string' ? encode(tokenizer, r.prompt) : [...r.prompt];
    if (ids.length === 0) throw new ApiError(400, 'The prompt is empty after tokenization.', 'invalid_request_error', 'prompt');
    const bad = ids.find((t) => t >= vocabSize);
    if (bad !== undefined) throw new ApiError(400, `Token id ${bad} is outside the vocabulary (size ${vocabSize}).`, 'invalid_request_error', 'prompt');
    const room = maxModelLen - ids.length;
    const maxTokens = r.maxTokens ?? room;
    // vLLM's rule and message: the prompt and the completion must both fit in the context.
    if (room < 1 || ids.length + maxTokens > maxModelLen)
      throw new ApiError(
        400,
        `This model's maximum context length is ${maxModelLen} tokens. However, you requested ${ids.length + maxTokens} tokens (${ids.length} in the prompt, ${maxTokens} in the completion). Please reduce the length of the prompt or completion.`,
        'invalid_request_error',
        r.maxTokens === null ? 'prompt' : 'max_tokens',
        'context_length_exceeded',
      );
    return { ids, maxTokens };
  }

  async function generate(r: GenerateRequest, planned = plan(r)): Promise<GenerateResult> {
    const { ids, maxTokens } = planned;
    const check = () => {
      if (r.signal?.aborted) throw new AbortedError();
    };
    check();
    // At least the last prompt token runs: its logits give the first new token.
    const keep = Math.min(cache.commonPrefix(ids), ids.length - 1);
    await cache.truncate(keep, r.signal);
    let logits: Float32Array = new Float32Array(0);
    await cache.extend(ids.slice(keep), {
      ...(r.signal ? { signal: r.signal } : {}),
      read: (rows) => (logits = rows.data.slice((rows.count - 1) * rows.width, rows.count * rows.width)),
    });
    const cfg = resolveSampling(r.sampling, base);
    const rng = samplingRng(r.sampling.seed);
    const stops = new StopMatcher(r.stop, r.includeStop);
    const stopIds = new Set(r.stopTokenIds);
    const out: number[] = [];
    const top = r.logprobs ?? null;
    // With logprobs: each sampled token's log-probability and alternatives, and the [start, end) of
    // its text in the decoded output (settled: a trailing half character is not text yet).
    const sampled: { logprob: number; top: TokenLogprob['top']; start: number; end: number }[] = [];
    let settledChars = 0;
    const reported: TokenLogprob[] = [];
    let shown = 0;
    /** Reports text up to `upTo` and the tokens whose text lies inside it; `final`: the output is `text`. */
    const show = (text: string, upTo: number, final: boolean) => {
      const tokens: TokenLogprob[] = [];
      if (top !== null) {
        for (let i = reported.length; i < sampled.length; i++) {
          const t = sampled[i]!;
          if (final ? t.start >= text.length : t.end > upTo) break;
          tokens.push({ token: text.slice(t.start, Math.min(t.end, text.length)), logprob: t.logprob, top: t.top });
        }
        reported.push(...tokens);
      }
      if (upTo > shown || tokens.length > 0) r.onText?.(text.slice(shown, Math.max(shown, upTo)), tokens);
      shown = Math.max(shown, upTo);
    };
    const result = (text: string, finishReason: FinishReason, stopReason: string | number | null): GenerateResult => {
      show(text, text.length, true);
      return { text, finishReason, stopReason, promptTokens: ids.length, completionTokens: out.length, ...(top !== null ? { tokens: reported } : {}) };
    };
    for (;;) {
      const id = sampleToken(logits, cfg, rng);
      out.push(id);
      if (top !== null) sampled.push({ logprob: logProbOf(logits, id), top: topTokens(logits, top), start: settledChars, end: settledChars });
      if (stopIds.has(id)) {
        const text = decode(r.includeStop ? out : out.slice(0, -1));
        // A stop token kept in the output is a token of its text.
        if (top !== null && r.includeStop) sampled[sampled.length - 1]!.end = settledLength(text);
        return result(text, 'stop', id);
      }
      if (eos.has(id)) return result(decode(out.slice(0, -1)), 'stop', null);
      const text = decode(out);
      if (top !== null) sampled[sampled.length - 1]!.end = settledChars = settledLength(text);
      const hit = stops.find(text);
      if (hit) return result(hit.text, 'stop', hit.stop);
      if (out.length >= maxTokens) return result(text, 'length', null);
      show(text, stops.stableLength(text), false);
      check();
      await cache.extend([id], { read: (rows) => (logits = rows.data) });
    }
  }

  /** The k most likely tokens under the raw logits, each decoded alone. */
  function topTokens(logits: Float32Array, k: number): TokenLogprob['top'] {
    if (k === 0) return [];
    let max = -Infinity;
    for (const x of logits) if (x > max) max = x;
    let sum = 0;
    for (const x of logits) sum += Math.exp(x - max);
    const lse = max + Math.log(sum);
    // One pass keeping the k best in order: k is at most 20.
    const best: number[] = [];
    for (let i = 0; i < logits.length; i++) {
      if (best.length === k && logits[i]! <= logits[best[k - 1]!]!) continue;
      let j = best.length === k ? k - 1 : best.length;
      while (j > 0 && logits[best[j - 1]!]! < logits[i]!) j--;
      best.splice(j, 0, i);
      if (best.length > k) best.pop();
    }
    return best.map((i) => ({ token: tokenizer.decode([i], { skip_special_tokens: false }), logprob: logits[i]! - lse }));
  }

  return {
    maxModelLen,
    vocabSize,
    tokenize: (text) => encode(tokenizer, text),
    plan,
    generate,
    async dispose() {
      cache.dispose();
      await loaded.model.dispose();
    },
  };
}

/** A byte-level tokenizer decodes half a UTF-8 character as U+FFFD until the rest of it arrives. */
function settledLength(text: string): number {
  let end = text.length;
  while (end > 0 && text[end - 1] === '\uFFFD') end--;
  return end;
}
