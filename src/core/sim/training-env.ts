// The simulator as a training environment for TRIM-Agg: fresh problems every iteration (so the policy
// cannot memorise a problem set), the same held-out problems for every checkpoint.

import type { EpisodeOutcome, TrainingEnv } from '../agg/ppo.ts';
import { deriveSeed } from '../rng.ts';
import type { RoutingPolicy } from '../types.ts';
import type { SimParams } from './params.ts';
import { runWorld } from './run.ts';
import { createWorld } from './world.ts';

export function simTrainingEnv(params: SimParams, opts: { heldOut?: number; seed?: number } = {}): TrainingEnv {
  const seed = opts.seed ?? 0;
  const heldOutWorld = createWorld(params, opts.heldOut ?? 2000, deriveSeed(seed, 'held-out'));
  const outcomes = (rows: ReturnType<typeof runWorld>): EpisodeOutcome[] => rows.map((r) => ({ seed: r.seed, correct: r.correct, steps: r.steps }));
  return {
    train: (policy: RoutingPolicy, iteration: number, count: number) =>
      outcomes(runWorld(createWorld(params, count, deriveSeed(seed, `train-${iteration}`)), policy)),
    heldOut: (policy: RoutingPolicy) => outcomes(runWorld(heldOutWorld, policy)),
  };
}
