import { ConfigError } from '../errors.ts';
import { deriveSeed, mulberry32 } from '../rng.ts';
import type { RoutingPolicy } from '../types.ts';

/** Sends each step to the strong model with probability `rate`, blind to scores: the floor any router must beat. */
export function randomPolicy(rate: number, seed = 0): RoutingPolicy {
  if (!(rate >= 0 && rate <= 1)) throw new ConfigError(`The random routing rate must be in [0, 1], got ${rate}.`);
  let episodes = 0;
  return {
    id: 'random',
    knob: rate,
    episode: (episodeSeed) => {
      const rng = mulberry32(episodeSeed ?? deriveSeed(seed, episodes++));
      return {
        // Deciding before drafting means a routed step costs no weak tokens.
        plan: () => (rng() < rate ? 'strong' : 'accept'),
        decide: () => 'accept',
      };
    },
  };
}
