import { describe, expect, it } from 'vitest';
import { BeliefTracker, posterior } from '../src/core/pomdp/belief.ts';
import { kdeBinMasses, kdeDensity, normalCdf, type Kde2 } from '../src/core/pomdp/kde.ts';
import { afterAccept, afterRegenerate, hazardFromCdf, hazardFromLengths, initialBelief, type Belief, type PomdpModel } from '../src/core/pomdp/model.ts';
import {
  fitObservationModel,
  observationCell,
  observationModelFromJson,
  observationModelToJson,
  prefixSamples,
  type ObservationModel,
} from '../src/core/pomdp/observations.ts';
import { actionValues, beliefValue, solvePomdp, tablesFromJson, tablesToJson } from '../src/core/pomdp/solver.ts';
import { createPolicy } from '../src/core/policies/index.ts';
import { defaultObservationModel, pomdpPolicy } from '../src/core/policies/pomdp.ts';
import { mulberry32 } from '../src/core/rng.ts';

const kde = (pts: number[][], h: number): Kde2 => ({ points: Float64Array.from(pts.flat()), hx: h, hy: h });

/** Midpoint-rule integral of the continuous density over [0, 1]². */
function integrate(k: Kde2, n = 200): number {
  let s = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) s += kdeDensity(k, (i + 0.5) / n, (j + 0.5) / n);
  return s / (n * n);
}

describe('reflected KDE', () => {
  it('integrates to 1 over the unit square, even with points on the borders and corners', () => {
    for (const pts of [[[0, 0]], [[1, 0.5]], [[0.02, 0.98], [0.5, 0.5], [1, 1]]]) {
      const k = kde(pts, 0.08);
      expect(integrate(k)).toBeCloseTo(1, 3);
      const masses = kdeBinMasses(k, 20);
      expect(masses.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    }
  });

  it('reflects at the border: no mass lost, flat at the edge, twice the plain kernel there', () => {
    const h = 0.1;
    const k = kde([[0, 0.5]], h);
    const plain = (x: number, y: number) => Math.exp(-0.5 * ((x / h) ** 2 + ((y - 0.5) / h) ** 2)) / (2 * Math.PI * h * h);
    // A plain Gaussian kernel at the border would keep half its mass inside; the reflected one doubles it.
    expect(kdeDensity(k, 0, 0.5) / plain(0, 0.5)).toBeCloseTo(2, 6);
    // Zero slope across the border: the density just inside equals the density at the edge to first order.
    const eps = 1e-4;
    expect(Math.abs(kdeDensity(k, eps, 0.5) - kdeDensity(k, 0, 0.5)) / kdeDensity(k, 0, 0.5)).toBeLessThan(1e-6);
    // The image at -x contributes exactly the mirror of the kernel: f(x) = plain(x) + plain(-x) near 0.
    expect(kdeDensity(k, 0.05, 0.5)).toBeCloseTo(plain(0.05, 0.5) + plain(-0.05, 0.5), 8);
  });

  it('bins hold exactly the integral of the density over each cell', () => {
    const k = kde([[0.03, 0.9], [0.4, 0.41], [0.97, 0.1]], 0.06);
    const bins = 5;
    const masses = kdeBinMasses(k, bins);
    const n = 60;
    for (const [a, b] of [[0, 0], [0, 4], [2, 2], [4, 0]] as const) {
      let s = 0;
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) s += kdeDensity(k, (a + (i + 0.5) / n) / bins, (b + (j + 0.5) / n) / bins);
      expect(masses[a * bins + b]!).toBeCloseTo(s / (n * n * bins * bins), 4);
    }
  });

  it('normal CDF is accurate', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-3)).toBeCloseTo(0.0013499, 6);
  });
});

describe('observation model', () => {
  const solutions = [
    { id: 'a', steps: ['x', 'y', 'z'], label: -1, scores: [0.9, 0.95, 0.8] },
    { id: 'b', steps: ['x', 'y', 'z', 'w'], label: 1, scores: [0.85, 0.2, 0.3, 0.1] },
    { id: 'c', steps: ['x', 'y'], label: 0, scores: [0.4, 0.6] },
  ];

  it('labels prefixes S0 before the first error, S2 at it, S1 after it, with min-previous 1 at the start', () => {
    expect(prefixSamples(solutions[1]!, solutions[1]!.scores)).toEqual([
      { minPrevious: 1, lastPrevious: 1, score: 0.85, state: 0 },
      { minPrevious: 0.85, lastPrevious: 0.85, score: 0.2, state: 2 },
      { minPrevious: 0.2, lastPrevious: 0.2, score: 0.3, state: 1 },
      { minPrevious: 0.2, lastPrevious: 0.3, score: 0.1, state: 1 },
    ]);
    expect(() => prefixSamples(solutions[0]!, [0.9, 0.95])).toThrow(/3 steps but 2 scores/);
    expect(() => prefixSamples(solutions[0]!, [0.9, 1.5, 0.1])).toThrow(/number in \[0, 1\]/);
    expect(() => prefixSamples({ ...solutions[0]!, label: 7 }, solutions[0]!.scores)).toThrow(/label 7/);
  });

  it('fits one normalised density per state and survives a JSON round trip', () => {
    const samples = solutions.flatMap((s) => prefixSamples(s, s.scores));
    const m = fitObservationModel(samples, { bins: 10, hazard: [0.2, 0.5, 1], source: 'test' });
    for (const p of m.probs) {
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
      expect(Math.min(...p)).toBeGreaterThan(0);
    }
    expect(m.counts).toEqual([4, 3, 2]);
    // S0's mass sits at high scores, S2's at low current scores with a high min-previous.
    expect(m.probs[0][observationCell(10, 0.9, 0.9)]!).toBeGreaterThan(m.probs[0][observationCell(10, 0.9, 0.1)]!);
    const back = observationModelFromJson(JSON.parse(JSON.stringify(observationModelToJson(m))));
    expect(back.bins).toBe(10);
    expect(back.hazard).toEqual([0.2, 0.5, 1]);
    for (let s = 0; s < 3; s++) for (let i = 0; i < 100; i++) expect(back.probs[s]![i]!).toBeCloseTo(m.probs[s]![i]!, 6);
    expect(() => observationModelFromJson({ format: 'other' })).toThrow(/trim fit-observations/);
    expect(() => fitObservationModel(samples.filter((x) => x.state !== 1))).toThrow(/No prefixes in state S1/);
  });
});

/** A hand-made model with 2×2 cells: small enough for exhaustive search over observation sequences. */
function tinyModel(): ObservationModel {
  return {
    bins: 2,
    probs: [Float64Array.from([0.05, 0.15, 0.1, 0.7]), Float64Array.from([0.4, 0.3, 0.2, 0.1]), Float64Array.from([0.1, 0.1, 0.6, 0.2])],
    counts: [1, 1, 1],
    bandwidths: [[0.1, 0.1], [0.1, 0.1], [0.1, 0.1]],
    source: 'test',
  };
}

/** Exact expectimax over beliefs (no grid), the definition the solver approximates. */
function bruteForce(m: PomdpModel, obs: ObservationModel, lambda: number, t: number, b: Belief, tokens: number): { accept: number; regenerate: number } {
  const T = m.hazard.length;
  const h = t === T ? 1 : m.hazard[t - 1]!;
  const future = (next: Belief): number => {
    if (h === 1) return 0;
    let s = 0;
    for (let o = 0; o < obs.bins * obs.bins; o++) {
      const p = next[0] * obs.probs[0][o]! + next[1] * obs.probs[1][o]! + next[2] * obs.probs[2][o]!;
      if (p <= 0) continue;
      const v = bruteForce(m, obs, lambda, t + 1, posterior(obs, next, o), m.futureTokens);
      s += p * Math.max(v.accept, v.regenerate);
    }
    return s;
  };
  return {
    accept: h * m.reward * b[0] + (1 - h) * future(afterAccept(b, m.pw)),
    regenerate: -lambda * tokens + h * m.reward * m.ps * (1 - b[1]) + (1 - h) * future(afterRegenerate(b, m.pw, m.ps)),
  };
}

describe('POMDP solver', () => {
  const model: PomdpModel = { pw: 0.8, ps: 0.95, hazard: [0.3, 0.5, 1], reward: 1, futureTokens: 60 };
  const beliefs: Belief[] = [
    [1, 0, 0],
    [0.8, 0, 0.2],
    [0.5, 0.2, 0.3],
    [0.1, 0.1, 0.8],
    [0.3, 0.6, 0.1],
    [0, 1, 0],
    [0.33, 0.33, 0.34],
  ];

  it('matches exhaustive expectimax on a 3-step horizon', () => {
    const obs = tinyModel();
    for (const lambda of [0, 0.002, 0.01]) {
      const tables = solvePomdp(model, obs, lambda, 2001);
      for (const t of [1, 2, 3])
        for (const b of beliefs)
          for (const tokens of [10, 60, 200]) {
            const exact = bruteForce(model, obs, lambda, t, b, tokens);
            const got = actionValues(tables, t, b, tokens);
            expect(got.accept).toBeCloseTo(exact.accept, 4);
            expect(got.regenerate).toBeCloseTo(exact.regenerate, 4);
            if (Math.abs(exact.accept - exact.regenerate) > 1e-3) expect(got.regenerate > got.accept).toBe(exact.regenerate > exact.accept);
          }
    }
  });

  it('is exact at the last step, where values are linear in the belief', () => {
    const tables = solvePomdp(model, tinyModel(), 0.001, 11);
    const b: Belief = [0.37, 0.21, 0.42];
    expect(actionValues(tables, 3, b, 50)).toEqual({ accept: expect.closeTo(0.37, 12), regenerate: expect.closeTo(0.95 * 0.79 - 0.05, 12) });
  });

  it('regenerates a likely-wrong draft, accepts a likely-right one, and gives up on a lost solution', () => {
    const tables = solvePomdp(model, tinyModel(), 0.001);
    const decide = (b: Belief, tokens = 60) => {
      const v = actionValues(tables, 1, b, tokens);
      return v.regenerate > v.accept ? 'regenerate' : 'accept';
    };
    expect(decide([0.05, 0, 0.95])).toBe('regenerate');
    expect(decide([0.99, 0, 0.01])).toBe('accept');
    expect(decide([0.01, 0.98, 0.01])).toBe('accept');
    // The same doubt is worth a short regeneration but not a very long one.
    expect(decide([0.7, 0, 0.3], 20)).toBe('regenerate');
    expect(decide([0.7, 0, 0.3], 2000)).toBe('accept');
    expect(beliefValue(tables, 1, [1, 0, 0])).toBeGreaterThan(beliefValue(tables, 1, [0, 1, 0]));
  });

  it('tables survive a JSON round trip and decide identically', () => {
    const t = solvePomdp({ ...model, hazard: hazardFromLengths([2, 3, 3, 4, 6, 9], 30) }, defaultObservationModel(), 8e-4);
    const back = tablesFromJson(JSON.parse(JSON.stringify(tablesToJson(t))));
    expect(back.model).toEqual(t.model);
    expect(back.accept).toEqual(t.accept);
    expect(back.regenerate).toEqual(t.regenerate);
    const a = pomdpPolicy({ lambda: 8e-4, tables: t });
    const c = pomdpPolicy({ lambda: 8e-4, tables: back });
    const rng = mulberry32(5);
    for (let i = 0; i < 200; i++) {
      const o = { t: 1 + Math.floor(rng() * 10), score: rng(), previous: [rng(), rng()], draftTokens: 10 + rng() * 200, strongTokens: 0, budgetLeft: null };
      expect(a.episode().decide(o)).toBe(c.episode().decide(o));
    }
    expect(() => tablesFromJson({ ...(tablesToJson(t) as object), grid: 2 })).toThrow(/grid/);
  });
});

describe('beliefs', () => {
  const m: PomdpModel = { pw: 0.8, ps: 0.95, hazard: [0.3, 0.5, 1], reward: 1, futureTokens: 60 };
  const obs = tinyModel();
  const T = (a: 'accept' | 'regenerate', from: number): Belief => {
    const e: [number, number, number] = [0, 0, 0];
    e[from] = 1;
    return a === 'accept' ? afterAccept(e, m.pw) : afterRegenerate(e, m.pw, m.ps);
  };

  it('the Bayes filter equals the exact posterior summed over every hidden state path', () => {
    const cells = [3, 2, 0, 2];
    const actions: ('accept' | 'regenerate')[] = ['accept', 'regenerate', 'accept'];
    const tracker = new BeliefTracker(obs, 'filter', m.pw, m.ps);
    let b: Belief = initialBelief(m.pw);
    for (let t = 0; t < cells.length; t++) {
      b = tracker.observe(cells[t]!);
      // Brute force: P(s_t | o_1..t) ∝ Σ over paths s_1..s_t of P(path) Π P(o_k | s_k).
      const mass = [0, 0, 0];
      const walk = (k: number, s: number, p: number) => {
        const q = p * obs.probs[s as 0][cells[k]!]!;
        if (k === t) return void (mass[s] = mass[s]! + q);
        for (let n = 0; n < 3; n++) walk(k + 1, n, q * T(actions[k]!, s)[n]!);
      };
      initialBelief(m.pw).forEach((p0, s) => walk(0, s, p0));
      const z = mass[0]! + mass[1]! + mass[2]!;
      for (let s = 0; s < 3; s++) expect(b[s]!).toBeCloseTo(mass[s]! / z, 12);
      if (t < actions.length) tracker.act(b, actions[t]!);
    }
  });

  it('the reference belief is the current observation alone under a uniform prior', () => {
    const tracker = new BeliefTracker(obs, 'reference', m.pw, m.ps);
    const first = tracker.observe(1);
    tracker.act(first, 'regenerate');
    const again = tracker.observe(1);
    const p = [obs.probs[0][1]!, obs.probs[1][1]!, obs.probs[2][1]!];
    const z = p[0]! + p[1]! + p[2]!;
    expect(again).toEqual(first);
    again.forEach((x, s) => expect(x).toBeCloseTo(p[s]! / z, 12));
  });

  it('at step 1 the filter knows no earlier step can be wrong', () => {
    const b = new BeliefTracker(obs, 'filter', m.pw, m.ps).observe(0);
    expect(b[1]).toBe(0);
  });
});

describe('hazard', () => {
  it('from lengths: ends surely at the cap, shrinks sparse tails towards the mean rate', () => {
    const h = hazardFromLengths([2, 2, 3, 5], 6, 0);
    expect(h).toEqual([0, 0.5, 0.5, 0, 1, 1]);
    const smooth = hazardFromLengths([2, 2, 3, 5], 6);
    expect(smooth[3]!).toBeGreaterThan(0);
    expect(smooth[5]).toBe(1);
  });

  it('from a length distribution', () => {
    // Lengths 2 or 3 with equal probability.
    expect(hazardFromCdf([0.5, 1], 2, 4)).toEqual([0, 0.5, 1, 1]);
  });
});

describe('pomdp policy', () => {
  it('is registered with λ as its knob, defaults to the shipped observation model, and refuses bad scores', () => {
    const p = createPolicy('pomdp', { knob: 0.001 });
    expect(p).toMatchObject({ id: 'pomdp', knob: 0.001 });
    const e = p.episode();
    expect(e.plan(1)).toBe('score');
    expect(e.decide({ t: 1, score: 0.02, previous: [], draftTokens: 40, strongTokens: 0, budgetLeft: null })).toBe('regenerate');
    expect(p.episode().decide({ t: 1, score: 0.99, previous: [], draftTokens: 40, strongTokens: 0, budgetLeft: null })).toBe('accept');
    expect(() => p.episode().decide({ t: 1, score: NaN, previous: [], draftTokens: 40, strongTokens: 0, budgetLeft: null })).toThrow(/PRM score/);
    expect(() => p.episode().decide({ t: 2, score: 0.5, previous: [7], draftTokens: 40, strongTokens: 0, budgetLeft: null })).toThrow(/previous score/);
    expect(() => createPolicy('pomdp', { knob: -1 })).toThrow(/λ/);
    expect(() => createPolicy('pomdp', { artefacts: { beliefMode: 'psychic' } })).toThrow(/belief mode/);
  });

  it('the shipped default observation model is a valid fitted model with a hazard', () => {
    const m = defaultObservationModel();
    expect(m.bins).toBe(20);
    expect(m.hazard?.length).toBe(30);
    expect(m.source).toMatch(/simulat/);
  });
});
