// The dynamics and rewards of TRIM-POMDP (trim-method.md, "TRIM-POMDP"). A belief is (b0, b1, b2) over
// S0 (all correct so far), S1 (an earlier accepted step was wrong: lost for good) and S2 (only the
// current draft is wrong: regenerating can fix it), taken after step t's draft was written.

import { ConfigError } from '../errors.ts';

export type Belief = readonly [number, number, number];

export interface PomdpModel {
  /** p_w, p_s: next-step accuracies of the weak and the strong model. */
  pw: number;
  ps: number;
  /** hazard[t−1] = P(the solution ends after step t | it reached step t); the last entry is forced to 1. */
  hazard: readonly number[];
  /** Terminal reward for a solution that ends in S0. */
  reward: number;
  /** Token count assumed for a regeneration at a future step (its draft is not written yet). */
  futureTokens: number;
  /**
   * What λ prices (default 'tokens': the strong tokens of a regeneration). 'sent': the characters the
   * regeneration sends off the device; the current step's are known exactly (Observation.sendChars), a
   * future step's are futureCost[t−1], which grows with t because every request carries the prefix.
   */
  cost?: PomdpCost;
  /** 'sent': expected characters of a regeneration at step t, by t (the last entry holds for later steps). */
  futureCost?: readonly number[];
}

export type PomdpCost = 'tokens' | 'sent';

/** The cost λ is paid on for a regeneration at future step t (1-based), in the model's cost unit. */
export function futureCostAt(m: PomdpModel, t: number): number {
  if (m.cost !== 'sent') return m.futureTokens;
  const f = m.futureCost!;
  return f[Math.min(f.length, Math.max(1, t)) - 1]!;
}

export const DEFAULT_PW = 0.866;
export const DEFAULT_PS = 0.9704;
export const DEFAULT_FUTURE_TOKENS = 60;

export function checkModel(m: PomdpModel): PomdpModel {
  if (!(m.pw > 0 && m.pw < 1)) throw new ConfigError(`p_w must be in (0, 1), got ${m.pw}.`);
  if (!(m.ps > 0 && m.ps <= 1)) throw new ConfigError(`p_s must be in (0, 1], got ${m.ps}.`);
  if (!(m.reward > 0)) throw new ConfigError(`The terminal reward must be positive, got ${m.reward}.`);
  if (!(m.futureTokens >= 0)) throw new ConfigError(`The future regeneration cost must be ≥ 0 tokens, got ${m.futureTokens}.`);
  if (m.cost !== undefined && m.cost !== 'tokens' && m.cost !== 'sent') throw new ConfigError(`The POMDP's cost must be "tokens" or "sent", got ${JSON.stringify(m.cost)}.`);
  if (m.cost === 'sent' && (!m.futureCost || m.futureCost.length === 0 || m.futureCost.some((c) => !(c >= 0 && Number.isFinite(c)))))
    throw new ConfigError('A POMDP priced in characters sent needs futureCost: the expected characters of a regeneration per step, each a number ≥ 0.');
  if (m.hazard.length === 0 || m.hazard.some((h) => !(h >= 0 && h <= 1)))
    throw new ConfigError('The hazard must be a non-empty list of probabilities, one per step.');
  return m;
}

/** The belief before step t+1's observation, after accepting step t: S0 drafts on; S1 and S2 become S1. */
export function afterAccept(b: Belief, pw: number): Belief {
  return [b[0] * pw, b[1] + b[2], b[0] * (1 - pw)];
}

/**
 * After regenerating step t: from S0 or S2 the strong step is right w.p. p_s and the next draft then
 * right w.p. p_w; a wrong strong step is S1; S1 stays S1.
 */
export function afterRegenerate(b: Belief, pw: number, ps: number): Belief {
  const fixable = b[0] + b[2];
  return [fixable * ps * pw, b[1] + fixable * (1 - ps), fixable * ps * (1 - pw)];
}

/** The belief about step 1's draft before its score is seen. */
export const initialBelief = (pw: number): Belief => [pw, 0, 1 - pw];

/**
 * Hazard per step from observed solution lengths: h_t = #(L = t) / #(L ≥ t), shrunk towards the overall
 * rate 1 / mean(L) with `prior` pseudo-solutions so that the sparse tail does not swing between 0 and 1.
 * Steps ≥ maxSteps end surely.
 */
export function hazardFromLengths(lengths: readonly number[], maxSteps = 30, prior = 2): number[] {
  const ok = lengths.filter((l) => Number.isInteger(l) && l >= 1);
  if (ok.length === 0) throw new ConfigError('No solution lengths to fit the hazard on.');
  const capped = ok.map((l) => Math.min(l, maxSteps));
  const overall = capped.length / capped.reduce((a, b) => a + b, 0);
  const h: number[] = [];
  for (let t = 1; t <= maxSteps; t++) {
    const atRisk = capped.filter((l) => l >= t).length;
    const ending = capped.filter((l) => l === t).length;
    h.push(t === maxSteps ? 1 : (ending + prior * overall) / (atRisk + prior));
  }
  return h;
}

/** The hazard of a length distribution given as cumulative probabilities of lengths min, min+1, …. */
export function hazardFromCdf(cdf: ArrayLike<number>, min: number, maxSteps = 30): number[] {
  const h: number[] = [];
  for (let t = 1; t <= maxSteps; t++) {
    const k = t - min;
    const before = k <= 0 ? 0 : (cdf[k - 1] ?? 1);
    const upTo = k < 0 ? 0 : (cdf[k] ?? 1);
    const atRisk = 1 - before;
    h.push(t === maxSteps ? 1 : atRisk > 1e-12 ? (upTo - before) / atRisk : 1);
  }
  return h;
}
