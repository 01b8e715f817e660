// A small, valid routing bundle for tests: the default observation model and two random TRIM-Agg networks.

import { Mlp } from '../../src/core/agg/mlp.ts';
import type { AggWeights } from '../../src/core/agg/weights.ts';
import { bundleToJson, type RoutingBundle } from '../../src/core/bundle.ts';
import { defaultObservationModel } from '../../src/core/policies/pomdp.ts';
import { mulberry32 } from '../../src/core/rng.ts';

export function randomWeights(lambda: number, seed: number, hidden = 8): AggWeights {
  const rng = mulberry32(seed);
  return {
    lambda,
    hidden,
    actor: new Mlp({ inputs: 5, hidden, outputs: 2 }).init(rng, 1),
    critic: new Mlp({ inputs: 5, hidden, outputs: 1 }).init(rng, 1),
    training: { seed },
  };
}

export function sampleBundle(): RoutingBundle {
  return {
    policies: {
      pomdp: {
        observations: defaultObservationModel(),
        pw: 0.8,
        ps: 0.97,
        hazard: [0, 0.1, 0.3, 0.5, 1],
        belief: 'filter',
        grid: [0.0002, 0.001, 0.005],
        extra: { fit: { prefixes: 12 } },
      },
      'agg-lambda': { weights: { checkpoints: [randomWeights(0.0003, 1), randomWeights(0.003, 2)] }, grid: [0.0003, 0.003], extra: {} },
    },
    calibration: {
      pomdp: [
        { knob: 0.0002, cost: 0.6, accuracy: 0.95, sentShare: 0.5, stepShare: 0.4 },
        { knob: 0.001, cost: 0.3, accuracy: 0.9, sentShare: 0.25, stepShare: 0.2 },
        { knob: 0.005, cost: 0.05, accuracy: 0.7, sentShare: 0.04, stepShare: 0.03 },
      ],
    },
    best: { policy: 'pomdp', knob: 0.001, beatsThr: true, thr: { cpt95: 0.33, apgr: 0.83 }, cpt95: 0.3, apgr: 0.85 },
    provenance: { data: { path: 'val.jsonl', sha256: 'ab'.repeat(32), problems: 3 }, seed: 1, date: '2026-12-04T00:00:00.000Z' },
  };
}

export const sampleBundleJson = (): unknown => bundleToJson(sampleBundle());
