// TRIM-Agg as a routing policy: a trained actor network over aggregate score features. At inference the
// reference takes the argmax action; the knob generalises it to "regenerate when the network's
// P(accept) is below k" — TRIM-Thr's rule with the network's confidence in place of the PRM score — so
// k = 0.5 is the argmax, a larger k sends more steps, and a sweep of k traces a curve around the
// trained operating point.

import { ConfigError } from '../errors.ts';
import { aggFeatures } from '../agg/features.ts';
import { weightsFromJson, type AggWeights } from '../agg/weights.ts';
import { checkObservation } from '../observation-check.ts';
import type { RoutingPolicy } from '../types.ts';

/** P(regenerate) from the actor's two logits (accept, regenerate). */
export function regenerateProbability(logits: ArrayLike<number>): number {
  return 1 / (1 + Math.exp(logits[0]! - logits[1]!));
}

export function aggPolicy(weights: AggWeights, k = 0.5): RoutingPolicy {
  if (!(k >= 0 && k <= 1)) throw new ConfigError(`The agg decision threshold must be in [0, 1], got ${k}.`);
  const actor = weights.actor;
  const cache = actor.newCache();
  const x = new Float64Array(5);
  return {
    id: 'agg',
    knob: k,
    episode: () => ({
      plan: () => 'score',
      decide: (o) => {
        checkObservation(o);
        const pAccept = 1 - regenerateProbability(actor.forward(aggFeatures(o, x), cache));
        return pAccept < k ? 'regenerate' : 'accept';
      },
    }),
  };
}

/** Reads `artefacts.weights` (parsed JSON or loaded weights). */
export function aggFromArtefacts(k: number, a: Record<string, unknown> = {}): RoutingPolicy {
  const w = a.weights;
  if (w === undefined) throw new ConfigError('The agg policy needs trained weights: pass --weights FILE (made by "trim train-agg").');
  return aggPolicy(isWeights(w) ? w : weightsFromJson(w), k);
}

function isWeights(x: unknown): x is AggWeights {
  return !!x && typeof x === 'object' && 'actor' in x && typeof (x as AggWeights).actor?.forward === 'function';
}
