// An OpenAI-compatible HTTP server over model folders run by transformers.js in Node: the language
// model answers /v1/completions and /v1/chat/completions (JSON or SSE), a PRM answers vLLM's /pooling.
// It exists so that "remote" models in tests and demos are real servers running real models, speaking
// the wire format of OpenAI and vLLM closely enough that the project's clients cannot tell.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AbortedError, errorMessage, isAbort } from '../core/errors.ts';
import type { ChatMessage } from '../core/prompt.ts';
import type { TjsLoaded } from '../backends/tjs-runtime.ts';
import type { TjsPrm } from '../backends/tjs-prm.ts';
import { accessRules, type Access, type AccessOptions } from './access.ts';
import { ApiError, badParam } from './api-error.ts';
import { bodyReader, discardRest, UnreadBodyError } from './body.ts';
import { renderChat } from './chat-format.ts';
import { textGenerator, type GenerateRequest, type GenerateResult, type Generator, type TokenLogprob } from './generator.ts';
import { chatLogprobs, completionLogprobs } from './logprobs.ts';
import { checkPromptChars, checkPromptIds, promptBound, type PromptBound } from './prompt-bound.ts';
import { JobQueue } from './queue.ts';
import { chatParams, completionParams, poolingParams, type GenerationParams } from './requests.ts';

export interface ServedLm {
  name: string;
  loaded: TjsLoaded;
}

export interface ServedPrm {
  name: string;
  scorer: TjsPrm;
  /** What ends each step in the assistant message of a /pooling request. */
  separator: string;
  /** The PRM's context, to refuse messages too long for it before tokenising (else only the body limit bounds them). */
  bound?: PromptBound;
}

export interface ServeOptions extends AccessOptions {
  lm?: ServedLm;
  prm?: ServedPrm;
  /** Requests that may wait for the model before new ones get a 503 (default 1024). */
  maxQueue?: number;
  /** When set, requests need "Authorization: Bearer <key>". */
  apiKey?: string;
  /** Largest accepted request body in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** Request bodies read at once before new ones get a 503 (default 8). */
  maxUploads?: number;
  /** One line per request (method, path, status, ms). */
  log?: (line: string) => void;
}

export interface TrimServer {
  readonly server: Server;
  listen(port: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

interface Prepared {
  request: GenerateRequest;
  plan: { ids: number[]; maxTokens: number };
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: unknown, signal: AbortSignal) => Promise<void>;

const id = (prefix: string) => `${prefix}-${randomBytes(12).toString('hex')}`;
const now = () => Math.floor(Date.now() / 1000);

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

// A request (headers and body, not the answer) must arrive within this time: slow uploads cannot hold
// the upload slots for long.
const REQUEST_TIMEOUT_MS = 60_000;

/** Characters of the messages' text: what a chat prompt holds at least. */
function contentChars(messages: readonly ChatMessage[]): number {
  return messages.reduce((n, m) => n + m.content.length, 0);
}

function sendError(res: ServerResponse, err: ApiError): void {
  if (res.headersSent) return;
  if (err.status === 503) res.setHeader('Retry-After', '1');
  sendJson(res, err.status, err.body());
}

/** Server-sent events in OpenAI's framing: "data: <json>\n\n", ending with "data: [DONE]". */
class EventStream {
  constructor(private readonly res: ServerResponse) {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    res.flushHeaders();
  }
  send(value: unknown): void {
    if (!this.res.writableEnded) this.res.write(`data: ${JSON.stringify(value)}\n\n`);
  }
  end(): void {
    if (!this.res.writableEnded) this.res.end('data: [DONE]\n\n');
  }
}

/** Token counts of a request; a prompt sampled n times is counted once, as OpenAI and vLLM count it. */
function usage(results: readonly GenerateResult[], n: number) {
  const prompt = results.reduce((sum, r, i) => sum + (i % n === 0 ? r.promptTokens : 0), 0);
  const completion = results.reduce((n, r) => n + r.completionTokens, 0);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

export function createTrimServer(o: ServeOptions): TrimServer {
  if (!o.lm && !o.prm) throw new Error('createTrimServer needs a language model, a PRM, or both.');
  const queue = new JobQueue(o.maxQueue ?? 1024);
  const bodies = bodyReader(o.maxBodyBytes, o.maxUploads);
  const generator: Generator | null = o.lm ? textGenerator(o.lm.loaded) : null;
  const lmBound = o.lm ? promptBound(o.lm.loaded.tokenizer, o.lm.loaded.maxPositions) : undefined;
  // Set by listen(): which Host headers pass depends on the address bound.
  let access: Access = accessRules('127.0.0.1', o);
  const created = now();

  function lmFor(model: string | null): { name: string; gen: Generator; loaded: TjsLoaded } {
    if (o.lm && generator && (model === null || model === o.lm.name)) return { name: o.lm.name, gen: generator, loaded: o.lm.loaded };
    if (o.prm && model === o.prm.name) throw badParam('model', `The model \`${model}\` is a process reward model: it answers POST /pooling, not text generation.`);
    if (!o.lm) throw new ApiError(404, 'This server has no language model, only a PRM at POST /pooling.', 'not_found_error', 'model', 'model_not_found');
    throw new ApiError(404, `The model \`${model}\` does not exist. This server serves \`${o.lm.name}\`.`, 'not_found_error', 'model', 'model_not_found');
  }

  function prmFor(model: string | null): ServedPrm {
    if (o.prm && (model === null || model === o.prm.name)) return o.prm;
    if (o.lm && model === o.lm.name) throw badParam('model', `The model \`${model}\` is a language model; /pooling needs the PRM${o.prm ? ` \`${o.prm.name}\`` : ''}.`);
    if (!o.prm) throw new ApiError(404, 'This server has no PRM; start it with --prm DIR to answer /pooling.', 'not_found_error', 'model', 'model_not_found');
    throw new ApiError(404, `The model \`${model}\` does not exist. This server's PRM is \`${o.prm.name}\`.`, 'not_found_error', 'model', 'model_not_found');
  }

  /**
   * Every choice of a generation request: one prompt × one sample. A seeded request gives each of its n
   * samples its own seed, so they differ yet replay. Planning checks the context before anything is
   * queued or streamed, so such errors are plain 400s.
   */
  function prepare(p: GenerationParams, prompts: readonly (string | readonly number[])[], gen: Generator): Prepared[] {
    const out: Prepared[] = [];
    for (const prompt of prompts) {
      for (let k = 0; k < p.n; k++) {
        const sampling = { ...p.sampling, ...(p.sampling.seed !== undefined ? { seed: (p.sampling.seed + k) >>> 0 } : {}) };
        const request: GenerateRequest = {
          prompt,
          maxTokens: p.maxTokens,
          stop: p.stop,
          stopTokenIds: p.stopTokenIds,
          includeStop: p.includeStop,
          sampling,
          logprobs: p.logprobs,
        };
        out.push({ request, plan: gen.plan(request) });
      }
    }
    return out;
  }

  function runChoices(
    choices: readonly Prepared[],
    gen: Generator,
    signal: AbortSignal,
    onChoice: (index: number) => { onText?: (delta: string, tokens: readonly TokenLogprob[]) => void; done: (r: GenerateResult) => void },
  ): Promise<GenerateResult[]> {
    return queue.run(async () => {
      const results: GenerateResult[] = [];
      for (const [i, c] of choices.entries()) {
        const hooks = onChoice(i);
        const r = await gen.generate({ ...c.request, signal, ...(hooks.onText ? { onText: hooks.onText } : {}) }, c.plan);
        hooks.done(r);
        results.push(r);
      }
      return results;
    }, signal);
  }

  const completions: Handler = async (_req, res, body, signal) => {
    const p = completionParams(body);
    const { name, gen } = lmFor(p.model);
    for (const prompt of p.prompts) {
      if (typeof prompt === 'string') checkPromptChars(lmBound, prompt.length, 'prompt');
      else checkPromptIds(lmBound, prompt.length, 'prompt');
    }
    const rid = id('cmpl');
    const base = { id: rid, object: 'text_completion', created: now(), model: name };
    const choice = (index: number, text: string, r: GenerateResult | null, logprobs: unknown = null) => ({
      index,
      text,
      logprobs,
      finish_reason: r ? r.finishReason : null,
      stop_reason: r ? r.stopReason : null,
    });
    const choices = prepare(p, p.prompts, gen);
    if (!p.stream) {
      const results = await runChoices(choices, gen, signal, () => ({ done: () => {} }));
      sendJson(res, 200, { ...base, choices: results.map((r, i) => choice(i, r.text, r, r.tokens ? completionLogprobs(r.tokens, 0) : null)), usage: usage(results, p.n) });
      return;
    }
    await streamChoices(res, p, signal, base, (stream, extra) =>
      runChoices(choices, gen, signal, (i) => {
        // text_offset counts from the start of this choice's output.
        let offset = 0;
        return {
          onText: (delta, tokens) => {
            stream.send({ ...base, choices: [choice(i, delta, null, p.logprobs !== null && tokens.length ? completionLogprobs(tokens, offset) : null)], ...extra });
            offset += tokens.reduce((n, t) => n + t.token.length, 0);
          },
          done: (r) => stream.send({ ...base, choices: [choice(i, '', r)], ...extra }),
        };
      }),
    );
  };

  const chat: Handler = async (_req, res, body, signal) => {
    const p = chatParams(body);
    const { name, gen, loaded } = lmFor(p.model);
    // The template only adds text: messages too long already are refused before it runs.
    checkPromptChars(lmBound, contentChars(p.messages), 'messages');
    const prompt = renderChat(loaded.tokenizer, p.messages, p);
    checkPromptChars(lmBound, prompt.length, 'messages');
    const rid = id('chatcmpl');
    const base = { id: rid, object: 'chat.completion.chunk', created: now(), model: name };
    const choices = prepare(p, [prompt], gen);
    if (!p.stream) {
      const results = await runChoices(choices, gen, signal, () => ({ done: () => {} }));
      sendJson(res, 200, {
        ...base,
        object: 'chat.completion',
        choices: results.map((r, i) => ({
          index: i,
          message: { role: 'assistant', content: r.text },
          logprobs: r.tokens ? chatLogprobs(r.tokens) : null,
          finish_reason: r.finishReason,
          stop_reason: r.stopReason,
        })),
        usage: usage(results, p.n),
      });
      return;
    }
    await streamChoices(res, p, signal, base, (stream, extra) =>
      runChoices(choices, gen, signal, (i) => {
        stream.send({ ...base, choices: [{ index: i, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], ...extra });
        return {
          onText: (delta, tokens) =>
            stream.send({
              ...base,
              choices: [{ index: i, delta: { content: delta }, logprobs: p.logprobs !== null && tokens.length ? chatLogprobs(tokens) : null, finish_reason: null }],
              ...extra,
            }),
          done: (r) =>
            stream.send({ ...base, choices: [{ index: i, delta: {}, logprobs: null, finish_reason: r.finishReason, stop_reason: r.stopReason }], ...extra }),
        };
      }),
    );
  };

  /** SSE framing shared by both generation endpoints; errors after the headers become an error event. */
  async function streamChoices(
    res: ServerResponse,
    p: GenerationParams,
    signal: AbortSignal,
    base: Record<string, unknown>,
    run: (stream: EventStream, extra: Record<string, unknown>) => Promise<GenerateResult[]>,
  ): Promise<void> {
    const stream = new EventStream(res);
    // With include_usage, OpenAI sends "usage": null on every chunk and the totals in one last chunk.
    const extra = p.includeUsage ? { usage: null } : {};
    try {
      const results = await run(stream, extra);
      if (p.includeUsage) stream.send({ ...base, choices: [], usage: usage(results, p.n) });
    } catch (err) {
      if (isAbort(err, signal)) return void res.end();
      const e = err instanceof ApiError ? err : new ApiError(500, `Generation failed: ${errorMessage(err)}`);
      stream.send(e.body());
    }
    stream.end();
  }

  const pooling: Handler = async (_req, res, body, signal) => {
    const p = poolingParams(body);
    const prm = prmFor(p.model);
    checkPromptChars(prm.bound, contentChars(p.messages), 'messages');
    const { problem, steps } = poolingInput(p.messages, prm);
    const scores = await queue.run(() => prm.scorer.score({ problem, steps, signal }), signal);
    const tokens = prm.scorer.lastReuse?.tokens ?? 0;
    sendJson(res, 200, {
      id: id('pool'),
      object: 'list',
      created: now(),
      model: prm.name,
      data: [{ index: 0, object: 'pooling', data: scores.map((s) => [1 - s, s]) }],
      usage: { prompt_tokens: tokens, total_tokens: tokens, completion_tokens: 0, prompt_tokens_details: null },
    });
  };

  function poolingInput(messages: readonly ChatMessage[], prm: ServedPrm): { problem: string; steps: string[] } {
    const last = messages[messages.length - 1]!;
    if (last.role !== 'assistant')
      throw badParam('messages', `The last message must be the assistant's, holding the steps, each followed by ${prm.separator}.`);
    const user = [...messages].reverse().find((m) => m.role === 'user');
    if (!user) throw badParam('messages', 'A user message with the problem is needed before the assistant message.');
    const system = messages.find((m) => m.role === 'system');
    const layout = prm.scorer.layout;
    if (layout.prompt === 'chat' && system && system.content !== layout.system)
      throw badParam('messages', `This PRM scores with its own system prompt (${JSON.stringify(layout.system)}); send that one or none.`);
    // One score per separator, as vLLM pools one position per step tag; text after the last one is context only.
    const pieces = last.content.split(prm.separator);
    return { problem: user.content, steps: pieces.slice(0, -1) };
  }

  const models: Handler = async (_req, res) => {
    const entry = (name: string, maxLen: number | null, kind: string) => ({
      id: name,
      object: 'model',
      created,
      owned_by: 'trim',
      root: name,
      parent: null,
      max_model_len: maxLen,
      kind,
    });
    const data = [];
    if (o.lm && generator) data.push(entry(o.lm.name, generator.maxModelLen, 'lm'));
    if (o.prm) data.push(entry(o.prm.name, null, 'prm'));
    sendJson(res, 200, { object: 'list', data });
  };

  const health: Handler = async (_req, res) => {
    res.writeHead(200, { 'Content-Length': 0 });
    res.end();
  };

  const routes: Record<string, { method: 'GET' | 'POST'; handler: Handler }> = {
    '/v1/models': { method: 'GET', handler: models },
    '/health': { method: 'GET', handler: health },
    '/v1/completions': { method: 'POST', handler: completions },
    '/v1/chat/completions': { method: 'POST', handler: chat },
    '/pooling': { method: 'POST', handler: pooling },
  };

  // Digests of equal length, compared in constant time: neither the key's bytes nor its length leak.
  const digest = (text: string) => createHash('sha256').update(text).digest();
  const wantAuth = o.apiKey ? digest(`Bearer ${o.apiKey}`) : null;
  function authorized(req: IncomingMessage): boolean {
    return wantAuth === null || timingSafeEqual(digest(String(req.headers.authorization ?? '')), wantAuth);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!access.hostAllowed(req.headers.host))
      throw new ApiError(
        403,
        `This server does not answer requests addressed to "${String(req.headers.host).slice(0, 100)}": call it by a loopback name (localhost, 127.0.0.1, [::1]), or start it with --allowed-hosts NAME.`,
        'invalid_request_error',
        null,
        'host_not_allowed',
      );
    // Browsers call this server from pages on this machine (the offline demo's strong model); a page
    // from anywhere else gets neither an answer nor CORS headers.
    const origin = req.headers.origin;
    // Answers differ by Origin: no cache may give one page's answer to another.
    res.setHeader('Vary', 'Origin');
    if (origin !== undefined) {
      const allowed = access.allowOrigin(origin);
      if (allowed === null)
        throw new ApiError(
          403,
          `Requests from the web origin ${origin.slice(0, 200)} are not allowed: this server answers pages on this machine only. Start it with --cors ${origin.slice(0, 200)} to allow that origin.`,
          'invalid_request_error',
          null,
          'origin_not_allowed',
        );
      res.setHeader('Access-Control-Allow-Origin', allowed);
    }
    if (req.method === 'OPTIONS') {
      res.setHeader('Allow', 'GET, POST, OPTIONS');
      if (origin !== undefined) {
        res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
        res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type');
        res.setHeader('Access-Control-Max-Age', '600');
        // Chrome's Private Network Access: a page on a public origin allowed by --cors may reach this port.
        if (req.headers['access-control-request-private-network'] === 'true') res.setHeader('Access-Control-Allow-Private-Network', 'true');
      }
      res.writeHead(204);
      return void res.end();
    }
    const path = (req.url ?? '/').split('?')[0]!;
    const route = routes[path];
    if (!route) throw new ApiError(404, `No route ${req.method} ${path}. This server answers ${Object.keys(routes).join(', ')}.`, 'not_found_error');
    if (req.method !== route.method) {
      res.setHeader('Allow', route.method);
      throw new ApiError(405, `${path} takes ${route.method}, not ${req.method}.`);
    }
    // As vLLM does, the key guards the API, not the liveness probe (load balancers and orchestrators call it bare).
    if (path !== '/health' && !authorized(req)) throw new ApiError(401, 'Missing or wrong API key: send "Authorization: Bearer <key>".', 'invalid_request_error', null, 'invalid_api_key');
    const controller = new AbortController();
    // The client hung up: stop its generation, or drop it from the queue.
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    const body = route.method === 'POST' ? await bodies.read(req) : undefined;
    await route.handler(req, res, body, controller.signal);
  }

  const server = createHttpServer({ requestTimeout: REQUEST_TIMEOUT_MS }, (req, res) => {
    const t0 = Date.now();
    handle(req, res)
      .catch((err: unknown) => {
        if (err instanceof AbortedError || (res.destroyed && isAbort(err))) return void res.destroy();
        // A body refused before or while reading it: thrown away, within bounds, so the client reads the answer.
        if (err instanceof UnreadBodyError || !req.complete) discardRest(req);
        sendError(res, err instanceof ApiError ? err : new ApiError(500, `Internal error: ${errorMessage(err)}`));
      })
      .finally(() => o.log?.(`${req.method} ${req.url} ${res.statusCode} ${Date.now() - t0} ms`));
  });

  return {
    server,
    listen(port, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          access = accessRules(host, o);
          const a = server.address() as AddressInfo;
          resolve(`http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`);
        });
      });
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await generator?.dispose();
      await o.prm?.scorer.dispose();
    },
  };
}
