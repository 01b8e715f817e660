// A policy wrapper that reports every decision with the observation it was made on: the tune and the
// organism's labelled traces both need what the policy saw at each step, not just the solve's result.

import type { Decision, Observation, RoutingPolicy } from '../types.ts';

/** The policy, calling `onDecide` after each decision; the policy itself decides unchanged. */
export function recordingPolicy(policy: RoutingPolicy, onDecide: (o: Observation, d: Decision) => void): RoutingPolicy {
  return {
    id: policy.id,
    knob: policy.knob,
    episode(seed) {
      const e = policy.episode(seed);
      return {
        plan: (t) => e.plan(t),
        decide: (o) => {
          const d = e.decide(o);
          onDecide(o, d);
          return d;
        },
      };
    },
  };
}
