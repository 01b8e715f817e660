// `trim serve` against the OpenAI/vLLM wire format, with real ONNX models run by transformers.js: a
// random-weight language model (its greedy text is checked against the builder's independent forward
// pass) and a random value-head PRM. The project's own clients (OpenAI step model, vLLM PRM scorer)
// talk to it as they would to the real services.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAIStepModel } from '../src/backends/openai.ts';
import { tjsPrm, type TjsPrm } from '../src/backends/tjs-prm.ts';
import { loadTjs, type TjsLoaded } from '../src/backends/tjs-runtime.ts';
import { vllmPrmScorer } from '../src/backends/vllm-prm.ts';
import { MATH_SYSTEM_PROMPT, qwen25, renderContinuation } from '../src/core/prompt.ts';
import { effectiveWeights } from '../src/onnx/precision.ts';
import { referenceForward } from '../src/onnx/reference.ts';
import { accessRules } from '../src/serve/access.ts';
import { promptBound, type PromptBound } from '../src/serve/prompt-bound.ts';
import { createTrimServer, type TrimServer } from '../src/serve/server.ts';
import { StopMatcher } from '../src/serve/stops.ts';
import { tinyModel, type Fixture } from './helpers/fixtures.ts';
import { REPO_ROOT } from './helpers/paths.ts';

const PROBLEM = 'Start with 3. 1) add 4; 2) subtract 5. What is the result?';
const STEPS = ['1) 3 + 4 = 7'];

let lmFx: Fixture;
let lm: TjsLoaded;
let prm: TjsPrm;
let prmBound: PromptBound;
let srv: TrimServer;
let url: string;

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

/** The "data:" payloads of an SSE response, [DONE] included as a string. */
async function events(path: string, body: unknown): Promise<{ status: number; type: string | null; data: any[] }> {
  const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  const data = text
    .split('\n\n')
    .filter((b) => b.trim())
    .map((b) => {
      expect(b.startsWith('data: ')).toBe(true);
      const payload = b.slice('data: '.length);
      return payload === '[DONE]' ? payload : JSON.parse(payload);
    });
  return { status: res.status, type: res.headers.get('content-type'), data };
}

/** Greedy continuation by the builder's plain-TypeScript forward pass: no ONNX Runtime, no cache. */
async function referenceGreedy(prompt: string, maxTokens: number): Promise<number[]> {
  const w = await effectiveWeights(lmFx.spec, lmFx.weights, 'fp32');
  const ids = lm.tokenizer.encode(prompt, { add_special_tokens: false });
  const out: number[] = [];
  for (let i = 0; i < maxTokens; i++) {
    const ref = referenceForward(lmFx.spec, w, { inputIds: [[...ids, ...out]] });
    const last = ref.logits.subarray((ref.logits.length / ref.width - 1) * ref.width);
    let best = 0;
    for (let j = 1; j < last.length; j++) if (last[j]! > last[best]!) best = j;
    if (best === 258) break;
    out.push(best);
  }
  return out;
}

beforeAll(async () => {
  lmFx = await tinyModel({ head: 'lm', seed: 11 });
  const prmFx = await tinyModel({ head: 'value', seed: 12 });
  lm = await loadTjs({ model: lmFx.dir }, 'causal-lm');
  const prmLoaded = await loadTjs({ model: prmFx.dir });
  prm = await tjsPrm(prmLoaded);
  prmBound = promptBound(prmLoaded.tokenizer, prmLoaded.maxPositions);
  srv = createTrimServer({ lm: { name: 'tiny-lm', loaded: lm }, prm: { name: 'tiny-prm', scorer: prm, separator: '<extra_0>', bound: prmBound } });
  url = await srv.listen(0);
});

afterAll(async () => {
  await srv?.close();
});

describe('stop strings', () => {
  it('cut at the earliest stop (the longest of those starting there), keeping it only when asked', () => {
    const m = new StopMatcher(['\n\n', 'END', 'ENDING']);
    expect(m.find('a\n\nb END')).toEqual({ text: 'a', stop: '\n\n' });
    expect(m.find('x ENDING')).toEqual({ text: 'x ', stop: 'ENDING' });
    expect(new StopMatcher(['END'], true).find('x END y')).toEqual({ text: 'x END', stop: 'END' });
    expect(m.find('nothing')).toBeNull();
  });

  it('never stream text that may still become a stop string or half a character', () => {
    const m = new StopMatcher(['\n\n', 'END']);
    expect(m.stableLength('abc')).toBe(3);
    expect(m.stableLength('abc\n')).toBe(3);
    expect(m.stableLength('abcEN')).toBe(3);
    expect(m.stableLength('abcE')).toBe(3);
    expect(m.stableLength('abc\uFFFD')).toBe(3);
    expect(new StopMatcher([]).stableLength('abc\n')).toBe(4);
  });
});

describe('trim serve: generation', () => {
  const prompt = renderContinuation(qwen25, PROBLEM, STEPS);

  it('lists its models', async () => {
    const res = await fetch(`${url}/v1/models`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { object: string; data: { id: string; object: string }[] };
    expect(body.object).toBe('list');
    expect(body.data.map((m) => [m.id, m.object])).toEqual([
      ['tiny-lm', 'model'],
      ['tiny-prm', 'model'],
    ]);
  });

  it('completes greedily exactly as an independent forward pass does, and counts tokens', async () => {
    const expected = lm.tokenizer.decode(await referenceGreedy(prompt, 12), { skip_special_tokens: true });
    const { status, json } = await post('/v1/completions', { model: 'tiny-lm', prompt, max_tokens: 12, temperature: 0 });
    expect(status).toBe(200);
    expect(json.object).toBe('text_completion');
    expect(json.id).toMatch(/^cmpl-/);
    expect(json.choices[0].text).toBe(expected);
    const promptTokens = lm.tokenizer.encode(prompt, { add_special_tokens: false }).length;
    expect(json.usage.prompt_tokens).toBe(promptTokens);
    expect(json.usage.total_tokens).toBe(promptTokens + json.usage.completion_tokens);
    if (json.choices[0].finish_reason === 'length') expect(json.usage.completion_tokens).toBe(12);
    // The model name may be left out (one model), and max_tokens then defaults to 16 as in OpenAI's API.
    const d = await post('/v1/completions', { prompt, temperature: 0 });
    expect(d.json.usage.completion_tokens).toBeLessThanOrEqual(16);
  });

  it('stops at the first stop string (kept only when asked) and reports vLLM stop_reason', async () => {
    const free = await post('/v1/completions', { prompt, max_tokens: 30, temperature: 0 });
    const text: string = free.json.choices[0].text;
    expect(text.length).toBeGreaterThan(6);
    const stop = text.slice(4, 6);
    const cut = text.slice(0, text.indexOf(stop));
    const a = await post('/v1/completions', { prompt, max_tokens: 30, temperature: 0, stop: ['\u0000never', stop] });
    expect(a.json.choices[0]).toMatchObject({ text: cut, finish_reason: 'stop', stop_reason: stop });
    const b = await post('/v1/completions', { prompt, max_tokens: 30, temperature: 0, stop, include_stop_str_in_output: true });
    expect(b.json.choices[0].text).toBe(cut + stop);
    const c = await post('/v1/completions', { prompt, max_tokens: 3, temperature: 0 });
    expect(c.json.choices[0]).toMatchObject({ finish_reason: 'length', stop_reason: null });
    expect(c.json.usage.completion_tokens).toBe(3);
  });

  it('streams OpenAI chunks whose text adds up to the plain answer, with a final usage chunk', async () => {
    const body = { model: 'tiny-lm', prompt, max_tokens: 20, temperature: 0.9, top_p: 0.9, seed: 5 };
    const plain = await post('/v1/completions', body);
    const s = await events('/v1/completions', { ...body, stream: true, stream_options: { include_usage: true } });
    expect(s.status).toBe(200);
    expect(s.type).toMatch(/^text\/event-stream/);
    expect(s.data[s.data.length - 1]).toBe('[DONE]');
    const chunks = s.data.slice(0, -1);
    const usageChunk = chunks[chunks.length - 1];
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage).toEqual(plain.json.usage);
    const textChunks = chunks.slice(0, -1);
    for (const c of textChunks) {
      expect(c).toMatchObject({ object: 'text_completion', model: 'tiny-lm', usage: null });
      expect(c.id).toBe(usageChunk.id);
    }
    expect(textChunks.map((c) => c.choices[0].text).join('')).toBe(plain.json.choices[0].text);
    const last = textChunks[textChunks.length - 1].choices[0];
    expect(last.finish_reason).toBe(plain.json.choices[0].finish_reason);
    expect(textChunks.slice(0, -1).every((c) => c.choices[0].finish_reason === null)).toBe(true);
    // Without include_usage there is no usage at all.
    const s2 = await events('/v1/completions', { ...body, stream: true });
    expect(s2.data.slice(0, -1).every((c) => !('usage' in c))).toBe(true);
  });

  it('replays a seeded request and gives each of n samples its own draw', async () => {
    const body = { prompt, max_tokens: 15, temperature: 1, seed: 9, n: 3 };
    const a = await post('/v1/completions', body);
    const b = await post('/v1/completions', body);
    expect(a.json.choices.map((c: any) => c.text)).toEqual(b.json.choices.map((c: any) => c.text));
    expect(new Set(a.json.choices.map((c: any) => c.text)).size).toBeGreaterThan(1);
    expect(a.json.choices.map((c: any) => c.index)).toEqual([0, 1, 2]);
    const promptTokens = lm.tokenizer.encode(prompt, { add_special_tokens: false }).length;
    expect(a.json.usage.prompt_tokens).toBe(promptTokens);
  });

  it('chat: continue_final_message continues the assistant text exactly as the raw prompt does', async () => {
    const raw = await post('/v1/completions', { prompt, max_tokens: 10, temperature: 0 });
    const messages = [
      { role: 'system', content: MATH_SYSTEM_PROMPT },
      { role: 'user', content: PROBLEM },
      { role: 'assistant', content: STEPS.join('\n\n') + '\n\n' },
    ];
    const chat = await post('/v1/chat/completions', { model: 'tiny-lm', messages, continue_final_message: true, add_generation_prompt: false, max_tokens: 10, temperature: 0 });
    expect(chat.status).toBe(200);
    expect(chat.json.object).toBe('chat.completion');
    expect(chat.json.choices[0].message).toEqual({ role: 'assistant', content: raw.json.choices[0].text });
    expect(chat.json.usage.prompt_tokens).toBe(raw.json.usage.prompt_tokens);
    // A new turn: the generation prompt opens the assistant turn.
    const open = await post('/v1/chat/completions', { messages: messages.slice(0, 2), max_tokens: 10, temperature: 0 });
    const openRaw = await post('/v1/completions', { prompt: renderContinuation(qwen25, PROBLEM, []), max_tokens: 10, temperature: 0 });
    expect(open.json.choices[0].message.content).toBe(openRaw.json.choices[0].text);
    // Streaming chat: a role chunk, content deltas, a finish chunk.
    const s = await events('/v1/chat/completions', { messages, continue_final_message: true, add_generation_prompt: false, max_tokens: 10, temperature: 0, stream: true });
    const chunks = s.data.slice(0, -1);
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.every((c: any) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks.map((c: any) => c.choices[0].delta.content ?? '').join('')).toBe(raw.json.choices[0].text);
    expect(chunks[chunks.length - 1].choices[0].finish_reason).toBe(chat.json.choices[0].finish_reason);
  });

  it('the project OpenAI step model continues steps through it, in raw and continue modes alike', async () => {
    const results = [];
    for (const mode of ['raw', 'continue'] as const) {
      const model = openAIStepModel({ baseUrl: url, model: 'tiny-lm', mode });
      results.push(await model.next({ problem: PROBLEM, steps: STEPS, maxTokens: 12, sampling: { temperature: 0 } }));
    }
    expect(results[0]!.text).toBe(results[1]!.text);
    expect(results[0]!.estimated).toBeUndefined();
    expect(results[0]!.completionTokens).toBeGreaterThan(0);
    expect(results[0]!.promptTokens).toBe(lm.tokenizer.encode(prompt, { add_special_tokens: false }).length);
  });
});

describe('trim serve: errors and load', () => {
  it('answers bad requests with OpenAI error bodies and the right status', async () => {
    const cases: [string, unknown, number, string | null][] = [
      ['/v1/completions', '{not json', 400, null],
      ['/v1/completions', [1, 2], 400, null],
      ['/v1/completions', { model: 'gpt-9', prompt: 'x' }, 404, 'model'],
      ['/v1/completions', { model: 'tiny-prm', prompt: 'x' }, 400, 'model'],
      ['/v1/completions', {}, 400, 'prompt'],
      ['/v1/completions', { prompt: '' }, 400, 'prompt'],
      ['/v1/completions', { prompt: 'x', max_tokens: 0 }, 400, 'max_tokens'],
      ['/v1/completions', { prompt: 'x', max_tokens: 1.5 }, 400, 'max_tokens'],
      ['/v1/completions', { prompt: 'x', max_tokens: 10_000_000 }, 400, 'max_tokens'],
      ['/v1/completions', { prompt: 'x', temperature: -1 }, 400, 'temperature'],
      ['/v1/completions', { prompt: 'x', top_p: 0 }, 400, 'top_p'],
      ['/v1/completions', { prompt: 'x', stop: [1] }, 400, 'stop'],
      ['/v1/completions', { prompt: 'x', stop: '' }, 400, 'stop'],
      ['/v1/completions', { prompt: 'x', stop: 'y'.repeat(5000) }, 400, 'stop'],
      ['/v1/completions', { prompt: 'x', n: 0 }, 400, 'n'],
      ['/v1/completions', { prompt: 'x', logprobs: 21 }, 400, 'logprobs'],
      ['/v1/completions', { prompt: 'x', logprobs: true }, 400, 'logprobs'],
      ['/v1/completions', { prompt: 'x', top_logprobs: 2 }, 400, 'top_logprobs'],
      ['/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }], top_logprobs: 2 }, 400, 'top_logprobs'],
      ['/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }], logprobs: 1 }, 400, 'logprobs'],
      ['/v1/completions', { prompt: 'x', stream_options: { include_usage: true } }, 400, 'stream_options'],
      ['/v1/completions', { prompt: [999999] }, 400, 'prompt'],
      ['/v1/chat/completions', { messages: [] }, 400, 'messages'],
      ['/v1/chat/completions', { messages: [{ role: 'wizard', content: 'x' }] }, 400, 'messages[0].role'],
      ['/v1/chat/completions', { messages: [{ role: 'user', content: 5 }] }, 400, 'messages[0]'],
      ['/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }], continue_final_message: true, add_generation_prompt: true }, 400, 'add_generation_prompt'],
      ['/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }], continue_final_message: true }, 400, 'continue_final_message'],
      ['/pooling', { model: 'tiny-lm', messages: [{ role: 'user', content: 'x' }] }, 400, 'model'],
      ['/pooling', { messages: [{ role: 'user', content: 'x' }] }, 400, 'messages'],
      ['/pooling', { input: 'x' }, 400, 'input'],
      ['/v1/embeddings', { input: 'x' }, 404, null],
    ];
    for (const [path, body, status, param] of cases) {
      const r = await post(path, body);
      expect([path, body, r.status]).toEqual([path, body, status]);
      expect(Object.keys(r.json)).toEqual(['error']);
      expect(typeof r.json.error.message).toBe('string');
      expect(r.json.error.message.length).toBeGreaterThan(10);
      expect(r.json.error.param).toBe(param);
      expect(['invalid_request_error', 'not_found_error']).toContain(r.json.error.type);
    }
    const get = await fetch(`${url}/v1/completions`);
    expect(get.status).toBe(405);
    expect(((await get.json()) as any).error.type).toBe('invalid_request_error');
  });

  it('refuses a prompt that overflows the context with vLLM’s message', async () => {
    const r = await post('/v1/completions', { prompt: 'x'.repeat(4090), max_tokens: 100 });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toMatch(/maximum context length is 4096 tokens/);
    expect(r.json.error.code).toBe('context_length_exceeded');
  });

  it('queues concurrent requests: every one is answered, each as it would be alone', async () => {
    const bodies = Array.from({ length: 6 }, (_, i) => ({ prompt: `${PROBLEM} #${i}`, max_tokens: 8, temperature: 0.8, seed: i }));
    const together = await Promise.all(bodies.map((b, i) => (i % 2 ? events('/v1/completions', { ...b, stream: true }) : post('/v1/completions', b))));
    for (const [i, b] of bodies.entries()) {
      const alone = await post('/v1/completions', b);
      const got = together[i]!;
      const text = 'json' in got ? got.json.choices[0].text : got.data.slice(0, -1).map((c: any) => c.choices[0].text).join('');
      expect(got.status).toBe(200);
      expect(text).toBe(alone.json.choices[0].text);
    }
  });

  it('stops generating for a client that hangs up, and serves the next one', async () => {
    const ctrl = new AbortController();
    const res = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      body: JSON.stringify({ prompt: PROBLEM, max_tokens: 3000, temperature: 1, stream: true }),
      signal: ctrl.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    ctrl.abort();
    const t0 = Date.now();
    const next = await post('/v1/completions', { prompt: PROBLEM, max_tokens: 2, temperature: 0 });
    expect(next.status).toBe(200);
    // 3000 tokens would take far longer than this on a CPU.
    expect(Date.now() - t0).toBeLessThan(20_000);
  });

  it('requires the API key when it has one', async () => {
    const locked = createTrimServer({ lm: { name: 'tiny-lm', loaded: lm }, apiKey: 'sekret' });
    const base = await locked.listen(0);
    try {
      const no = await fetch(`${base}/v1/models`);
      expect(no.status).toBe(401);
      expect(((await no.json()) as any).error.code).toBe('invalid_api_key');
      const yes = await fetch(`${base}/v1/models`, { headers: { authorization: 'Bearer sekret' } });
      expect(yes.status).toBe(200);
    } finally {
      // Its model belongs to the main server: close the HTTP side only.
      await new Promise<void>((r) => locked.server.close(() => r()));
    }
  });
});

interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  json: any;
}

/** A request through node:http, which (unlike fetch) lets a test set Host and Origin as any client can. */
function raw(base: string, path: string, o: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<RawAnswer> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, path, method: o.method ?? 'GET', headers: o.headers ?? {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, json: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

/**
 * Uploads a body that never ends (chunked, no Content-Length) until the server answers: a server that
 * read the whole body before answering would never answer. Resolves with the answer and the bytes sent.
 */
function endlessUpload(base: string, path: string): Promise<RawAnswer & { sent: number }> {
  const u = new URL(base);
  const cap = 512 * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024, 'a');
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = httpRequest({ host: u.hostname, port: u.port, path, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      answered = true;
      const at = sent;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode!, headers: res.headers, json: JSON.parse(text), sent: at });
      });
    });
    req.on('error', (err) => answered || reject(err));
    const pump = () => {
      while (!answered) {
        if (sent >= cap) return reject(new Error(`no answer after ${sent} bytes of body`));
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
    };
    req.write('{"prompt": "');
    pump();
  });
}

/** Closes the HTTP side of a test server whose models belong to the main one. */
function closeHttp(s: TrimServer): Promise<void> {
  return new Promise<void>((r) => {
    s.server.close(() => r());
    s.server.closeAllConnections();
  });
}

describe('trim serve: bounded work', () => {
  it('refuses a prompt that cannot fit from its length in characters, before tokenising, with vLLM’s code', async () => {
    const bound = promptBound(lm.tokenizer, lm.maxPositions);
    // The tiny models' vocabulary is bytes plus <|im_start|>-like added tokens: 13 characters at most.
    expect(bound).toEqual({ contextTokens: 4096, charsPerToken: 13, maxChars: 4096 * 13 });
    const long = 'x'.repeat(bound.maxChars + 1);
    const cases: [string, unknown, string][] = [
      ['/v1/completions', { prompt: long }, 'prompt'],
      ['/v1/completions', { prompt: ['short', long] }, 'prompt'],
      ['/v1/completions', { prompt: Array.from({ length: 5000 }, () => 65) }, 'prompt'],
      ['/v1/chat/completions', { messages: [{ role: 'user', content: long.slice(0, 30_000) }, { role: 'assistant', content: long.slice(0, 30_000) }] }, 'messages'],
      ['/pooling', { messages: [{ role: 'user', content: 'x'.repeat(prmBound.maxChars) }, { role: 'assistant', content: '1) x<extra_0>' }] }, 'messages'],
    ];
    for (const [path, body, param] of cases) {
      const r = await post(path, body);
      expect([path, r.status]).toEqual([path, 400]);
      expect(r.json.error).toMatchObject({ type: 'invalid_request_error', param, code: 'context_length_exceeded' });
      expect(r.json.error.message).toMatch(/^This model's maximum context length is 4096 tokens\. However, your (prompt|messages) has \d+ (characters|tokens)/);
    }
    // Just under the bound, the exact token count decides, as before.
    const fits = await post('/v1/completions', { prompt: 'x'.repeat(4000), max_tokens: 1, temperature: 0 });
    expect(fits.status).toBe(200);
  });

  it('answers 413 for a body over the limit, from its Content-Length or as soon as the bytes read pass it', async () => {
    const declared = await raw(url, '/v1/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(2 * 1024 * 1024) },
      body: 'x'.repeat(2 * 1024 * 1024),
    });
    expect(declared.status).toBe(413);
    expect(declared.json.error).toMatchObject({ type: 'invalid_request_error', code: 'request_too_large' });
    expect(declared.json.error.message).toContain('1048576 bytes');
    const endless = await endlessUpload(url, '/v1/completions');
    expect(endless.status).toBe(413);
    expect(endless.json.error.code).toBe('request_too_large');
    // Answered while the client was still sending, long before the server's drain cap would cut it.
    expect(endless.sent).toBeLessThan(32 * 1024 * 1024);
    // fetch, which reports a network error when the connection is reset under its upload, reads the 413.
    const big = await post('/v1/completions', { prompt: 'x'.repeat(8_000_000) });
    expect(big.status).toBe(413);
    expect(big.json.error.code).toBe('request_too_large');
    // The server is fine afterwards.
    expect((await fetch(`${url}/health`)).status).toBe(200);
  });

  it('reads at most --max-uploads bodies at once; one more gets a 503 with Retry-After', async () => {
    const small = createTrimServer({ lm: { name: 'tiny-lm', loaded: lm }, maxUploads: 1 });
    const base = await small.listen(0);
    try {
      const u = new URL(base);
      const reading = new Promise((r) => small.server.once('request', r));
      const first = new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: u.hostname, port: u.port, path: '/v1/completions', method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', reject);
        req.write('{"prompt": "Start with 3.", ');
        // The server is reading this body once its request event has fired; then end it.
        void reading.then(async () => {
          const second = await raw(base, '/v1/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"prompt": "x", "max_tokens": 1}' });
          expect(second.status).toBe(503);
          expect(second.headers['retry-after']).toBe('1');
          expect(second.json.error).toMatchObject({ type: 'server_error', code: 'too_many_uploads' });
          req.end('"max_tokens": 1}');
        }).catch(reject);
      });
      expect(await first).toBe(200);
    } finally {
      await closeHttp(small);
    }
  });
});

describe('trim serve: who may call it', () => {
  const evil = 'https://evil.example';

  it('by default answers pages on this machine only: a foreign Origin gets 403 and no CORS headers', async () => {
    for (const origin of ['http://localhost:5173', 'http://127.0.0.1:8080', 'https://127.0.0.5', 'http://[::1]:3000']) {
      const r = await raw(url, '/v1/models', { headers: { origin } });
      expect([origin, r.status]).toEqual([origin, 200]);
      expect(r.headers['access-control-allow-origin']).toBe(origin);
      expect(r.headers.vary).toBe('Origin');
    }
    for (const origin of [evil, 'http://localhost.evil.example', 'null', 'http://192.168.1.7:8000']) {
      const r = await raw(url, '/v1/completions', { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: '{"prompt": "x", "max_tokens": 1}' });
      expect([origin, r.status]).toEqual([origin, 403]);
      expect(r.json.error).toMatchObject({ type: 'invalid_request_error', code: 'origin_not_allowed' });
      expect(Object.keys(r.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
    }
    // fetch() without an Origin (curl, SDKs, the CLI) is no browser page and is served.
    expect((await fetch(`${url}/v1/models`)).status).toBe(200);
  });

  it('answers a loopback page’s preflight, and refuses a foreign one', async () => {
    const preflight = (origin: string) =>
      raw(url, '/v1/chat/completions', {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
      });
    const ok = await preflight('http://localhost:5173');
    expect(ok.status).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe('http://localhost:5173');
    expect(ok.headers['access-control-allow-methods']).toContain('POST');
    expect(ok.headers['access-control-allow-headers']).toMatch(/Authorization.*Content-Type/);
    const no = await preflight(evil);
    expect(no.status).toBe(403);
    expect(no.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('by default refuses a request addressed to a name other than a loopback one (DNS rebinding)', async () => {
    const port = new URL(url).port;
    for (const host of ['evil.example', `evil.example:${port}`, `192.168.1.7:${port}`, `localhost.evil.example:${port}`]) {
      const r = await raw(url, '/health', { headers: { host } });
      expect([host, r.status]).toEqual([host, 403]);
      expect(r.json.error.code).toBe('host_not_allowed');
    }
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'LOCALHOST']) {
      const r = await raw(url, '/health', { headers: { host } });
      expect([host, r.status]).toEqual([host, 200]);
    }
  });

  it('--cors and --allowed-hosts open exactly what they name', async () => {
    const open = createTrimServer({ lm: { name: 'tiny-lm', loaded: lm }, cors: ['https://app.example:8443'], allowedHosts: ['mybox.lan'] });
    const base = await open.listen(0);
    const any = createTrimServer({ lm: { name: 'tiny-lm', loaded: lm }, cors: ['*'], allowedHosts: ['*'] });
    const anyBase = await any.listen(0);
    try {
      const app = await raw(base, '/v1/models', { headers: { origin: 'https://app.example:8443', host: 'mybox.lan:8000' } });
      expect(app.status).toBe(200);
      expect(app.headers['access-control-allow-origin']).toBe('https://app.example:8443');
      expect((await raw(base, '/v1/models', { headers: { origin: 'https://app.example' } })).status).toBe(403);
      expect((await raw(base, '/v1/models', { headers: { origin: evil } })).status).toBe(403);
      expect((await raw(base, '/v1/models', { headers: { host: 'other.lan' } })).status).toBe(403);
      const star = await raw(anyBase, '/v1/models', { headers: { origin: evil, host: 'whatever.example' } });
      expect(star.status).toBe(200);
      expect(star.headers['access-control-allow-origin']).toBe('*');
    } finally {
      await Promise.all([closeHttp(open), closeHttp(any)]);
    }
  });

  it('--host opens Host to the bound address, or to any IP address when bound to every interface', () => {
    const one = accessRules('192.168.1.7');
    expect(one.hostAllowed('192.168.1.7:8000')).toBe(true);
    expect(one.hostAllowed('localhost:8000')).toBe(true);
    expect(one.hostAllowed('10.0.0.1:8000')).toBe(false);
    expect(one.hostAllowed('mybox.lan:8000')).toBe(false);
    const all = accessRules('0.0.0.0');
    expect(all.hostAllowed('10.0.0.1:8000')).toBe(true);
    expect(all.hostAllowed('[fe80::1]:8000')).toBe(true);
    expect(all.hostAllowed('evil.example:8000')).toBe(false);
    expect(accessRules('0.0.0.0', { allowedHosts: ['mybox.lan'] }).hostAllowed('MyBox.lan:8000')).toBe(true);
    expect(accessRules('::1').hostAllowed('[::1]:8000')).toBe(true);
  });
});

describe('trim serve: /pooling', () => {
  it('answers one [p_neg, p_pos] per separator, the PRM’s own scores, and the vLLM client reads them', async () => {
    const steps = ['1) 3 + 4 = 7', '2) 7 - 5 = 2. Answer: \\boxed{2}'];
    const direct = await prm.score({ problem: PROBLEM, steps });
    const r = await post('/pooling', {
      model: 'tiny-prm',
      messages: [
        { role: 'system', content: MATH_SYSTEM_PROMPT },
        { role: 'user', content: PROBLEM },
        { role: 'assistant', content: steps.map((s) => `${s}<extra_0>`).join('') },
      ],
    });
    expect(r.status).toBe(200);
    const pairs: number[][] = r.json.data[0].data;
    expect(pairs).toHaveLength(2);
    pairs.forEach((p, i) => {
      expect(p[1]).toBeCloseTo(direct[i]!, 6);
      expect(p[0]! + p[1]!).toBeCloseTo(1, 6);
    });
    expect(r.json.usage.prompt_tokens).toBeGreaterThan(0);
    const client = vllmPrmScorer({ baseUrl: url, model: 'tiny-prm' });
    const viaClient = await client.score({ problem: PROBLEM, steps });
    viaClient.forEach((s, i) => expect(s).toBeCloseTo(direct[i]!, 6));
  });
});

/** Starts `trim serve` as a child process; resolves once it prints its address. */
async function startServe(args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; base: string }> {
  const child = spawn(process.execPath, ['src/cli/bin.mjs', 'serve', ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const base = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`trim serve exited with ${code}: ${err}`)));
  });
  return { child, base };
}

async function stopServe(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  child.kill('SIGTERM');
  return exit;
}

/** A process's resident memory in MB, from /proc (Linux). */
function rssMb(child: ChildProcess): number {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]);
  return Math.round(kb / 1024);
}

describe('trim serve CLI', () => {
  it('starts on a free port, answers, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, ['src/cli/bin.mjs', 'serve', '--model', lmFx.dir, '--port', '0', '--quiet'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const base = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        out += d;
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.on('exit', (code) => reject(new Error(`trim serve exited with ${code}: ${err}`)));
    });
    const models = (await (await fetch(`${base}/v1/models`)).json()) as { data: { id: string }[] };
    expect(models.data[0]!.id).toBe(lmFx.name);
    const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
  });

  it('with its flags: key from --api-key-env, --cors, --allowed-hosts; an 8 MB prompt is refused fast with /health answering and memory flat', async () => {
    const key = 'sk-serve-test-0123456789';
    const { child, base } = await startServe(
      ['--model', lmFx.dir, '--port', '0', '--quiet', '--max-body', String(16 * 1024 * 1024), '--cors', 'https://app.example,https://b.example', '--allowed-hosts', 'mybox.lan', '--api-key-env', 'TRIM_TEST_SERVE_KEY'],
      { TRIM_TEST_SERVE_KEY: key },
    );
    try {
      const auth = { authorization: `Bearer ${key}` };
      expect((await raw(base, '/v1/models')).status).toBe(401);
      expect((await raw(base, '/v1/models', { headers: { authorization: 'Bearer sk-serve-test-wrong' } })).status).toBe(401);
      expect((await raw(base, '/v1/models', { headers: auth })).status).toBe(200);
      // The liveness probe needs no key (as in vLLM); the API does.
      expect((await raw(base, '/health')).status).toBe(200);
      const app = await raw(base, '/v1/models', { headers: { ...auth, origin: 'https://b.example', host: 'mybox.lan' } });
      expect(app.status).toBe(200);
      expect(app.headers['access-control-allow-origin']).toBe('https://b.example');
      expect((await raw(base, '/v1/models', { headers: { ...auth, origin: 'https://evil.example' } })).status).toBe(403);
      expect((await raw(base, '/v1/models', { headers: { ...auth, host: 'evil.example' } })).status).toBe(403);

      // Warm up (the model runs once), then an 8 MB prompt, the body limit raised so that it gets in.
      const gen = (prompt: string) => raw(base, '/v1/completions', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ prompt, max_tokens: 2 }) });
      expect((await gen(PROBLEM)).status).toBe(200);
      const huge = 'x'.repeat(8_000_000);
      const measure = async (count: number) => {
        const before = rssMb(child);
        const t0 = Date.now();
        let settled = false;
        const all = Promise.all(Array.from({ length: count }, () => gen(huge))).finally(() => (settled = true));
        // /health keeps answering meanwhile: the event loop is never blocked for long.
        let slowestHealth = 0;
        let healthChecks = 0;
        while (!settled) {
          const h0 = Date.now();
          expect((await raw(base, '/health', { headers: auth })).status).toBe(200);
          slowestHealth = Math.max(slowestHealth, Date.now() - h0);
          healthChecks++;
        }
        const answers = await all;
        const ms = Date.now() - t0;
        for (const a of answers) expect(a.json.error).toMatchObject({ code: 'context_length_exceeded', param: 'prompt' });
        const after = rssMb(child);
        console.log(`trim serve, ${count} × 8 MB prompt: refused in ${ms} ms; /health slowest ${slowestHealth} ms over ${healthChecks} checks; server RSS ${before} → ${after} MB`);
        return { ms, slowestHealth, growth: after - before };
      };
      const one = await measure(1);
      const four = await measure(4);
      // Before the bound: ~11 s with /health blocked, and +1.3 GB (+1.75 GB for four). Bounds are generous for slow machines.
      expect(one.ms).toBeLessThan(3000);
      expect(four.ms).toBeLessThan(8000);
      expect(Math.max(one.slowestHealth, four.slowestHealth)).toBeLessThan(2500);
      expect(one.growth).toBeLessThan(200);
      expect(four.growth).toBeLessThan(400);
    } finally {
      await stopServe(child);
    }
  });

  it('refuses --api-key (the process list shows it), bad --cors origins and sizes with exit code 2', async () => {
    const { main } = await import('../src/cli/main.ts');
    expect(await main(['serve', '--model', lmFx.dir, '--api-key', 'x'])).toBe(2);
    expect(await main(['serve', '--model', lmFx.dir, '--cors', 'https://app.example/path'])).toBe(2);
    expect(await main(['serve', '--model', lmFx.dir, '--cors', 'app.example'])).toBe(2);
    expect(await main(['serve', '--model', lmFx.dir, '--max-body', '10'])).toBe(2);
    expect(await main(['serve', '--model', lmFx.dir, '--max-uploads', '0'])).toBe(2);
  });

  it('refuses bad flags with exit code 2', async () => {
    const { main } = await import('../src/cli/main.ts');
    expect(await main(['serve'])).toBe(2);
    expect(await main(['serve', '--model', lmFx.dir, '--port', '99999'])).toBe(2);
    expect(await main(['serve', '--model', lmFx.dir, '--dtype', 'q3'])).toBe(2);
  });
});
