import { describe, expect, it } from 'vitest';
import { BeliefTracker } from '../src/core/pomdp/belief.ts';
import { draftObservation, fitPomdpFromTraces, type LabelledTrace, type TraceStepLabel, type TracedStep } from '../src/core/pomdp/fit.ts';
import { beliefCell, modelCell, observationModelFromJson, observationModelToJson } from '../src/core/pomdp/observations.ts';
import { DEFAULT_PS } from '../src/core/pomdp/model.ts';
import { pomdpPolicy } from '../src/core/policies/pomdp.ts';
import { mulberry32 } from '../src/core/rng.ts';
import type { Observation } from '../src/core/types.ts';

/**
 * Weak-only traces with scores, shaped like the organism's: right steps score high, the first wrong step
 * and the steps after it low, and a few right steps scored low (the PRM's false alarms, which the
 * organism PRM also gives the strong model's steps).
 */
function weakTraces(n: number, seed = 1, pw = 0.8, falseAlarms = 0.03): LabelledTrace[] {
  const rnd = mulberry32(seed);
  const near = (c: number) => Math.min(1, Math.max(0, c + (rnd() - 0.5) * 0.1));
  return Array.from({ length: n }, (_, i) => {
    const len = 3 + Math.floor(rnd() * 4);
    const scores: number[] = [];
    const steps: TracedStep[] = [];
    let wrong = false;
    for (let t = 0; t < len; t++) {
      const label: TraceStepLabel = wrong ? 'after-error' : rnd() < pw ? 'correct' : 'first-wrong';
      if (label === 'first-wrong') wrong = true;
      const score = label === 'correct' ? (rnd() < falseAlarms ? near(0.05) : near(0.95)) : near(0.05);
      steps.push({ source: 'weak', label, tokens: 10, draft: { score, previous: [...scores], tokens: 10, label, decision: 'accept' } });
      scores.push(score);
    }
    return { id: `p${i}`, steps, correct: !wrong, strongTokens: 0 };
  });
}

/** Traces of a router that regenerated every low-scored draft; its strong steps are always right. */
function routedTraces(n: number, seed = 2): LabelledTrace[] {
  return weakTraces(n, seed).map((tr) => {
    const scores: number[] = [];
    const steps = tr.steps.map((s): TracedStep => {
      const d = s.draft!;
      const draft = { ...d, previous: [...scores], label: (d.label === 'after-error' ? 'first-wrong' : d.label) as TraceStepLabel };
      const regenerate = draft.score < 0.5;
      scores.push(regenerate ? 0.9 : draft.score);
      return regenerate
        ? { source: 'strong', label: 'correct', tokens: 12, draft: { ...draft, decision: 'regenerate' } }
        : { source: 'weak', label: draft.label, tokens: 10, draft: { ...draft, decision: 'accept' } };
    });
    return { ...tr, steps };
  });
}

const obs = (t: number, score: number, previous: number[]): Observation => ({ t, score, previous, draftTokens: 10, strongTokens: 0, budgetLeft: null });

describe('fitPomdpFromTraces', () => {
  it('fits p_w, p_s, the regeneration cost and the hazard from the traces', () => {
    const traces = [...weakTraces(300), ...routedTraces(300)];
    const f = fitPomdpFromTraces(traces);
    const drafts = traces.flatMap((t) => t.steps.flatMap((s) => (s.draft ? [s.draft] : [])));
    const right = drafts.filter((d) => d.label === 'correct').length;
    const wrongFirst = drafts.filter((d) => d.label === 'first-wrong').length;
    expect(f.model.pw).toBeCloseTo(right / (right + wrongFirst), 10);
    expect(f.stats.drafts).toBe(drafts.length);
    expect(f.stats.strongWrong).toBe(0);
    // Never seen wrong, but not taken as infallible: half a pseudo-error.
    expect(f.model.ps).toBeCloseTo(f.stats.strongSteps / (f.stats.strongSteps + 0.5), 10);
    expect(f.model.ps).toBeLessThan(1);
    expect(f.model.futureTokens).toBe(12);
    expect(f.model.hazard).toHaveLength(30);
    expect(f.model.hazard[0]).toBeLessThan(0.05); // no solution ends after one step
    expect(f.model.hazard[29]).toBe(1);
    expect(f.observations.observes).toBe('score-given-previous');
    expect(f.observations.probs[0]).toHaveLength(20);
  });

  it('refuses traces it cannot fit p_w on, with a message', () => {
    expect(() => fitPomdpFromTraces([])).toThrow(/No traces/);
    const strongOnly: LabelledTrace = { id: 'x', steps: [{ source: 'strong', label: 'correct', tokens: 5 }], correct: true, strongTokens: 5 };
    expect(() => fitPomdpFromTraces([strongOnly])).toThrow(/p_w/);
  });

  it('writes and reads a score-only observation model (old files without "observes" still read as min-and-score)', () => {
    const m = fitPomdpFromTraces(weakTraces(200), { observes: 'score' }).observations;
    const back = observationModelFromJson(JSON.parse(JSON.stringify(observationModelToJson(m))));
    expect(back.observes).toBe('score');
    for (let s = 0; s < 3; s++) for (let i = 0; i < 20; i++) expect(back.probs[s]![i]!).toBeCloseTo(m.probs[s]![i]!, 6);
    const pair = fitPomdpFromTraces(weakTraces(200), { observes: 'min-and-score' }).observations;
    const json = observationModelToJson(pair) as Record<string, unknown>;
    expect(json.observes).toBeUndefined();
    expect(observationModelFromJson(json).probs[0]).toHaveLength(400);
    expect(() => observationModelFromJson({ ...json, observes: 'score' })).toThrow(/must hold 20 numbers/);
  });
});

// The plateau of the organism (issue 11): after a wrong first draft is regenerated, the PRM may score
// the strong model's right step near 0 (the organism PRM gives "1) 4+2=6" 0.003). The next draft's
// min-of-previous then holds that score, which in weak-only solutions nearly always means an earlier
// error, so a filter observing (min, score) became sure the solution was lost and accepted every later
// draft, wrong ones included, even at λ ≈ 0.
describe('the Bayes filter after a low-scored strong step', () => {
  const traces = weakTraces(600);

  it('min-and-score reads the strong step’s low score as an earlier error (why the filter observes the score alone)', () => {
    const f = fitPomdpFromTraces(traces, { observes: 'min-and-score' });
    // p_s as the plateaued run had it (the default).
    const b = new BeliefTracker(f.observations, 'filter', f.model.pw, DEFAULT_PS);
    const b1 = b.observe(modelCell(f.observations, 1, 0.04));
    b.act(b1, 'regenerate');
    const o = draftObservation({ score: 0.04, previous: [0.03] });
    expect(b.observe(modelCell(f.observations, o.minPrevious, o.score))[1]).toBeGreaterThan(0.5);
  });

  it.each([DEFAULT_PS, 0.999])('keeps regenerating low-scored drafts at a small λ: the solution is not believed lost (p_s %s)', (ps) => {
    for (const observes of ['score', 'score-given-previous'] as const) {
      const f = fitPomdpFromTraces(traces, { observes });
      const policy = pomdpPolicy({ lambda: 2e-4, observations: f.observations, pw: f.model.pw, ps, futureTokens: f.model.futureTokens });
      const e = policy.episode();
      expect(e.decide(obs(1, 0.04, []))).toBe('regenerate');
      // The strong step is right but scored 0.03; the next two drafts are wrong and scored low.
      expect(e.decide(obs(2, 0.04, [0.03]))).toBe('regenerate');
      expect(e.decide(obs(3, 0.05, [0.03, 0.02]))).toBe('regenerate');
      // A draft scored high is kept.
      expect(e.decide(obs(4, 0.96, [0.03, 0.02, 0.01]))).toBe('accept');
    }
  });

  it('at λ = 0 with a strong model that is never wrong, regenerates any draft that might be wrong (strong-only accuracy)', () => {
    const f = fitPomdpFromTraces([...traces, ...routedTraces(600)]);
    expect(f.model.ps).toBeGreaterThan(0.999);
    const e = pomdpPolicy({ lambda: 0, observations: f.observations, pw: f.model.pw, ps: f.model.ps, futureTokens: f.model.futureTokens }).episode();
    // A score the PRM never gives right or wrong steps says nothing: the prior's 1 − p_w chance of an
    // error is worth a strong step at λ = 0, not at a high λ.
    expect(e.decide(obs(1, 0.5, []))).toBe('regenerate');
    const dear = pomdpPolicy({ lambda: 0.05, observations: f.observations, pw: f.model.pw, ps: f.model.ps, futureTokens: f.model.futureTokens }).episode();
    expect(dear.decide(obs(1, 0.5, []))).toBe('accept');
  });
});

// A value-style PRM (the organism's) scores every step after a step it doubts low, right ones included:
// after a low previous score a right draft scores ~0.3 and a wrong one ~0.03, after a high one ~0.95
// and ~0.3. Conditioned on a low previous score, 0.3 is a right draft; marginally it looks wrong.
describe('score-given-previous observation models', () => {
  function valueTraces(n: number, seed = 3): LabelledTrace[] {
    const rnd = mulberry32(seed);
    const near = (c: number) => Math.min(1, Math.max(0, c + (rnd() - 0.5) * 0.06));
    return Array.from({ length: n }, (_, i) => {
      const scores: number[] = [];
      const steps: TracedStep[] = [];
      let wrong = false;
      for (let t = 0; t < 5; t++) {
        const label: TraceStepLabel = wrong ? 'after-error' : rnd() < 0.8 ? 'correct' : 'first-wrong';
        if (label === 'first-wrong') wrong = true;
        const doubted = scores.length > 0 && scores[scores.length - 1]! < 0.5;
        const score = label === 'correct' ? near(doubted ? 0.3 : rnd() < 0.05 ? 0.3 : 0.95) : near(doubted ? 0.03 : 0.3);
        steps.push({ source: 'weak', label, tokens: 10, draft: { score, previous: [...scores], tokens: 10, label, decision: 'accept' } });
        scores.push(score);
      }
      return { id: `v${i}`, steps, correct: !wrong, strongTokens: 0 };
    });
  }

  it('reads the score in the row of the last previous score, and round-trips through JSON', () => {
    const f = fitPomdpFromTraces(valueTraces(800), { observes: 'score-given-previous' });
    const m = f.observations;
    expect(m.observes).toBe('score-given-previous');
    expect(m.probs[0]).toHaveLength(20);
    expect(m.given![0]).toHaveLength(400);
    expect(beliefCell(m, [0.9, 0.31], 0.3)).toBe(6 * 20 + 6);
    expect(beliefCell(m, [], 0.3)).toBe(19 * 20 + 6);
    for (let r = 0; r < 20; r++) expect(m.given![1].subarray(r * 20, r * 20 + 20).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    const back = observationModelFromJson(JSON.parse(JSON.stringify(observationModelToJson(m))));
    expect(back.observes).toBe('score-given-previous');
    for (let s = 0; s < 3; s++) for (let i = 0; i < 400; i++) expect(back.given![s]![i]!).toBeCloseTo(m.given![s]![i]!, 5);
    const json = observationModelToJson(m) as { states: Record<string, Record<string, unknown>> };
    delete json.states.S1!.given;
    expect(() => observationModelFromJson(json)).toThrow(/S1.given must hold 400 numbers/);
  });

  it('keeps a right draft that scores low only because the step before it did; the score-only model regenerates it', () => {
    const traces = valueTraces(800);
    const decide = (observes: 'score' | 'score-given-previous') => {
      const f = fitPomdpFromTraces(traces, { observes });
      const e = pomdpPolicy({ lambda: 2e-3, observations: f.observations, pw: f.model.pw, ps: 0.999, futureTokens: f.model.futureTokens }).episode();
      // Step 1's draft scores 0.3 (likely wrong after nothing); the strong step that replaces it is
      // right but the PRM doubts it too (0.3), and step 2's draft scores 0.3 after it.
      expect(e.decide(obs(1, 0.3, []))).toBe('regenerate');
      return [e.decide(obs(2, 0.3, [0.3])), e.decide(obs(3, 0.03, [0.3, 0.3]))];
    };
    expect(decide('score-given-previous')).toEqual(['accept', 'regenerate']);
    expect(decide('score')[0]).toBe('regenerate');
  });
});

