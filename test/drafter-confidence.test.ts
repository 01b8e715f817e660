// The drafting model's confidence (StepResult.confidence) carried by solve() into what the policy sees
// and into the traces `trim eval` and `trim tune` write.
import { describe, expect, it } from 'vitest';
import { parsePolicySpec } from '../src/core/policies/index.ts';
import { recordingPolicy } from '../src/core/policies/recording.ts';
import { solveToTrace } from '../src/core/solve.ts';
import type { Observation, StepModel, StepResult, StepScorer } from '../src/core/types.ts';
import { runJobs } from '../src/eval/runner.ts';
import type { ResultRow } from '../src/eval/summary.ts';

function scripted(id: string, outputs: Partial<StepResult>[]): StepModel {
  let i = 0;
  return {
    id,
    where: 'device',
    async next() {
      const o = outputs[Math.min(i++, outputs.length - 1)]!;
      return { text: '', finish: 'step', promptTokens: 1, completionTokens: (o.text ?? '').length, ...o };
    },
  };
}

const prm: StepScorer = { id: 'prm', where: 'device', score: async (r) => r.steps.map((t) => (t.startsWith('BAD') ? 0.1 : 0.9)) };

describe('drafter confidence through solve()', () => {
  const weakOutputs: Partial<StepResult>[] = [
    { text: 'one', confidence: 0.8 },
    { text: 'BAD two', confidence: 0.25 },
    { text: 'three' }, // a backend that cannot say
    { text: 'four \\boxed{4}', confidence: 1.0000001 }, // a server's logprob a rounding error above 0
  ];

  it('reaches the policy, the rejected draft and the weak steps, never a strong step', async () => {
    const seen: Observation[] = [];
    const policy = recordingPolicy(parsePolicySpec('thr:0.5'), (o) => seen.push(o));
    const trace = await solveToTrace('p', { weak: scripted('w', weakOutputs), strong: scripted('s', [{ text: 'strong two', confidence: 0.5 }]), prm, policy });
    expect(trace.steps.map((s) => [s.source, s.text])).toEqual([
      ['weak', 'one'],
      ['strong', 'strong two'],
      ['weak', 'three'],
      ['weak', 'four \\boxed{4}'],
    ]);
    expect(seen.map((o) => o.confidence)).toEqual([0.8, 0.25, undefined, 1]);
    expect(seen.map((o) => 'confidence' in o)).toEqual([true, true, false, true]);
    expect(trace.steps.map((s) => s.confidence)).toEqual([0.8, undefined, undefined, 1]);
    expect(trace.steps[1]!.draft).toEqual({ text: 'BAD two', score: 0.1, tokens: 7, confidence: 0.25 });
    expect('confidence' in trace.steps[2]!).toBe(false);
  });

  it('takes the confidence of the try that wrote the step, not of a degenerate one before it', async () => {
    const seen: Observation[] = [];
    const policy = recordingPolicy(parsePolicySpec('thr:0.5'), (o) => seen.push(o));
    const weak = scripted('w', [{ text: ' ', confidence: 0.01 }, { text: 'x \\boxed{1}', confidence: 0.7 }]);
    const trace = await solveToTrace('p', { weak, strong: scripted('s', [{ text: 's' }]), prm, policy });
    expect(seen[0]!.confidence).toBe(0.7);
    expect(trace.steps[0]!.confidence).toBe(0.7);
  });

  it('is written into the result rows of trim eval (weak steps and rejected drafts)', async () => {
    const rows: ResultRow[] = [];
    await runJobs([{ problem: { id: 'a', problem: 'p', gold: { answer: '4' } } as never, point: { policy: 'thr', knob: 0.5 } }], {
      weak: scripted('w', weakOutputs),
      strong: scripted('s', [{ text: 'strong two', confidence: 0.5 }]),
      prm,
      policyFor: (point) => parsePolicySpec(`${point.policy}:${point.knob}`),
      grade: () => ({ correct: true, extracted: '4' }),
      seed: 1,
      concurrency: 1,
      onResult: (r) => rows.push(JSON.parse(JSON.stringify(r)) as ResultRow),
      onFailure: (_, m) => {
        throw new Error(m);
      },
    });
    expect(rows[0]!.steps).toEqual([
      { source: 'weak', score: 0.9, tokens: 3, confidence: 0.8 },
      { source: 'strong', score: 0.9, tokens: 10, draft: { score: 0.1, tokens: 7, confidence: 0.25 } },
      { source: 'weak', score: 0.9, tokens: 5 },
      { source: 'weak', score: 0.9, tokens: 14, confidence: 1 },
    ]);
  });
});
