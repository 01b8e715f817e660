import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { SolveRecord } from '../src/app/history.ts';
import type { HoldReason } from '../src/app/remote-gate.ts';
import { startRun, type RunDeps } from '../src/app/runner.ts';
import { defaultSettings } from '../src/app/settings.ts';
import { openAIStepModel } from '../src/backends/openai.ts';
import type { StepModel, StepScorer } from '../src/core/types.ts';
import { startOpenAIServer, type TestServer } from './helpers/openai-server.ts';

// The runner is what the page runs; here its remote side is a real HTTP server on 127.0.0.1 and the
// local models are scripted (the real ones run in the browser tests).
const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function weakModel(texts: string[]): StepModel {
  let i = 0;
  return {
    id: 'weak',
    where: 'device',
    async next(r) {
      if (r.signal?.aborted) throw new DOMException('aborted', 'AbortError');
      const text = texts[Math.min(i++, texts.length - 1)]!;
      r.onText?.(text);
      return { text, finish: 'step', promptTokens: 4, completionTokens: text.split(' ').length };
    },
  };
}

const prm: StepScorer = { id: 'prm', where: 'device', score: async (r) => r.steps.map((s) => (s.includes('BAD') ? 0.1 : 0.9)) };

async function setup(opts: { gate?: HoldReason | null; confirm?: boolean; apiKey?: string; key?: string; weak?: string[] } = {}) {
  const server = await startOpenAIServer(opts.apiKey ? { apiKey: opts.apiKey } : {});
  servers.push(server);
  server.respond = () => ({ text: 'Remote step, \\boxed{7}.' });
  const saved: SolveRecord[] = [];
  const asked: string[] = [];
  const deps: RunDeps = {
    weak: weakModel(opts.weak ?? ['First step.', 'BAD second step.']),
    prm,
    strong: openAIStepModel({ baseUrl: server.url, model: 'big', mode: 'raw', apiKey: opts.key, http: { maxRetries: 0, timeoutMs: 2000 } }),
    settings: { ...defaultSettings(), policy: 'thr:0.5', seed: 1 },
    gate: () => opts.gate ?? null,
    confirm: opts.confirm === undefined ? undefined : async (t) => (asked.push(t.body), opts.confirm!),
    save: async (r) => void saved.push(r),
    sessionId: 's1',
    setup: { weak: 'tjs:./lm', prm: 'tjs:./prm#value', strong: `big @ ${server.url}`, strongWhere: 'remote', policy: 'thr:0.5' },
  };
  return { server, saved, asked, deps };
}

describe('page runner', () => {
  it('routes a step remotely, and its ledger and transmissions match what the server saw', async () => {
    const { server, saved, deps } = await setup({ apiKey: 'sk-test', key: 'sk-test' });
    const rec = await startRun('What is 3+4?', deps).done;
    expect(rec.status).toBe('done');
    expect(rec.steps.map((s) => s.source)).toEqual(['weak', 'strong']);
    expect(rec.answer).toBe('7');
    const gens = server.generations;
    expect(gens).toHaveLength(1);
    expect(rec.transmissions.map((t) => t.body)).toEqual(gens.map((g) => g.rawBody));
    expect(rec.transmissions[0]!.host).toBe(new URL(server.url).host);
    expect(rec.ledger!.strongTokens).toBe(gens.reduce((a, g) => a + g.usage!.completion_tokens, 0));
    expect(rec.ledger!.strongPromptTokens).toBe(gens.reduce((a, g) => a + g.usage!.prompt_tokens, 0));
    expect(rec.ledger!.sentRequests).toBe(1);
    // The rejected draft never left the device; the key is never in the record.
    expect(gens[0]!.rawBody).not.toContain('BAD');
    expect(JSON.stringify(saved)).not.toContain('sk-test');
    // Saved while running (after each step) and at the end.
    expect(saved[0]!.status).toBe('running');
    expect(saved.some((r) => r.status === 'running' && r.steps.length === 1)).toBe(true);
    expect(saved.at(-1)).toEqual(rec);
    // Each step's timing is kept with the record (so the history shows it too); the remote step waited on the server.
    expect(rec.timings).toHaveLength(2);
    expect(rec.timings![1]!.strong).toBeGreaterThan(0);
    expect(rec.timings![0]!.strong).toBe(0);
  });

  it('offline, keeps the step that would have been sent and marks it', async () => {
    const { server, deps } = await setup({ gate: 'offline', weak: ['First step.', 'BAD second \\boxed{1}.'] });
    const rec = await startRun('What is 3+4?', deps).done;
    expect(server.requests).toHaveLength(0);
    expect(rec.steps.map((s) => [s.source, s.text])).toEqual([
      ['weak', 'First step.'],
      ['weak', 'BAD second \\boxed{1}.'],
    ]);
    expect(rec.holds).toEqual([{ t: 2, reason: 'offline' }]);
    expect(rec.ledger!.sentRequests).toBe(0);
  });

  it('a remote that refuses connections holds the steps it would have written, marked, and the run ends without an error', async () => {
    const { deps } = await setup({ weak: ['First step.', 'BAD second step.', 'BAD third step.', 'Done \\boxed{1}.'] });
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    deps.strong = openAIStepModel({ baseUrl: `http://127.0.0.1:${port}`, model: 'big', mode: 'raw', http: { maxRetries: 1, baseDelayMs: 1, timeoutMs: 2000 } });
    const seen: string[] = [];
    deps.onEvent = (e, rec) => {
      // The hold is in the record before the step it marks arrives.
      if (e.type === 'step' && rec.holds.some((h) => h.t === e.step.index + 1)) seen.push(`held ${e.step.index + 1}`);
    };
    const rec = await startRun('What is 3+4?', deps).done;
    expect(rec.status).toBe('done');
    expect(rec.error).toBeNull();
    expect(rec.answer).toBe('1');
    expect(rec.steps.map((s) => s.source)).toEqual(['weak', 'weak', 'weak', 'weak']);
    expect(rec.holds).toEqual([
      { t: 2, reason: 'unreachable' },
      { t: 3, reason: 'unreachable' },
    ]);
    expect(seen).toEqual(['held 2', 'held 3']);
    // Two tries for step 2, none for step 3; both are in the ledger, as what the page tried to send.
    expect(rec.transmissions).toHaveLength(2);
  });

  it('asks before sending; a refusal sends nothing and keeps the transcript', async () => {
    const { server, asked, deps } = await setup({ confirm: false });
    const rec = await startRun('What is 3+4?', deps).done;
    expect(asked).toHaveLength(1);
    expect(server.requests).toHaveLength(0);
    expect(rec.status).toBe('error');
    expect(rec.error).toMatch(/You declined to send step text to 127\.0\.0\.1:\d+/);
    expect(rec.steps.map((s) => s.text)).toEqual(['First step.']);
  });

  it('a 401 ends the run with a clear message and keeps the steps', async () => {
    const { deps } = await setup({ apiKey: 'right', key: 'wrong' });
    const rec = await startRun('What is 3+4?', deps).done;
    expect(rec.status).toBe('error');
    expect(rec.error).toMatch(/401.*Check the API key/);
    expect(rec.error).not.toContain('wrong');
    expect(rec.steps).toHaveLength(1);
  });

  it('Stop ends a hung remote call at once', async () => {
    const { server, deps } = await setup();
    server.respond = () => ({ fault: 'hang' });
    const run = startRun('What is 3+4?', deps);
    await server.waitForRequests(1);
    run.stop();
    const rec = await run.done;
    expect(rec.status).toBe('stopped');
    expect(rec.steps).toHaveLength(1);
    expect(rec.transmissions).toHaveLength(1);
  });
});
