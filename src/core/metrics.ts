// The accuracy-cost metrics of TRIM (docs: trim-method.md, "Metrics"), as pure functions so that the
// evaluation harness, the simulator and the page compute exactly the same numbers.
//
// Vocabulary. An operating point is one policy at one knob value, measured on a set of problems:
// its accuracy and its mean strong-model tokens per problem. Cost is normalised by strong-only, so the
// weak model sits at (0, acc_weak) and the strong model at (1, acc_strong). PGR rescales accuracy so
// that weak = 0 and strong = 1.
//
// Decisions (ours, where the method leaves room):
// - The curve of a policy is the Pareto frontier of its sweep together with the weak-only point
//   (cost 0, PGR 0). Spending zero strong tokens *is* running weak-only, so that point belongs to every
//   policy; strong-only is not added, because a cost of 1 does not make a policy's answers the strong
//   model's (and adding it would let every policy "reach" PGR 100%).
// - Between frontier points the curve is linear (randomising per problem between two operating points
//   realises any point of the segment in expectation); after the last point it stays flat (a larger
//   budget can always be left unspent).
// - CPT(x) is the smallest cost at which that curve reaches PGR ≥ x, null if it never does.
// - APGR is the mean of that curve's PGR over cost ∈ [0, 1] (its integral over [0, 1]).
// - PGR-based numbers need a gap to recover: when acc_strong ≤ acc_weak they are null, never a
//   division by zero or a sign-flipped number presented as a gain.

import { TrimError } from './errors.ts';

/** Input that cannot give a meaningful metric (NaN, negative cost, unsorted curve). */
export class MetricError extends TrimError {}

/** Comparisons of PGR against a target allow for floating-point noise in (acc − w) / (s − w). */
const EPS = 1e-9;

export interface CostPoint {
  /** Normalised strong-token cost. */
  cost: number;
  accuracy: number;
}

export interface PgrPoint {
  cost: number;
  pgr: number;
}

/** c(π) = mean strong tokens under π ÷ the same under strong-only; null when strong-only spent none. */
export function normalisedCost(strongTokens: number, strongOnlyTokens: number): number | null {
  finite('strong tokens', strongTokens);
  finite('strong-only tokens', strongOnlyTokens);
  return strongOnlyTokens > 0 ? strongTokens / strongOnlyTokens : null;
}

/** PGR(π) = (acc(π) − acc_weak) / (acc_strong − acc_weak); null when the two baselines tie. */
export function pgr(accuracy: number, weakAccuracy: number, strongAccuracy: number): number | null {
  finite('accuracy', accuracy);
  finite('weak accuracy', weakAccuracy);
  finite('strong accuracy', strongAccuracy);
  const gap = strongAccuracy - weakAccuracy;
  return gap === 0 ? null : (accuracy - weakAccuracy) / gap;
}

/**
 * The points no other point beats: nothing else is at most as costly and at least as accurate, with one
 * of the two strict. Returned sorted by cost, so cost and accuracy both strictly increase along it.
 * Exact ties (same cost and accuracy) keep the first point given.
 */
export function paretoFrontier<T extends CostPoint>(points: readonly T[]): T[] {
  for (const p of points) {
    finite('cost', p.cost);
    finite('accuracy', p.accuracy);
  }
  // Cheapest first; at equal cost the most accurate first, so it is the one kept. The sort is stable.
  const sorted = [...points].sort((a, b) => a.cost - b.cost || b.accuracy - a.accuracy);
  const frontier: T[] = [];
  for (const p of sorted) {
    const last = frontier[frontier.length - 1];
    if (!last || p.accuracy > last.accuracy) frontier.push(p);
  }
  return frontier;
}

/**
 * A policy's PGR-vs-cost curve: the Pareto frontier of its operating points plus the weak-only point
 * (0, acc_weak), in PGR units. Null when there is no gap to recover (acc_strong ≤ acc_weak).
 */
export function pgrCurve(points: readonly CostPoint[], weakAccuracy: number, strongAccuracy: number): PgrPoint[] | null {
  if (!(strongAccuracy - weakAccuracy > 0)) return null;
  const frontier = paretoFrontier([{ cost: 0, accuracy: weakAccuracy }, ...points]);
  return frontier.map((p) => ({ cost: p.cost, pgr: pgr(p.accuracy, weakAccuracy, strongAccuracy)! }));
}

/**
 * CPT(x): the smallest normalised cost at which the curve reaches PGR ≥ x (x as a fraction: 0.95 for
 * CPT(95%)), interpolating linearly between points; null when the curve never gets there. The curve
 * must start at cost 0 with costs non-decreasing (what pgrCurve returns).
 */
export function cpt(curve: readonly PgrPoint[], x: number): number | null {
  finite('target PGR', x);
  checkCurve(curve);
  const first = curve[0]!;
  if (first.pgr >= x - EPS) return first.cost;
  for (let i = 1; i < curve.length; i++) {
    const a = curve[i - 1]!;
    const b = curve[i]!;
    if (b.pgr >= x - EPS && a.pgr < x - EPS) {
      const t = Math.min(1, Math.max(0, (x - a.pgr) / (b.pgr - a.pgr)));
      return a.cost + t * (b.cost - a.cost);
    }
  }
  return null;
}

/**
 * APGR: the average PGR over normalised cost ∈ [0, 1], i.e. ∫₀¹ PGR(c) dc of the piecewise-linear curve,
 * held flat at its last value beyond its last point. Parts of the curve beyond cost 1 do not count.
 */
export function apgr(curve: readonly PgrPoint[]): number {
  checkCurve(curve);
  let area = 0;
  for (let i = 1; i < curve.length; i++) {
    const a = curve[i - 1]!;
    const b = curve[i]!;
    if (a.cost >= 1) break;
    const end = Math.min(b.cost, 1);
    const valueAtEnd = b.cost === a.cost ? b.pgr : a.pgr + ((end - a.cost) / (b.cost - a.cost)) * (b.pgr - a.pgr);
    area += ((a.pgr + valueAtEnd) / 2) * (end - a.cost);
  }
  const last = curve[curve.length - 1]!;
  if (last.cost < 1) area += last.pgr * (1 - last.cost);
  return area;
}

/**
 * IBC(π) = (acc(π) − acc_weak) / C(π), accuracy gained per strong token (C = mean strong tokens per
 * problem; the weak model's cost counts as 0). Null when π spent no strong tokens.
 */
export function ibc(accuracy: number, weakAccuracy: number, strongTokens: number): number | null {
  finite('accuracy', accuracy);
  finite('weak accuracy', weakAccuracy);
  finite('strong tokens', strongTokens);
  return strongTokens > 0 ? (accuracy - weakAccuracy) / strongTokens : null;
}

/**
 * ΔIBC = (IBC − IBC_base) / IBC_base, with IBC_base = (acc_strong − acc_weak) / C_strong, the IBC of
 * strong-only. 0 means "as cost-efficient as calling the strong model for everything"; the paper's
 * "N× more cost-efficient" is a ratio of two ΔIBC values. Null when either IBC is undefined or the base
 * is not positive (no gain to be efficient about). Algebraically ΔIBC = PGR / cost − 1.
 */
export function deltaIbc(policyIbc: number | null, baseIbc: number | null): number | null {
  if (policyIbc === null || baseIbc === null) return null;
  finite('IBC', policyIbc);
  finite('base IBC', baseIbc);
  return baseIbc > 0 ? (policyIbc - baseIbc) / baseIbc : null;
}

function finite(what: string, v: number): void {
  if (!Number.isFinite(v)) throw new MetricError(`Cannot compute a metric from ${what} = ${v}: every input must be a finite number.`);
}

function checkCurve(curve: readonly PgrPoint[]): void {
  const first = curve[0];
  if (!first || first.cost !== 0)
    throw new MetricError('A PGR curve must start at cost 0 (the weak-only point); build it with pgrCurve().');
  for (let i = 0; i < curve.length; i++) {
    const p = curve[i]!;
    finite('cost', p.cost);
    finite('PGR', p.pgr);
    if (i > 0 && p.cost < curve[i - 1]!.cost) throw new MetricError('A PGR curve must be sorted by cost; build it with pgrCurve().');
  }
}
