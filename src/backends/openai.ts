// A step model over any OpenAI-compatible server (vLLM, SGLang, TGI, llama.cpp, OpenAI, DeepSeek…).
// One request per step: stream until the step delimiter, count tokens from the server's usage report.

import { ConfigError, RemoteHttpError } from '../core/errors.ts';
import { getTemplate, type ChatTemplate } from '../core/prompt.ts';
import { STEP_DELIMITER } from '../core/steps.ts';
import type { ContinuationMode, Sampling, StepFinish, StepModel, StepRequest, StepResult, Where } from '../core/types.ts';
import { continuationSpec, type ContinuationInput, type TextFilter } from './continuation.ts';
import { defuseControlTokens } from './control-tokens.ts';
import { endpointUrl, serverBase } from './endpoint.ts';
import { checkApiKey, httpOptions, postEventStream, redactError, type HttpOptions } from './http.ts';
import { GenerationReader, type Generation, type WireToken } from './openai-wire.ts';

export interface OpenAIStepModelOptions {
  /** Server base, e.g. http://127.0.0.1:8000 (a trailing "/" or "/v1" is fine). */
  baseUrl: string;
  model: string;
  /** How the prefix is continued; see continuation.ts. Default 'continue'. */
  mode?: ContinuationMode;
  /** Sent only as "Authorization: Bearer …" to baseUrl. */
  apiKey?: string;
  /** Where the key came from, for error messages that must not show the key itself. */
  apiKeySource?: string;
  /** Chat template for 'raw' mode (rendered here), and whose end tokens mark the end of a turn. */
  template?: ChatTemplate | string;
  /** System prompt; the reference math prompt by default. */
  system?: string;
  /** top_k is not part of OpenAI's API (OpenAI rejects it); vLLM, SGLang and llama.cpp accept it. */
  sendTopK?: boolean;
  /**
   * Ask for the generated tokens' log-probabilities and report StepResult.confidence (off by default:
   * the flags turn it on for the weak, drafting role, whose confidence a policy may read). Chat sends
   * `logprobs: true`, completions `logprobs: 1`. What the numbers mean is the server's convention:
   * vLLM ≥ 0.10 (V1) returns the model's raw log-probabilities, before temperature, penalties and
   * top-k/top-p (`--logprobs-mode raw_logprobs`, its default; `processed_logprobs` would report the
   * tempered distribution instead), which is StepResult.confidence's definition; OpenAI documents only
   * "the log probability of this token". A server that ignores the field gives no confidence; one that
   * rejects it (HTTP 400 naming logprobs) is asked again without, and never again by this client.
   */
  logprobs?: boolean;
  /** 'remote' unless the server runs on this machine; solve() shows remote requests to beforeSend. */
  where?: Where;
  id?: string;
  http?: Partial<HttpOptions>;
}

export function openAIStepModel(o: OpenAIStepModelOptions): StepModel {
  const server = serverBase(o.baseUrl, 'model server');
  if (!o.model.trim()) throw new ConfigError('The model name is empty; give the name the server serves (GET /v1/models lists them).');
  const mode = continuationSpec(o.mode ?? 'continue');
  const template = typeof o.template === 'string' ? getTemplate(o.template) : (o.template ?? getTemplate('qwen2.5'));
  const apiKey = o.apiKey ? checkApiKey(o.apiKey, o.apiKeySource ?? 'the settings') : undefined;
  const http = httpOptions(o.http);
  // Set once the server refused logprobs: every later request goes without them.
  let logprobsRefused = false;
  const wantsLogprobs = () => (o.logprobs ?? false) && !logprobsRefused;
  // One builder for the request next() sends and the size requestChars() reports, so they agree exactly.
  const request = (r: StepRequest, logprobs = wantsLogprobs()) => {
    const input: ContinuationInput = {
      problem: defuseControlTokens(r.problem),
      steps: r.steps.map(defuseControlTokens),
      partial: defuseControlTokens(r.partial ?? ''),
      template,
      ...(o.system !== undefined ? { system: o.system } : {}),
    };
    const req = mode.request(input);
    const url = endpointUrl(server, req.path);
    const body = JSON.stringify({
      model: o.model,
      ...req.fields,
      max_tokens: r.maxTokens,
      stop: [STEP_DELIMITER],
      stream: true,
      stream_options: { include_usage: true },
      ...samplingFields(r.sampling, o.sendTopK ?? false),
      ...(logprobs ? { logprobs: req.wire === 'chat' ? true : 1 } : {}),
    });
    return { input, req, url, body };
  };

  return {
    id: o.id ?? `${o.model}@${server.host}`,
    where: o.where ?? 'remote',
    requestChars: (r: StepRequest) => request(r).body.length,
    async next(r: StepRequest): Promise<StepResult> {
      // Whether THIS request asks: concurrent requests sent before a refusal came back retry too.
      const asked = wantsLogprobs();
      try {
        return await generate(r, asked);
      } catch (err) {
        if (!asked || !refusesLogprobs(err)) throw err;
        logprobsRefused = true;
        return generate(r, false);
      }
    },
  };

  async function generate(r: StepRequest, logprobs: boolean): Promise<StepResult> {
    const { input, req, url, body } = request(r, logprobs);

    // An end-of-turn token in the text means the server returns special tokens: the turn is over.
    const text = new StepText(template.stopTokens, mode.filter?.(input), r.onText);
    const reader = new GenerationReader(req.wire, url, (d) => text.add(d));
    let gen: Generation;
    try {
      const outcome = await postEventStream(
        { url, host: server.host, body, apiKey, purpose: 'step', signal: r.signal, beforeSend: r.beforeSend },
        http,
        (data) => reader.event(data),
      );
      if (outcome.kind === 'json') reader.whole(outcome.value);
      gen = reader.result(outcome.kind === 'json' || outcome.done);
    } catch (err) {
      throw redactError(err, apiKey);
    }
    const view = text.finish();
    const finish = stepFinish(gen, view);
    const usage = gen.usage ?? estimateUsage(req.promptChars, gen.text);
    const confidence = gen.tokens && view.start !== null ? spanConfidence(gen.tokens, view.start, view.start + view.text.length) : undefined;
    return {
      text: view.text,
      finish,
      promptTokens: usage.promptTokens,
      completionTokens: usage.completionTokens,
      ...(gen.usage ? {} : { estimated: true }),
      continuation: mode.id,
      ...(confidence !== undefined ? { confidence } : {}),
    };
  }
}

/** A refusal of the `logprobs` field itself (vLLM/FastAPI validation: 400 or 422 naming it). */
function refusesLogprobs(err: unknown): boolean {
  return err instanceof RemoteHttpError && (err.status === 400 || err.status === 422) && /logprob/i.test(err.message);
}

/**
 * StepResult.confidence from the generation's tokens: the least probable token whose text lies in the
 * step, [start, end) of the generated text (a token only of the delimiter, of an echo the filter
 * removed, or of an end-of-turn marker does not count). A character split over tokens counts from
 * its first byte's token on.
 */
export function spanConfidence(tokens: readonly WireToken[], start: number, end: number): number {
  let min = 0;
  for (const t of tokens) {
    const inside = t.start < end && (t.end > start || (t.end === t.start && t.start >= start));
    if (inside && t.logprob < min) min = t.logprob;
  }
  return Math.exp(min);
}

function samplingFields(s: Sampling | undefined, sendTopK: boolean): Record<string, number> {
  const out: Record<string, number> = {};
  if (s?.temperature !== undefined) out.temperature = s.temperature;
  if (s?.topP !== undefined) out.top_p = s.topP;
  if (s?.topK !== undefined && sendTopK) out.top_k = s.topK;
  if (s?.seed !== undefined) out.seed = s.seed;
  return out;
}

interface TextView {
  text: string;
  /** Where `text` starts in the generated text (after a filter removed an echo), null if it cannot be told. */
  start: number | null;
  /** The delimiter appeared in the text (servers that return the stop string, or ignore `stop`). */
  cut: boolean;
  /** An end-of-turn token appeared in the text (servers that return special tokens). */
  ended: boolean;
}

/** The step as it streams: cut at the delimiter, filtered, and reported to onText without ever retracting. */
class StepText {
  private raw = '';
  private shown = '';

  constructor(
    private readonly endMarkers: readonly string[],
    private readonly filter: TextFilter | undefined,
    private readonly onText: ((delta: string) => void) | undefined,
  ) {}

  add(delta: string): void {
    this.raw += delta;
    this.show(this.view(false).text);
  }

  finish(): TextView {
    const v = this.view(true);
    this.show(v.text);
    return v;
  }

  private view(final: boolean): TextView {
    let raw = this.raw;
    let start: number | null = 0;
    if (this.filter) {
      const f = this.filter(raw, final);
      if (f.pending) return { text: this.shown, start: null, cut: false, ended: false };
      // The filters remove a leading echo: what is left is the generation's tail.
      start = f.text === '' ? raw.length : raw.endsWith(f.text) ? raw.length - f.text.length : null;
      raw = f.text;
    }
    let end = raw.indexOf(STEP_DELIMITER);
    let cut = end >= 0;
    let ended = false;
    for (const m of this.endMarkers) {
      const i = raw.indexOf(m);
      if (i >= 0 && (end < 0 || i < end)) {
        end = i;
        ended = true;
        cut = false;
      }
    }
    let text = end >= 0 ? raw.slice(0, end) : raw;
    // A delimiter may be arriving split across chunks: hold back a trailing "\n" until it is settled.
    if (!final && end < 0 && text.endsWith('\n')) text = text.slice(0, -1);
    return { text, start, cut, ended };
  }

  private show(text: string): void {
    if (text.length > this.shown.length && text.startsWith(this.shown)) {
      const delta = text.slice(this.shown.length);
      this.shown = text;
      this.onText?.(delta);
    }
  }
}

/**
 * Maps the server's finish to a step finish. "length" is the token cap. "stop" is ambiguous in the
 * OpenAI API: the "\n\n" stop string and the end-of-sequence token both report it. Where the server
 * says which (vLLM's stop_reason, SGLang's matched_stop: the matched string, or null / a token id at
 * end of sequence) that decides, as do TGI's "stop_sequence" / "eos_token". Otherwise an empty generation is taken as end of sequence (a model
 * that has finished stops at once) and anything else as a step: if the model had in fact ended, the
 * next call returns nothing and the solution ends there, one cheap call later, whereas mistaking a
 * step for the end would cut the solution short.
 */
export function stepFinish(g: Generation, v: TextView): StepFinish {
  if (v.cut) return 'step';
  if (v.ended) return 'end';
  if (g.finishReason === 'length') return 'length';
  // TGI names the two stops itself; the only stop sequence sent is the delimiter.
  if (g.finishReason === 'stop_sequence') return 'step';
  if (g.finishReason !== 'stop' && g.finishReason !== null) return 'end';
  if (g.stopReason !== undefined) return g.stopReason === STEP_DELIMITER ? 'step' : 'end';
  return g.text.trim() === '' ? 'end' : 'step';
}

/** About four characters per token, plus the stop token: only used when a server reports no usage. */
export function estimateUsage(promptChars: number, generated: string): { promptTokens: number; completionTokens: number } {
  return { promptTokens: Math.ceil(promptChars / 4), completionTokens: Math.ceil(generated.length / 4) + 1 };
}
