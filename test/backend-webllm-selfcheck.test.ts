import { describe, expect, it } from 'vitest';
import type { Completion } from '@mlc-ai/web-llm';
import { selfCheckScorer, selfCheckPrompt, yesShare, type TokenProbe } from '../src/backends/self-check.ts';
import { classifyWebLlmError, WebGpuMemoryError, webllmProbe, webllmStepModel, type WebLlmEngine } from '../src/backends/webllm.ts';
import { AbortedError } from '../src/core/errors.ts';
import { qwen25, renderContinuation } from '../src/core/prompt.ts';

// WebLLM models cannot be loaded on this machine (no network to their hosts), so the adapter is checked
// against an engine that streams the way WebLLM's worker engine does: one chunk per decoded token, a
// final chunk with usage, and interruptGenerate() ending the stream with finish_reason "abort".
// With `logprobs` (one per token) and a request that asks for them, each chunk carries its token's entry
// as WebLLM 0.2.86's makeStreamDeltaChunk does: `logprobs: {content: [last decoded token]}`.
function engine(tokens: string[], opts: { finishAtEnd?: 'stop' | 'length'; usage?: boolean; logprobs?: (number | null)[] } = {}) {
  const log = { prompts: [] as string[], interrupts: 0, decoded: 0, requests: [] as Record<string, unknown>[] };
  let interrupted = false;
  const chunk = (text: string, finish: string | null, logprob?: number | null): Completion =>
    ({
      id: 'c',
      created: 0,
      model: 'm',
      object: 'text_completion',
      choices: [{ index: 0, text, finish_reason: finish, ...(logprob !== undefined ? { logprobs: logprob === null ? null : { content: [{ token: text, logprob, bytes: [], top_logprobs: [] }] } } : {}) }],
    }) as unknown as Completion;
  const e: WebLlmEngine = {
    interruptGenerate() {
      log.interrupts++;
      interrupted = true;
    },
    completions: {
      create: (async (req: Record<string, unknown>) => {
        log.requests.push(req);
        log.prompts.push(req.prompt as string);
        interrupted = false;
        if (!req.stream) {
          return { choices: [{ index: 0, text: 'Yes', finish_reason: 'length', logprobs: { content: [{ token: 'Yes', logprob: Math.log(0.6), top_logprobs: [
            { token: 'Yes', logprob: Math.log(0.6) }, { token: 'No', logprob: Math.log(0.2) }, { token: ' Yes', logprob: Math.log(0.1) }, { token: 'Maybe', logprob: Math.log(0.1) },
          ] }] } }] };
        }
        const withLogprobs = req.logprobs === true && (req.top_logprobs as number) > 0 && opts.logprobs;
        return (async function* () {
          let n = 0;
          for (const [i, t] of tokens.entries()) {
            if (interrupted) break;
            log.decoded++;
            n++;
            yield chunk(t, null, withLogprobs ? opts.logprobs![i] : undefined);
          }
          yield chunk('', interrupted ? 'abort' : (opts.finishAtEnd ?? 'stop'));
          if (opts.usage !== false)
            yield { ...chunk('', null), choices: [], usage: { prompt_tokens: 11, completion_tokens: n, total_tokens: 11 + n } } as unknown as Completion;
        })();
      }) as unknown as WebLlmEngine['completions']['create'],
    } as WebLlmEngine['completions'],
  };
  return { e, log };
}

describe('WebLLM step model', () => {
  it('continues the rendered template exactly and stops at the blank line itself', async () => {
    const { e, log } = engine(['x = ', '2', '.\n', '\nNext', ' step']);
    const deltas: string[] = [];
    const r = await webllmStepModel(e, 'M').next({ problem: 'P', steps: ['a'], maxTokens: 50, onText: (d) => deltas.push(d), sampling: { temperature: 0.7 } });
    expect(r).toEqual({ text: 'x = 2.', finish: 'step', promptTokens: 11, completionTokens: 4 });
    expect(deltas.join('')).toBe('x = 2.\n');
    expect(log.prompts[0]).toBe(renderContinuation(qwen25, 'P', ['a']));
    expect(log.prompts[0]!.endsWith('<|im_start|>user\nP<|im_end|>\n<|im_start|>assistant\na\n\n')).toBe(true);
    expect(log.requests[0]).toMatchObject({ stream: true, max_tokens: 50, temperature: 0.7 });
    expect(log.requests[0]).not.toHaveProperty('stop');
    expect(log.interrupts).toBe(1);
    expect(log.decoded).toBe(4); // nothing decoded after the delimiter's token
  });

  it('tells end of sequence and the token cap apart from a step', async () => {
    expect((await webllmStepModel(engine(['\\boxed{4}']).e, 'M').next({ problem: 'P', steps: [], maxTokens: 5 })).finish).toBe('end');
    const capped = await webllmStepModel(engine(['a', 'b'], { finishAtEnd: 'length', usage: false }).e, 'M').next({ problem: 'P', steps: [], maxTokens: 2 });
    expect(capped).toMatchObject({ finish: 'length', completionTokens: 2, estimated: true });
  });

  it('stops generating when the signal aborts', async () => {
    const { e, log } = engine(['a', 'b', 'c', 'd']);
    const ac = new AbortController();
    const p = webllmStepModel(e, 'M').next({ problem: 'P', steps: [], maxTokens: 9, signal: ac.signal, onText: () => ac.abort() });
    await expect(p).rejects.toBeInstanceOf(AbortedError);
    expect(log.interrupts).toBe(1);
    expect(log.decoded).toBe(1);
  });

  it('turns GPU loss and out-of-memory into an error that offers a smaller model', () => {
    const lost = classifyWebLlmError(new Error('The WebGPU device was lost while loading the model.'), 'Qwen2.5-Math-1.5B-Instruct-q4f16_1-MLC');
    expect(lost).toBeInstanceOf(WebGpuMemoryError);
    expect(lost.message).toMatch(/Load a smaller model/);
    expect(classifyWebLlmError(new Error('GPUOutOfMemoryError: x'), 'M')).toBeInstanceOf(WebGpuMemoryError);
    expect(classifyWebLlmError(new Error('Cannot find model record'), 'M')).not.toBeInstanceOf(WebGpuMemoryError);
  });

  it('reports the confidence at temperature 1, from the chunks that wrote the step (not the delimiter\'s)', async () => {
    // "\n" then "\nNext": the delimiter split over two chunks; neither wrote step text.
    const lps = [-0.2, -0.9, -0.1, -3, -4];
    const { e, log } = engine(['x = ', '2', '.', '\n', '\nNext'], { logprobs: lps });
    const r = await webllmStepModel(e, 'M').next({ problem: 'P', steps: [], maxTokens: 50, sampling: { temperature: 1, seed: 2 } });
    expect(log.requests[0]).toMatchObject({ logprobs: true, top_logprobs: 1, temperature: 1 });
    expect(r).toMatchObject({ text: 'x = 2.', finish: 'step' });
    expect(r.confidence).toBeCloseTo(Math.exp(-0.9), 12);
    // A token carrying the end of the step and the delimiter does count.
    const merged = await webllmStepModel(engine(['x = 2', '.\n\nNext'], { logprobs: [-0.1, -2] }).e, 'M').next({ problem: 'P', steps: [], maxTokens: 50, sampling: { temperature: 1 } });
    expect(merged.text).toBe('x = 2.');
    expect(merged.confidence).toBeCloseTo(Math.exp(-2), 12);
  });

  it('asks for no logprobs at other temperatures (WebLLM\'s are tempered), and reports none without them', async () => {
    const { e, log } = engine(['a', '\n\n'], { logprobs: [-0.5, -0.1] });
    const r = await webllmStepModel(e, 'M').next({ problem: 'P', steps: [], maxTokens: 50, sampling: { temperature: 0.7 } });
    expect(log.requests[0]).not.toHaveProperty('logprobs');
    expect(r).not.toHaveProperty('confidence');
    // A text chunk that came without its logprob: no confidence rather than a guess from the others.
    const gap = await webllmStepModel(engine(['a', 'b', '\n\n'], { logprobs: [-0.5, null, -0.1] }).e, 'M').next({ problem: 'P', steps: [], maxTokens: 50, sampling: { temperature: 1 } });
    expect(gap.text).toBe('ab');
    expect(gap).not.toHaveProperty('confidence');
  });

  it('reads next-token probabilities from top logprobs', async () => {
    const { e, log } = engine([]);
    const probs = await webllmProbe(e, 'M').nextTokenProbabilities('prompt', ['Yes', ' Yes', 'No', 'Nope']);
    expect(probs.map((p) => +p.toFixed(6))).toEqual([0.6, 0.1, 0.2, 0]);
    expect(log.requests[0]).toMatchObject({ max_tokens: 1, logprobs: true, top_logprobs: 5, stream: false });
  });
});

describe('self-check scorer', () => {
  it('scores P(yes)/(P(yes)+P(no)) per step and asks once per new prefix', async () => {
    const prompts: string[] = [];
    const probe: TokenProbe = {
      id: 'p',
      where: 'device',
      async nextTokenProbabilities(prompt, candidates) {
        prompts.push(prompt);
        const bad = prompt.includes('Next step:\nBAD');
        return candidates.map((c) => (c === 'Yes' ? (bad ? 0.1 : 0.6) : c === 'No' ? (bad ? 0.7 : 0.2) : 0));
      },
    };
    const s = selfCheckScorer(probe);
    const one = await s.score({ problem: 'P', steps: ['good'] });
    expect(one).toHaveLength(1);
    expect(one[0]).toBeCloseTo(0.75, 12);
    const two = await s.score({ problem: 'P', steps: ['good', 'BAD'] });
    expect(two.map((x) => +x.toFixed(4))).toEqual([0.75, 0.125]);
    expect(prompts).toHaveLength(2);
    expect(prompts[1]).toBe(selfCheckPrompt(qwen25, 'P', ['good'], 'BAD'));
    expect(prompts[1]!.endsWith('<|im_start|>assistant\n')).toBe(true);
    await s.score({ problem: 'Q', steps: ['good'] });
    expect(prompts).toHaveLength(3);
  });

  it('is neutral when the model says neither yes nor no', () => {
    expect(yesShare([0, 0, 0, 0], 2)).toBe(0.5);
    expect(yesShare([0.2, 0.2, 0.1, 0], 2)).toBeCloseTo(0.8);
  });

  it('stops between probe calls when aborted', async () => {
    const ac = new AbortController();
    const probe: TokenProbe = { id: 'p', where: 'device', nextTokenProbabilities: async () => (ac.abort(), [1, 0, 0, 0, 0, 0]) };
    await expect(selfCheckScorer(probe).score({ problem: 'P', steps: ['a', 'b'], signal: ac.signal })).rejects.toBeInstanceOf(AbortedError);
  });
});
