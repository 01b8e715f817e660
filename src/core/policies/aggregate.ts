// TRIM-Agg as a routing policy: a trained actor network over aggregate score features. At inference the
// reference takes the argmax action. Two knobs trace a budget curve:
// - `agg`: one network, regenerate when its P(accept) < k — TRIM-Thr's rule with the network's
//   confidence in place of the PRM score — so k = 0.5 is the argmax and a larger k sends more steps;
// - `agg-lambda`: one network per λ (a checkpoint set), each deciding by its argmax — the paper's way:
//   a policy trained for a price per strong token is the best operating point for that price, while
//   moving one network's threshold away from 0.5 leaves the point it was trained for.

import { ConfigError } from '../errors.ts';
import { aggInput } from '../agg/features.ts';
import type { Mlp } from '../agg/mlp.ts';
import { checkpointAt, weightSetFromJson, type AggWeights, type AggWeightSet } from '../agg/weights.ts';
import { checkObservation } from '../observation-check.ts';
import type { RoutingPolicy } from '../types.ts';

/** P(regenerate) from the actor's two logits (accept, regenerate). */
export function regenerateProbability(logits: ArrayLike<number>): number {
  return 1 / (1 + Math.exp(logits[0]! - logits[1]!));
}

function actorPolicy(actor: Mlp, id: string, knob: number, k: number, lambda: number | null = null): RoutingPolicy {
  const cache = actor.newCache();
  const x = new Float64Array(actor.shape.inputs);
  return {
    id,
    knob,
    episode: () => ({
      plan: () => 'score',
      decide: (o) => {
        checkObservation(o);
        const pAccept = 1 - regenerateProbability(actor.forward(aggInput(o, lambda, x), cache));
        return pAccept < k ? 'regenerate' : 'accept';
      },
    }),
  };
}

/** One network; a λ-conditioned one decides at `lambda` (default: the middle of its range, geometrically). */
export function aggPolicy(weights: AggWeights, k = 0.5, lambda?: number): RoutingPolicy {
  if (!(k >= 0 && k <= 1)) throw new ConfigError(`The agg decision threshold must be in [0, 1], got ${k}.`);
  const r = weights.lambdaRange;
  return actorPolicy(weights.actor, 'agg', k, k, r ? (lambda ?? Math.sqrt(r[0] * r[1])) : null);
}

/** The argmax of the checkpoint trained at λ, or of the λ-conditioned network given λ as its input. */
export function aggLambdaPolicy(set: AggWeightSet, lambda: number): RoutingPolicy {
  const w = checkpointAt(set, lambda);
  return actorPolicy(w.actor, 'agg-lambda', lambda, 0.5, w.lambdaRange ? lambda : null);
}

/** Reads `artefacts.weights` (parsed JSON or loaded weights) for `agg`: one network. */
export function aggFromArtefacts(k: number, a: Record<string, unknown> = {}): RoutingPolicy {
  const set = weightSet(a, 'agg');
  if (set.checkpoints.length > 1)
    throw new ConfigError(
      `The weights hold ${set.checkpoints.length} policies (λ = ${set.checkpoints.map((c) => c.lambda).join(', ')}): ` +
        'sweep them with --policy agg-lambda (its knob is λ), or give --policy agg a single-λ weights file.',
    );
  return aggPolicy(set.checkpoints[0]!, k);
}

/** Reads `artefacts.weights` for `agg-lambda`: the checkpoint trained at λ. */
export function aggLambdaFromArtefacts(lambda: number, a: Record<string, unknown> = {}): RoutingPolicy {
  return aggLambdaPolicy(weightSet(a, 'agg-lambda'), lambda);
}

function weightSet(a: Record<string, unknown>, name: string): AggWeightSet {
  const w = a.weights;
  if (w === undefined) throw new ConfigError(`The ${name} policy needs trained weights: pass --weights FILE (made by "trim train-agg").`);
  if (isWeights(w)) return { checkpoints: [w] };
  if (isWeightSet(w)) return w;
  return weightSetFromJson(w);
}

function isWeights(x: unknown): x is AggWeights {
  return !!x && typeof x === 'object' && 'actor' in x && typeof (x as AggWeights).actor?.forward === 'function';
}

function isWeightSet(x: unknown): x is AggWeightSet {
  return !!x && typeof x === 'object' && Array.isArray((x as AggWeightSet).checkpoints) && (x as AggWeightSet).checkpoints.every(isWeights);
}
