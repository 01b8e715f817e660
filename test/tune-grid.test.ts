// trim tune's λ grids: TRIM-Agg gets points near λ = 0, so its curve reaches PGR 95% on its own points.

import { describe, expect, it } from 'vitest';
import { defaultLambdaGrid, pickAggLambdas } from '../src/cli/commands/tune.ts';

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
