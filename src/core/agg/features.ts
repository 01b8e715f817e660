// TRIM-Agg's view of a step, as in the reference code: the minimum and the product of the previous
// steps' scores (both 1 at the first step), the current draft's score, its tokens / 300 and t / 30.

import type { Observation } from '../types.ts';

export const AGG_FEATURES = ['minPrevious', 'productPrevious', 'score', 'tokens/300', 'step/30'] as const;

export function aggFeatures(o: Pick<Observation, 't' | 'score' | 'previous' | 'draftTokens'>, out = new Float64Array(AGG_FEATURES.length)): Float64Array {
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
