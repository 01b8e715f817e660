// A small OpenAI-compatible model server for tests: real HTTP on 127.0.0.1, a free port, scripted answers.
//
//   const server = await startOpenAIServer();            // server.url = "http://127.0.0.1:PORT"
//   server.enqueue({ text: 'First step.' }, { status: 429, retryAfter: '0' }, { fault: 'cut', text: 'Hal', after: 1 });
//   server.respond = (req) => ({ text: `step ${continuedSteps(req).length + 1}` });   // after the queue runs dry
//   ...  server.requests[i].body / .headers / .usage (what it reported)  ...
//   server.reset();                                       // between tests sharing one server
//   await server.close();
//
// Routes: POST /v1/completions and /v1/chat/completions (SSE when the body says `stream: true`, with a
// usage chunk when `stream_options.include_usage` is set; one JSON document otherwise), POST /pooling
// (vLLM's step-pooling answer), GET /v1/models. Every request is recorded with its parsed body and
// headers before it is answered. CORS is open, so pages under test can call it.
//
// How a generation ends mimics vLLM: `stop` strings in the request are honoured (the text is cut before
// the first match, finish_reason "stop", stop_reason the matched string); `end: 'eos'` stops with
// stop_reason null; `end: 'length'` reports "length". With `stopReason: false` (OpenAI style) the
// server never sends stop_reason.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens?: number;
}

/** A generated answer. */
export interface GenerationReply {
  /** The model's output; a list gives the exact stream chunks (one token each for usage). */
  text: string | string[];
  /**
   * How generation ended when no stop string matched: 'delimiter' (the model wrote the request's
   * first stop string next, the default), 'eos' (end of sequence) or 'length' (token cap).
   */
  end?: 'delimiter' | 'eos' | 'length';
  /** Send the text past a matched stop string, as servers that ignore `stop` do. */
  ignoreStop?: boolean;
  /** Reported usage: a fixed value, or null to report none. Default: see defaultUsage. */
  usage?: Usage | null;
  /** Overrides the finish_reason sent (any JSON value, for hostile answers). */
  finishReason?: unknown;
  /** Milliseconds between stream chunks. */
  chunkDelayMs?: number;
  /**
   * Log-probabilities of the chunks of `text` (a list: one token each), sent when the request asks for
   * logprobs, in its API's shape. The stop string must then be a chunk of its own; `stopLogprob` is
   * the stop token's, reported with the finishing chunk as vLLM does (omitted: not reported).
   */
  logprobs?: number[];
  stopLogprob?: number;
  /** Answer with one JSON document even when the request asked for a stream. */
  ignoreStream?: boolean;
}

/** A pooling answer: `scores` become data[0].data; `body` replaces the whole JSON answer. */
export type PoolingReply = { scores: unknown } | { body: unknown };

/** An HTTP error with an OpenAI-style error body. */
export interface StatusReply {
  status: number;
  message?: string;
  /** Retry-After header value (seconds or an HTTP date). */
  retryAfter?: string;
  headers?: Record<string, string>;
}

export type FaultReply =
  /** Accept the request and never answer. */
  | { fault: 'hang' }
  /** Stream `after` chunks of `text`, then drop the connection (no finish_reason, no [DONE]). */
  | { fault: 'cut'; text: string | string[]; after: number }
  /** Stream `after` chunks of `text`, then go silent with the connection open. */
  | { fault: 'stall'; text: string | string[]; after: number }
  /** Answer 200 with a body that is not JSON (a broken SSE event when streaming). */
  | { fault: 'invalid-json' };

/** Anything at all: the exact status, content type and body. */
export interface RawReply {
  raw: string;
  status?: number;
  contentType?: string;
}

/** Stream these SSE data payloads verbatim (objects are JSON-encoded), then [DONE] unless `done: false`. */
export interface EventsReply {
  events: unknown[];
  done?: boolean;
}

export type Reply = GenerationReply | PoolingReply | StatusReply | FaultReply | RawReply | EventsReply;

export interface ReceivedRequest {
  method: string;
  path: string;
  /** Lower-cased header names, as Node reports them. */
  headers: Record<string, string>;
  rawBody: string;
  /** The parsed JSON body (undefined when it was not JSON). */
  body: any;
  /** The usage this server reported for the request, if it reported any. */
  usage?: Usage;
  /** Text it generated, after stop strings were applied. */
  generated?: string;
  /** Set when the client went away before the answer was complete. */
  clientClosed: boolean;
}

export type Responder = (req: ReceivedRequest) => Reply | Promise<Reply>;

export interface TestServerOptions {
  /** Answers when the queue is empty. Default: a boxed answer, and 0.9 for every PRM step. */
  respond?: Responder;
  /** Model ids for GET /v1/models. */
  models?: string[];
  /** Require "Authorization: Bearer <apiKey>"; others get 401. */
  apiKey?: string;
  /** Send vLLM's stop_reason (default true). */
  stopReason?: boolean;
  /** Answer HTTP 400 to any generation request that asks for logprobs (servers that do not support them). */
  rejectLogprobs?: boolean;
}

export interface TestServer {
  /** Base URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  readonly url: string;
  /** Every request received, in order. */
  readonly requests: ReceivedRequest[];
  /** Requests to the two generation routes. */
  readonly generations: ReceivedRequest[];
  /** CORS preflights (OPTIONS), kept apart from `requests`: they carry no body, but show a page reached the server. */
  readonly preflights: { path: string; headers: Record<string, string> }[];
  /** Replies used, in order, before `respond`. */
  enqueue(...replies: Reply[]): void;
  respond: Responder;
  /** Forgets recorded requests and unused queued replies, and restores the initial responder. */
  reset(): void;
  /** Resolves when `n` requests have arrived. */
  waitForRequests(n: number): Promise<void>;
  close(): Promise<void>;
}

export const defaultRespond: Responder = (req) =>
  req.path === '/pooling' ? { scores: Array.from({ length: prmStepCount(req) }, () => [0.1, 0.9]) } : { text: 'So the answer is \\boxed{42}.' };

/** Prompt tokens this server reports unless told otherwise (deliberately unlike a chars/4 estimate). */
export function defaultUsage(req: ReceivedRequest, chunks: number): Usage {
  const promptTokens = 7 + Math.ceil(promptText(req).length / 3);
  return { prompt_tokens: promptTokens, completion_tokens: chunks + 1, total_tokens: promptTokens + chunks + 1 };
}

/** The text a generation request asks to continue: the completion prompt, or all message contents. */
export function promptText(req: ReceivedRequest): string {
  const b = req.body ?? {};
  if (typeof b.prompt === 'string') return b.prompt;
  if (Array.isArray(b.messages)) return b.messages.map((m: { content?: unknown }) => String(m.content ?? '')).join('\n');
  return '';
}

/** The assistant text being continued (chat prefill, or what follows the last assistant header of a raw prompt). */
export function continuedText(req: ReceivedRequest): string {
  const b = req.body ?? {};
  if (typeof b.prompt === 'string') {
    const markers = ['<|im_start|>assistant\n', '<|start_header_id|>assistant<|end_header_id|>\n\n'];
    for (const m of markers) {
      const i = b.prompt.lastIndexOf(m);
      if (i >= 0) return b.prompt.slice(i + m.length);
    }
    return '';
  }
  const last = Array.isArray(b.messages) ? b.messages[b.messages.length - 1] : undefined;
  return last?.role === 'assistant' ? String(last.content ?? '') : '';
}

/** Accepted steps in the continued text (the blank-line separated paragraphs before the open step). */
export function continuedSteps(req: ReceivedRequest): string[] {
  const parts = continuedText(req).split('\n\n');
  return parts.slice(0, -1).filter((s) => s.trim() !== '');
}

/** Steps in a /pooling request: the separators in its last message. */
export function prmStepCount(req: ReceivedRequest, separator = '<extra_0>'): number {
  const msgs = req.body?.messages;
  const last = Array.isArray(msgs) ? msgs[msgs.length - 1] : undefined;
  return typeof last?.content === 'string' ? last.content.split(separator).length - 1 : 0;
}

/** The steps a /pooling request scores, separators removed. */
export function prmSteps(req: ReceivedRequest, separator = '<extra_0>'): string[] {
  const msgs = req.body?.messages;
  const last = Array.isArray(msgs) ? msgs[msgs.length - 1] : undefined;
  return typeof last?.content === 'string' ? last.content.split(separator).slice(0, -1) : [];
}

export async function startOpenAIServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const requests: ReceivedRequest[] = [];
  const preflights: TestServer['preflights'] = [];
  const queue: Reply[] = [];
  const sockets = new Set<Socket>();
  const waiters: { n: number; resolve: () => void }[] = [];
  const sendStopReason = opts.stopReason ?? true;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('access-control-allow-origin', '*');
    if (req.method === 'OPTIONS') {
      preflights.push({ path: (req.url ?? '/').split('?')[0]!, headers: { ...req.headers } as Record<string, string> });
      res.writeHead(204, { 'access-control-allow-headers': 'authorization, content-type', 'access-control-allow-methods': 'GET, POST' }).end();
      return;
    }
    const rawBody = await readBody(req);
    let body: unknown;
    try {
      body = rawBody ? JSON.parse(rawBody) : undefined;
    } catch {
      body = undefined;
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const path = (req.url ?? '/').split('?')[0]!;
    const rec: ReceivedRequest = { method: req.method ?? 'GET', path, headers, rawBody, body, clientClosed: false };
    requests.push(rec);
    res.on('close', () => {
      if (!res.writableFinished) rec.clientClosed = true;
    });
    for (const w of waiters.filter((w) => requests.length >= w.n)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }

    if (opts.apiKey !== undefined && headers.authorization !== `Bearer ${opts.apiKey}`)
      return sendStatus(res, { status: 401, message: 'Incorrect API key provided.' });
    if (req.method === 'GET' && (path === '/v1/models' || path === '/models'))
      return sendJson(res, 200, { object: 'list', data: (opts.models ?? ['test-model']).map((id) => ({ id, object: 'model', owned_by: 'test' })) });
    const route = path === '/v1/completions' ? 'completion' : path === '/v1/chat/completions' ? 'chat' : path === '/pooling' ? 'pooling' : null;
    if (req.method !== 'POST' || route === null) return sendStatus(res, { status: 404, message: `No route ${req.method} ${path}.` });
    if (body === undefined || typeof body !== 'object') return sendStatus(res, { status: 400, message: 'The body is not a JSON object.' });

    if (opts.rejectLogprobs && route !== 'pooling' && (body as { logprobs?: unknown }).logprobs !== undefined)
      return sendStatus(res, { status: 400, message: 'logprobs is not supported by this model.' });
    const reply = queue.length ? queue.shift()! : await server.respond(rec);
    await answer(rec, res, route, reply);
  };

  const answer = async (rec: ReceivedRequest, res: ServerResponse, route: 'completion' | 'chat' | 'pooling', reply: Reply) => {
    if ('raw' in reply) {
      res.writeHead(reply.status ?? 200, { 'content-type': reply.contentType ?? 'application/json' });
      return void res.end(reply.raw);
    }
    if ('status' in reply) return sendStatus(res, reply);
    if ('fault' in reply && reply.fault === 'hang') return; // the socket stays open until the client or close() ends it
    if ('fault' in reply && reply.fault === 'invalid-json') {
      if (rec.body?.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        return void res.end('data: {"choices": [{"index": 0, "text": "oops"\n\n');
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end('{"object": "list", "data": [');
    }
    if ('events' in reply) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const e of reply.events) res.write(`data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`);
      if (reply.done !== false) res.write('data: [DONE]\n\n');
      return void res.end();
    }
    if ('scores' in reply || 'body' in reply) {
      const data = 'body' in reply ? reply.body : { id: 'pool-test', object: 'list', created: 0, model: rec.body?.model, data: [{ index: 0, object: 'pooling', data: reply.scores }], usage: { prompt_tokens: 1, total_tokens: 1 } };
      return sendJson(res, 200, data);
    }
    if (route === 'pooling') return sendStatus(res, { status: 500, message: 'test server: a generation reply was scripted for /pooling' });
    if ('fault' in reply) return streamFault(rec, res, route, reply);
    return generate(rec, res, route, reply as GenerationReply);
  };

  const generate = async (rec: ReceivedRequest, res: ServerResponse, route: 'completion' | 'chat', reply: GenerationReply) => {
    let chunks = typeof reply.text === 'string' ? tokenize(reply.text) : [...reply.text];
    let finish: unknown = reply.end === 'length' ? 'length' : 'stop';
    let stopReason: string | number | null = reply.end === 'delimiter' || reply.end === undefined ? firstStop(rec) : null;
    if (reply.end === 'length') stopReason = null;
    const full = chunks.join('');
    const stops: string[] = Array.isArray(rec.body?.stop) ? rec.body.stop : typeof rec.body?.stop === 'string' ? [rec.body.stop] : [];
    const hit = stops.map((s) => ({ s, i: full.indexOf(s) })).filter((h) => h.i >= 0).sort((a, b) => a.i - b.i)[0];
    // Logprobs asked for and scripted: one per chunk, the chunks kept as they are (they are the tokens).
    const lps = rec.body?.logprobs !== undefined && rec.body?.logprobs !== false && reply.logprobs ? reply.logprobs : null;
    if (lps && (typeof reply.text === 'string' || lps.length !== reply.text.length))
      throw new Error('test server: logprobs need the text as a list of tokens, one logprob each');
    let stopToken: { token: string; logprob: number } | null = null;
    if (hit && !reply.ignoreStop) {
      if (lps) {
        const at = chunks.findIndex((_, i) => chunks.slice(0, i).join('').length === hit.i && chunks[i]!.startsWith(hit.s));
        if (at < 0) throw new Error('test server: with logprobs, the stop string must start a chunk of its own');
        if (reply.stopLogprob !== undefined) stopToken = { token: chunks[at]!, logprob: reply.stopLogprob };
        chunks = chunks.slice(0, at);
      } else chunks = tokenize(full.slice(0, hit.i));
      finish = 'stop';
      stopReason = hit.s;
    }
    const lpOf = (tokens: { token: string; logprob: number }[], offset: number) =>
      route === 'chat'
        ? { content: tokens.map((t) => ({ token: t.token, logprob: t.logprob, bytes: [...new TextEncoder().encode(t.token)], top_logprobs: [] })) }
        : { tokens: tokens.map((t) => t.token), token_logprobs: tokens.map((t) => t.logprob), top_logprobs: tokens.map((t) => ({ [t.token]: t.logprob })), text_offset: tokens.map((_, i) => offset + tokens.slice(0, i).join('').length) };
    const chunkLp = (i: number, offset: number) => (lps ? lpOf([{ token: chunks[i]!, logprob: lps[i]! }], offset) : null);
    const finalLp = (offset: number) => (lps && stopToken ? lpOf([stopToken], offset) : null);
    if (reply.finishReason !== undefined) finish = reply.finishReason;
    rec.generated = chunks.join('');
    const usage = reply.usage === null ? undefined : (reply.usage ?? defaultUsage(rec, chunks.length));
    const wantsUsage = !rec.body?.stream || rec.body?.stream_options?.include_usage === true;
    if (usage && wantsUsage) rec.usage = usage;
    const extra = sendStopReason ? { stop_reason: stopReason } : {};

    if (!rec.body?.stream || reply.ignoreStream) {
      const all = lps ? [...chunks.map((c, i) => ({ token: c, logprob: lps[i]! })), ...(stopToken ? [stopToken] : [])] : null;
      const logprobs = all ? lpOf(all, 0) : null;
      const choice =
        route === 'completion'
          ? { index: 0, text: rec.generated, logprobs, finish_reason: finish, ...extra }
          : { index: 0, message: { role: 'assistant', content: rec.generated }, logprobs, finish_reason: finish, ...extra };
      return sendJson(res, 200, { id: 'cmpl-test', object: route === 'completion' ? 'text_completion' : 'chat.completion', created: 0, model: rec.body?.model, choices: [choice], ...(usage ? { usage } : {}) });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (o: unknown) => res.write(`data: ${JSON.stringify(o)}\n\n`);
    const envelope = (choices: unknown[]) => ({ id: 'cmpl-test', object: route === 'completion' ? 'text_completion' : 'chat.completion.chunk', created: 0, model: rec.body?.model, choices });
    if (route === 'chat') send(envelope([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]));
    let offset = 0;
    for (const [i, c] of chunks.entries()) {
      if (reply.chunkDelayMs) await delay(reply.chunkDelayMs);
      if (res.destroyed) return;
      const logprobs = chunkLp(i, offset);
      offset += c.length;
      send(envelope([route === 'completion' ? { index: 0, text: c, logprobs, finish_reason: null } : { index: 0, delta: { content: c }, logprobs, finish_reason: null }]));
    }
    const last = finalLp(offset);
    send(envelope([route === 'completion' ? { index: 0, text: '', logprobs: last, finish_reason: finish, ...extra } : { index: 0, delta: {}, logprobs: last, finish_reason: finish, ...extra }]));
    if (usage && wantsUsage) send({ ...envelope([]), usage });
    res.end('data: [DONE]\n\n');
  };

  const streamFault = async (rec: ReceivedRequest, res: ServerResponse, route: 'completion' | 'chat', reply: Extract<FaultReply, { after: number }>) => {
    const chunks = (typeof reply.text === 'string' ? tokenize(reply.text) : reply.text).slice(0, reply.after);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const c of chunks) {
      const choice = route === 'completion' ? { index: 0, text: c, finish_reason: null } : { index: 0, delta: { content: c }, finish_reason: null };
      res.write(`data: ${JSON.stringify({ id: 'cmpl-test', object: 'chunk', created: 0, model: rec.body?.model, choices: [choice] })}\n\n`);
    }
    if (reply.fault === 'cut') {
      await delay(5);
      res.socket?.destroy();
    }
  };

  const http = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) sendStatus(res, { status: 500, message: `test server error: ${String(err)}` });
      else res.destroy();
    });
  });
  http.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as AddressInfo).port;

  const server: TestServer = {
    url: `http://127.0.0.1:${port}`,
    requests,
    preflights,
    get generations() {
      return requests.filter((r) => r.path === '/v1/completions' || r.path === '/v1/chat/completions');
    },
    enqueue: (...replies) => void queue.push(...replies),
    reset: () => {
      requests.length = 0;
      preflights.length = 0;
      queue.length = 0;
      server.respond = opts.respond ?? defaultRespond;
    },
    respond: opts.respond ?? defaultRespond,
    waitForRequests: (n) => (requests.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
  return server;
}

/** Word-sized chunks, whitespace attached to the following word, as tokenizers tend to. */
function tokenize(text: string): string[] {
  return text.match(/\s*\S+|\s+/g) ?? [];
}

function firstStop(rec: ReceivedRequest): string | null {
  const stop = rec.body?.stop;
  return Array.isArray(stop) && typeof stop[0] === 'string' ? stop[0] : typeof stop === 'string' ? stop : null;
}

function sendStatus(res: ServerResponse, r: StatusReply): void {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...r.headers };
  if (r.retryAfter !== undefined) headers['retry-after'] = r.retryAfter;
  res.writeHead(r.status, headers);
  res.end(JSON.stringify({ error: { message: r.message ?? `HTTP ${r.status}`, type: 'test_error', code: r.status } }));
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (s += c));
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
