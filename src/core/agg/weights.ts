// The JSON file of a trained TRIM-Agg policy: what `trim train-agg` writes and the policy (in the CLI
// and in the page) loads. Parameters are stored per named block so the file can be read by people and
// by other tools; loading checks every shape and number, since a weights file is user input.
// A checkpoint set holds one such policy per λ: TRIM-Agg's budget curve is traced by training one
// policy per λ, as the paper does, so the curve travels as one file.

import { TrimError } from '../errors.ts';
import { AGG_FEATURES, AGG_LAMBDA_FEATURE } from './features.ts';
import { Mlp, type MlpShape } from './mlp.ts';

export const WEIGHTS_FORMAT = 'trim-agg-weights';
export const WEIGHT_SET_FORMAT = 'trim-agg-weight-set';

/** A weights file that cannot be used. */
export class WeightsError extends TrimError {}

export interface AggWeights {
  /** The λ it was trained at; for a λ-conditioned network, the low end of its range. */
  lambda: number;
  /** Set for one network conditioned on λ (an input), trained over this range: it serves any λ in it. */
  lambdaRange?: [number, number];
  hidden: number;
  actor: Mlp;
  critic: Mlp;
  /** How training went (held-out numbers of the kept checkpoint…), for people reading the file. */
  training: Record<string, unknown>;
}

const BLOCKS = ['w1', 'b1', 'g1', 'be1', 'w2', 'b2', 'g2', 'be2', 'w3', 'b3'] as const;

function blockSizes({ inputs: I, hidden: H, outputs: O }: MlpShape): Record<(typeof BLOCKS)[number], number> {
  return { w1: H * I, b1: H, g1: H, be1: H, w2: H * H, b2: H, g2: H, be2: H, w3: O * H, b3: O };
}

function netToJson(m: Mlp): Record<string, number[]> {
  const sizes = blockSizes(m.shape);
  const out: Record<string, number[]> = {};
  let at = 0;
  for (const b of BLOCKS) {
    out[b] = Array.from(m.params.subarray(at, at + sizes[b]));
    at += sizes[b];
  }
  return out;
}

function netFromJson(j: unknown, shape: MlpShape, name: string, fail: (why: string) => never): Mlp {
  if (!j || typeof j !== 'object') fail(`"${name}" is missing`);
  const sizes = blockSizes(shape);
  const params = new Float64Array(BLOCKS.reduce((s, b) => s + sizes[b], 0));
  let at = 0;
  for (const b of BLOCKS) {
    const arr = (j as Record<string, unknown>)[b];
    if (!Array.isArray(arr) || arr.length !== sizes[b]) fail(`${name}.${b} must hold ${sizes[b]} numbers`);
    (arr as unknown[]).forEach((v, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${name}.${b}[${i}] is not a finite number`);
      params[at + i] = v as number;
    });
    at += sizes[b];
  }
  return new Mlp(shape, params);
}

export function weightsToJson(w: AggWeights): unknown {
  return {
    format: WEIGHTS_FORMAT,
    version: 1,
    features: w.lambdaRange ? [...AGG_FEATURES, AGG_LAMBDA_FEATURE] : [...AGG_FEATURES],
    architecture: { hidden: [w.hidden, w.hidden], layerNorm: true, activation: 'tanh', actions: ['accept', 'regenerate'] },
    lambda: w.lambda,
    ...(w.lambdaRange ? { lambdaRange: w.lambdaRange } : {}),
    training: w.training,
    actor: netToJson(w.actor),
    critic: netToJson(w.critic),
  };
}

export function weightsFromJson(j: unknown, where = 'The weights file'): AggWeights {
  const fail = (why: string): never => {
    throw new WeightsError(`${where} is not usable TRIM-Agg weights: ${why}. Train weights with "trim train-agg".`);
  };
  if (!j || typeof j !== 'object') fail('it is not a JSON object');
  const o = j as Record<string, unknown>;
  if (o.format !== WEIGHTS_FORMAT) fail(`"format" must be "${WEIGHTS_FORMAT}"`);
  if (o.version !== 1) fail(`version ${JSON.stringify(o.version)} is not supported (expected 1)`);
  const feats = o.features;
  const conditioned = Array.isArray(feats) && feats.join(',') === [...AGG_FEATURES, AGG_LAMBDA_FEATURE].join(',');
  if (!Array.isArray(feats) || (!conditioned && feats.join(',') !== AGG_FEATURES.join(',')))
    fail(`"features" must be ${JSON.stringify(AGG_FEATURES)}, or with "${AGG_LAMBDA_FEATURE}" after them for a λ-conditioned network (weights for other features cannot be used)`);
  let lambdaRange: [number, number] | undefined;
  if (conditioned) {
    const r = o.lambdaRange as unknown[];
    if (!Array.isArray(r) || r.length !== 2 || !r.every((v) => typeof v === 'number' && Number.isFinite(v)) || !((r[0] as number) > 0 && (r[1] as number) > (r[0] as number)))
      fail('"lambdaRange" must be [lo, hi] with 0 < lo < hi for a λ-conditioned network');
    lambdaRange = [r[0] as number, r[1] as number];
  }
  const inputs = AGG_FEATURES.length + (conditioned ? 1 : 0);
  const arch = o.architecture as Record<string, unknown> | undefined;
  const hidden = Array.isArray(arch?.hidden) ? (arch!.hidden as unknown[])[0] : undefined;
  if (typeof hidden !== 'number' || !Number.isInteger(hidden) || hidden < 1 || hidden > 1024) fail('"architecture.hidden" must be [n, n] with 1 ≤ n ≤ 1024');
  const lambda = o.lambda;
  if (typeof lambda !== 'number' || !(lambda >= 0)) fail('"lambda" must be a number ≥ 0');
  const h = hidden as number;
  return {
    lambda: lambda as number,
    ...(lambdaRange ? { lambdaRange } : {}),
    hidden: h,
    actor: netFromJson(o.actor, { inputs, hidden: h, outputs: 2 }, 'actor', fail),
    critic: netFromJson(o.critic, { inputs, hidden: h, outputs: 1 }, 'critic', fail),
    training: o.training && typeof o.training === 'object' ? (o.training as Record<string, unknown>) : {},
  };
}

/** Policies trained at different λ, sorted by λ. */
export interface AggWeightSet {
  checkpoints: AggWeights[];
}

export function weightSetToJson(set: AggWeightSet): unknown {
  return { format: WEIGHT_SET_FORMAT, version: 1, lambdas: set.checkpoints.map((w) => w.lambda), checkpoints: set.checkpoints.map(weightsToJson) };
}

/** Reads a checkpoint set; a single weights file is read as a set of one. */
export function weightSetFromJson(j: unknown, where = 'The weights file'): AggWeightSet {
  if (!j || typeof j !== 'object' || (j as Record<string, unknown>).format !== WEIGHT_SET_FORMAT) return { checkpoints: [weightsFromJson(j, where)] };
  const o = j as Record<string, unknown>;
  const fail = (why: string): never => {
    throw new WeightsError(`${where} is not a usable TRIM-Agg checkpoint set: ${why}. Train one with "trim train-agg --lambda L1,L2,…".`);
  };
  if (o.version !== 1) fail(`version ${JSON.stringify(o.version)} is not supported (expected 1)`);
  if (!Array.isArray(o.checkpoints) || o.checkpoints.length === 0) fail('"checkpoints" must be a non-empty array of weights');
  const checkpoints = (o.checkpoints as unknown[]).map((c, i) => weightsFromJson(c, `${where}, checkpoint ${i + 1},`));
  checkpoints.sort((a, b) => a.lambda - b.lambda);
  for (let i = 1; i < checkpoints.length; i++)
    if (checkpoints[i]!.lambda === checkpoints[i - 1]!.lambda) fail(`two checkpoints were trained at λ = ${checkpoints[i]!.lambda}; a λ must name one policy`);
  return { checkpoints };
}

/** The checkpoint trained at λ (to a relative 1e-9, so "3e-4" finds 0.0003), or an error listing the λ there are. */
export function checkpointAt(set: AggWeightSet, lambda: number): AggWeights {
  // A λ-conditioned network serves every λ of its range (a little rounding at the ends is allowed).
  const conditioned = set.checkpoints.find((c) => c.lambdaRange && lambda >= c.lambdaRange[0] * (1 - 1e-9) && lambda <= c.lambdaRange[1] * (1 + 1e-9));
  if (conditioned) return conditioned;
  const w = set.checkpoints.find((c) => !c.lambdaRange && Math.abs(c.lambda - lambda) <= 1e-9 * Math.max(Math.abs(lambda), Math.abs(c.lambda)));
  if (!w)
    throw new WeightsError(
      `No TRIM-Agg policy was trained at λ = ${lambda}; the weights hold λ = ${set.checkpoints.map((c) => (c.lambdaRange ? `${c.lambdaRange[0]}…${c.lambdaRange[1]} (one λ-conditioned network)` : c.lambda)).join(', ')}. ` +
        'Pick one of those, or train that λ with "trim train-agg".',
    );
  return w;
}
