import { describe, expect, it } from 'vitest';
import { createPolicy, parsePolicySpec } from '../src/core/policies/index.ts';
import { abilityFor, lengthCdf, sigmoid } from '../src/core/sim/distributions.ts';
import { fidelityGate } from '../src/core/sim/fidelity.ts';
import { fitSimParams } from '../src/core/sim/fit.ts';
import { simulatedLabels } from '../src/core/sim/labels.ts';
import { DEFAULT_SIM_PARAMS, resolveSimParams } from '../src/core/sim/params.ts';
import { runProblem, runWorld } from '../src/core/sim/run.ts';
import { createWorld, stepsOf } from '../src/core/sim/world.ts';
import type { Observation, RoutingPolicy } from '../src/core/types.ts';
import { buildSummary } from '../src/eval/summary.ts';
import { checkRow } from '../src/eval/results-log.ts';

describe('simulator parameters', () => {
  it('defaults resolve, overrides merge deeply, and bad values are refused by name', () => {
    expect(resolveSimParams({})).toEqual(DEFAULT_SIM_PARAMS);
    const p = resolveSimParams({ scores: { ok: { mu: 3 } } });
    expect(p.scores.ok).toEqual({ mu: 3, sigma: DEFAULT_SIM_PARAMS.scores.ok.sigma });
    expect(() => resolveSimParams({ weakAccuracy: 1.2 })).toThrow(/weakAccuracy/);
    expect(() => resolveSimParams({ scores: { ok: { mu: 'high' } } })).toThrow(/scores\.ok\.mu/);
    expect(() => resolveSimParams({ nonsense: 1 })).toThrow(/Unknown simulator parameter "nonsense"/);
    expect(() => resolveSimParams([])).toThrow(/JSON object/);
  });

  it('difficulty spreads keep the mean step accuracy at p', () => {
    const a = abilityFor(0.866, 1.5);
    let s = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const z = 1.5 * Math.SQRT2 * inverseErf(2 * ((i + 0.5) / n) - 1);
      s += sigmoid(a - z);
    }
    expect(s / n).toBeCloseTo(0.866, 3);
  });

  it('the length law is a shifted negative binomial with the requested moments', () => {
    const cdf = lengthCdf({ min: 2, mean: 6.5, variance: 10.4, max: 200 });
    let mean = 0;
    let sq = 0;
    for (let k = 0; k < cdf.length; k++) {
      const p = cdf[k]! - (k ? cdf[k - 1]! : 0);
      mean += p * (k + 2);
      sq += p * (k + 2) ** 2;
    }
    expect(mean).toBeCloseTo(6.5, 3);
    expect(sq - mean * mean).toBeCloseTo(10.4, 2);
  });
});

/** Inverse error function (Giles' approximation), for a deterministic normal grid. */
function inverseErf(x: number): number {
  let w = -Math.log((1 - x) * (1 + x));
  let p: number;
  if (w < 5) {
    w -= 2.5;
    p = 2.81022636e-8;
    for (const c of [3.43273939e-7, -3.5233877e-6, -4.39150654e-6, 0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941]) p = c + p * w;
  } else {
    w = Math.sqrt(w) - 3;
    p = -0.000200214257;
    for (const c of [0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682]) p = c + p * w;
  }
  return p * x;
}

describe('simulated world', () => {
  const w = createWorld(DEFAULT_SIM_PARAMS, 4000, 11);

  it('is reproducible from its seed and differs across seeds', () => {
    const again = createWorld(DEFAULT_SIM_PARAMS, 4000, 11);
    expect(again.weakScore).toEqual(w.weakScore);
    expect(again.offset).toEqual(w.offset);
    expect(createWorld(DEFAULT_SIM_PARAMS, 4000, 12).weakScore).not.toEqual(w.weakScore);
    // Problem i does not depend on how many problems were drawn.
    const small = createWorld(DEFAULT_SIM_PARAMS, 10, 11);
    expect(small.weakTokens.subarray(0, small.offset[10])).toEqual(w.weakTokens.subarray(0, w.offset[10]));
  });

  it('has the configured step accuracies and lengths on average', () => {
    const mean = (a: Uint8Array) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(w.weakOk)).toBeCloseTo(0.866, 1);
    expect(Math.abs(mean(w.weakOk) - 0.866)).toBeLessThan(0.01);
    expect(Math.abs(mean(w.strongOk) - 0.9704)).toBeLessThan(0.006);
    const lengths = Array.from({ length: w.size }, (_, i) => stepsOf(w, i));
    expect(Math.min(...lengths)).toBe(2);
    expect(Math.abs(lengths.reduce((a, b) => a + b, 0) / lengths.length - 6.5)).toBeLessThan(0.2);
    // PRM scores order the states: correct steps highest, steps after an error lowest.
    const avg = (s: number) => {
      let t = 0;
      for (let k = 0; k < w.weakOk.length; k++) t += w.weakScore[3 * k + s]!;
      return t / w.weakOk.length;
    };
    expect(avg(0)).toBeGreaterThan(avg(1));
    expect(avg(1)).toBeGreaterThan(avg(2));
  });

  it('labels weak solutions like ProcessBench: the index of the first wrong step', () => {
    const labels = simulatedLabels(w);
    for (const [i, l] of labels.slice(0, 200).entries()) {
      const first = Array.from({ length: stepsOf(w, i) }, (_, t) => w.weakOk[w.offset[i]! + t]).indexOf(0);
      expect(l.label).toBe(first);
      expect(l.scores).toHaveLength(stepsOf(w, i));
    }
  });
});

describe('running real policies on the simulator', () => {
  const params = resolveSimParams({ lucky: 0 });
  const w = createWorld(params, 1500, 3);

  it('follows solve()\'s contract: plans, scores, previous scores, drafts and the ledger', () => {
    const seen: Observation[] = [];
    const spy: RoutingPolicy = {
      id: 'spy',
      knob: 0.6,
      episode: () => ({
        plan: (t) => (t === 2 ? 'strong' : t === 3 ? 'accept' : 'score'),
        decide: (o) => (seen.push(o), o.score < 0.6 ? 'regenerate' : 'accept'),
      }),
    };
    for (let i = 0; i < 300; i++) {
      seen.length = 0;
      const r = runProblem(w, i, spy);
      const n = stepsOf(w, i);
      expect(r.steps).toHaveLength(n);
      expect(r.steps[1]?.source ?? 'strong').toBe('strong');
      if (n >= 3) expect(r.steps[2]!.source).toBe('weak');
      expect(r.prmCalls).toBe(seen.length);
      expect(seen.map((o) => o.t)).toEqual([1, ...Array.from({ length: Math.max(0, n - 3) }, (_, k) => k + 4)]);
      for (const o of seen) {
        expect(o.previous).toHaveLength(o.t - 1);
        const step = r.steps[o.t - 1]!;
        if (o.score < 0.6) expect(step).toMatchObject({ source: 'strong', draft: { score: o.score, tokens: o.draftTokens } });
        else expect(step).toMatchObject({ source: 'weak', score: o.score, tokens: o.draftTokens });
      }
      // Steps before a scored draft carry the scores that call gave them.
      const last = seen[seen.length - 1];
      if (last) last.previous.forEach((s, k) => expect(r.steps[k]!.score).toBe(s));
      expect(r.strongTokens).toBe(r.steps.filter((s) => s.source === 'strong').reduce((a, s) => a + s.tokens, 0));
      expect(r.weakTokens).toBe(r.steps.filter((s) => s.source === 'weak').reduce((a, s) => a + s.tokens, 0));
      expect(r.strongCalls).toBe(r.steps.filter((s) => s.source === 'strong').length);
    }
  });

  it('grades a solution correct exactly when no kept step was wrong (no luck)', () => {
    for (const r of runWorld(w, createPolicy('weak-only'))) {
      const i = Number(r.id.slice(4));
      const allRight = Array.from({ length: stepsOf(w, i) }, (_, t) => w.weakOk[w.offset[i]! + t]).every((x) => x === 1);
      expect(r.correct).toBe(allRight);
      expect(r.prmCalls).toBe(0);
      expect(r.steps.every((s) => s.source === 'weak' && s.score === null)).toBe(true);
    }
  });

  it('produces rows trim eval\'s summary accepts, with strong-only beating weak-only and thr in between', () => {
    const rows = ['weak-only', 'strong-only', 'thr:0.5', 'thr:0.9', 'query:0.5', 'pomdp:0.001'].flatMap((s) => runWorld(w, parsePolicySpec(s)));
    rows.forEach((r, i) => checkRow(JSON.parse(JSON.stringify(r)), `row ${i}`));
    const s = buildSummary(rows);
    expect(s.problems).toBe(1500);
    expect(s.strong!.accuracy).toBeGreaterThan(s.weak!.accuracy + 0.15);
    const thr = s.policies.find((p) => p.policy === 'thr')!;
    expect(thr.points[0]!.cost!).toBeLessThan(thr.points[1]!.cost!);
    expect(thr.points[0]!.accuracy).toBeGreaterThan(s.weak!.accuracy);
    expect(s.policies.map((p) => p.policy)).toEqual(['pomdp', 'query', 'thr']);
  });
});

describe('characters sent in the simulator (--cost sent)', () => {
  it('charges each remote request the problem and the accepted prefix, and a remote PRM the draft too', () => {
    const params = resolveSimParams({ sent: { problemChars: 100, charsPerToken: 2, prmRemote: 0 } });
    const w = createWorld(params, 20, 3);
    // Strong-only, PRM on the device: step t sends 100 + 2·(tokens of steps 1…t−1).
    const strong = runProblem(w, 0, parsePolicySpec('strong-only'));
    const t = strong.steps.map((s) => s.tokens);
    expect(strong.steps[0]!.sent).toBe(100);
    expect(strong.steps[1]!.sent).toBe(100 + 2 * t[0]!);
    expect(strong.steps[2]!.sent).toBe(100 + 2 * (t[0]! + t[1]!));
    expect(strong.sentChars).toBe(strong.steps.reduce((a, s) => a + s.sent!, 0));
    expect(runProblem(w, 0, parsePolicySpec('weak-only')).sentChars).toBe(0);
    // Thr with a remote PRM: every step pays its scoring request (prefix + draft), a strong one its request too.
    const remote = createWorld(resolveSimParams({ sent: { problemChars: 100, charsPerToken: 2, prmRemote: 1 } }), 20, 3);
    for (let i = 0; i < 20; i++) {
      const row = runProblem(remote, i, parsePolicySpec('thr:0.6'));
      let prefix = 100;
      for (const s of row.steps) {
        const draft = s.source === 'strong' ? s.draft!.tokens : s.tokens;
        expect(s.sent).toBe(prefix + 2 * draft + (s.source === 'strong' ? prefix : 0));
        prefix += 2 * s.tokens;
      }
    }
    expect(() => resolveSimParams({ sent: { prmRemote: 2 } })).toThrow(/sent\.prmRemote/);
  });

  it('gives trim simulate\'s summary its share of characters sent', () => {
    const w = createWorld(DEFAULT_SIM_PARAMS, 300, 1);
    const rows = ['weak-only', 'strong-only', 'thr:0.5'].flatMap((s) => runWorld(w, parsePolicySpec(s)));
    const s = buildSummary(rows, { cost: 'sent' });
    const p = s.policies[0]!.points[0]!;
    expect(p.sentShare).toBeGreaterThan(0);
    expect(p.sentShare).toBeLessThan(1);
    expect(p.cost).toBe(p.sentShare);
  });
});

describe('fitting the simulator to traces', () => {
  // A fit profiles luck over eight candidates, each refitted and simulated: tens of seconds on a loaded
  // two-core machine, hence the longer limits below.
  it('recovers p_w, p_s, the score distributions and the lucky rate from mixed-policy traces', () => {
    // Difficulty at the defaults: it spreads the observed scores, and the fit must take that share out.
    const truth = resolveSimParams({
      weakAccuracy: 0.85,
      strongAccuracy: 0.96,
      scores: { ok: { mu: 2, sigma: 1.2 }, first: { mu: -0.5, sigma: 1.5 }, after: { mu: -1, sigma: 1 } },
      lucky: 0.1,
    });
    const w = createWorld(truth, 700, 21);
    const rows = ['weak-only', 'strong-only', 'thr:0.4', 'thr:0.8'].flatMap((s) => runWorld(w, parsePolicySpec(s)));
    const fit = fitSimParams(rows, DEFAULT_SIM_PARAMS, { matchProblems: 1500 });
    expect(Math.abs(fit.params.weakAccuracy - 0.85)).toBeLessThan(0.02);
    expect(Math.abs(fit.params.strongAccuracy - 0.96)).toBeLessThan(0.015);
    expect(Math.abs(fit.params.scores.ok.mu - 2)).toBeLessThan(0.2);
    expect(Math.abs(fit.params.scores.ok.sigma - 1.2)).toBeLessThan(0.2);
    expect(Math.abs(fit.params.scores.first.mu + 0.5)).toBeLessThan(0.4);
    expect(Math.abs(fit.params.scores.after.mu + 1)).toBeLessThan(0.3);
    // Luck is the loosest: the two-state likelihood has no difficulty, and luck absorbs some of its effect.
    // With Thr traces it is profiled on a grid (0, 0.02, 0.05, 0.1, 0.2, …) against the Thr curve.
    expect(Math.abs(fit.params.lucky - 0.1)).toBeLessThanOrEqual(0.1 + 1e-9);
    expect(Math.abs(fit.params.length.mean - 6.5)).toBeLessThan(0.4);
    expect(Object.keys(fit.kept)).toContain('difficulty');
  }, 180_000);

  it('refuses too few traces', () => {
    expect(() => fitSimParams([], DEFAULT_SIM_PARAMS)).toThrow(/at least 20/);
  });

  it('recovers the weak-only accuracy when the PRM scores strong text on another scale (no degenerate luck)', () => {
    // The organism's failure: its PRM scores the strong model's (correct) steps low. Read on the weak
    // scale they looked like errors, and the likelihood explained every right answer by luck (0.89), so
    // the fitted simulator answered 90% weak-only against 50.8% observed. Here strong steps get scores
    // from a far lower distribution than the weak model's correct steps.
    const truth = resolveSimParams({ weakAccuracy: 0.86, strongAccuracy: 0.995, lucky: 0.02, scores: { ok: { mu: 3.5, sigma: 1.5 }, first: { mu: -3, sigma: 1.5 }, after: { mu: -2, sigma: 1.5 } } });
    const w = createWorld(truth, 500, 5);
    const rows = ['weak-only', 'strong-only', 'thr:0.2', 'thr:0.5', 'thr:0.8'].flatMap((s) => runWorld(w, parsePolicySpec(s)));
    for (const r of rows) for (const s of r.steps) if (s.source === 'strong' && s.score !== null) s.score = 0.2;
    const observed = rows.filter((r) => r.policy === 'weak-only' && r.correct).length / 500;
    const fit = fitSimParams(rows, DEFAULT_SIM_PARAMS, { matchProblems: 1200 });
    expect(fit.params.lucky).toBeLessThan(0.2);
    const simulated = runWorld(createWorld(fit.params, 3000, 9), parsePolicySpec('weak-only')).filter((r) => r.correct).length / 3000;
    expect(Math.abs(simulated - observed)).toBeLessThan(0.03);
    expect(fit.fitted.weakAccuracy).toMatch(/matched to the observed/);
  }, 180_000);

  it('says so when a baseline cannot be matched instead of claiming it was', () => {
    // Every answer right by luck: weak-only at 30% is out of reach of a simulator whose luck is 0.9.
    const truth = resolveSimParams({ lucky: 0.9 });
    const w = createWorld(truth, 300, 2);
    const rows = ['weak-only', 'strong-only'].flatMap((s) => runWorld(w, parsePolicySpec(s)));
    rows.filter((r) => r.policy === 'weak-only').forEach((r, i) => (r.correct = i % 10 < 3));
    const fit = fitSimParams(rows, { ...DEFAULT_SIM_PARAMS, lucky: 0.9 }, { matchProblems: 800 });
    if (fit.params.lucky > 0.5) expect(fit.fitted.weakAccuracy).toMatch(/NOT matched/);
    else expect(fit.fitted.weakAccuracy).toMatch(/matched to the observed 30\.0%/);
  });
});

describe('fidelity gate', () => {
  const truth = resolveSimParams({ weakAccuracy: 0.84, scores: { ok: { mu: 3, sigma: 1.3 }, first: { mu: -2, sigma: 1.5 }, after: { mu: -2, sigma: 1.5 } } });
  const real = (() => {
    const w = createWorld(truth, 800, 31);
    return ['weak-only', 'strong-only', 'thr:0.2', 'thr:0.5', 'thr:0.8'].flatMap((s) => runWorld(w, parsePolicySpec(s)));
  })();

  it('passes the simulator that wrote the traces, with both curves side by side', () => {
    const g = fidelityGate(real, truth, { problems: 3000, tolerance: 0.04 });
    expect(g.pass).toBe(true);
    expect(g.worstGap).toBeLessThan(0.04);
    expect(g.costMeasure).toBe('tokens');
    expect(g.points.map((p) => `${p.policy}@${p.knob}`)).toEqual(['weak-only@null', 'thr@0.2', 'thr@0.5', 'thr@0.8', 'strong-only@null']);
    expect(g.table).toMatch(/real cost\s+sim cost\s+real acc\s+sim acc\s+gap/);
    expect(g.table).not.toMatch(/over/);
  });

  it('fires on a deliberately wrong fit (a PRM that cannot tell errors apart) and names the worst point', () => {
    const wrong = resolveSimParams({ ...truth, scores: { ...truth.scores, first: truth.scores.ok, after: truth.scores.ok } });
    const g = fidelityGate(real, wrong, { problems: 3000 });
    expect(g.pass).toBe(false);
    expect(g.worstGap).toBeGreaterThan(0.03);
    expect(g.worst!.policy).toBe('thr');
    expect(g.table).toMatch(/over/);
  });

  it('compares shares of steps when the traces have no strong-only run, and needs Thr traces', () => {
    const g = fidelityGate(real.filter((r) => r.policy !== 'strong-only'), truth, { problems: 2000, tolerance: 0.04 });
    expect(g.costMeasure).toBe('steps');
    expect(g.pass).toBe(true);
    expect(() => fidelityGate(real.filter((r) => r.policy !== 'thr'), truth)).toThrow(/TRIM-Thr traces/);
  });

  it('is what trim simulate --fit prints after the fit', () => {
    const sim = fitSimParams(real, DEFAULT_SIM_PARAMS, { matchProblems: 800 });
    expect(fidelityGate(real, sim.params, { problems: 3000, tolerance: 0.04 }).pass).toBe(true);
  }, 180_000);
});
