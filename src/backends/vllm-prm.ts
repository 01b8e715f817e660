// A process reward model behind vLLM's pooling API, as `vllm serve Qwen/Qwen2.5-Math-PRM-7B` serves it:
// the assistant turn holds the steps, each followed by the step separator; the server pools the
// token-classification head at every separator and returns one [p_negative, p_positive] pair per step.

import { ConfigError, RemoteProtocolError } from '../core/errors.ts';
import { MATH_SYSTEM_PROMPT, type ChatMessage } from '../core/prompt.ts';
import type { ScoreRequest, StepScorer, Where } from '../core/types.ts';
import { defuseControlTokens } from './control-tokens.ts';
import { endpointUrl, serverBase } from './endpoint.ts';
import { checkApiKey, httpOptions, postJson, redactError, type HttpOptions } from './http.ts';

export const QWEN_PRM_SEPARATOR = '<extra_0>';

export interface VllmPrmOptions {
  /** Server base, e.g. http://127.0.0.1:8002; requests go to {base}/pooling. */
  baseUrl: string;
  model: string;
  apiKey?: string;
  apiKeySource?: string;
  /** The token the server pools at, after every step. */
  separator?: string;
  system?: string;
  where?: Where;
  id?: string;
  http?: Partial<HttpOptions>;
}

export function vllmPrmScorer(o: VllmPrmOptions): StepScorer {
  const server = serverBase(o.baseUrl, 'PRM server');
  if (!o.model.trim()) throw new ConfigError('The PRM model name is empty; give the name the server serves.');
  const url = endpointUrl(server, '/pooling');
  const separator = o.separator ?? QWEN_PRM_SEPARATOR;
  const apiKey = o.apiKey ? checkApiKey(o.apiKey, o.apiKeySource ?? 'the settings') : undefined;
  const http = httpOptions(o.http);

  return {
    id: o.id ?? `${o.model}@${server.host}`,
    where: o.where ?? 'remote',
    async score(r: ScoreRequest): Promise<number[]> {
      if (r.steps.length === 0) return [];
      const body = JSON.stringify({ model: o.model, messages: prmMessages(r.problem, r.steps, separator, o.system) });
      try {
        const json = await postJson({ url, host: server.host, body, apiKey, purpose: 'score', signal: r.signal, beforeSend: r.beforeSend }, http);
        return stepScores(json, r.steps.length, url);
      } catch (err) {
        throw redactError(err, apiKey);
      }
    },
  };
}

/**
 * The PRM's input. A separator inside the problem or a step would be pooled as an extra step and shift
 * every score after it, so untrusted text has its control tokens defused first.
 */
export function prmMessages(problem: string, steps: readonly string[], separator: string, system = MATH_SYSTEM_PROMPT): ChatMessage[] {
  const clean = (s: string) => defuseControlTokens(s).split(separator).join('');
  return [
    { role: 'system', content: system },
    { role: 'user', content: clean(problem) },
    { role: 'assistant', content: steps.map((s) => clean(s) + separator).join('') },
  ];
}

/** p_positive per step from a pooling response, after checking its shape value by value. */
export function stepScores(json: unknown, steps: number, url: string): number[] {
  const bad = (detail: string) => new RemoteProtocolError(url, `${detail}; expected {"data": [{"data": [[p_negative, p_positive], …one per step]}]} from a step-pooling PRM`);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('the answer is not a JSON object');
  const data = (json as { data?: unknown }).data;
  if (!Array.isArray(data) || data.length === 0) throw bad('"data" is missing or empty');
  const first: unknown = data[0];
  if (typeof first !== 'object' || first === null) throw bad('"data[0]" is not an object');
  const pairs = (first as { data?: unknown }).data;
  if (typeof pairs === 'string') throw bad('the scores are base64-encoded; request float encoding');
  if (!Array.isArray(pairs)) throw bad('"data[0].data" is not a list');
  if (pairs.length !== steps)
    throw bad(`${pairs.length} step score${pairs.length === 1 ? '' : 's'} came back for ${steps} step${steps === 1 ? '' : 's'} (is the model a step-pooling PRM with this separator?)`);
  return pairs.map((p: unknown, i) => {
    if (!Array.isArray(p) || p.length !== 2) throw bad(`step ${i + 1}'s entry is ${JSON.stringify(p)?.slice(0, 40)}, not a [p_negative, p_positive] pair`);
    for (const v of p) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1)
        throw bad(`step ${i + 1} has ${JSON.stringify(v)}, not a probability in [0, 1]`);
    }
    return p[1] as number;
  });
}
