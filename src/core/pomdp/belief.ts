// Beliefs over (S0, S1, S2) from PRM observations, in the two ways TRIM-POMDP can track them:
// - 'reference': the posterior of the current observation alone under a uniform prior, as the
//   reference inference does; nothing is carried from step to step.
// - 'filter': a Bayes filter. The prior of step t is the previous posterior pushed through the
//   transition of the action taken (accept / regenerate), starting from (p_w, 0, 1 − p_w) at step 1.
//   This is the belief the POMDP's dynamics define; the solver's tables are optimal for it.

import { afterAccept, afterRegenerate, initialBelief, type Belief } from './model.ts';
import { beliefProbs, type ObservationModel } from './observations.ts';

export type BeliefMode = 'reference' | 'filter';
export const BELIEF_MODES: readonly BeliefMode[] = ['reference', 'filter'];

const UNIFORM: Belief = [1 / 3, 1 / 3, 1 / 3];

/**
 * P(state | o) ∝ prior(state) · P(o | state), `cell` indexing beliefProbs(obs) (see beliefCell), times
 * P(confidence | state) when the model has the confidence channel and the draft a confidence cell (see
 * confidenceCell). An observation no state explains leaves the prior as is.
 */
export function posterior(obs: ObservationModel, prior: Belief, cell: number, confidenceCell: number | null = null): Belief {
  const p = beliefProbs(obs);
  let l0 = prior[0] * p[0][cell]!;
  let l1 = prior[1] * p[1][cell]!;
  let l2 = prior[2] * p[2][cell]!;
  // The confidence channel, independent of the score given the state: its likelihood multiplies in.
  const c = confidenceCell === null ? undefined : obs.confidence?.probs;
  if (c) {
    l0 *= c[0][confidenceCell!]!;
    l1 *= c[1][confidenceCell!]!;
    l2 *= c[2][confidenceCell!]!;
  }
  const z = l0 + l1 + l2;
  return z > 0 ? [l0 / z, l1 / z, l2 / z] : prior;
}

/** One problem's belief, updated by observations and the actions taken on them. */
export class BeliefTracker {
  private prior: Belief;

  constructor(
    private readonly obs: ObservationModel,
    private readonly mode: BeliefMode,
    private readonly pw: number,
    private readonly ps: number,
  ) {
    this.prior = mode === 'filter' ? initialBelief(pw) : UNIFORM;
  }

  /** The belief about the current draft once its observation cell is seen. */
  observe(cell: number, confidenceCell: number | null = null): Belief {
    return posterior(this.obs, this.mode === 'filter' ? this.prior : UNIFORM, cell, confidenceCell);
  }

  /** Moves the filter's prior to the next step; the reference mode carries nothing. */
  act(belief: Belief, decision: 'accept' | 'regenerate'): void {
    if (this.mode === 'filter') this.prior = decision === 'accept' ? afterAccept(belief, this.pw) : afterRegenerate(belief, this.pw, this.ps);
  }
}
