// Reads the JSON bodies of the OpenAI-compatible endpoints into checked values. Every field a client
// can send is untrusted: wrong types and out-of-range values are refused with a 400 naming the field;
// features this server does not have (penalties, echo…) are refused rather than ignored, so a
// client never gets an answer computed differently from what it asked.

import type { ChatMessage } from '../core/prompt.ts';
import type { Sampling } from '../core/types.ts';
import { ApiError, badParam } from './api-error.ts';

type Json = Record<string, unknown>;

export interface GenerationParams {
  model: string | null;
  /** null: as many as the context leaves. */
  maxTokens: number | null;
  stop: string[];
  /** vLLM's extra stop tokens. */
  stopTokenIds: number[];
  /** vLLM's include_stop_str_in_output. */
  includeStop: boolean;
  /** Knobs the request set; the others come from the model folder's generation_config.json. */
  sampling: Sampling;
  n: number;
  stream: boolean;
  includeUsage: boolean;
  /** Logprobs asked for: how many most likely alternatives per token (0: the chosen token's only); null: none. */
  logprobs: number | null;
}

export interface CompletionParams extends GenerationParams {
  /** One entry per prompt: text, or token ids. */
  prompts: (string | number[])[];
}

export interface ChatParams extends GenerationParams {
  messages: ChatMessage[];
  addGenerationPrompt: boolean;
  continueFinalMessage: boolean;
}

export interface PoolingParams {
  model: string | null;
  messages: ChatMessage[];
}

const MAX_N = 16;
// vLLM's default --max-logprobs; OpenAI allows 20 alternatives in chat, 5 in completions.
const MAX_LOGPROBS = 20;
const MAX_STOPS = 16;
// Every generated token is checked against every stop string: bound the work a request can ask for.
const MAX_STOP_CHARS = 1024;

export function asObject(body: unknown): Json {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, 'The request body must be a JSON object.');
  return body as Json;
}

function optNumber(o: Json, key: string, check: { min?: number; max?: number; int?: boolean; above?: number }): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw badParam(key, `"${key}" must be a number, got ${JSON.stringify(v)?.slice(0, 40)}.`);
  if (check.int && !Number.isInteger(v)) throw badParam(key, `"${key}" must be a whole number, got ${v}.`);
  if (check.min !== undefined && v < check.min) throw badParam(key, `"${key}" must be at least ${check.min}, got ${v}.`);
  if (check.above !== undefined && v <= check.above) throw badParam(key, `"${key}" must be greater than ${check.above}, got ${v}.`);
  if (check.max !== undefined && v > check.max) throw badParam(key, `"${key}" must be at most ${check.max}, got ${v}.`);
  return v;
}

function optBool(o: Json, key: string, fallback: boolean): boolean {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw badParam(key, `"${key}" must be true or false, got ${JSON.stringify(v)?.slice(0, 40)}.`);
  return v;
}

function model(o: Json): string | null {
  const v = o.model;
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw badParam('model', '"model" must be a string: the name listed by GET /v1/models.');
  return v;
}

function stops(o: Json): string[] {
  const v = o.stop;
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string'))
    throw badParam('stop', '"stop" must be a string or a list of strings.');
  if (list.length > MAX_STOPS) throw badParam('stop', `"stop" may hold at most ${MAX_STOPS} strings, got ${list.length}.`);
  if (list.some((s) => s === '')) throw badParam('stop', '"stop" strings must not be empty.');
  if (list.some((s) => s.length > MAX_STOP_CHARS)) throw badParam('stop', `"stop" strings may be at most ${MAX_STOP_CHARS} characters long.`);
  return list as string[];
}

function stopTokenIds(o: Json): number[] {
  const v = o.stop_token_ids;
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x) && x >= 0)) throw badParam('stop_token_ids', '"stop_token_ids" must be a list of token ids.');
  return v as number[];
}

/** Fields whose non-default values would change the answer in ways this server cannot compute. */
const UNSUPPORTED: Record<string, (v: unknown) => boolean> = {
  echo: (v) => v !== false,
  best_of: (v) => v !== 1,
  presence_penalty: (v) => v !== 0,
  frequency_penalty: (v) => v !== 0,
  repetition_penalty: (v) => v !== 1,
  logit_bias: (v) => typeof v !== 'object' || (v !== null && Object.keys(v).length > 0),
  tools: (v) => !Array.isArray(v) || v.length > 0,
  response_format: (v) => (v as { type?: unknown } | null)?.type !== 'text',
  suffix: (v) => v !== '',
  min_tokens: (v) => v !== 0,
  ignore_eos: (v) => v !== false,
  use_beam_search: (v) => v !== false,
};

function refuseUnsupported(o: Json): void {
  for (const [key, differs] of Object.entries(UNSUPPORTED)) {
    if (o[key] !== undefined && o[key] !== null && differs(o[key]))
      throw badParam(key, `"${key}" is not supported by this server; leave it out.`, 'unsupported_parameter');
  }
}

/** Chat: `logprobs: true` with `top_logprobs: N` alternatives (OpenAI refuses top_logprobs alone). */
function chatLogprobs(o: Json): number | null {
  const on = optBool(o, 'logprobs', false);
  const top = optNumber(o, 'top_logprobs', { int: true, min: 0, max: MAX_LOGPROBS });
  if (!on && top !== undefined && top > 0) throw badParam('top_logprobs', '"top_logprobs" needs "logprobs": true.');
  return on ? (top ?? 0) : null;
}

/** Completions: `logprobs: N`, the chosen tokens' logprobs and N alternatives each (vLLM: 0 is the chosen only). */
function completionLogprobs(o: Json): number | null {
  if (o.top_logprobs !== undefined && o.top_logprobs !== null)
    throw badParam('top_logprobs', 'Completions take "logprobs": N (how many alternatives per token), not "top_logprobs".');
  if (typeof o.logprobs === 'boolean') throw badParam('logprobs', 'Completions take "logprobs": N, a number of alternatives per token (0 to 20), not true or false.');
  return optNumber(o, 'logprobs', { int: true, min: 0, max: MAX_LOGPROBS }) ?? null;
}

function generation(o: Json, maxTokensKeys: readonly string[], defaultMaxTokens: number | null, logprobs: number | null): GenerationParams {
  refuseUnsupported(o);
  let maxTokens: number | null = defaultMaxTokens;
  for (const key of maxTokensKeys) {
    const v = optNumber(o, key, { int: true, min: 1 });
    if (v !== undefined) maxTokens = v;
  }
  const sampling: Sampling = {};
  const temperature = optNumber(o, 'temperature', { min: 0, max: 2 });
  if (temperature !== undefined) sampling.temperature = temperature;
  const topP = optNumber(o, 'top_p', { above: 0, max: 1 });
  if (topP !== undefined) sampling.topP = topP;
  const topK = optNumber(o, 'top_k', { int: true, min: -1 });
  // vLLM: -1 (and 0) switch top-k off.
  if (topK !== undefined) sampling.topK = topK <= 0 ? 0 : topK;
  const seed = optNumber(o, 'seed', { int: true, min: -(2 ** 53), max: 2 ** 53 });
  if (seed !== undefined) sampling.seed = seed >>> 0;
  const stream = optBool(o, 'stream', false);
  const streamOptions = o.stream_options;
  if (streamOptions !== undefined && streamOptions !== null) {
    if (!stream) throw badParam('stream_options', '"stream_options" can only be given when "stream" is true.');
    if (typeof streamOptions !== 'object' || Array.isArray(streamOptions)) throw badParam('stream_options', '"stream_options" must be an object.');
  }
  const includeUsage = stream && !!streamOptions && optBool(streamOptions as Json, 'include_usage', false);
  return {
    model: model(o),
    maxTokens,
    stop: stops(o),
    stopTokenIds: stopTokenIds(o),
    includeStop: optBool(o, 'include_stop_str_in_output', false),
    sampling,
    n: optNumber(o, 'n', { int: true, min: 1, max: MAX_N }) ?? 1,
    stream,
    includeUsage,
    logprobs,
  };
}

/** POST /v1/completions. As in OpenAI's API, max_tokens defaults to 16. */
export function completionParams(body: unknown): CompletionParams {
  const o = asObject(body);
  const p = o.prompt;
  let prompts: (string | number[])[];
  const isIds = (x: unknown): x is number[] => Array.isArray(x) && x.length > 0 && x.every((t) => Number.isInteger(t) && t >= 0);
  if (typeof p === 'string') prompts = [p];
  else if (isIds(p)) prompts = [p];
  else if (Array.isArray(p) && p.length > 0 && p.every((x) => typeof x === 'string' || isIds(x))) prompts = p as (string | number[])[];
  else throw badParam('prompt', '"prompt" is required: a string, a list of strings, or token ids.', p === undefined ? 'missing_required_parameter' : 'invalid_value');
  if (prompts.some((x) => x.length === 0)) throw badParam('prompt', '"prompt" must not be empty.');
  if (prompts.length > MAX_N) throw badParam('prompt', `At most ${MAX_N} prompts per request.`);
  return { ...generation(o, ['max_tokens'], 16, completionLogprobs(o)), prompts };
}

function text(content: unknown, where: string): string {
  if (typeof content === 'string') return content;
  // OpenAI's content parts: only text parts make sense for these models.
  if (Array.isArray(content) && content.every((c) => typeof c === 'object' && c !== null && (c as Json).type === 'text' && typeof (c as Json).text === 'string'))
    return content.map((c) => (c as { text: string }).text).join('');
  throw badParam(where, `${where}.content must be a string or a list of {"type": "text", "text": …} parts.`);
}

const ROLES = new Set(['system', 'user', 'assistant', 'developer']);

export function messages(o: Json): ChatMessage[] {
  const m = o.messages;
  if (!Array.isArray(m) || m.length === 0)
    throw badParam('messages', '"messages" is required: a non-empty list of {"role", "content"}.', m === undefined ? 'missing_required_parameter' : 'invalid_value');
  return m.map((x, i): ChatMessage => {
    const where = `messages[${i}]`;
    if (typeof x !== 'object' || x === null) throw badParam(where, `${where} must be an object with "role" and "content".`);
    const role = (x as Json).role;
    if (typeof role !== 'string' || !ROLES.has(role)) throw badParam(`${where}.role`, `${where}.role must be system, user or assistant.`);
    return { role: role === 'developer' ? 'system' : (role as ChatMessage['role']), content: text((x as Json).content, where) };
  });
}

/** POST /v1/chat/completions, with vLLM's add_generation_prompt and continue_final_message. */
export function chatParams(body: unknown): ChatParams {
  const o = asObject(body);
  const msgs = messages(o);
  const continueFinalMessage = optBool(o, 'continue_final_message', false);
  const addGenerationPrompt = optBool(o, 'add_generation_prompt', !continueFinalMessage);
  if (continueFinalMessage && addGenerationPrompt)
    throw badParam('add_generation_prompt', 'Cannot set both "continue_final_message" and "add_generation_prompt" to true.');
  if (continueFinalMessage && msgs[msgs.length - 1]!.role !== 'assistant')
    throw badParam('continue_final_message', '"continue_final_message" needs the last message to be the assistant\'s.');
  return { ...generation(o, ['max_tokens', 'max_completion_tokens'], null, chatLogprobs(o)), messages: msgs, addGenerationPrompt, continueFinalMessage };
}

/** POST /pooling: vLLM's chat form, the steps in the assistant turn. */
export function poolingParams(body: unknown): PoolingParams {
  const o = asObject(body);
  if (o.messages === undefined && o.input !== undefined)
    throw badParam('input', 'This PRM server takes "messages" (system, user = the problem, assistant = steps each followed by the separator), not "input".');
  if (o.encoding_format !== undefined && o.encoding_format !== null && o.encoding_format !== 'float')
    throw badParam('encoding_format', 'Only "float" encoding is supported.');
  return { model: model(o), messages: messages(o) };
}
