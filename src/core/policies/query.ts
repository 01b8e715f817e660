import { ConfigError } from '../errors.ts';
import type { RoutingPolicy, StepPlan } from '../types.ts';

/**
 * Query-level routing: one decision per problem from the first draft's score. Below q the strong model
 * writes every step (the first draft included); otherwise the weak model writes the rest unscored.
 */
export function queryPolicy(q: number): RoutingPolicy {
  if (!(q >= 0 && q <= 1)) throw new ConfigError(`The query-level threshold must be in [0, 1], got ${q}.`);
  return {
    id: 'query',
    knob: q,
    episode: () => {
      let route: StepPlan | null = q === 0 ? 'accept' : q === 1 ? 'strong' : null;
      return {
        plan: () => route ?? 'score',
        decide: (o) => {
          route = o.score < q ? 'strong' : 'accept';
          return route === 'strong' ? 'regenerate' : 'accept';
        },
      };
    },
  };
}
