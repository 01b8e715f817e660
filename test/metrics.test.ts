import { describe, expect, it } from 'vitest';
import { apgr, cpt, deltaIbc, ibc, MetricError, normalisedCost, paretoFrontier, pgr, pgrCurve } from '../src/core/metrics.ts';

// A sweep worked by hand. Weak-only: accuracy 0.5. Strong-only: accuracy 0.9, 1000 strong tokens/problem.
//   knob  accuracy  strong tokens  cost = tokens/1000  PGR = (acc − 0.5)/0.4
//   0.2   0.60      100            0.1                 0.25
//   0.4   0.70      200            0.2                 0.50
//   0.5   0.66      300            0.3                 0.40   ← dominated by knob 0.4 (cheaper and better)
//   0.6   0.86      500            0.5                 0.90
//   0.8   0.88      800            0.8                 0.95
const W = 0.5;
const S = 0.9;
const STRONG_TOKENS = 1000;
const sweep = [
  { knob: 0.2, accuracy: 0.6, tokens: 100 },
  { knob: 0.4, accuracy: 0.7, tokens: 200 },
  { knob: 0.5, accuracy: 0.66, tokens: 300 },
  { knob: 0.6, accuracy: 0.86, tokens: 500 },
  { knob: 0.8, accuracy: 0.88, tokens: 800 },
].map((p) => ({ ...p, cost: normalisedCost(p.tokens, STRONG_TOKENS)! }));

describe('normalisedCost and pgr', () => {
  it('divides by strong-only and rescales accuracy between the baselines', () => {
    expect(normalisedCost(250, 1000)).toBe(0.25);
    expect(normalisedCost(1500, 1000)).toBe(1.5); // a policy may spend more than strong-only
    expect(pgr(0.7, W, S)).toBeCloseTo(0.5, 12); // (0.7 − 0.5) / 0.4
    expect(pgr(0.5, W, S)).toBe(0);
    expect(pgr(0.95, W, S)).toBeCloseTo(1.125, 12); // beating the strong model: PGR > 1
    expect(pgr(0.4, W, S)).toBeCloseTo(-0.25, 12); // worse than weak-only: negative
  });

  it('is null where the ratio has no meaning, and refuses non-numbers', () => {
    expect(normalisedCost(10, 0)).toBeNull(); // strong-only spent nothing: no scale
    expect(pgr(0.7, 0.6, 0.6)).toBeNull(); // no gap between the baselines
    expect(() => pgr(Number.NaN, W, S)).toThrow(MetricError);
    expect(() => normalisedCost(Infinity, 10)).toThrow(MetricError);
  });
});

describe('paretoFrontier', () => {
  it('keeps only points nothing cheaper-and-better beats, sorted by cost', () => {
    const f = paretoFrontier(sweep);
    expect(f.map((p) => p.knob)).toEqual([0.2, 0.4, 0.6, 0.8]); // 0.5 dropped
  });

  it('breaks ties: the cheapest at equal accuracy, the best at equal cost, the first of exact duplicates', () => {
    const f = paretoFrontier([
      { id: 'a', cost: 0.3, accuracy: 0.7 },
      { id: 'b', cost: 0.3, accuracy: 0.7 },
      { id: 'c', cost: 0.3, accuracy: 0.8 }, // beats a and b at the same cost
      { id: 'd', cost: 0.5, accuracy: 0.8 }, // same accuracy as c, costlier
      { id: 'e', cost: 0.1, accuracy: 0.6 },
      { id: 'f', cost: 0.1, accuracy: 0.6 }, // exact duplicate of e: e (given first) is kept
    ]);
    expect(f.map((p) => p.id)).toEqual(['e', 'c']);
  });

  it('refuses NaN', () => {
    expect(() => paretoFrontier([{ cost: Number.NaN, accuracy: 0.5 }])).toThrow(MetricError);
  });
});

describe('pgrCurve, cpt, apgr on the hand-worked sweep', () => {
  const curve = pgrCurve(sweep, W, S)!;

  it('is the frontier plus the weak-only point (0, 0)', () => {
    // (0,0) (0.1,0.25) (0.2,0.5) (0.5,0.9) (0.8,0.95)
    expect(curve.map((p) => p.cost)).toEqual([0, 0.1, 0.2, 0.5, 0.8]);
    const expected = [0, 0.25, 0.5, 0.9, 0.95];
    curve.forEach((p, i) => expect(p.pgr).toBeCloseTo(expected[i]!, 12));
  });

  it('CPT interpolates between frontier points and is null beyond the best point', () => {
    expect(cpt(curve, 0.5)).toBeCloseTo(0.2, 12); // reached exactly at knob 0.4
    // 80% lies between (0.2, 0.5) and (0.5, 0.9): t = (0.8 − 0.5)/0.4 = 0.75 → 0.2 + 0.75·0.3 = 0.425
    expect(cpt(curve, 0.8)).toBeCloseTo(0.425, 12);
    expect(cpt(curve, 0.95)).toBeCloseTo(0.8, 12); // reached exactly at knob 0.8
    expect(cpt(curve, 0.96)).toBeNull(); // the sweep never gets there
    // 10% lies between (0, 0) and (0.1, 0.25): 0.1 · 0.1/0.25 = 0.04
    expect(cpt(curve, 0.1)).toBeCloseTo(0.04, 12);
    expect(cpt(curve, 0)).toBe(0);
  });

  it('APGR is the trapezoid area under the curve over [0, 1], flat after the last point', () => {
    // [0,0.1]   (0+0.25)/2·0.1    = 0.0125
    // [0.1,0.2] (0.25+0.5)/2·0.1  = 0.0375
    // [0.2,0.5] (0.5+0.9)/2·0.3   = 0.21
    // [0.5,0.8] (0.9+0.95)/2·0.3  = 0.2775
    // [0.8,1]   0.95·0.2          = 0.19      total 0.7275
    expect(apgr(curve)).toBeCloseTo(0.7275, 12);
  });

  it('IBC and ΔIBC follow the definitions, and ΔIBC = PGR/cost − 1', () => {
    const base = ibc(S, W, STRONG_TOKENS)!; // (0.9 − 0.5)/1000 = 0.0004
    expect(base).toBeCloseTo(0.0004, 15);
    const at06 = ibc(0.86, W, 500)!; // 0.36/500 = 0.00072
    expect(at06).toBeCloseTo(0.00072, 15);
    expect(deltaIbc(at06, base)).toBeCloseTo(0.8, 12); // (0.00072 − 0.0004)/0.0004; also 0.9/0.5 − 1
    expect(deltaIbc(ibc(0.6, W, 100), base)).toBeCloseTo(1.5, 12); // 0.001/0.0004 − 1; also 0.25/0.1 − 1
    expect(deltaIbc(base, base)).toBe(0); // strong-only is the reference
  });
});

describe('curves with edge shapes', () => {
  it('clips APGR at cost 1 and lets CPT exceed 1', () => {
    // Weak 0, strong 1 so PGR = accuracy. Curve (0,0) (0.5,0.5) (1.5,1).
    const curve = pgrCurve([{ cost: 0.5, accuracy: 0.5 }, { cost: 1.5, accuracy: 1 }], 0, 1)!;
    // [0,0.5] 0.25·0.5 = 0.125; value at cost 1 = 0.5 + 0.5·0.5 = 0.75; [0.5,1] (0.5+0.75)/2·0.5 = 0.3125
    expect(apgr(curve)).toBeCloseTo(0.4375, 12);
    // 90%: t = (0.9 − 0.5)/0.5 = 0.8 → 0.5 + 0.8·1 = 1.3 (costlier than strong-only, reported as such)
    expect(cpt(curve, 0.9)).toBeCloseTo(1.3, 12);
  });

  it('handles a policy that beats the strong model (PGR > 1)', () => {
    // One point: cost 0.3, accuracy 0.95 → PGR 1.125. Curve (0,0) (0.3,1.125).
    const curve = pgrCurve([{ cost: 0.3, accuracy: 0.95 }], W, S)!;
    // CPT(95%) = 0.3 · 0.95/1.125 = 0.25333…
    expect(cpt(curve, 0.95)).toBeCloseTo(0.3 * (0.95 / 1.125), 12);
    // APGR = 1.125·0.3/2 + 1.125·0.7 = 0.16875 + 0.7875 = 0.95625
    expect(apgr(curve)).toBeCloseTo(0.95625, 12);
  });

  it('lets a zero-cost point better than the weak baseline replace it', () => {
    const curve = pgrCurve([{ cost: 0, accuracy: 0.6 }, { cost: 0.5, accuracy: 0.9 }], W, S)!;
    expect(curve[0]!.cost).toBe(0);
    expect(curve[0]!.pgr).toBeCloseTo(0.25, 12);
    expect(cpt(curve, 0.2)).toBe(0);
    // (0.25+1)/2·0.5 + 1·0.5 = 0.3125 + 0.5 = 0.8125
    expect(apgr(curve)).toBeCloseTo(0.8125, 12);
  });

  it('gives a policy that never beats weak-only a flat zero curve', () => {
    const curve = pgrCurve([{ cost: 0.4, accuracy: 0.45 }], W, S)!;
    expect(curve).toEqual([{ cost: 0, pgr: 0 }]);
    expect(cpt(curve, 0.5)).toBeNull();
    expect(apgr(curve)).toBe(0);
  });

  it('has no curve when there is no gap to recover', () => {
    expect(pgrCurve(sweep, 0.9, 0.9)).toBeNull();
    expect(pgrCurve(sweep, 0.9, 0.5)).toBeNull(); // the weak model is better: no gain to measure
    expect(deltaIbc(ibc(0.7, 0.9, 100), ibc(0.5, 0.9, 1000))).toBeNull(); // negative base
    expect(ibc(0.7, W, 0)).toBeNull(); // no strong tokens spent: gain per token undefined
    expect(deltaIbc(null, 0.1)).toBeNull();
  });

  it('refuses curves that do not start at cost 0 or are unsorted', () => {
    expect(() => cpt([{ cost: 0.1, pgr: 0.5 }], 0.5)).toThrow(MetricError);
    expect(() => apgr([{ cost: 0, pgr: 0 }, { cost: 0.5, pgr: 0.5 }, { cost: 0.2, pgr: 0.6 }])).toThrow(MetricError);
    expect(() => apgr([])).toThrow(MetricError);
  });
});
