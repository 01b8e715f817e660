// solve() end to end over real HTTP: weak, strong and PRM are OpenAI-compatible / vLLM-style servers.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openAIStepModel } from '../src/backends/openai.ts';
import { vllmPrmScorer } from '../src/backends/vllm-prm.ts';
import { parsePolicySpec } from '../src/core/policies/index.ts';
import { solve, solveToTrace, type SolveEvent, type SolveOptions } from '../src/core/solve.ts';
import type { ContinuationMode } from '../src/core/types.ts';
import { continuedSteps, prmSteps, startOpenAIServer, type ReceivedRequest, type TestServer } from './helpers/openai-server.ts';

const PROBLEM = 'What is 1+2?';
const KEY = 'sk-strong-SECRET-424242';
const fast = { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 3000 };

/** The weak model's draft of step n+1 (n = steps accepted so far); "BAD" drafts get a low PRM score. */
const weakDrafts = ['We add the numbers.', 'BAD: 1+2 = 4.', 'Check: 3 - 2 = 1.', 'BAD guess.', 'So the answer is \\boxed{3}.'];
const draftFor = (r: ReceivedRequest) => weakDrafts[continuedSteps(r).length] ?? 'So the answer is \\boxed{3}.';
const strongFor = (r: ReceivedRequest) => `Strong step ${continuedSteps(r).length + 1}: 1+2 = 3.`;

let weak: TestServer;
let strong: TestServer;
let prm: TestServer;
beforeAll(async () => {
  [weak, strong, prm] = await Promise.all([
    startOpenAIServer({ respond: (r) => ({ text: draftFor(r) }) }),
    startOpenAIServer({ respond: (r) => ({ text: strongFor(r) }), apiKey: KEY }),
    startOpenAIServer({ respond: (r) => ({ scores: prmSteps(r).map((s) => (s.includes('BAD') ? [0.85, 0.15] : [0.2, 0.8])) }) }),
  ]);
});
afterAll(() => Promise.all([weak.close(), strong.close(), prm.close()]));
beforeEach(() => {
  for (const s of [weak, strong, prm]) s.reset();
});

function models(o: { strongMode?: ContinuationMode; strongKey?: string } = {}): Pick<SolveOptions, 'weak' | 'strong' | 'prm'> {
  return {
    weak: openAIStepModel({ baseUrl: weak.url, model: 'small', mode: 'raw', where: 'device', http: fast }),
    strong: openAIStepModel({ baseUrl: strong.url, model: 'big', mode: o.strongMode ?? 'continue', apiKey: o.strongKey ?? KEY, http: fast }),
    prm: vllmPrmScorer({ baseUrl: prm.url, model: 'prm', http: fast }),
  };
}

const sum = (reqs: ReceivedRequest[], f: 'prompt_tokens' | 'completion_tokens') => reqs.reduce((n, r) => n + r.usage![f], 0);

describe('solve over HTTP', () => {
  it('thr: regenerates low-scored drafts, the strong server never sees them, the ledger matches reported usage', async () => {
    const events: SolveEvent[] = [];
    const trace = await solveToTrace(PROBLEM, { ...models(), policy: parsePolicySpec('thr:0.5'), sampling: { temperature: 0.7, topP: 0.8 } }, (e) => events.push(e));
    expect(trace.error).toBeUndefined();
    expect(trace.finish).toBe('boxed');
    expect(trace.answer).toBe('3');
    expect(trace.steps.map((s) => [s.source, s.text])).toEqual([
      ['weak', 'We add the numbers.'],
      ['strong', 'Strong step 2: 1+2 = 3.'],
      ['weak', 'Check: 3 - 2 = 1.'],
      ['strong', 'Strong step 4: 1+2 = 3.'],
      ['weak', 'So the answer is \\boxed{3}.'],
    ]);
    expect(trace.steps[1]!.draft).toMatchObject({ text: 'BAD: 1+2 = 4.', score: 0.15 });
    expect(events.filter((e) => e.type === 'decision').map((e) => (e as { decision: string }).decision)).toEqual(['accept', 'regenerate', 'accept', 'regenerate', 'accept']);

    // Nothing the strong server received mentions a rejected draft.
    expect(strong.requests).toHaveLength(2);
    for (const r of strong.requests) expect(r.rawBody).not.toContain('BAD');
    expect(strong.requests[1]!.body.messages[2].content).toBe('We add the numbers.\n\nStrong step 2: 1+2 = 3.\n\nCheck: 3 - 2 = 1.\n\n');

    // The ledger is the servers' own usage reports, to the token.
    const l = trace.ledger;
    expect(l.strongTokens).toBe(sum(strong.requests, 'completion_tokens'));
    expect(l.strongPromptTokens).toBe(sum(strong.requests, 'prompt_tokens'));
    expect(l.weakTokens + l.discardedDraftTokens).toBe(sum(weak.requests, 'completion_tokens'));
    expect(l.discardedDraftTokens).toBe(weak.requests[1]!.usage!.completion_tokens + weak.requests[3]!.usage!.completion_tokens);
    expect(l.weakPromptTokens).toBe(sum(weak.requests, 'prompt_tokens'));
    expect(l).toMatchObject({ strongCalls: 2, prmCalls: 5, estimated: false });
    expect(trace.steps.map((s) => s.tokens)).toEqual(trace.steps.map((s, i) => (s.source === 'strong' ? strong.requests[i === 1 ? 0 : 1]! : weak.requests[i]!).usage!.completion_tokens));

    // Only remote traffic (strong + PRM; the weak server is on-device here) is what left, byte for byte.
    const remote = [...strong.requests, ...prm.requests];
    expect(trace.transmissions.map((t) => t.body).sort()).toEqual(remote.map((r) => r.rawBody).sort());
    expect(l.sentChars).toBe(remote.reduce((n, r) => n + r.rawBody.length, 0));
    expect(JSON.stringify(trace)).not.toContain(KEY);
    for (const r of strong.requests) expect(r.body).toMatchObject({ temperature: 0.7, top_p: 0.8, max_tokens: 2048, stop: ['\n\n'] });
  });

  it('thr: k=0 never calls the PRM or the strong model; k=1 never drafts', async () => {
    const low = await solveToTrace(PROBLEM, { ...models(), policy: parsePolicySpec('thr:0') });
    expect(low.steps.every((s) => s.source === 'weak')).toBe(true);
    expect(low.steps.map((s) => s.text)).toEqual(weakDrafts);
    expect(prm.requests).toHaveLength(0);
    expect(strong.requests).toHaveLength(0);

    weak.reset();
    const high = await solveToTrace(PROBLEM, { ...models(), policy: parsePolicySpec('thr:1'), limits: { maxSteps: 3 } });
    expect(high.steps.map((s) => s.source)).toEqual(['strong', 'strong', 'strong']);
    expect(high.finish).toBe('max-steps');
    expect(weak.requests).toHaveLength(0);
    expect(prm.requests).toHaveLength(0);
    expect(high.ledger.strongCalls).toBe(3);
  });

  it('weak-only and strong-only', async () => {
    const w = await solveToTrace(PROBLEM, { ...models(), policy: parsePolicySpec('weak-only') });
    expect(w.steps.map((s) => s.source)).toEqual(Array(5).fill('weak'));
    expect(strong.requests.length + prm.requests.length).toBe(0);

    weak.reset();
    strong.respond = (r) => ({ text: continuedSteps(r).length === 1 ? 'Thus \\boxed{3}.' : 'Add 1 and 2.' });
    const s = await solveToTrace(PROBLEM, { ...models(), policy: parsePolicySpec('strong-only') });
    expect(s.steps.map((x) => [x.source, x.text])).toEqual([
      ['strong', 'Add 1 and 2.'],
      ['strong', 'Thus \\boxed{3}.'],
    ]);
    expect(s.answer).toBe('3');
    expect(weak.requests.length + prm.requests.length).toBe(0);
  });

  it('query: a low first score sends the whole problem to the strong model, a high one keeps it local unscored', async () => {
    weak.respond = (r) => ({ text: ['BAD start.', 'Then \\boxed{3}.'][continuedSteps(r).length] ?? 'x' });
    strong.respond = (r) => ({ text: ['Strong start.', 'Strong \\boxed{3}.'][continuedSteps(r).length] ?? 'x' });
    const low = await solveToTrace(PROBLEM, { ...models(), policy: parsePolicySpec('query:0.5') });
    expect(low.steps.map((s) => [s.source, s.text])).toEqual([
      ['strong', 'Strong start.'],
      ['strong', 'Strong \\boxed{3}.'],
    ]);
    expect(low.steps[0]!.draft?.text).toBe('BAD start.');
    expect(weak.requests).toHaveLength(1);
    expect(prm.requests).toHaveLength(1);

    for (const s of [weak, strong, prm]) s.reset();
    const high = await solveToTrace(PROBLEM, { ...models(), policy: parsePolicySpec('query:0.1') });
    expect(high.steps.map((s) => s.source)).toEqual(Array(5).fill('weak'));
    expect(prm.requests).toHaveLength(1);
    expect(strong.requests).toHaveLength(0);
  });

  it('random: routes a seeded share of steps before drafting them', async () => {
    const run = () => solveToTrace(PROBLEM, { ...models(), policy: parsePolicySpec('random:0.5'), seed: 11, limits: { maxSteps: 12 } });
    weak.respond = () => ({ text: 'A weak step.' });
    strong.respond = () => ({ text: 'A strong step.' });
    const a = await run();
    const routed = a.steps.filter((s) => s.source === 'strong').length;
    expect(routed).toBeGreaterThan(0);
    expect(routed).toBeLessThan(12);
    expect(strong.requests).toHaveLength(routed);
    expect(weak.requests).toHaveLength(12 - routed);
    expect(prm.requests).toHaveLength(0);
    expect(a.steps.every((s) => s.draft === null)).toBe(true);
    const b = await run();
    expect(b.steps.map((s) => s.source)).toEqual(a.steps.map((s) => s.source));
  });

  it('continues past degenerate drafts, counting both generations', async () => {
    weak.enqueue({ text: ' .. ', usage: { prompt_tokens: 50, completion_tokens: 3 } }, { text: 'Real \\boxed{3}', usage: { prompt_tokens: 52, completion_tokens: 6 } });
    const trace = await solveToTrace(PROBLEM, { ...models(), policy: parsePolicySpec('weak-only') });
    expect(trace.steps).toHaveLength(1);
    expect(trace.steps[0]).toMatchObject({ text: 'Real \\boxed{3}', tokens: 9 });
    expect(trace.ledger.weakPromptTokens).toBe(102);
    expect(weak.requests[1]!.body.prompt.endsWith('<|im_start|>assistant\n .. \n\n')).toBe(true);
    expect(weak.requests[1]!.body.max_tokens).toBe(2048 - 3);
  });

  it('counts every strong request as a call, a degenerate answer and its continuation included', async () => {
    strong.enqueue({ text: '...' }, { text: 'Fine \\boxed{3}' });
    const trace = await solveToTrace(PROBLEM, { ...models(), policy: parsePolicySpec('strong-only') });
    expect(trace.steps.map((s) => s.text)).toEqual(['Fine \\boxed{3}']);
    expect(trace.ledger.strongCalls).toBe(strong.requests.length);
    expect(trace.ledger.strongCalls).toBe(2);
    expect(trace.ledger.strongTokens).toBe(sum(strong.requests, 'completion_tokens'));
    expect(strong.requests[1]!.body.messages[2].content).toBe('...\n\n');
  });

  it('fails clearly when a scorer returns no usable score, instead of reading it as "accept"', async () => {
    for (const bad of [[], [0.9, 0.9], [Number.NaN], [1.5]]) {
      weak.reset();
      const scorer = { id: 'broken', where: 'device' as const, score: async () => bad };
      const trace = await solveToTrace(PROBLEM, { ...models(), prm: scorer, policy: parsePolicySpec('thr:0.5') });
      expect(trace.finish).toBe('error');
      expect(trace.error).toMatch(/The PRM "broken" returned .* for 1 steps; it must give one score in \[0, 1\] per step\./);
      expect(trace.steps).toHaveLength(0);
    }
  });

  it('ends when the weak model has nothing more to say', async () => {
    weak.enqueue({ text: 'Only step.' }, { text: '', end: 'eos' });
    const trace = await solveToTrace(PROBLEM, { ...models(), policy: parsePolicySpec('weak-only') });
    expect(trace.finish).toBe('end');
    expect(trace.steps.map((s) => s.text)).toEqual(['Only step.']);
  });

  it('stops at the step cap', async () => {
    weak.respond = () => ({ text: 'Keep going.' });
    const trace = await solveToTrace(PROBLEM, { ...models(), policy: parsePolicySpec('weak-only'), limits: { maxSteps: 4 } });
    expect(trace.finish).toBe('max-steps');
    expect(trace.steps).toHaveLength(4);
    expect(weak.requests).toHaveLength(4);
  });

  it('ends with "length" when a step hits the token cap', async () => {
    weak.enqueue({ text: 'A very long', end: 'length' });
    const trace = await solveToTrace(PROBLEM, { ...models(), policy: parsePolicySpec('weak-only'), limits: { maxStepTokens: 3 } });
    expect(trace.finish).toBe('length');
    expect(weak.requests[0]!.body.max_tokens).toBe(3);
  });

  it('marks instruct-mode strong steps as approximate continuations', async () => {
    strong.respond = () => ({ text: 'We add the numbers. Then 1+2 = 3.' });
    const trace = await solveToTrace(PROBLEM, { ...models({ strongMode: 'instruct' }), policy: parsePolicySpec('thr:0.5'), limits: { maxSteps: 2 } });
    expect(trace.steps[1]).toMatchObject({ source: 'strong', text: 'Then 1+2 = 3.', continuation: 'instruct' });
    expect(strong.requests[0]!.rawBody).not.toContain('BAD');
  });

  it('a wrong key fails with a clear error that never shows any key', async () => {
    const wrong = 'sk-wrong-SECRET-999999';
    const trace = await solveToTrace(PROBLEM, { ...models({ strongKey: wrong }), policy: parsePolicySpec('thr:1') });
    expect(trace.finish).toBe('error');
    expect(trace.error).toBe(`${strong.url}/v1/chat/completions answered HTTP 401: Incorrect API key provided. Check the API key.`);
    expect(strong.requests).toHaveLength(1);
    expect(strong.requests[0]!.headers.authorization).toBe(`Bearer ${wrong}`);
    expect(JSON.stringify(trace)).not.toContain(wrong);
  });

  it('stops calling models when the consumer stops listening to the event stream', async () => {
    strong.respond = () => ({ text: Array.from({ length: 100 }, (_, i) => `t${i} `), chunkDelayMs: 30 });
    for await (const e of solve(PROBLEM, { ...models(), policy: parsePolicySpec('thr:0.5') })) {
      if (e.type === 'text' && e.source === 'strong') break;
    }
    await new Promise((r) => setTimeout(r, 150));
    expect(strong.requests).toHaveLength(1);
    expect(strong.requests[0]!.clientClosed).toBe(true);
    const before = weak.requests.length + prm.requests.length;
    await new Promise((r) => setTimeout(r, 150));
    expect(weak.requests.length + prm.requests.length).toBe(before);
  });

  it('aborts mid-step while the strong model is streaming', async () => {
    strong.respond = () => ({ text: Array.from({ length: 100 }, (_, i) => `t${i} `), chunkDelayMs: 30 });
    const ac = new AbortController();
    let abortedAt = 0;
    const trace = await solveToTrace(PROBLEM, { ...models(), policy: parsePolicySpec('thr:0.5'), signal: ac.signal }, (e) => {
      if (e.type === 'text' && e.source === 'strong' && !abortedAt) {
        abortedAt = performance.now();
        ac.abort();
      }
    });
    expect(trace.finish).toBe('aborted');
    expect(performance.now() - abortedAt).toBeLessThan(500);
    expect(trace.steps.map((s) => s.source)).toEqual(['weak']);
    await new Promise((r) => setTimeout(r, 100));
    expect(strong.requests[0]!.clientClosed).toBe(true);
  });

  it('a strong server that refuses connections: held steps with onUnreachable "hold", one error by default, and the next run tries again', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const deadStrong = openAIStepModel({ baseUrl: `http://127.0.0.1:${port}`, model: 'big', apiKey: KEY, http: { ...fast, maxRetries: 2 } });
    const run = async (onUnreachable?: 'hold' | 'fail') => {
      const events: SolveEvent[] = [];
      const trace = await solveToTrace(PROBLEM, { ...models(), strong: deadStrong, policy: parsePolicySpec('thr:0.5'), ...(onUnreachable ? { onUnreachable } : {}) }, (e) => events.push(e));
      return { trace, events, tries: events.filter((e) => e.type === 'remote' && e.transmission.purpose === 'step').length };
    };

    const held = await run('hold');
    expect(held.trace.error).toBeUndefined();
    expect(held.trace.finish).toBe('boxed');
    expect(held.trace.steps.map((s) => [s.source, s.text, s.held ?? null])).toEqual([
      ['weak', 'We add the numbers.', null],
      ['weak', 'BAD: 1+2 = 4.', 'unreachable'],
      ['weak', 'Check: 3 - 2 = 1.', null],
      ['weak', 'BAD guess.', 'unreachable'],
      ['weak', 'So the answer is \\boxed{3}.', null],
    ]);
    // Three tries for step 2, none for step 4: the run does not wait on retries again.
    expect(held.tries).toBe(3);
    expect(held.events.filter((e) => e.type === 'hold').map((e) => [(e as { t: number }).t, (e as { tried: boolean }).tried])).toEqual([
      [2, true],
      [4, false],
    ]);
    expect((held.events.find((e) => e.type === 'hold') as { message: string }).message).toBe(
      `http://127.0.0.1:${port}/v1/chat/completions is unavailable: connection refused (ECONNREFUSED) (3 tries). Check that the server is running and reachable, then try again.`,
    );
    expect(JSON.stringify(held.trace)).not.toContain(KEY);

    const again = await run('hold');
    expect(again.tries).toBe(3);

    const failed = await run();
    expect(failed.trace.finish).toBe('error');
    expect(failed.trace.error).toMatch(/connection refused \(ECONNREFUSED\) \(3 tries\)/);
    expect(failed.trace.steps.map((s) => s.text)).toEqual(['We add the numbers.']);
  });

  it('a strong server that hangs stays an error when asked to hold: it is not out of reach, it is broken', async () => {
    strong.respond = () => ({ fault: 'hang' });
    const trace = await solveToTrace(PROBLEM, {
      ...models(),
      strong: openAIStepModel({ baseUrl: strong.url, model: 'big', apiKey: KEY, http: { ...fast, timeoutMs: 200, maxRetries: 1 } }),
      policy: parsePolicySpec('thr:0.5'),
      onUnreachable: 'hold',
    });
    expect(trace.finish).toBe('error');
    expect(trace.error).toMatch(/no response within 0\.2 s \(2 tries\)/);
    expect(trace.steps.some((s) => s.held)).toBe(false);
  });
});
