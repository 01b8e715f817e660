// The drafter-confidence channel of TRIM-POMDP (issue 11): a second observation beside the PRM score,
// independent of it given the state, fitted from traces whose drafts carry the weak model's confidence.
// Without the channel (in the model or in an observation) everything must route exactly as before.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bundleArtefacts, bundleFromJson, bundleToJson, type RoutingBundle } from '../src/core/bundle.ts';
import { fitPomdpFromTraces, type LabelledTrace, type TraceStepLabel, type TracedStep } from '../src/core/pomdp/fit.ts';
import { observationModelFromJson, observationModelToJson } from '../src/core/pomdp/observations.ts';
import { solvePomdp } from '../src/core/pomdp/solver.ts';
import { createPolicy } from '../src/core/policies/index.ts';
import { pomdpPolicy } from '../src/core/policies/pomdp.ts';
import { mulberry32 } from '../src/core/rng.ts';
import type { Observation, RoutingPolicy } from '../src/core/types.ts';
import { sampleBundle } from './helpers/bundle.ts';

/**
 * Traces of a router that regenerated low-scored drafts, with a PRM that cannot tell a right draft from a
 * wrong one in the middle of its range (both score about 0.5 there) while the drafter is sure of right
 * drafts (confidence near 0.9) and unsure of wrong ones (near 0.3): the case the channel is for.
 */
function traces(n: number, seed = 3, withConfidence = true): LabelledTrace[] {
  const rnd = mulberry32(seed);
  const near = (c: number, w = 0.1) => Math.min(1, Math.max(0, c + (rnd() - 0.5) * w));
  return Array.from({ length: n }, (_, i) => {
    const len = 3 + Math.floor(rnd() * 4);
    const previous: number[] = [];
    const steps: TracedStep[] = [];
    let wrong = false;
    for (let t = 0; t < len; t++) {
      const label: TraceStepLabel = wrong ? 'after-error' : rnd() < 0.8 ? 'correct' : 'first-wrong';
      const ambiguous = rnd() < 0.5;
      const score = ambiguous ? near(0.5) : label === 'correct' ? near(0.95) : near(0.05);
      const confidence = label === 'correct' ? near(0.9, 0.2) : near(0.3, 0.2);
      const regenerate = label !== 'after-error' && score < 0.3;
      const draft = { score, previous: [...previous], tokens: 10, ...(withConfidence ? { confidence } : {}), label, decision: regenerate ? 'regenerate' : 'accept' } as const;
      if (regenerate) {
        steps.push({ source: 'strong', label: 'correct', tokens: 12, draft });
        previous.push(0.9);
      } else {
        if (label === 'first-wrong') wrong = true;
        steps.push({ source: 'weak', label, tokens: 10, draft });
        previous.push(score);
      }
    }
    return { id: `p${i}`, steps, correct: !wrong, strongTokens: 0 };
  });
}

const obs = (t: number, score: number, previous: number[], confidence?: number): Observation => ({
  t,
  score,
  previous,
  draftTokens: 10,
  strongTokens: 0,
  budgetLeft: null,
  ...(confidence !== undefined ? { confidence } : {}),
});

/** Decisions of fresh episodes over fixed observation sequences (each a list of [score, confidence?]). */
function decisions(p: RoutingPolicy, confidence: boolean): string[] {
  const out: string[] = [];
  const rnd = mulberry32(11);
  for (let k = 0; k < 40; k++) {
    const e = p.episode(k);
    const previous: number[] = [];
    for (let t = 1; t <= 5; t++) {
      const score = rnd();
      const c = rnd();
      const d = e.decide(obs(t, score, [...previous], confidence ? c : undefined));
      out.push(d);
      previous.push(d === 'regenerate' ? 0.9 : score);
    }
  }
  return out;
}

describe('the drafter-confidence channel', () => {
  it('is fitted from traces whose drafts carry confidence and recovers what it says about the state', () => {
    const f = fitPomdpFromTraces(traces(400));
    const c = f.observations.confidence!;
    expect(c).toBeDefined();
    expect(c.bins).toBe(20);
    // Mass above 0.6: most of a right draft's, little of a wrong one's (S2 first wrong, S1 after an error).
    const high = (s: 0 | 1 | 2) => c.probs[s].slice(12).reduce((a, x) => a + x, 0);
    expect(high(0)).toBeGreaterThan(0.95);
    expect(high(2)).toBeLessThan(0.05);
    expect(high(1)).toBeLessThan(0.05);
    expect(c.counts[0] + c.counts[1] + c.counts[2]).toBe(f.stats.drafts);
    // The same score in the PRM's blind spot: a confident draft is kept, an unsure one regenerated.
    const p = pomdpPolicy({ lambda: 0.002, observations: f.observations, pw: f.model.pw, ps: f.model.ps, futureTokens: f.model.futureTokens });
    expect(p.episode(1).decide(obs(1, 0.5, [], 0.92))).toBe('accept');
    expect(p.episode(1).decide(obs(1, 0.5, [], 0.28))).toBe('regenerate');
  });

  it('is left out when the drafts carry no confidence, or on request; requiring it without data says what to do', () => {
    expect(fitPomdpFromTraces(traces(100, 3, false)).observations.confidence).toBeUndefined();
    expect(fitPomdpFromTraces(traces(100), { confidence: false }).observations.confidence).toBeUndefined();
    // 'auto' needs every draft to carry one: a mix (another weak backend in some traces) fits without it.
    expect(fitPomdpFromTraces([...traces(100), ...traces(20, 4, false)]).observations.confidence).toBeUndefined();
    expect(() => fitPomdpFromTraces(traces(50, 3, false), { confidence: true })).toThrow(/No draft of these traces carries the drafting model's confidence.*fit without/);
  });

  it("does not change the score's model: without the channel, tables and decisions are bit-identical, with or without confidence in the observations", () => {
    const t = traces(300);
    const withChannel = fitPomdpFromTraces(t);
    const without = fitPomdpFromTraces(t, { confidence: false });
    const { confidence: _c, ...scoreOnly } = withChannel.observations;
    expect(observationModelToJson(scoreOnly)).toEqual(observationModelToJson(without.observations));
    const a = solvePomdp(without.model, without.observations, 0.002);
    const b = solvePomdp(without.model, scoreOnly, 0.002);
    expect(a.accept.map((x) => Array.from(x))).toEqual(b.accept.map((x) => Array.from(x)));
    const policy = () => pomdpPolicy({ lambda: 0.002, observations: without.observations, pw: without.model.pw, ps: without.model.ps, futureTokens: without.model.futureTokens });
    expect(decisions(policy(), true)).toEqual(decisions(policy(), false));
    // A model with the channel and an observation without confidence: the score alone moves the belief,
    // so it decides as often as the score-only filter would on the same observations (not necessarily
    // the same decisions: its tables plan for the channel).
    const channel = pomdpPolicy({ lambda: 0.002, observations: withChannel.observations, pw: withChannel.model.pw, ps: withChannel.model.ps, futureTokens: withChannel.model.futureTokens });
    expect(decisions(channel, false)).toHaveLength(200);
  });

  it('refuses a confidence outside [0, 1] with the step it came from', () => {
    const f = fitPomdpFromTraces(traces(100));
    const p = pomdpPolicy({ lambda: 0.002, observations: f.observations, pw: f.model.pw, ps: f.model.ps });
    expect(() => p.episode(1).decide(obs(2, 0.5, [0.9], 1.5))).toThrow(/Step 2: the drafting model's confidence must be a number in \[0, 1\], got 1\.5/);
  });
});

describe('observation models and bundles with the channel', () => {
  it('round-trip through JSON (version 2 with the channel, version 1 without) and route the same after', () => {
    const f = fitPomdpFromTraces(traces(300));
    const j = observationModelToJson(f.observations) as Record<string, unknown>;
    expect(j.version).toBe(2);
    const back = observationModelFromJson(JSON.parse(JSON.stringify(j)));
    // Written to 6 significant digits and renormalised on reading: equal to that precision.
    for (const s of [0, 1, 2] as const)
      Array.from(back.confidence!.probs[s]).forEach((v, i) => expect(v).toBeCloseTo(f.observations.confidence!.probs[s][i]!, 6));
    expect(back.confidence!.counts).toEqual(f.observations.confidence!.counts);
    const plain = observationModelToJson(fitPomdpFromTraces(traces(300), { confidence: false }).observations) as Record<string, unknown>;
    expect(plain.version).toBe(1);
    expect(plain.confidence).toBeUndefined();

    const base = sampleBundle();
    for (const observations of [f.observations, fitPomdpFromTraces(traces(300), { confidence: false }).observations]) {
      const bundle = { ...base, policies: { ...base.policies, pomdp: { ...base.policies.pomdp!, observations, pw: f.model.pw, ps: f.model.ps } } };
      const text = JSON.stringify(bundleToJson(bundle));
      expect(JSON.parse(text).version).toBe(observations.confidence ? 2 : 1);
      const again = bundleFromJson(JSON.parse(text), 'b.json');
      expect(!!again.policies.pomdp!.observations.confidence).toBe(!!observations.confidence);
      expect(again.policies['agg-lambda']!.grid).toEqual(base.policies['agg-lambda']!.grid);
      const run = (b: RoutingBundle) => decisions(createPolicy('pomdp', { knob: 0.002, artefacts: bundleArtefacts(b, 'pomdp') }), true);
      expect(run(again)).toEqual(run(bundle));
    }
  });

  it('says what is wrong with a bad channel or a version that does not match it', () => {
    const f = fitPomdpFromTraces(traces(200));
    const good = () => JSON.parse(JSON.stringify(observationModelToJson(f.observations))) as Record<string, any>;
    const bad = (edit: (j: Record<string, any>) => void) => {
      const j = good();
      edit(j);
      return () => observationModelFromJson(j, 'obs.json');
    };
    expect(bad((j) => (j.confidence.states.S2.probs = [1]))).toThrow(/obs\.json is not a TRIM-POMDP observation model: confidence\.S2\.probs must hold 20 numbers/);
    expect(bad((j) => (j.confidence.states.S0.probs[3] = -1))).toThrow(/confidence\.S0\.probs\[3\] is not a probability/);
    expect(bad((j) => delete j.confidence)).toThrow(/version 2 must hold "confidence"/);
    expect(bad((j) => (j.version = 1))).toThrow(/"confidence" needs version 2/);
    expect(bad((j) => (j.version = 3))).toThrow(/version 3 is not supported/);

    const base = sampleBundle();
    const withChannel = bundleToJson({ ...base, policies: { pomdp: { ...base.policies.pomdp!, observations: f.observations } } }) as Record<string, any>;
    expect(() => bundleFromJson({ ...withChannel, version: 1 }, 'b.json')).toThrow(/b\.json is not a usable routing bundle: .*confidence channel, which needs version 2/);
    const plain = bundleToJson(base) as Record<string, any>;
    expect(() => bundleFromJson({ ...plain, version: 2 }, 'b.json')).toThrow(/version 2 means its pomdp observations carry the drafting model's confidence channel/);
  });

  it('still reads the bundle committed before the channel (version 1, score observations)', () => {
    const text = readFileSync('test/fixtures/organism-routing-v1.json', 'utf8');
    const b = bundleFromJson(JSON.parse(text), 'organism-routing-v1.json');
    expect(b.policies.pomdp!.observations.confidence).toBeUndefined();
    expect((bundleToJson(b) as { version: number }).version).toBe(1);
    expect(b.policies.pomdp!.grid).toEqual(JSON.parse(text).policies.pomdp.grid);
    // A confidence in the observations changes nothing for it.
    const p = () => createPolicy('pomdp', { knob: 0.0057, artefacts: bundleArtefacts(b, 'pomdp') });
    expect(decisions(p(), true)).toEqual(decisions(p(), false));
  });
});
