// The few distributions the simulator draws from, written against the seeded PRNG so runs replay.

import type { Rng } from '../rng.ts';

export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

export function logit(p: number): number {
  const q = Math.min(1 - 1e-12, Math.max(1e-12, p));
  return Math.log(q / (1 - q));
}

/** A standard normal draw (Box–Muller; the cosine half only, so each call costs two uniforms). */
export function normal(rng: Rng): number {
  const u = 1 - rng(); // (0, 1]: log(0) never happens
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/**
 * Cumulative probabilities of min + NegativeBinomial(mean − min, variance), truncated to [min, max].
 * Under-dispersed requests (variance ≤ mean − min) fall back to a shifted Poisson, the least dispersed
 * count law of the family; variance 0 with an integer mean is a point mass.
 */
export function lengthCdf(len: { min: number; mean: number; variance: number; max: number }): Float64Array {
  const m = len.mean - len.min;
  const n = len.max - len.min + 1;
  const pmf = new Float64Array(n);
  if (m <= 0) pmf[0] = 1;
  else if (len.variance <= m) {
    // Poisson(m) by the recurrence p(k) = p(k−1)·m/k, in logs to stay finite for large m.
    let logp = -m;
    for (let k = 0; k < n; k++) {
      if (k > 0) logp += Math.log(m / k);
      pmf[k] = Math.exp(logp);
    }
  } else {
    // NB with success probability q = m / variance and size r = m·q / (1 − q).
    const q = m / len.variance;
    const r = (m * q) / (1 - q);
    let logp = r * Math.log(q);
    for (let k = 0; k < n; k++) {
      if (k > 0) logp += Math.log(((k - 1 + r) / k) * (1 - q));
      pmf[k] = Math.exp(logp);
    }
  }
  const cdf = new Float64Array(n);
  let acc = 0;
  for (let k = 0; k < n; k++) cdf[k] = acc += pmf[k]!;
  for (let k = 0; k < n; k++) cdf[k] = cdf[k]! / acc;
  return cdf;
}

/** Index of the first cumulative probability above u (inverse-CDF sampling). */
export function drawFromCdf(cdf: Float64Array, u: number): number {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid]! > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * The offset α with E[σ(α − Z)] = p for Z ~ N(0, sd²): the logit-scale ability that gives a model mean
 * step accuracy p once steps differ in difficulty (α = logit p only when sd = 0).
 */
export function abilityFor(p: number, sd: number): number {
  if (sd === 0) return logit(p);
  const mean = (a: number) => {
    // Midpoint rule over ±8 sd: error far below the bisection tolerance.
    const n = 400;
    let s = 0;
    let w = 0;
    for (let i = 0; i < n; i++) {
      const z = -8 + (16 * (i + 0.5)) / n;
      const pdf = Math.exp(-0.5 * z * z);
      s += pdf * sigmoid(a - sd * z);
      w += pdf;
    }
    return s / w;
  };
  let lo = -50;
  let hi = 50;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (mean(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
