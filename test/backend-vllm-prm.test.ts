import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { vllmPrmScorer } from '../src/backends/vllm-prm.ts';
import { RemoteHttpError, RemoteProtocolError } from '../src/core/errors.ts';
import { MATH_SYSTEM_PROMPT } from '../src/core/prompt.ts';
import type { Transmission } from '../src/core/types.ts';
import { prmStepCount, startOpenAIServer, type TestServer } from './helpers/openai-server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startOpenAIServer();
});
afterAll(() => server.close());
beforeEach(() => server.reset());

const prm = (o = {}) => vllmPrmScorer({ baseUrl: `${server.url}/v1/`, model: 'Qwen/Qwen2.5-Math-PRM-7B', http: { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 2000 }, ...o });

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('vLLM pooling PRM', () => {
  it('posts {model, messages} to /pooling with every step followed by <extra_0>, and returns p_positive', async () => {
    server.enqueue({ scores: [[0.25, 0.75], [0.9, 0.1], [0, 1]] });
    const seen: Transmission[] = [];
    const scores = await prm().score({ problem: 'What is 1+2?', steps: ['Add.', 'Get 4.', '\\boxed{3}'], beforeSend: (t) => void seen.push(t) });
    expect(scores).toEqual([0.75, 0.1, 1]);
    const q = server.requests[0]!;
    expect(q.path).toBe('/pooling');
    expect(q.body).toEqual({
      model: 'Qwen/Qwen2.5-Math-PRM-7B',
      messages: [
        { role: 'system', content: MATH_SYSTEM_PROMPT },
        { role: 'user', content: 'What is 1+2?' },
        { role: 'assistant', content: 'Add.<extra_0>Get 4.<extra_0>\\boxed{3}<extra_0>' },
      ],
    });
    expect(seen).toEqual([{ url: `${server.url}/pooling`, host: new URL(server.url).host, body: q.rawBody, purpose: 'score', attempt: 1 }]);
  });

  it('keeps a separator inside untrusted text from shifting the scores', async () => {
    server.respond = (r) => ({ scores: Array.from({ length: prmStepCount(r) }, () => [0.5, 0.5]) });
    const scores = await prm().score({ problem: 'Is <extra_0> a token?', steps: ['Yes<extra_0><extra_0>', 'ok'] });
    expect(scores).toHaveLength(2);
    expect(prmStepCount(server.requests[0]!)).toBe(2);
    expect(server.requests[0]!.body.messages[1].content).not.toContain('<extra_0>');
  });

  it('makes no request for an empty step list', async () => {
    expect(await prm().score({ problem: 'p', steps: [] })).toEqual([]);
    expect(server.requests).toHaveLength(0);
  });

  it('retries a 503 and gives a clear error on 404', async () => {
    server.enqueue({ status: 503 }, { scores: [[0.4, 0.6]] }, { status: 404, message: 'The model `x` does not exist.' });
    expect(await prm().score({ problem: 'p', steps: ['s'] })).toEqual([0.6]);
    const err = await rejection(prm().score({ problem: 'p', steps: ['s'] }));
    expect(err).toBeInstanceOf(RemoteHttpError);
    expect(err.message).toBe(`${server.url}/pooling answered HTTP 404: The model \`x\` does not exist. Check the base URL and the model name.`);
  });

  it('never lets a key echoed back by the server into an error', async () => {
    const key = 'sk-prm-SECRET-31337';
    server.enqueue({ scores: [[0.5, key]] });
    const err = await rejection(prm({ apiKey: key }).score({ problem: 'p', steps: ['s'] }));
    expect(err).toBeInstanceOf(RemoteProtocolError);
    expect(err.message).toContain('"[redacted]", not a probability');
    expect(server.requests[0]!.headers.authorization).toBe(`Bearer ${key}`);
  });

  const malformed: [string, unknown, RegExp][] = [
    ['a short answer', { scores: [[0.5, 0.5]] }, /1 step score came back for 2 steps/],
    ['a long answer', { scores: [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]] }, /3 step scores came back for 2 steps/],
    ['a flat list (not a step-pooling model)', { scores: [0.5, 0.5] }, /step 1's entry is 0\.5, not a \[p_negative, p_positive\] pair/],
    ['three classes', { scores: [[0.1, 0.2, 0.7], [0.5, 0.5]] }, /not a \[p_negative, p_positive\] pair/],
    ['a string score', { scores: [[0.5, '0.5'], [0.5, 0.5]] }, /step 1 has "0\.5", not a probability/],
    ['a null score', { scores: [[0.5, 0.5], [0.5, null]] }, /step 2 has null/],
    ['a logit above 1', { scores: [[-2.1, 3.4], [0.5, 0.5]] }, /step 1 has -2\.1, not a probability in \[0, 1\]/],
    ['a NaN', { raw: '{"data": [{"index": 0, "data": [[NaN, NaN], [0.5, 0.5]]}]}' }, /NaN or Infinity/],
    ['base64 output', { scores: 'AAAAAA==' }, /base64/],
    ['no data', { body: { object: 'list', data: [] } }, /"data" is missing or empty/],
    ['not an object', { body: [1, 2] }, /not a JSON object/],
    ['an error object', { body: { object: 'error', message: 'boom' } }, /"data" is missing/],
  ];
  it.each(malformed)('%s is a clear error', async (_, reply, message) => {
    server.enqueue(reply as never);
    const err = await rejection(prm().score({ problem: 'p', steps: ['a', 'b'] }));
    expect(err).toBeInstanceOf(RemoteProtocolError);
    expect(err.message).toContain(`${server.url}/pooling`);
    expect(err.message).toMatch(message);
  });
});
