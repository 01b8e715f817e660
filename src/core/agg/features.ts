// TRIM-Agg's view of a step, as in the reference code: the minimum and the product of the previous
// steps' scores (both 1 at the first step), the current draft's score, its tokens / 300 and t / 30.

import type { Observation } from '../types.ts';

export const AGG_FEATURES = ['minPrevious', 'productPrevious', 'score', 'tokens/300', 'step/30'] as const;

export function aggFeatures(o: Pick<Observation, 't' | 'score' | 'previous' | 'draftTokens'>, out: Float64Array = new Float64Array(AGG_FEATURES.length)): Float64Array {
  let min = 1;
  let product = 1;
  for (const p of o.previous) {
    if (p < min) min = p;
    product *= p;
  }
  out[0] = min;
  out[1] = product;
  out[2] = o.score;
  out[3] = o.draftTokens / 300;
  out[4] = o.t / 30;
  return out;
}

/**
 * The λ input of a λ-conditioned network (one network for the whole curve, trained over sampled λ):
 * log10 λ, centred and scaled so that 1e-5 … 1e-2 maps to about −1 … 1 like the other features.
 */
export const AGG_LAMBDA_FEATURE = 'log10(lambda)';
export function lambdaFeature(lambda: number): number {
  return (Math.log10(Math.max(lambda, 1e-9)) + 3.5) / 1.5;
}

/** The network's input: the five features, plus λ's when the network is conditioned on it. */
export function aggInput(o: Pick<Observation, 't' | 'score' | 'previous' | 'draftTokens'>, lambda: number | null, out?: Float64Array): Float64Array {
  const x = out ?? new Float64Array(AGG_FEATURES.length + (lambda === null ? 0 : 1));
  aggFeatures(o, x);
  if (lambda !== null) x[AGG_FEATURES.length] = lambdaFeature(lambda);
  return x;
}
