import { describe, expect, it } from 'vitest';
import { BundleError, bundleArtefacts, bundleFromJson, bundleGrid, bundleToJson, knobForStepShare } from '../src/core/bundle.ts';
import { createPolicy } from '../src/core/policies/index.ts';
import type { RoutingPolicy } from '../src/core/types.ts';
import { sampleBundle, sampleBundleJson } from './helpers/bundle.ts';

function decisions(p: RoutingPolicy): string[] {
  const out: string[] = [];
  for (const scores of [[0.9, 0.2, 0.95], [0.1, 0.8], [0.5, 0.5, 0.5, 0.3]]) {
    const e = p.episode(1);
    const previous: number[] = [];
    scores.forEach((score, i) => {
      out.push(e.decide({ t: i + 1, score, previous: [...previous], draftTokens: 40, strongTokens: 0, budgetLeft: null }));
      previous.push(score);
    });
  }
  return out;
}

describe('routing bundle', () => {
  it('survives a JSON round trip exactly, unknown policy fields included', () => {
    const json = sampleBundleJson();
    const text = JSON.stringify(json);
    const again = bundleToJson(bundleFromJson(JSON.parse(text), 'b.json'));
    expect(JSON.stringify(again)).toBe(text);
    expect((again as { policies: { pomdp: { fit: unknown } } }).policies.pomdp.fit).toEqual({ prefixes: 12 });
  });

  it('runs the same policies before and after the round trip', () => {
    const before = sampleBundle();
    const after = bundleFromJson(JSON.parse(JSON.stringify(bundleToJson(before))));
    for (const [policy, knob] of [['pomdp', 0.001], ['agg-lambda', 0.003]] as const) {
      const a = decisions(createPolicy(policy, { knob, artefacts: bundleArtefacts(before, policy) }));
      const b = decisions(createPolicy(policy, { knob, artefacts: bundleArtefacts(after, policy) }));
      expect(b).toEqual(a);
    }
    expect(bundleGrid(after, 'pomdp')).toEqual([0.0002, 0.001, 0.005]);
  });

  it('uses the bundle\'s transitions: a near-perfect weak model routes less than a poor one', () => {
    const b = sampleBundle();
    const p = b.policies.pomdp!;
    const sent = (pw: number) => {
      const policy = createPolicy('pomdp', { knob: 0.0005, artefacts: bundleArtefacts({ ...b, policies: { pomdp: { ...p, pw } } }, 'pomdp') });
      return decisions(policy).filter((d) => d === 'regenerate').length;
    };
    expect(sent(0.999)).toBeLessThan(sent(0.3));
  });

  it('says what is wrong with a bad bundle and what to do', () => {
    const bad = (edit: (j: Record<string, any>) => void) => {
      const j = sampleBundleJson() as Record<string, any>;
      edit(j);
      return () => bundleFromJson(j, 'b.json');
    };
    expect(() => bundleFromJson([], 'b.json')).toThrow(BundleError);
    expect(() => bundleFromJson({ format: 'x' }, 'b.json')).toThrow(/b\.json is not a usable routing bundle: "format" must be "trim-routing-bundle".*trim tune/);
    expect(bad((j) => (j.version = 3))).toThrow(/version 3 is not supported.*versions 1 and 2/);
    expect(bad((j) => (j.policies = {}))).toThrow(/holds none of pomdp, agg-lambda/);
    expect(bad((j) => (j.policies.thr = {}))).toThrow(/policies\.thr is not a policy a bundle can carry/);
    expect(bad((j) => (j.policies.pomdp.transitions.pw = 1))).toThrow(/transitions\.pw must be a probability strictly between 0 and 1/);
    expect(bad((j) => (j.policies.pomdp.grid = []))).toThrow(/policies\.pomdp\.grid must be a non-empty list/);
    expect(bad((j) => (j.policies.pomdp.belief = 'psychic'))).toThrow(/belief must be one of (reference, filter|filter, reference)/);
    expect(bad((j) => delete j.policies.pomdp.observations.states.S1)).toThrow(/state S1 is missing/);
    expect(bad((j) => (j.policies['agg-lambda'].grid = [0.0003, 0.001]))).toThrow(/λ = 0\.001, but no network in its weights was trained at that λ/);
    expect(bad((j) => (j.calibration.pomdp[0].accuracy = 1.5))).toThrow(/calibration\.pomdp\[0\]\.accuracy must be a number in \[0, 1\]/);
    expect(() => bundleGrid(bundleFromJson({ ...(sampleBundleJson() as object), policies: { pomdp: (sampleBundleJson() as any).policies.pomdp } }), 'agg-lambda')).toThrow(
      /no agg-lambda policy; it holds pomdp/,
    );
    expect(() => bundleArtefacts(sampleBundle(), 'thr')).toThrow(/no thr policy/);
  });

  it('picks the most accurate measured knob within a share of steps', () => {
    const b = sampleBundle();
    expect(knobForStepShare(b, 'pomdp', 0.25)).toMatchObject({ knob: 0.001, reached: true });
    expect(knobForStepShare(b, 'pomdp', 1)).toMatchObject({ knob: 0.0002, reached: true });
    expect(knobForStepShare(b, 'pomdp', 0.01)).toMatchObject({ knob: 0.005, reached: false });
    expect(() => knobForStepShare(b, 'agg-lambda', 0.1)).toThrow(/no calibration for agg-lambda/);
  });
});
