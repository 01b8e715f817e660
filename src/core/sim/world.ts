// A simulated problem set, drawn once and then replayed under every policy and knob. Every random
// outcome a policy could meet (the weak draft and the strong rewrite of every step, their scores in
// every state, their token counts) is drawn up front, so two policies are compared on the same
// problems and the same luck (common random numbers): sweep curves are smooth and differences between
// policies are not sampling noise.

import { deriveSeed, mulberry32 } from '../rng.ts';
import { abilityFor, drawFromCdf, lengthCdf, normal, sigmoid } from './distributions.ts';
import type { SimParams } from './params.ts';

/** The hidden state of a step once written: ok (it and all before it correct), first wrong, after a wrong one. */
export const StepState = { Ok: 0, First: 1, After: 2 } as const;

export interface SimWorld {
  readonly params: SimParams;
  readonly size: number;
  /** Steps of problem i are at offset[i] .. offset[i+1]−1 in the per-step arrays. */
  readonly offset: Int32Array;
  readonly weakOk: Uint8Array;
  readonly strongOk: Uint8Array;
  /** PRM score of the weak draft / strong step in each state: index 3·step + state. */
  readonly weakScore: Float64Array;
  readonly strongScore: Float64Array;
  readonly weakTokens: Int32Array;
  readonly strongTokens: Int32Array;
  /** Uniform draw per problem: the answer is right despite an error when it falls below `lucky`. */
  readonly luck: Float64Array;
}

export function stepsOf(w: SimWorld, i: number): number {
  return w.offset[i + 1]! - w.offset[i]!;
}

/** Draws `size` problems. The same (params, size, seed) gives the same world on every platform. */
export function createWorld(params: SimParams, size: number, seed = 0): SimWorld {
  const cdf = lengthCdf(params.length);
  const { problemSd, stepSd, strongSensitivity } = params.difficulty;
  const sd = Math.hypot(problemSd, stepSd);
  const weakAbility = abilityFor(params.weakAccuracy, sd);
  const strongAbility = abilityFor(params.strongAccuracy, sd * strongSensitivity);
  const rho = params.tokens.correlation;
  const own = Math.sqrt(1 - rho * rho);
  const sc = params.scores;
  const states = [sc.ok, sc.first, sc.after] as const;

  // Lengths first (one stream), so the per-step arrays can be sized exactly.
  const lengths = new Int32Array(size);
  const offset = new Int32Array(size + 1);
  const luck = new Float64Array(size);
  const lenRng = mulberry32(deriveSeed(seed, 'lengths'));
  for (let i = 0; i < size; i++) {
    lengths[i] = params.length.min + drawFromCdf(cdf, lenRng());
    luck[i] = lenRng();
    offset[i + 1] = offset[i]! + lengths[i]!;
  }
  const n = offset[size]!;
  const w: SimWorld = {
    params,
    size,
    offset,
    weakOk: new Uint8Array(n),
    strongOk: new Uint8Array(n),
    weakScore: new Float64Array(3 * n),
    strongScore: new Float64Array(3 * n),
    weakTokens: new Int32Array(n),
    strongTokens: new Int32Array(n),
    luck,
  };
  const tokens = (logMean: number, logSd: number, shared: number, mine: number, z: number) =>
    Math.max(1, Math.round(Math.exp(logMean + logSd * (rho * shared + own * mine) + params.tokens.difficulty * z)));

  for (let i = 0; i < size; i++) {
    // One stream per problem: problem i's draws do not depend on how many problems precede it.
    const rng = mulberry32(deriveSeed(seed, i));
    const zProblem = problemSd * normal(rng);
    for (let k = offset[i]!; k < offset[i + 1]!; k++) {
      const z = zProblem + stepSd * normal(rng);
      w.weakOk[k] = rng() < sigmoid(weakAbility - z) ? 1 : 0;
      w.strongOk[k] = rng() < sigmoid(strongAbility - strongSensitivity * z) ? 1 : 0;
      const ew = normal(rng);
      const es = normal(rng);
      for (let s = 0; s < 3; s++) {
        const d = states[s]!;
        w.weakScore[3 * k + s] = sigmoid(d.mu + d.sigma * ew - sc.difficulty * z);
        w.strongScore[3 * k + s] = sigmoid(d.mu + d.sigma * es - sc.difficulty * z);
      }
      const shared = normal(rng);
      w.weakTokens[k] = tokens(params.tokens.weak.logMean, params.tokens.weak.logSd, shared, normal(rng), z);
      w.strongTokens[k] = tokens(params.tokens.strong.logMean, params.tokens.strong.logSd, shared, normal(rng), z);
    }
  }
  return w;
}
