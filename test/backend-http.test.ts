import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { endpointUrl, serverBase } from '../src/backends/endpoint.ts';
import { httpOptions, postEventStream, postJson, retryAfterMs, type HttpOptions, type HttpRequest } from '../src/backends/http.ts';
import { AbortedError, ConfigError, RemoteHttpError, RemoteProtocolError, RemoteUnavailableError, RemoteUnreachableError, SendRefusedError } from '../src/core/errors.ts';
import type { Transmission } from '../src/core/types.ts';
import { startOpenAIServer, type TestServer } from './helpers/openai-server.ts';

const fast: Partial<HttpOptions> = { baseDelayMs: 5, maxDelayMs: 20, timeoutMs: 300, random: () => 0.5 };
const KEY = 'sk-test-SECRET-0123456789';

let server: TestServer;
beforeAll(async () => {
  server = await startOpenAIServer();
});
afterAll(() => server.close());
beforeEach(() => server.reset());

function req(path: string, over: Partial<HttpRequest> = {}): HttpRequest {
  const s = serverBase(server.url);
  return { url: endpointUrl(s, path), host: s.host, body: JSON.stringify({ model: 'm', messages: [], stream: true }), purpose: 'step', apiKey: KEY, ...over };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('server bases', () => {
  it('accepts a trailing slash or an explicit /v1 and keeps a path prefix', () => {
    for (const u of ['http://127.0.0.1:8000', 'http://127.0.0.1:8000/', 'http://127.0.0.1:8000/v1', ' http://127.0.0.1:8000/v1/ '])
      expect(endpointUrl(serverBase(u), '/v1/completions')).toBe('http://127.0.0.1:8000/v1/completions');
    expect(endpointUrl(serverBase('http://127.0.0.1:8000/v1'), '/pooling')).toBe('http://127.0.0.1:8000/pooling');
    expect(endpointUrl(serverBase('https://h.example/proxy/v1/'), '/v1/chat/completions')).toBe('https://h.example/proxy/v1/chat/completions');
  });

  it('refuses URLs that are not server bases, with a message that says what to give', () => {
    expect(() => serverBase('127.0.0.1:8000')).toThrow(ConfigError);
    expect(() => serverBase('ftp://h/')).toThrow(/http:\/\/ or https:\/\//);
    expect(() => serverBase('http://user:pw@h/')).toThrow(/environment variable/);
    expect(() => serverBase('http://h/?key=abc')).toThrow(/without/);
  });
});

describe('HTTP client', () => {
  it('sends the key only as a Bearer header and shows beforeSend the exact body of every attempt', async () => {
    const seen: Transmission[] = [];
    server.enqueue({ status: 503 }, { status: 500 }, { scores: [[0.2, 0.8]] });
    const r = req('/pooling', { body: '{"model":"p","messages":[]}', purpose: 'score', beforeSend: (t) => void seen.push(t) });
    const json = (await postJson(r, httpOptions(fast))) as { data: { data: number[][] }[] };
    expect(json.data[0]!.data).toEqual([[0.2, 0.8]]);
    expect(server.requests).toHaveLength(3);
    for (const q of server.requests) {
      expect(q.headers.authorization).toBe(`Bearer ${KEY}`);
      expect(q.rawBody).toBe(r.body);
      expect(q.path).toBe('/pooling');
    }
    expect(seen.map((t) => t.attempt)).toEqual([1, 2, 3]);
    expect(seen.every((t) => t.body === r.body && t.url === `${server.url}/pooling` && t.purpose === 'score')).toBe(true);
    expect(JSON.stringify(seen)).not.toContain(KEY);
  });

  it('sends no Authorization header without a key', async () => {
    await postJson(req('/pooling', { apiKey: undefined, body: '{"messages":[]}' }), httpOptions(fast));
    expect(server.requests[0]!.headers.authorization).toBeUndefined();
  });

  it('honours Retry-After on 429 and then succeeds', async () => {
    server.enqueue({ status: 429, retryAfter: '1', message: 'Rate limit reached' }, { scores: [] });
    const t0 = performance.now();
    await postJson(req('/pooling'), httpOptions({ ...fast, baseDelayMs: 1 }));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(950);
    expect(server.requests).toHaveLength(2);
  });

  it('reads Retry-After as seconds, as an HTTP date, and retry-after-ms first', () => {
    const now = Date.parse('Wed, 21 Oct 2026 07:28:00 GMT');
    expect(retryAfterMs(new Headers({ 'retry-after': '3' }), now)).toBe(3000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'Wed, 21 Oct 2026 07:28:05 GMT' }), now)).toBe(5000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'Wed, 21 Oct 2026 07:27:00 GMT' }), now)).toBe(0);
    expect(retryAfterMs(new Headers({ 'retry-after': '2', 'retry-after-ms': '150' }), now)).toBe(150);
    expect(retryAfterMs(new Headers({ 'retry-after': 'soon' }), now)).toBeNull();
    expect(retryAfterMs(new Headers(), now)).toBeNull();
  });

  it('waits for an HTTP-date Retry-After', async () => {
    server.enqueue({ status: 429, retryAfter: new Date(Date.now() + 1500).toUTCString() }, { scores: [] });
    const t0 = performance.now();
    await postJson(req('/pooling'), httpOptions(fast));
    // HTTP dates have whole seconds: the wait is between 0.5 and 1.5 s.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(400);
    expect(server.requests).toHaveLength(2);
  });

  it('fails at once when Retry-After asks for longer than it is willing to wait', async () => {
    server.enqueue({ status: 429, retryAfter: '3600' });
    const err = await rejection(postJson(req('/pooling'), httpOptions(fast)));
    expect(err).toBeInstanceOf(RemoteUnavailableError);
    expect(err.message).toMatch(/HTTP 429.*retry after 3600 s/);
    expect(server.requests).toHaveLength(1);
  });

  it('gives up after the retries on 5xx, naming the endpoint and the status', async () => {
    server.enqueue(...Array.from({ length: 3 }, () => ({ status: 500, message: 'engine crashed' })));
    const err = await rejection(postJson(req('/pooling'), httpOptions({ ...fast, maxRetries: 2 })));
    expect(err).toBeInstanceOf(RemoteUnavailableError);
    expect(err.message).toContain(`${server.url}/pooling`);
    expect(err.message).toMatch(/HTTP 500 \(engine crashed\) after 3 tries/);
    expect(err).not.toBeInstanceOf(RemoteUnreachableError);
    expect(server.requests).toHaveLength(3);
  });

  it.each([400, 401, 403, 404])('does not retry HTTP %i and names endpoint, status and the server message', async (status) => {
    server.enqueue({ status, message: `nope ${status} (key ${KEY})` });
    const err = await rejection(postJson(req('/pooling'), httpOptions(fast)));
    expect(err).toBeInstanceOf(RemoteHttpError);
    expect((err as RemoteHttpError).status).toBe(status);
    expect(err.message).toContain(`${server.url}/pooling answered HTTP ${status}: nope ${status}`);
    expect(err.message).not.toContain(KEY);
    expect(err.message).toContain('[redacted]');
    expect(server.requests).toHaveLength(1);
  });

  it('explains a 401 as a key problem', async () => {
    const locked = await startOpenAIServer({ apiKey: 'right-key' });
    try {
      const s = serverBase(locked.url);
      const err = await rejection(postJson({ url: endpointUrl(s, '/pooling'), host: s.host, body: '{}', purpose: 'score', apiKey: KEY }, httpOptions(fast)));
      expect(err.message).toMatch(/HTTP 401: Incorrect API key provided\. Check the API key\./);
      expect(locked.requests).toHaveLength(1);
    } finally {
      await locked.close();
    }
  });

  it('times out a request that never answers, retrying, then says so', async () => {
    server.enqueue({ fault: 'hang' }, { fault: 'hang' });
    const t0 = performance.now();
    const err = await rejection(postJson(req('/pooling'), httpOptions({ ...fast, timeoutMs: 150, maxRetries: 1 })));
    expect(err).toBeInstanceOf(RemoteUnavailableError);
    expect(err.message).toMatch(/no response within 0\.15 s \(2 tries\)/);
    // A server that accepts and hangs is broken, not out of reach: it stays an error on the page too.
    expect(err).not.toBeInstanceOf(RemoteUnreachableError);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(server.requests).toHaveLength(2);
  });

  it('times out a stream that stalls mid-way, without retrying it', async () => {
    server.enqueue({ fault: 'stall', text: 'one two three', after: 2 });
    const data: string[] = [];
    const err = await rejection(postEventStream(req('/v1/chat/completions'), httpOptions({ ...fast, timeoutMs: 200 }), (d) => void data.push(d)));
    expect(err).toBeInstanceOf(RemoteUnavailableError);
    expect(err.message).toMatch(/stalled: no data for 0\.2 s/);
    expect(data).toHaveLength(2);
    expect(server.requests).toHaveLength(1);
  });

  it('reports a connection dropped mid-stream as a protocol error', async () => {
    server.enqueue({ fault: 'cut', text: 'one two three', after: 1 });
    const outcome = postEventStream(req('/v1/chat/completions'), httpOptions(fast), () => undefined);
    const err = await rejection(outcome);
    expect(err).toBeInstanceOf(RemoteProtocolError);
    expect(server.requests).toHaveLength(1);
  });

  it('turns a non-JSON body into a protocol error', async () => {
    server.enqueue({ fault: 'invalid-json' });
    const err = await rejection(postJson(req('/pooling', { body: '{}' }), httpOptions(fast)));
    expect(err).toBeInstanceOf(RemoteProtocolError);
    expect(err.message).toMatch(/not valid JSON/);
    server.enqueue({ raw: '{"data": [{"data": [[NaN, NaN]]}]}' });
    expect((await rejection(postJson(req('/pooling', { body: '{}' }), httpOptions(fast)))).message).toMatch(/NaN or Infinity/);
  });

  it('refuses redirects instead of carrying the key elsewhere', async () => {
    const other = createServer((_, res) => res.writeHead(307, { location: 'http://127.0.0.1:9/steal' }).end());
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    try {
      const port = (other.address() as AddressInfo).port;
      const err = await rejection(postJson({ url: `http://127.0.0.1:${port}/pooling`, host: `127.0.0.1:${port}`, body: '{}', purpose: 'score', apiKey: KEY }, httpOptions(fast)));
      expect(err).toBeInstanceOf(RemoteHttpError);
      expect(err.message).toMatch(/HTTP 307: redirected to http:\/\/127\.0\.0\.1:9\/steal/);
    } finally {
      other.close();
    }
  });

  it('retries refused connections and then names the endpoint', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    let attempts = 0;
    const err = await rejection(
      postJson({ url: `http://127.0.0.1:${port}/pooling`, host: `127.0.0.1:${port}`, body: '{}', purpose: 'score', beforeSend: () => void attempts++ }, httpOptions(fast)),
    );
    expect(err).toBeInstanceOf(RemoteUnreachableError);
    expect(err).toBeInstanceOf(RemoteUnavailableError);
    expect(err.message).toContain(`http://127.0.0.1:${port}/pooling is unavailable: connection refused (ECONNREFUSED) (4 tries)`);
    expect(attempts).toBe(4);
  });

  it("calls it unreachable only when no try got any response: a browser's \"Failed to fetch\" is, a 503 then a refusal is not", async () => {
    const failing: typeof fetch = () => Promise.reject(new TypeError('Failed to fetch'));
    const offline = await rejection(postJson(req('/pooling'), httpOptions({ ...fast, maxRetries: 2, fetch: failing })));
    expect(offline).toBeInstanceOf(RemoteUnreachableError);
    expect(offline.message).toBe(`${server.url}/pooling is unavailable: Failed to fetch (3 tries). Check that the server is running and reachable, then try again.`);

    let calls = 0;
    const flaky: typeof fetch = (input, init) => (++calls === 1 ? globalThis.fetch(input, init) : Promise.reject(new TypeError('Failed to fetch')));
    server.enqueue({ status: 503 });
    const mixed = await rejection(postJson(req('/pooling'), httpOptions({ ...fast, maxRetries: 1, fetch: flaky })));
    expect(mixed).toBeInstanceOf(RemoteUnavailableError);
    expect(mixed).not.toBeInstanceOf(RemoteUnreachableError);
    expect(calls).toBe(2);
  });

  it('aborts promptly while waiting for an answer and while backing off', async () => {
    server.enqueue({ fault: 'hang' });
    const ac = new AbortController();
    const t0 = performance.now();
    setTimeout(() => ac.abort(), 50);
    expect(await rejection(postJson(req('/pooling', { signal: ac.signal }), httpOptions({ ...fast, timeoutMs: 10_000 })))).toBeInstanceOf(AbortedError);
    expect(performance.now() - t0).toBeLessThan(1000);

    server.enqueue({ status: 503 });
    const ac2 = new AbortController();
    const t1 = performance.now();
    const p = postJson(req('/pooling', { signal: ac2.signal, beforeSend: (t) => void (t.attempt === 1 && setTimeout(() => ac2.abort(), 50)) }), httpOptions({ ...fast, baseDelayMs: 10_000, maxDelayMs: 10_000 }));
    expect(await rejection(p)).toBeInstanceOf(AbortedError);
    expect(performance.now() - t1).toBeLessThan(1000);
  });

  it('sends nothing when beforeSend refuses', async () => {
    const err = await rejection(postJson(req('/pooling', { beforeSend: () => { throw new SendRefusedError('The user declined.'); } }), httpOptions(fast)));
    expect(err).toBeInstanceOf(SendRefusedError);
    expect(server.requests).toHaveLength(0);
  });

  it('refuses a body larger than the limit', async () => {
    server.enqueue({ raw: JSON.stringify({ data: 'x'.repeat(5000) }) });
    const err = await rejection(postJson(req('/pooling'), httpOptions({ ...fast, maxResponseChars: 1000 })));
    expect(err).toBeInstanceOf(RemoteProtocolError);
    expect(err.message).toMatch(/longer than 1,000 characters/);
  });
});
