// Step-labelled solutions drawn from the simulator, in ProcessBench's shape (label = index of the first
// wrong step, −1 if none) with the PRM scores the simulator gives them. They let the POMDP observation
// model be fitted without a real PRM; a model fitted this way describes the simulator, not any real PRM.

import type { LabelledSolution } from '../pomdp/observations.ts';
import { StepState, stepsOf, type SimWorld } from './world.ts';

export interface ScoredSolution extends LabelledSolution {
  scores: number[];
}

/** The weak model's unrouted solution of every problem, labelled and scored. */
export function simulatedLabels(w: SimWorld): ScoredSolution[] {
  const out: ScoredSolution[] = [];
  for (let i = 0; i < w.size; i++) {
    const n = stepsOf(w, i);
    let label = -1;
    const scores: number[] = [];
    for (let t = 0; t < n; t++) {
      const k = w.offset[i]! + t;
      const state = label >= 0 ? StepState.After : w.weakOk[k] ? StepState.Ok : StepState.First;
      if (state === StepState.First) label = t;
      scores.push(w.weakScore[3 * k + state]!);
    }
    out.push({ id: `sim-${i}`, steps: new Array<string>(n).fill(''), label, scores });
  }
  return out;
}
