// trim tune's λ grids: TRIM-Agg gets points near λ = 0, so its curve reaches PGR 95% on its own points.

import { describe, expect, it } from 'vitest';
import { defaultLambdaGrid, pickAggLambdas, refineNear95 } from '../src/cli/commands/tune.ts';

describe("trim tune's λ grids", () => {
  it("gives TRIM-Agg the default grid's two smallest λ besides four spread over it", () => {
    const grid = defaultLambdaGrid(52);
    expect(grid.length).toBe(10);
    const sorted = [...grid].sort((a, b) => a - b);
    const picks = pickAggLambdas(grid);
    expect(picks).toEqual([sorted[0], sorted[1], sorted[2], sorted[4], sorted[5], sorted[7]]);
  });

  it('keeps each λ once on a short or repeated grid', () => {
    expect(pickAggLambdas([0.01, 0.001, 0.01])).toEqual([0.001, 0.01]);
    expect(pickAggLambdas([0.5])).toEqual([0.5]);
  });
});

describe('refineNear95', () => {
  // Weak 50%, strong 100%: PGR 95% is 97.5% accuracy.
  const curve = [
    { knob: 0.001, accuracy: 1 },
    { knob: 0.01, accuracy: 0.98 },
    { knob: 0.1, accuracy: 0.9 },
    { knob: 1, accuracy: 0.6 },
  ];
  it('adds geometric steps between the cheapest λ reaching PGR 95% and the next one, which does not', () => {
    expect(refineNear95(curve, 0.5, 1)).toEqual([0.018, 0.032, 0.056]);
  });
  it('looks below the smallest λ when none reaches it, above the largest when all do', () => {
    expect(refineNear95(curve.slice(2), 0.5, 1)).toEqual([0.018, 0.032, 0.056]);
    expect(refineNear95(curve.slice(0, 2), 0.5, 1)).toEqual([0.018, 0.032, 0.056]);
  });
  it('adds nothing without a gap between weak and strong', () => {
    expect(refineNear95(curve, 1, 1)).toEqual([]);
    expect(refineNear95([], 0.5, 1)).toEqual([]);
  });
});
