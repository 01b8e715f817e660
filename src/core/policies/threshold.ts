import { ConfigError } from '../errors.ts';
import type { RoutingPolicy } from '../types.ts';

/** TRIM-Thr: regenerate iff the draft's own PRM score is below k. */
export function thresholdPolicy(k: number): RoutingPolicy {
  if (!(k >= 0 && k <= 1)) throw new ConfigError(`The threshold must be in [0, 1], got ${k}.`);
  return {
    id: 'thr',
    knob: k,
    episode: () => ({
      // k=0 accepts every draft, so scoring would be wasted; k=1 rejects every draft, so drafting would be.
      plan: () => (k === 0 ? 'accept' : k === 1 ? 'strong' : 'score'),
      decide: (o) => (o.score < k ? 'regenerate' : 'accept'),
    }),
  };
}
