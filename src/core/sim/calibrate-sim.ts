// Calibration on simulated problems: the knob of a policy that spends a target budget (normalised cost
// or share of steps sent), found by bisection. Pure, so the page can offer "budget: X% of steps sent"
// with no reference results at hand, from the same code as `trim calibrate --simulate`.

import { searchKnob, type BudgetMetric, type Calibration } from '../calibrate.ts';
import { strongOnlyPolicy } from '../policies/baselines.ts';
import type { RoutingPolicy } from '../types.ts';
import { DEFAULT_SIM_PARAMS, type SimParams } from './params.ts';
import { runWorld, type SimRow } from './run.ts';
import { createWorld } from './world.ts';

/** Where each calibratable knob lives, and on which scale to search it. */
export const KNOB_RANGES: Readonly<Record<string, { lo: number; hi: number; scale: 'linear' | 'log' }>> = {
  thr: { lo: 0, hi: 1, scale: 'linear' },
  agg: { lo: 0, hi: 1, scale: 'linear' },
  query: { lo: 0, hi: 1, scale: 'linear' },
  random: { lo: 0, hi: 1, scale: 'linear' },
  pomdp: { lo: 1e-6, hi: 0.1, scale: 'log' },
};

export function strongShare(rows: readonly SimRow[]): number {
  const total = rows.reduce((s, r) => s + r.steps.length, 0);
  return total ? rows.reduce((s, r) => s + r.steps.filter((x) => x.source === 'strong').length, 0) / total : 0;
}

export function calibrateInSimulator(
  policyAt: (knob: number) => RoutingPolicy,
  range: { lo: number; hi: number; scale?: 'linear' | 'log' },
  target: number,
  metric: BudgetMetric,
  opts: { params?: SimParams; problems?: number; seed?: number } = {},
): Calibration {
  const world = createWorld(opts.params ?? DEFAULT_SIM_PARAMS, opts.problems ?? 4000, opts.seed ?? 0);
  const tokens = (rows: readonly SimRow[]) => rows.reduce((s, r) => s + r.strongTokens, 0);
  const strongOnly = metric === 'cost' ? tokens(runWorld(world, strongOnlyPolicy())) : 0;
  const spendAt = (knob: number) => {
    const rows = runWorld(world, policyAt(knob));
    return metric === 'cost' ? tokens(rows) / strongOnly : strongShare(rows);
  };
  // Each λ of the pomdp policy solves its tables: fewer, wider steps there.
  return searchKnob(spendAt, range, target, metric, range.scale === 'log' ? 16 : 20);
}
