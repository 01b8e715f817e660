// The drafting model's confidence (StepResult.confidence) from an OpenAI-compatible server's logprobs:
// chat and completions, streamed and not, and servers that ignore or refuse logprobs.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openAIStepModel, spanConfidence, type OpenAIStepModelOptions } from '../src/backends/openai.ts';
import type { ContinuationMode, StepRequest } from '../src/core/types.ts';
import { startOpenAIServer, type TestServer } from './helpers/openai-server.ts';

let server: TestServer;
let refusing: TestServer;
beforeAll(async () => {
  [server, refusing] = await Promise.all([startOpenAIServer(), startOpenAIServer({ rejectLogprobs: true })]);
});
afterAll(() => Promise.all([server.close(), refusing.close()]));
beforeEach(() => {
  server.reset();
  refusing.reset();
});

const fast = { baseDelayMs: 5, maxDelayMs: 10, timeoutMs: 2000 };
const model = (o: Partial<OpenAIStepModelOptions> = {}, s = server) => openAIStepModel({ baseUrl: s.url, model: 'm', http: fast, logprobs: true, ...o });
const request = (o: Partial<StepRequest> = {}): StepRequest => ({ problem: 'What is 1+2?', steps: [], maxTokens: 64, ...o });

// The delimiter (-3) and the stop token vLLM reports with the last chunk (-2) are not the step's;
// what follows the stop is never sent. The step's least likely token is " 2" (-0.5).
const STEP = { text: ['Add', ' 2', ' =', ' 3.', '\n\n', 'More'], logprobs: [-0.1, -0.5, -0.2, -0.05, -3, -4], stopLogprob: -2 };

describe('drafter confidence from OpenAI-compatible logprobs', () => {
  it.each<[string, ContinuationMode, boolean, unknown]>([
    ['chat, streamed', 'continue', false, true],
    ['chat, one JSON document', 'continue', true, true],
    ['completions, streamed', 'raw', false, 1],
    ['completions, one JSON document', 'raw', true, 1],
  ])('%s: asks for logprobs and reports the least likely token of the step', async (_, mode, ignoreStream, asked) => {
    server.enqueue({ ...STEP, ignoreStream });
    const r = await model({ mode }).next(request());
    expect(server.generations[0]!.body.logprobs).toBe(asked);
    expect(server.generations[0]!.body).not.toHaveProperty('top_logprobs');
    expect(r.text).toBe('Add 2 = 3.');
    expect(r.finish).toBe('step');
    expect(r.confidence).toBeCloseTo(Math.exp(-0.5), 12);
  });

  it('counts a token that ends the step with the delimiter inside it (".\\n\\n" written as one token)', () => {
    // Generated "a.\n\nb": tokens "a" [0,1) and ".\n\n" [1,4); the step is "a." = [0, 2).
    expect(spanConfidence([{ logprob: -0.1, start: 0, end: 1 }, { logprob: -0.7, start: 1, end: 4 }], 0, 2)).toBeCloseTo(Math.exp(-0.7), 12);
    expect(spanConfidence([{ logprob: -0.1, start: 0, end: 1 }, { logprob: -0.7, start: 1, end: 3 }], 0, 1)).toBeCloseTo(Math.exp(-0.1), 12);
    expect(spanConfidence([], 0, 0)).toBe(1);
  });

  it('does not ask unless told to (the strong role), and a server that ignores the field gives no confidence', async () => {
    server.enqueue({ ...STEP }, { text: 'Plain step.' });
    const off = await model({ logprobs: false }).next(request());
    expect(server.generations[0]!.body).not.toHaveProperty('logprobs');
    expect(off.confidence).toBeUndefined();
    const ignored = await model().next(request());
    expect(server.generations[1]!.body.logprobs).toBe(true);
    expect(ignored).toMatchObject({ text: 'Plain step.', finish: 'step' });
    expect(ignored).not.toHaveProperty('confidence');
  });

  it('a server that refuses logprobs (HTTP 400) is asked again without, once, and never again', async () => {
    const m = model({}, refusing);
    const first = await m.next(request());
    expect(first.text).toBe('So the answer is \\boxed{42}.');
    expect(first.confidence).toBeUndefined();
    expect(refusing.generations.map((g) => g.body.logprobs)).toEqual([true, undefined]);
    await m.next(request());
    expect(refusing.generations).toHaveLength(3);
    expect(refusing.generations[2]!.body).not.toHaveProperty('logprobs');
  });

  it('concurrent requests sent with logprobs before the refusal came back are each retried without', async () => {
    const m = model({}, refusing);
    const results = await Promise.all([1, 2, 3].map(() => m.next(request())));
    expect(results.map((r) => r.text)).toEqual(Array(3).fill('So the answer is \\boxed{42}.'));
    expect(refusing.generations.filter((g) => g.body.logprobs === true)).toHaveLength(3);
    expect(refusing.generations).toHaveLength(6);
  });

  it('other HTTP 400s are not retried', async () => {
    server.enqueue({ status: 400, message: 'max_tokens is too large' });
    await expect(model().next(request())).rejects.toThrow(/HTTP 400: max_tokens is too large/);
    expect(server.generations).toHaveLength(1);
  });

  it('instruct mode: tokens of an echo the filter removed are not the step\'s', async () => {
    server.enqueue({
      text: ['First', ' step.', '\n\n', 'So', ' x', ' = 2.'],
      logprobs: [-6, -6, -5, -0.3, -0.1, -0.2],
      ignoreStop: true,
      end: 'eos',
    });
    const r = await model({ mode: 'instruct' }).next(request({ steps: ['First step.'] }));
    expect(r.text).toBe('So x = 2.');
    expect(r.confidence).toBeCloseTo(Math.exp(-0.3), 12);
  });

  it('a character split over tokens (OpenAI\'s bytes) counts from its first byte\'s token', async () => {
    const chunk = (content: string, token: string, logprob: number, bytes: number[]) => ({
      choices: [{ index: 0, delta: { content }, logprobs: { content: [{ token, logprob, bytes, top_logprobs: [] }] }, finish_reason: null }],
    });
    server.enqueue({
      events: [
        chunk('caf', 'caf', -0.1, [99, 97, 102]),
        chunk('', 'bytes:\\xc3', -2, [0xc3]),
        chunk('é', 'bytes:\\xa9', -0.2, [0xa9]),
        { choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop', stop_reason: '\n\n' }] },
      ],
    });
    const r = await model().next(request());
    expect(r.text).toBe('café');
    expect(r.confidence).toBeCloseTo(Math.exp(-2), 12);
  });

  it('malformed or partial logprobs drop the confidence, never the step', async () => {
    const chunk = (content: string, logprobs: unknown) => ({ choices: [{ index: 0, delta: { content }, logprobs, finish_reason: null }] });
    const end = { choices: [{ index: 0, delta: {}, finish_reason: 'stop', stop_reason: '\n\n' }] };
    server.enqueue(
      { events: [chunk('One', { content: [{ token: 'One', logprob: 'low' }] }), end] },
      { events: [chunk('One', { content: [{ token: 'One', logprob: -0.1 }] }), chunk(' two', null), end] },
      { events: [chunk('One', 'yes'), end] },
    );
    const m = model();
    for (let i = 0; i < 3; i++) {
      const r = await m.next(request());
      expect(r).toMatchObject({ text: i === 1 ? 'One two' : 'One', finish: 'step' });
      expect(r.confidence).toBeUndefined();
    }
  });
});
