// npm run bench:routers — speed of the learned and belief-based routers and of the simulator:
// problem runs per second per policy, POMDP table build time per λ, decision latency, PPO iteration time.

import { trainAgg } from '../../src/core/agg/ppo.ts';
import { defaultObservationModel, pomdpPolicy } from '../../src/core/policies/pomdp.ts';
import { parsePolicySpec } from '../../src/core/policies/index.ts';
import { aggPolicy } from '../../src/core/policies/aggregate.ts';
import { solvePomdp } from '../../src/core/pomdp/solver.ts';
import { DEFAULT_PW, DEFAULT_PS, DEFAULT_FUTURE_TOKENS } from '../../src/core/pomdp/model.ts';
import { mulberry32 } from '../../src/core/rng.ts';
import { DEFAULT_SIM_PARAMS } from '../../src/core/sim/params.ts';
import { runWorld } from '../../src/core/sim/run.ts';
import { simTrainingEnv } from '../../src/core/sim/training-env.ts';
import { createWorld } from '../../src/core/sim/world.ts';
import type { Observation, RoutingPolicy } from '../../src/core/types.ts';

const N = 5000;
const line = (label: string, value: string) => console.log(`${label.padEnd(48)} ${value}`);

let t0 = performance.now();
const world = createWorld(DEFAULT_SIM_PARAMS, N, 1);
line(`simulated world (${N} problems)`, `${(performance.now() - t0).toFixed(0)} ms`);

const obs = defaultObservationModel();
const model = { pw: DEFAULT_PW, ps: DEFAULT_PS, hazard: obs.hazard!, reward: 1, futureTokens: DEFAULT_FUTURE_TOKENS };
for (const lambda of [2e-4, 8e-4, 3e-3]) {
  t0 = performance.now();
  solvePomdp(model, obs, lambda);
  line(`POMDP tables, λ = ${lambda}`, `${(performance.now() - t0).toFixed(0)} ms`);
}

// An agg network with random weights decides exactly as fast as a trained one.
const warm = await trainAgg(simTrainingEnv(DEFAULT_SIM_PARAMS, { heldOut: 50 }), { iterations: 1, episodesPerIteration: 32 });
const policies: [string, RoutingPolicy][] = [
  ['thr:0.7', parsePolicySpec('thr:0.7')],
  ['query:0.5', parsePolicySpec('query:0.5')],
  ['pomdp λ=8e-4 (filter)', pomdpPolicy({ lambda: 8e-4 })],
  ['pomdp λ=8e-4 (reference)', pomdpPolicy({ lambda: 8e-4, mode: 'reference' })],
  ['agg (2×64)', aggPolicy(warm.weights)],
];
for (const [name, p] of policies) {
  runWorld(world, p, 200);
  t0 = performance.now();
  runWorld(world, p);
  const s = (performance.now() - t0) / 1000;
  line(`simulator, ${name}`, `${Math.round(N / s).toLocaleString('en')} problems/s`);
}

const rng = mulberry32(3);
const observations: Observation[] = Array.from({ length: 10000 }, () => ({
  t: 1 + Math.floor(rng() * 12),
  score: rng(),
  previous: Array.from({ length: 3 }, rng),
  draftTokens: 20 + rng() * 200,
  strongTokens: 0,
  budgetLeft: null,
}));
for (const [name, p] of policies.slice(2)) {
  const e = p.episode();
  t0 = performance.now();
  for (const o of observations) e.decide(o);
  line(`decision latency, ${name}`, `${(((performance.now() - t0) / observations.length) * 1000).toFixed(2)} µs`);
}

// One PPO iteration at the default settings (4,096 problems, 4 epochs of minibatches of 512, 2×64),
// with each advantage estimator; the held-out check of 2,000 problems is included.
for (const advantages of ['paired', 'gae'] as const) {
  t0 = performance.now();
  await trainAgg(simTrainingEnv(DEFAULT_SIM_PARAMS, { heldOut: 2000 }), { iterations: 2, advantages });
  line(`PPO iteration, ${advantages} advantages (defaults)`, `${((performance.now() - t0) / 2 / 1000).toFixed(1)} s`);
}
