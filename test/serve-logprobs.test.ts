// `trim serve` answers OpenAI-format logprobs (chat `logprobs: true` + `top_logprobs`, completions
// `logprobs: N`), streamed and not, on the organism's weak model, so that the organism served as a
// remote drafter reports its confidence (StepResult.confidence) as it does on the device.

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLmLikelihoodScorer, type LmLikelihoodScorer } from '../src/backends/lm-likelihood.ts';
import { openAIStepModel } from '../src/backends/openai.ts';
import { loadTjsStepModel, type TjsStepModel } from '../src/backends/tjs-lm.ts';
import { loadTjs } from '../src/backends/tjs-runtime.ts';
import { MATH_SYSTEM_PROMPT, qwen25, renderContinuation } from '../src/core/prompt.ts';
import { createTrimServer, type TrimServer } from '../src/serve/server.ts';
import { REPO_ROOT } from './helpers/paths.ts';

const WEAK = join(REPO_ROOT, 'public/models/organism/weak');
const PROBLEM = 'Start with 5, then 1) +2 2) -2 3) -3 4) -2 5) +7 6) -7.';
const STEPS = ['1) 5+2=7'];
const prompt = renderContinuation(qwen25, PROBLEM, STEPS);
const messages = [
  { role: 'system', content: MATH_SYSTEM_PROMPT },
  { role: 'user', content: PROBLEM },
  { role: 'assistant', content: `${STEPS.join('\n\n')}\n\n` },
];
const continueFinal = { messages, continue_final_message: true, add_generation_prompt: false };

let srv: TrimServer;
let url: string;
let reference: LmLikelihoodScorer;
let device: TjsStepModel;

beforeAll(async () => {
  srv = createTrimServer({ lm: { name: 'weak', loaded: await loadTjs({ model: WEAK }, 'causal-lm') } });
  url = await srv.listen(0);
  reference = await loadLmLikelihoodScorer({ model: WEAK });
  device = await loadTjsStepModel({ model: WEAK });
});
afterAll(async () => {
  await srv?.close();
  await reference?.dispose();
  await device?.dispose();
});

async function post(path: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

async function stream(path: string, body: Record<string, unknown>): Promise<any[]> {
  const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }) });
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((b) => b.trim() && b !== 'data: [DONE]')
    .map((b) => JSON.parse(b.slice('data: '.length)));
}

const sampling = { max_tokens: 40, stop: ['\n\n'], temperature: 1.5, seed: 3 };

describe('trim serve: logprobs', () => {
  it('completions: the tokens spell the text, with their raw-logit logprobs and N alternatives each', async () => {
    const { status, json } = await post('/v1/completions', { prompt, logprobs: 3, ...sampling });
    expect(status).toBe(200);
    const c = json.choices[0];
    const lp = c.logprobs;
    expect(lp.tokens.join('')).toBe(c.text);
    expect(c.text.length).toBeGreaterThan(3);
    expect(lp.token_logprobs).toHaveLength(lp.tokens.length);
    expect(lp.text_offset).toEqual(lp.tokens.map((_: string, i: number) => lp.tokens.slice(0, i).join('').length));
    for (const [i, alts] of (lp.top_logprobs as Record<string, number>[]).entries()) {
      const values = Object.values(alts);
      expect(values.length).toBeGreaterThan(0);
      expect(values.length).toBeLessThanOrEqual(3);
      // (A JSON object's order is not kept for digit keys: the alternatives are compared as a set.)
      // The chosen token is never likelier than the likeliest alternative; listed, it has its own value.
      expect(lp.token_logprobs[i]).toBeLessThanOrEqual(Math.max(...values) + 1e-6);
      if (lp.tokens[i] in alts) expect(alts[lp.tokens[i]]).toBeCloseTo(lp.token_logprobs[i], 6);
    }
    // Independent, teacher-forced: the least likely token of this step given the same prefix.
    const [, score] = await reference.score({ problem: PROBLEM, steps: [...STEPS, c.text] });
    expect(Math.abs(Math.exp(Math.min(...lp.token_logprobs)) - score!)).toBeLessThan(1e-4);
  });

  it('completions, streamed: each chunk carries its own tokens, adding up to the plain answer', async () => {
    const plain = (await post('/v1/completions', { prompt, logprobs: 0, ...sampling })).json.choices[0];
    const chunks = await stream('/v1/completions', { prompt, logprobs: 0, ...sampling });
    const withTokens = chunks.filter((c) => c.choices[0]?.logprobs);
    expect(withTokens.length).toBeGreaterThan(1);
    expect(chunks.map((c) => c.choices[0]?.text ?? '').join('')).toBe(plain.text);
    expect(withTokens.flatMap((c) => c.choices[0].logprobs.tokens)).toEqual(plain.logprobs.tokens);
    expect(withTokens.flatMap((c) => c.choices[0].logprobs.token_logprobs)).toEqual(plain.logprobs.token_logprobs);
    expect(withTokens.flatMap((c) => c.choices[0].logprobs.text_offset)).toEqual(plain.logprobs.text_offset);
    // logprobs: 0 is the chosen tokens only.
    expect(plain.logprobs.top_logprobs.every((d: object) => Object.keys(d).length === 0)).toBe(true);
  });

  it('chat: logprobs true with top_logprobs, streamed and not, the same tokens as the raw prompt gives', async () => {
    const raw = (await post('/v1/completions', { prompt, logprobs: 0, ...sampling })).json.choices[0];
    const { json } = await post('/v1/chat/completions', { ...continueFinal, logprobs: true, top_logprobs: 2, ...sampling });
    const content = json.choices[0].logprobs.content as { token: string; logprob: number; bytes: number[]; top_logprobs: { token: string }[] }[];
    expect(json.choices[0].message.content).toBe(raw.text);
    expect(content.map((t) => t.token)).toEqual(raw.logprobs.tokens);
    expect(content.map((t) => t.logprob)).toEqual(raw.logprobs.token_logprobs);
    for (const t of content) {
      expect(t.bytes).toEqual([...new TextEncoder().encode(t.token)]);
      expect(t.top_logprobs).toHaveLength(2);
    }
    const chunks = await stream('/v1/chat/completions', { ...continueFinal, logprobs: true, ...sampling });
    const streamed = chunks.flatMap((c) => c.choices[0]?.logprobs?.content ?? []);
    expect(streamed.map((t: { token: string }) => t.token)).toEqual(raw.logprobs.tokens);
    expect(streamed.every((t: { top_logprobs: unknown[] }) => t.top_logprobs.length === 0)).toBe(true);
    // Asked for nothing: nothing.
    const none = await post('/v1/chat/completions', { ...continueFinal, ...sampling });
    expect(none.json.choices[0].logprobs).toBeNull();
  });

  it('a stop string kept in the output is in the tokens too; one cut off is not', async () => {
    const free = (await post('/v1/completions', { prompt, logprobs: 0, max_tokens: 12, temperature: 0 })).json.choices[0];
    const stop = free.text.slice(3, 5);
    const kept = (await post('/v1/completions', { prompt, logprobs: 0, max_tokens: 12, temperature: 0, stop, include_stop_str_in_output: true })).json.choices[0];
    expect(kept.text.endsWith(stop)).toBe(true);
    expect(kept.logprobs.tokens.join('')).toBe(kept.text);
    const cut = (await post('/v1/completions', { prompt, logprobs: 0, max_tokens: 12, temperature: 0, stop })).json.choices[0];
    expect(cut.logprobs.tokens.join('')).toBe(cut.text);
  });

  it('the organism served remotely reports the confidence it reports on the device, in raw and continue modes', async () => {
    const request = { problem: PROBLEM, steps: STEPS, maxTokens: 60, sampling: { temperature: 1.5, seed: 8 } };
    const local = await device.next(request);
    expect(local.confidence).toBeDefined();
    for (const mode of ['raw', 'continue'] as const) {
      const remote = await openAIStepModel({ baseUrl: url, model: 'weak', mode, logprobs: true }).next(request);
      expect(remote.text).toBe(local.text);
      expect(Math.abs(remote.confidence! - local.confidence!)).toBeLessThan(1e-4);
    }
  });
});
