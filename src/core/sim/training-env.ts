// The simulator as a training environment for TRIM-Agg: fresh problems every iteration (so the policy
// cannot memorise a problem set), the same held-out problems for every checkpoint. Because every draw of
// a simulated problem is made up front, a training problem can be solved again under another policy with
// the same luck (`replay`): PPO uses that to compare both actions of a decision on the same problem.

import type { EpisodeOutcome, TrainingEnv } from '../agg/ppo.ts';
import { deriveSeed } from '../rng.ts';
import type { RoutingPolicy } from '../types.ts';
import type { SimParams } from './params.ts';
import { runProblem, runWorld } from './run.ts';
import { createWorld, type SimWorld } from './world.ts';

export function simTrainingEnv(params: SimParams, opts: { heldOut?: number; seed?: number } = {}): TrainingEnv {
  const seed = opts.seed ?? 0;
  const heldOutWorld = createWorld(params, opts.heldOut ?? 2000, deriveSeed(seed, 'held-out'));
  const outcome = (r: ReturnType<typeof runProblem>): EpisodeOutcome => ({ seed: r.seed, correct: r.correct, steps: r.steps });
  let last: SimWorld | null = null;
  return {
    train: (policy: RoutingPolicy, iteration: number, count: number) => {
      last = createWorld(params, count, deriveSeed(seed, `train-${iteration}`));
      return runWorld(last, policy).map(outcome);
    },
    heldOut: (policy: RoutingPolicy) => runWorld(heldOutWorld, policy).map(outcome),
    // runWorld gives problem i the episode seed i, so the seed names the problem.
    replay: (policy: RoutingPolicy, episodeSeed: number) => {
      if (!last || !Number.isInteger(episodeSeed) || episodeSeed < 0 || episodeSeed >= last.size)
        throw new RangeError(`No training problem with episode seed ${episodeSeed} to replay.`);
      return outcome(runProblem(last, episodeSeed, policy));
    },
  };
}
