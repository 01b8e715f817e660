// Every request that leaves for a model server goes through here: one place for retries, timeouts,
// aborts, the privacy hook and the rule that an API key only ever travels in the Authorization header.
// It uses only fetch, streams and timers, so it runs in Node, browsers and workers alike.

import { AbortedError, ConfigError, RemoteHttpError, RemoteProtocolError, RemoteUnavailableError, RemoteUnreachableError } from '../core/errors.ts';
import type { BeforeSend, Transmission } from '../core/types.ts';
import { createParser } from 'eventsource-parser';

export interface HttpOptions {
  /** Longest wait for the response headers, and for each chunk of a body (so a stalled stream fails too). */
  timeoutMs: number;
  /** Retries after the first try, on 408/429/5xx and network errors. */
  maxRetries: number;
  /** First backoff delay; it doubles per retry, with jitter, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A server asking to wait longer than this (Retry-After) fails at once instead of freezing the run. */
  maxRetryAfterMs: number;
  /** Bodies longer than this are refused: a server that never stops talking is broken or hostile. */
  maxResponseChars: number;
  fetch: typeof fetch;
  /** Jitter source; tests replace it to make backoff deterministic. */
  random: () => number;
}

export const DEFAULT_HTTP_OPTIONS: HttpOptions = {
  timeoutMs: 60_000,
  maxRetries: 3,
  baseDelayMs: 400,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 60_000,
  maxResponseChars: 8 * 1024 * 1024,
  fetch: (input, init) => globalThis.fetch(input, init),
  random: Math.random,
};

export function httpOptions(overrides: Partial<HttpOptions> = {}): HttpOptions {
  return { ...DEFAULT_HTTP_OPTIONS, ...overrides };
}

export interface HttpRequest {
  /** Full endpoint URL. It never carries a secret (see serverBase). */
  url: string;
  host: string;
  /** JSON text, sent byte for byte and shown to beforeSend exactly so. */
  body: string;
  apiKey?: string;
  purpose: Transmission['purpose'];
  signal?: AbortSignal;
  beforeSend?: BeforeSend;
}

/**
 * Refuses keys that cannot be an HTTP header value. Without this, fetch itself would reject the
 * header with an error message that quotes the key.
 */
export function checkApiKey(key: string, source: string): string {
  if (!/^[\x21-\x7e]+$/.test(key))
    throw new ConfigError(`The API key from ${source} contains spaces, line breaks or non-ASCII characters; set it to the bare key.`);
  return key;
}

/** POSTs JSON and returns the parsed JSON answer. */
export async function postJson(req: HttpRequest, opts: HttpOptions): Promise<unknown> {
  return withResponse(req, opts, 'application/json', async (res, watchdog) => {
    const text = await readText(res, watchdog, req, opts);
    return parseJson(text, req);
  });
}

export type StreamOutcome =
  /** Server-sent events; `done` tells whether the "[DONE]" sentinel arrived. */
  | { kind: 'events'; done: boolean }
  /** The server ignored `stream: true` and answered with one JSON document. */
  | { kind: 'json'; value: unknown };

/**
 * POSTs JSON and feeds each server-sent event's data to `onData` as it arrives (the "[DONE]" sentinel
 * excepted). `onData` may throw to stop reading; the error is passed through.
 */
export async function postEventStream(req: HttpRequest, opts: HttpOptions, onData: (data: string) => void): Promise<StreamOutcome> {
  return withResponse(req, opts, 'text/event-stream', async (res, watchdog) => {
    if (/\bjson\b/i.test(res.headers.get('content-type') ?? '')) {
      return { kind: 'json', value: parseJson(await readText(res, watchdog, req, opts), req) };
    }
    let done = false;
    const parser = createParser({
      onEvent: (e) => {
        if (done) return;
        if (e.data.trim() === '[DONE]') done = true;
        else onData(e.data);
      },
    });
    await readChunks(res, watchdog, req, opts, (chunk) => {
      parser.feed(chunk);
      return done;
    });
    // A last event without its closing blank line still counts (some servers end the body there).
    if (!done) parser.feed('\n\n');
    return { kind: 'events', done };
  });
}

/** Removes the key from text that came from a server (an error message may echo it back). */
export function redact(text: string, key?: string): string {
  return key && key.length >= 4 ? text.split(key).join('[redacted]') : text;
}

/** The same for an error on its way out of a backend: whatever a server said, the key does not travel on. */
export function redactError(err: unknown, key?: string): unknown {
  if (key && err instanceof Error && err.message.includes(key)) err.message = redact(err.message, key);
  return err;
}

// ---------------------------------------------------------------------------------------------------

/** Aborts a request when the caller aborts or when no progress was made for `ms`. */
class Watchdog {
  readonly controller = new AbortController();
  timedOut = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onParentAbort = () => this.controller.abort();

  constructor(
    private readonly ms: number,
    private readonly parent?: AbortSignal,
  ) {
    parent?.addEventListener('abort', this.onParentAbort, { once: true });
    this.arm();
  }

  /** Restarts the clock: called on every chunk, so only silence counts. */
  arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort();
    }, this.ms);
  }

  clear(): void {
    clearTimeout(this.timer);
    this.parent?.removeEventListener('abort', this.onParentAbort);
  }
}

function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

async function withResponse<T>(
  req: HttpRequest,
  opts: HttpOptions,
  accept: string,
  consume: (res: Response, watchdog: Watchdog) => Promise<T>,
): Promise<T> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept };
  if (req.apiKey) headers.authorization = `Bearer ${req.apiKey}`;
  const seconds = (ms: number) => `${+(ms / 1000).toFixed(3)} s`;

  // Whether any try got an HTTP response or timed out: then the server exists (it answered, or
  // accepted and hung), so running out of tries means "unavailable", not "unreachable".
  let reached = false;
  for (let attempt = 1; ; attempt++) {
    if (req.signal?.aborted) throw new AbortedError();
    await req.beforeSend?.({ url: req.url, host: req.host, body: req.body, purpose: req.purpose, attempt });
    if (req.signal?.aborted) throw new AbortedError();
    const retriesLeft = attempt <= opts.maxRetries;
    const watchdog = new Watchdog(opts.timeoutMs, req.signal);
    let res: Response;
    try {
      // Redirects are refused rather than followed: the key must reach the configured host only.
      res = await opts.fetch(req.url, { method: 'POST', headers, body: req.body, signal: watchdog.controller.signal, redirect: 'manual' });
    } catch (err) {
      watchdog.clear();
      if (req.signal?.aborted) throw new AbortedError();
      const why = watchdog.timedOut ? `no response within ${seconds(opts.timeoutMs)}` : networkFailure(err, req.apiKey);
      reached ||= watchdog.timedOut;
      if (!retriesLeft) {
        const detail = `${why} (${attempt} ${attempt === 1 ? 'try' : 'tries'})`;
        throw reached ? new RemoteUnavailableError(req.url, detail) : new RemoteUnreachableError(req.url, detail);
      }
      await sleep(backoff(attempt, opts), req.signal);
      continue;
    }

    reached = true;
    if (res.ok) {
      try {
        return await consume(res, watchdog);
      } catch (err) {
        if (req.signal?.aborted) throw new AbortedError();
        if (watchdog.timedOut) throw new RemoteUnavailableError(req.url, `the response stalled: no data for ${seconds(opts.timeoutMs)}`);
        if (err instanceof BrokenBody)
          throw new RemoteProtocolError(req.url, `the connection broke mid-response (${redact(errorText(err.cause), req.apiKey)})`);
        throw err;
      } finally {
        watchdog.clear();
        await res.body?.cancel().catch(() => undefined);
      }
    }

    let detail: string;
    try {
      detail = redact(errorDetail(await readText(res, watchdog, req, { ...opts, maxResponseChars: 64 * 1024 }).catch(() => '')), req.apiKey);
    } finally {
      watchdog.clear();
    }
    if (req.signal?.aborted) throw new AbortedError();
    if (res.type === 'opaqueredirect' || (res.status >= 300 && res.status < 400)) {
      const to = res.headers.get('location');
      throw new RemoteHttpError(req.url, res.status, `redirected${to ? ` to ${to}` : ''}; give the final address as the server base`);
    }
    if (!retryableStatus(res.status)) throw new RemoteHttpError(req.url, res.status, detail);
    const said = `HTTP ${res.status}${detail ? ` (${detail})` : ''}`;
    if (!retriesLeft) throw new RemoteUnavailableError(req.url, `${said} after ${attempt} tries`);
    const asked = retryAfterMs(res.headers);
    if (asked !== null && asked > opts.maxRetryAfterMs)
      throw new RemoteUnavailableError(req.url, `${said}; it asks to retry after ${seconds(asked)}, longer than the ${seconds(opts.maxRetryAfterMs)} this client waits`);
    await sleep(asked ?? backoff(attempt, opts), req.signal);
  }
}

/** A body read that failed at the transport level (as opposed to an error raised by a consumer). */
class BrokenBody extends Error {
  constructor(cause: unknown) {
    super('body read failed', { cause });
  }
}

/** Exponential backoff with jitter: half fixed, half random, so clients that failed together spread out. */
function backoff(attempt: number, opts: HttpOptions): number {
  const cap = Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** (attempt - 1));
  return cap / 2 + (cap / 2) * opts.random();
}

/** Retry-After in seconds or as an HTTP date; OpenAI's retry-after-ms first, being more precise. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | null {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && /^\s*\d+(\.\d+)?\s*$/.test(ms)) return Number(ms);
  const v = headers.get('retry-after');
  if (v === null) return null;
  if (/^\s*\d+(\.\d+)?\s*$/.test(v)) return Number(v) * 1000;
  const date = Date.parse(v);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortedError());
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortedError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function readChunks(
  res: Response,
  watchdog: Watchdog,
  req: HttpRequest,
  opts: HttpOptions,
  onChunk: (text: string) => boolean | void,
): Promise<void> {
  if (!res.body) return;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let total = 0;
  try {
    for (;;) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (err) {
        throw new BrokenBody(err);
      }
      const { value, done } = next;
      if (done) break;
      watchdog.arm();
      const text = decoder.decode(value, { stream: true });
      total += text.length;
      if (total > opts.maxResponseChars)
        throw new RemoteProtocolError(req.url, `the response is longer than ${opts.maxResponseChars.toLocaleString('en')} characters`);
      if (onChunk(text)) break;
    }
    const tail = decoder.decode();
    if (tail) onChunk(tail);
  } finally {
    reader.releaseLock();
  }
}

async function readText(res: Response, watchdog: Watchdog, req: HttpRequest, opts: HttpOptions): Promise<string> {
  let out = '';
  await readChunks(res, watchdog, req, opts, (t) => {
    out += t;
  });
  return out;
}

function parseJson(text: string, req: HttpRequest): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Python servers write NaN and Infinity into JSON when a model produced them.
    if (/(?<![\w"])-?(NaN|Infinity)(?![\w"])/.test(text))
      throw new RemoteProtocolError(req.url, 'the body holds NaN or Infinity, which is not JSON: the model produced non-finite numbers');
    throw new RemoteProtocolError(req.url, `the body is not valid JSON (starts with ${JSON.stringify(redact(text.slice(0, 60), req.apiKey))})`);
  }
}

/** The server's own words about an error: OpenAI's {error: {message}}, vLLM's {message}, FastAPI's {detail}. */
export function errorDetail(body: string): string {
  const clip = (s: string) => {
    const line = s.replace(/\s+/g, ' ').trim();
    return line.length > 300 ? `${line.slice(0, 300)}…` : line;
  };
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return /<html/i.test(body) ? '' : clip(body);
  }
  return clip(messageOf(json) ?? '');
}

export function messageOf(json: unknown): string | null {
  if (typeof json === 'string') return json;
  if (!json || typeof json !== 'object') return null;
  const o = json as Record<string, unknown>;
  if (o.error !== undefined) return messageOf(o.error) ?? null;
  if (typeof o.message === 'string') return o.message;
  if (typeof o.detail === 'string') return o.detail;
  if (Array.isArray(o.detail)) return o.detail.map((d) => messageOf(d) ?? (d && typeof d === 'object' && 'msg' in d ? String(d.msg) : '')).join('; ');
  if (typeof o.msg === 'string') return o.msg;
  return null;
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
}

function networkFailure(err: unknown, key?: string): string {
  const cause = err instanceof Error ? (err as { cause?: { code?: unknown } }).cause : undefined;
  const code = cause && typeof cause.code === 'string' ? cause.code : '';
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host name lookup failed',
    ETIMEDOUT: 'connection timed out',
    EHOSTUNREACH: 'host unreachable',
  };
  return known[code] ? `${known[code]} (${code})` : redact(errorText(err), key);
}
