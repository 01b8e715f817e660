import { describe, expect, it } from 'vitest';
import { thresholdPolicy } from '../src/core/policies/threshold.ts';
import { fitPomdpFromTraces } from '../src/core/pomdp/fit.ts';
import { fitObservationModel, type ObservationSample } from '../src/core/pomdp/observations.ts';
import { runInModel } from '../src/core/pomdp/simulate.ts';
import type { StepModel, StepRequest } from '../src/core/types.ts';
import { checkerOracle, oracleCurve } from '../src/organism/oracle.ts';
import { organismTraces } from '../src/organism/traces.ts';
import { parseProblem, referenceSteps } from '../src/organism/task.ts';

const PROBLEM = 'Start with 4, then 1) -3 2) +6 3) -2.';
const RIGHT = referenceSteps(parseProblem(PROBLEM)); // 1) 4-3=1, 2) 1+6=7, 3) 7-2=\boxed{5}

/** A step model that writes `texts[k]` as the (k+1)-th step, whatever came before. */
function scripted(id: string, texts: readonly string[]): StepModel {
  return {
    id,
    where: 'device',
    async next(r: StepRequest) {
      const text = texts[r.steps.length] ?? '';
      return { text, finish: text ? 'step' : 'end', promptTokens: 5, completionTokens: text ? 10 : 0 };
    },
  };
}

describe('the checker oracle (headroom only)', () => {
  it('scores a step 1 when it is right given the steps before it, 0 from the first error on', async () => {
    const oracle = checkerOracle();
    expect(await oracle.score({ problem: PROBLEM, steps: [RIGHT[0]!, '2) 1+6=8', '3) 8-2=\\boxed{6}'] })).toEqual([1, 0, 0]);
    expect(await oracle.score({ problem: PROBLEM, steps: RIGHT })).toEqual([1, 1, 1]);
  });

  it('with TRIM-Thr routes exactly the wrong drafts, and the traces label drafts and steps with the checker', async () => {
    const weak = scripted('weak', [RIGHT[0]!, '2) 1+6=8', RIGHT[2]!]);
    const strong = scripted('strong', RIGHT);
    const [trace] = await organismTraces([{ id: 'p', problem: PROBLEM }], {
      weak,
      strong,
      prm: checkerOracle(),
      policy: thresholdPolicy(0.5),
      seed: 1,
      sampling: {},
    });
    expect(trace!.correct).toBe(true);
    expect(trace!.steps.map((s) => s.source)).toEqual(['weak', 'strong', 'weak']);
    expect(trace!.steps.map((s) => s.draft?.label)).toEqual(['correct', 'first-wrong', 'correct']);
    expect(trace!.steps.map((s) => s.draft?.decision)).toEqual(['accept', 'regenerate', 'accept']);
    // The third draft saw the strong step's in-context score, not the discarded draft's.
    expect(trace!.steps[2]!.draft!.previous).toEqual([1, 1]);
    expect(trace!.strongTokens).toBe(10);
    // They fit: 4 right drafts and 3 wrong ones after a right prefix, a strong model never seen wrong.
    const f = fitPomdpFromTraces([trace!, trace!].map((t, i) => ({ ...t, id: `${i}` })).concat(afterError()));
    expect(f.model.pw).toBeCloseTo(4 / 7, 10);
    expect(f.stats.strongWrong).toBe(0);
  });

  it('fixes problems cheapest first in its cost curve', () => {
    const runs = [
      { strongTokens: 0, correct: true },
      { strongTokens: 10, correct: true },
      { strongTokens: 5, correct: true },
      { strongTokens: 20, correct: false },
    ];
    expect(oracleCurve(runs, 0.25)).toEqual([
      { strongTokens: 0, accuracy: 0.25 },
      { strongTokens: 5 / 4, accuracy: 0.5 },
      { strongTokens: 15 / 4, accuracy: 0.75 },
      { strongTokens: 35 / 4, accuracy: 0.75 },
    ]);
  });
});

/** A weak-only trace with an error and a step after it, so that every state has samples. */
function afterError() {
  return {
    id: 'e',
    correct: false,
    strongTokens: 0,
    steps: [
      { source: 'weak' as const, label: 'first-wrong' as const, tokens: 10, draft: { score: 0.1, previous: [], tokens: 10, label: 'first-wrong' as const, decision: 'accept' as const } },
      { source: 'weak' as const, label: 'after-error' as const, tokens: 10, draft: { score: 0.2, previous: [0.1], tokens: 10, label: 'after-error' as const, decision: 'accept' as const } },
    ],
  };
}

describe('runInModel', () => {
  // Three steps always; the score says nothing (the same density in every state).
  const samples: ObservationSample[] = [0, 1, 2].flatMap((state) => [0.2, 0.5, 0.8].map((score) => ({ minPrevious: 1, score, state: state as 0 | 1 | 2 })));
  const obs = { ...fitObservationModel(samples, { observes: 'score', bins: 4 }) };
  const model = { pw: 0.5, ps: 1, hazard: [0, 0, 1], reward: 1, futureTokens: 10 };

  it('reproduces weak-only and strong-only in the model', () => {
    const weak = runInModel(model, obs, { kind: 'weak-only' }, 20000, 3);
    expect(weak.cost).toBe(0);
    expect(weak.accuracy).toBeGreaterThan(0.115);
    expect(weak.accuracy).toBeLessThan(0.135); // 0.5³
    expect(runInModel(model, obs, { kind: 'strong-only' }, 500)).toEqual({ accuracy: 1, cost: 1 });
  });

  it('routes everything at λ = 0 and nothing at a λ no step is worth, when scores say nothing', () => {
    expect(runInModel(model, obs, { kind: 'pomdp', lambda: 0 }, 500).accuracy).toBe(1);
    expect(runInModel(model, obs, { kind: 'pomdp', lambda: 1 }, 500).cost).toBe(0);
  });
});
