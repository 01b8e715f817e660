// What trim tune keeps of each decision reaches the POMDP fit: the drafter's confidence included.

import { describe, expect, it } from 'vitest';
import type { SolveTrace } from '../src/core/solve.ts';
import { DecisionRecorder, labelledTrace, scoreEverythingPolicy, type TunedRow } from '../src/tune/traces.ts';

const obs = (t: number, confidence?: number) => ({ t, score: 0.9 - t / 10, previous: [], draftTokens: 5, strongTokens: 0, budgetLeft: null, ...(confidence !== undefined ? { confidence } : {}) });

describe('DecisionRecorder', () => {
  it("keeps the drafting model's confidence where the backend reported one, and labelledTrace hands it to the fit", () => {
    const rec = new DecisionRecorder();
    const ep = rec.wrap(scoreEverythingPolicy(), 'k').episode(1);
    ep.decide(obs(1, 0.42));
    ep.decide(obs(2));
    const trace = { steps: [{ text: 'a', source: 'weak' }, { text: 'b', source: 'weak' }] } as unknown as SolveTrace;
    const fields = rec.fields('k', trace);
    expect(fields.decisions.map((d) => d.confidence)).toEqual([0.42, undefined]);
    expect('confidence' in fields.decisions[1]!).toBe(false);
    const row = { id: 'p', policy: 'weak-only', knob: null, correct: true, strongTokens: 0, steps: [{ source: 'weak', tokens: 5 }, { source: 'weak', tokens: 5 }], ...fields } as unknown as TunedRow;
    const lt = labelledTrace(row, { steps: ['correct', 'first-wrong'], drafts: { 1: 'correct', 2: 'first-wrong' } });
    expect(lt.steps.map((s) => s.draft?.confidence)).toEqual([0.42, undefined]);
    expect(lt.steps.map((s) => s.draft?.label)).toEqual(['correct', 'first-wrong']);
  });
});
