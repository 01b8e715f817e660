// "LM-likelihood" checker: a language model that solves the task reliably reads the student's steps and
// the score of a step is the probability of its least likely token given the problem and the steps before
// it. A step the model would have written gets a score near 1; a slip (a wrong result, another operation,
// an operand or input copied wrongly) puts a token the model did not expect exactly where the slip is.
// It is a generative verifier, not a trained PRM: nothing is trained, and it only knows what the model
// knows (it checks steps against the model's own way of writing them).
//
// Token layout: the model's own continuation prompt (chat template, system prompt, user = problem, open
// assistant turn), then per step encode(step) + encode(STEP_DELIMITER), each piece tokenized on its own,
// so one tokenization serves every prefix and the KV cache follows the steps as in the PRM backend.

import { AbortedError, ModelLoadError } from '../core/errors.ts';
import { getTemplate, renderContinuation, type ChatTemplate } from '../core/prompt.ts';
import { STEP_DELIMITER } from '../core/steps.ts';
import type { ScoreRequest, StepScorer } from '../core/types.ts';
import { defuseControlTokens } from './control-tokens.ts';
import { KvCache, type Forwarder, type Rows } from './kv-cache.ts';
import { logProbOf } from './sampler.ts';
import type { TjsModelOptions } from './tjs-options.ts';
import { brokenOutput, encode, loadTjs, type TjsLoaded } from './tjs-runtime.ts';
import { serialQueue } from './serial-queue.ts';

export interface LmLikelihoodOptions extends TjsModelOptions {
  /** Chat template id or object; default by the folder's model_type (qwen2 → qwen2.5, llama → llama3). */
  template?: ChatTemplate | string;
  /** System prompt; the reference math prompt by default (the one the model was trained with). */
  system?: string;
  /** Prompt tokens per forward call (bounds the logits buffer: tokens × vocabulary). Default 256. */
  chunk?: number;
  /**
   * The loaded model also serves someone else (the strong step model in the same worker): dispose()
   * then frees only this checker's cache, and the owner disposes the model.
   */
  sharedModel?: boolean;
  id?: string;
}

export interface LmLikelihoodScorer extends StepScorer {
  /** "lm-likelihood:<folder> (cpu, fp32)". */
  readonly description: string;
  /** Tokens of the last call's input and how many came from the cache. */
  readonly lastReuse: { tokens: number; cachedTokens: number; kvOnGpu: boolean } | null;
  dispose(): Promise<void>;
}

const TEMPLATE_BY_MODEL_TYPE: Record<string, string> = { qwen2: 'qwen2.5', llama: 'llama3' };

/**
 * A step's score from its tokens' log-probabilities: the probability of the least likely token. The
 * minimum, not the mean, because a slip is one token (one digit) in an otherwise predictable step.
 */
export function stepLikelihood(logprobs: readonly number[]): number {
  if (logprobs.length === 0) return 1;
  return Math.exp(Math.min(...logprobs));
}

export async function loadLmLikelihoodScorer(o: LmLikelihoodOptions): Promise<LmLikelihoodScorer> {
  const loaded = await loadTjs(o);
  return lmLikelihoodScorer(loaded, o);
}

/** A checker over an already loaded language-model folder (head lm). */
export function lmLikelihoodScorer(loaded: TjsLoaded, o: Omit<LmLikelihoodOptions, keyof TjsModelOptions> = {}): LmLikelihoodScorer {
  const { tokenizer, config } = loaded;
  const template =
    typeof o.template === 'object' ? o.template : getTemplate(o.template ?? TEMPLATE_BY_MODEL_TYPE[String(config.model_type)] ?? 'qwen2.5');
  const model = loaded.model as unknown as Forwarder;
  const cache = new KvCache(model, { maxPositions: loaded.maxPositions, chunk: o.chunk ?? 256 });
  const delimiterIds = encode(tokenizer, STEP_DELIMITER);
  /** logprobs[p]: log p(token at p | tokens before p), for cached positions p ≥ 1 whose next token was known. */
  let logprobs: number[] = [];
  /** The logits row of the last cached token: it predicts the next step's first token. */
  let tail: Float32Array | null = null;
  let lastReuse: LmLikelihoodScorer['lastReuse'] = null;
  const calls = serialQueue();

  /** Tokens of the whole input and each step's [start, end) span. */
  function layoutTokens(r: ScoreRequest): { ids: number[]; spans: [number, number][]; lastStart: number } {
    const ids = encode(tokenizer, renderContinuation(template, defuseControlTokens(r.problem), [], '', o.system));
    const spans: [number, number][] = [];
    let lastStart = ids.length;
    for (const [i, step] of r.steps.entries()) {
      if (i > 0) ids.push(...delimiterIds);
      lastStart = ids.length;
      ids.push(...encode(tokenizer, defuseControlTokens(step)));
      spans.push([lastStart, ids.length]);
    }
    return { ids, spans, lastStart };
  }

  async function score(r: ScoreRequest): Promise<number[]> {
    if (r.signal?.aborted) throw new AbortedError();
    if (r.steps.length === 0) return [];
    const { ids, spans, lastStart } = layoutTokens(r);
    const feed = r.signal ? { signal: r.signal } : {};
    // Log-probabilities up to the first changed token stay valid. The first new token is predicted by
    // the row of the token before it: kept in `tail` when the cache ends there (the next step on top),
    // otherwise that one token runs again.
    const common = cache.commonPrefix(ids);
    const onTop = tail !== null && common === cache.length && common > 0 && common < ids.length;
    const keep = onTop ? common : Math.max(0, common - 1);
    await cache.truncate(keep, r.signal);
    logprobs.length = common;
    if (onTop) logprobs[common] = logProbOf(tail!, ids[common]!);
    tail = null;
    const read = (rows: Rows, first: number) => {
      for (let j = 0; j < rows.count; j++) {
        const next = ids[first + j + 1];
        if (next !== undefined) logprobs[first + j + 1] = logProbOf(rows.data.subarray(j * rows.width, (j + 1) * rows.width), next);
      }
      tail = rows.data.slice((rows.count - 1) * rows.width, rows.count * rows.width);
    };
    if (cache.length < lastStart) await cache.extend(ids.slice(cache.length, lastStart), { ...feed, read });
    // Where the last step starts: an edited last step rolls the (GPU) cache back to here.
    if (cache.length === lastStart) cache.mark();
    await cache.extend(ids.slice(cache.length), { ...feed, read });
    lastReuse = { tokens: ids.length, cachedTokens: keep, kvOnGpu: cache.onGpu };
    const scores = spans.map(([a, b]) => stepLikelihood(logprobs.slice(a, b)));
    if (scores.some(Number.isNaN)) throw new ModelLoadError(brokenOutput(loaded));
    return scores;
  }

  return {
    id: o.id ?? `lm-likelihood:${loaded.label}`,
    where: 'device',
    description: `lm-likelihood:${loaded.label} (${loaded.device}, ${loaded.dtype})`,
    get lastReuse() {
      return lastReuse;
    },
    score(r) {
      // One call at a time: the cache is shared state.
      return calls.run(() => score(r));
    },
    async dispose() {
      await calls.idle();
      cache.dispose();
      logprobs = [];
      tail = null;
      if (!o.sharedModel) await loaded.model.dispose();
    },
  };
}
