// TRIM-POMDP run inside its own model: solutions drawn from the fitted dynamics (hazard, p_w, p_s) and
// observation cells drawn from P(o | state), routed by the Bayes-optimal policy of that model (the
// solver's tables with the filter's belief). What the fitted model promises; the gap to the same
// policy on real models is how far the model is from reality (src/core/pomdp/README.md, "Headroom").

import { mulberry32 } from '../rng.ts';
import { BeliefTracker } from './belief.ts';
import { checkModel, type PomdpModel } from './model.ts';
import type { ObservationModel } from './observations.ts';
import { actionValues, solvePomdp } from './solver.ts';

export type ModelPolicy = { kind: 'pomdp'; lambda: number } | { kind: 'weak-only' } | { kind: 'strong-only' };

export interface ModelRun {
  accuracy: number;
  /** Regenerated steps ÷ all steps: the cost ÷ strong-only's when every step costs the same. */
  cost: number;
}

function sampleCell(p: Float64Array, u: number): number {
  let acc = 0;
  for (let i = 0; i < p.length; i++) {
    acc += p[i]!;
    if (u < acc) return i;
  }
  return p.length - 1;
}

export function runInModel(model: PomdpModel, obs: ObservationModel, policy: ModelPolicy, problems: number, seed = 1): ModelRun {
  checkModel(model);
  const rnd = mulberry32(seed);
  // Observations are drawn from the marginal P(score | state); a conditional table has no row here.
  const { given: _given, ...marginal } = obs;
  const tables = policy.kind === 'pomdp' ? solvePomdp(model, marginal, policy.lambda) : null;
  let right = 0;
  let steps = 0;
  let regenerated = 0;
  for (let n = 0; n < problems; n++) {
    const belief = new BeliefTracker(marginal, 'filter', model.pw, model.ps);
    let prefixRight = true;
    for (let t = 1; ; t++) {
      // The draft's state: S0 right after a right prefix, S2 wrong after one, S1 after an error.
      const state: 0 | 1 | 2 = !prefixRight ? 1 : rnd() < model.pw ? 0 : 2;
      const cell = sampleCell(obs.probs[state]!, rnd());
      // The confidence channel's cell, drawn independently given the state (only when the model has one,
      // so a model without it draws the same random numbers as before).
      const confidenceCell = obs.confidence ? sampleCell(obs.confidence.probs[state]!, rnd()) : null;
      let regenerate = policy.kind === 'strong-only';
      if (tables) {
        const b = belief.observe(cell, confidenceCell);
        const v = actionValues(tables, t, b, model.futureTokens);
        regenerate = v.regenerate > v.accept;
        belief.act(b, regenerate ? 'regenerate' : 'accept');
      }
      steps++;
      if (regenerate) {
        regenerated++;
        prefixRight = prefixRight && rnd() < model.ps;
      } else prefixRight = state === 0;
      const h = t >= model.hazard.length ? 1 : model.hazard[t - 1]!;
      if (rnd() < h) break;
    }
    if (prefixRight) right++;
  }
  return { accuracy: right / problems, cost: regenerated / steps };
}
