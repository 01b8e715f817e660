// Asks an OpenAI-compatible server for a tutor's hint about one flagged step of a student's solution.
// The messages come from core/check.ts (the problem, the steps before the flagged one and the flagged
// step: nothing later); this module only sends them. Chat modes go to /v1/chat/completions; `raw`
// renders the chat template here and goes to /v1/completions. Same HTTP layer as every model call:
// retries, timeouts, the beforeSend hook, the key only in the Authorization header.

import { ConfigError } from '../core/errors.ts';
import { hintMessages } from '../core/check.ts';
import { getTemplate, type ChatMessage, type ChatTemplate } from '../core/prompt.ts';
import type { BeforeSend, ContinuationMode } from '../core/types.ts';
import { defuseControlTokens } from './control-tokens.ts';
import { endpointUrl, serverBase } from './endpoint.ts';
import { checkApiKey, httpOptions, postJson, redactError, type HttpOptions } from './http.ts';
import { GenerationReader } from './openai-wire.ts';

export interface HintModelOptions {
  baseUrl: string;
  model: string;
  /** `raw` renders the template here; every other mode is a plain chat request. */
  mode?: ContinuationMode;
  apiKey?: string;
  apiKeySource?: string;
  template?: ChatTemplate | string;
  /** Longest hint, in tokens. Default 200: a hint is a sentence or two. */
  maxTokens?: number;
  temperature?: number;
  http?: Partial<HttpOptions>;
}

export interface HintRequest {
  problem: string;
  /** The student's steps; only steps[0..flagged] are sent. */
  steps: readonly string[];
  /** 0-based index of the flagged step. */
  flagged: number;
  signal?: AbortSignal;
  beforeSend?: BeforeSend;
}

export interface HintModel {
  hint(r: HintRequest): Promise<string>;
}

export function openAIHintModel(o: HintModelOptions): HintModel {
  const server = serverBase(o.baseUrl, 'strong model server');
  if (!o.model.trim()) throw new ConfigError('The strong model name is empty; give the name the server serves (GET /v1/models lists them).');
  const apiKey = o.apiKey ? checkApiKey(o.apiKey, o.apiKeySource ?? 'the settings') : undefined;
  const template = typeof o.template === 'object' ? o.template : getTemplate(o.template ?? 'qwen2.5');
  const http = httpOptions(o.http);
  const raw = o.mode === 'raw';
  const url = endpointUrl(server, raw ? '/v1/completions' : '/v1/chat/completions');

  return {
    async hint(r) {
      const messages: ChatMessage[] = hintMessages(r.problem, r.steps, r.flagged).map((m) => ({ ...m, content: defuseControlTokens(m.content) }));
      let prompt: Record<string, unknown>;
      if (raw) {
        let text = template.render(messages, { addGenerationPrompt: true });
        // The server adds BOS itself when it tokenizes a completion prompt.
        if (template.bos && text.startsWith(template.bos)) text = text.slice(template.bos.length);
        prompt = { prompt: text, stop: [...template.stopTokens] };
      } else prompt = { messages };
      const body = JSON.stringify({ model: o.model, ...prompt, max_tokens: o.maxTokens ?? 200, temperature: o.temperature ?? 0.3, stream: false });
      try {
        const json = await postJson({ url, host: server.host, body, apiKey, purpose: 'step', signal: r.signal, beforeSend: r.beforeSend }, http);
        const reader = new GenerationReader(raw ? 'completion' : 'chat', url, () => {});
        reader.whole(json);
        const text = reader.result(true).text;
        let end = text.length;
        for (const m of template.stopTokens) if (text.includes(m)) end = Math.min(end, text.indexOf(m));
        return text.slice(0, end).trim();
      } catch (err) {
        throw redactError(err, apiKey);
      }
    },
  };
}
