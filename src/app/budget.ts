// "Budget: X% of steps sent": instead of a raw threshold or λ, the user says what share of steps may
// go to the remote model, and the policy's knob that sends that share on simulated problems is picked
// (src/core/sim/calibrate-sim.ts, the same code as `trim calibrate --simulate`). The simulator's PRM is
// not the user's, so the share on real problems is approximate; the page says so.

import { ConfigError } from '../core/errors.ts';
import { createPolicy } from '../core/policies/index.ts';
import { calibrateInSimulator, KNOB_RANGES } from '../core/sim/calibrate-sim.ts';

export interface BudgetChoice {
  /** The policy spec with the calibrated knob, e.g. "thr:0.1512". */
  spec: string;
  /** Share of steps sent on the simulated problems at that knob. */
  spend: number;
  /** False when no knob reaches the target; the nearest end was taken. */
  reached: boolean;
}

/** Simulated problems per calibration: enough for a stable share, quick enough for a page. */
const PROBLEMS = 1000;

export function calibrateForBudget(policySpec: string, percent: number): BudgetChoice {
  const name = policySpec.split(':')[0]!.trim();
  const range = KNOB_RANGES[name];
  if (!range) throw new ConfigError(`The policy "${name}" has no knob to set from a budget. Use one of ${Object.keys(KNOB_RANGES).join(', ')}, or clear the budget.`);
  if (!(percent >= 0 && percent <= 100)) throw new ConfigError(`The budget must be a share of steps from 0 to 100 %, got ${percent}.`);
  const c = calibrateInSimulator((knob) => createPolicy(name, { knob }), range, percent / 100, 'steps', { problems: PROBLEMS });
  return { spec: `${name}:${+c.knob.toPrecision(4)}`, spend: c.spend, reached: c.reached };
}

export function budgetNote(percent: number, choice: BudgetChoice): string {
  const got = `${(choice.spend * 100).toFixed(1)}%`;
  return choice.reached
    ? `Policy ${choice.spec}: sends about ${percent}% of steps on simulated problems (${got}); with your models the share will differ somewhat.`
    : `No setting of this policy sends ${percent}% of steps; ${choice.spec} comes closest (${got} on simulated problems).`;
}
