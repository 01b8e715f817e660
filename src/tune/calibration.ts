// From the tuning problems' result rows to a bundle's calibration (knob → cost, accuracy, characters
// sent, share of steps sent) and its choice of the best tuned policy against TRIM-Thr: the numbers are
// measured by running each policy at each knob on the tuning problems, never simulated.

import type { BestChoice, CalibrationPoint } from '../core/bundle.ts';
import { apgr, cpt, pgrCurve, type CostPoint } from '../core/metrics.ts';
import { STRONG_ONLY, WEAK_ONLY, type ResultRow } from '../eval/summary.ts';

export type CostKind = 'tokens' | 'sent';
export const COST_KINDS: readonly CostKind[] = ['tokens', 'sent'];

export interface CurveMetrics {
  cpt95: number | null;
  apgr: number | null;
}

export interface Calibration {
  /** Problems every operating point was measured on. */
  problems: number;
  weakAccuracy: number;
  strongAccuracy: number;
  points: Record<string, CalibrationPoint[]>;
  metrics: Record<string, CurveMetrics>;
}

/** Characters sent off the device by a run, when the row records them (a row without them counts as unknown). */
function sentChars(r: ResultRow): number | null {
  const v = (r as unknown as Record<string, unknown>).sentChars;
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/**
 * The calibration of every policy in the rows, on the problems measured at every operating point. Cost
 * is strong tokens ÷ strong-only's, or with kind "sent" characters sent ÷ strong-only's (null when the
 * rows do not record them: then "sent" cannot be calibrated and the caller says so).
 */
export function calibrate(rows: readonly ResultRow[], kind: CostKind): Calibration {
  const groups = new Map<string, ResultRow[]>();
  for (const r of rows) {
    const k = JSON.stringify([r.policy, r.knob]);
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const ids = [...new Set(rows.map((r) => r.id))].filter((id) => [...groups.values()].every((g) => g.some((r) => r.id === id)));
  const keep = new Set(ids);
  const at = (policy: string, knob: number | null) => (groups.get(JSON.stringify([policy, knob])) ?? []).filter((r) => keep.has(r.id));
  const mean = (rs: readonly ResultRow[], f: (r: ResultRow) => number) => (rs.length ? rs.reduce((s, r) => s + f(r), 0) / rs.length : 0);
  const weak = at(WEAK_ONLY, null);
  const strong = at(STRONG_ONLY, null);
  if (!weak.length || !strong.length) throw new Error('calibrate() needs weak-only and strong-only rows on the same problems.');
  const weakAccuracy = mean(weak, (r) => +r.correct);
  const strongAccuracy = mean(strong, (r) => +r.correct);
  const strongTokens = mean(strong, (r) => r.strongTokens);
  const strongSent = strong.every((r) => sentChars(r) !== null) ? mean(strong, (r) => sentChars(r)!) : null;

  const points: Record<string, CalibrationPoint[]> = {};
  const metrics: Record<string, CurveMetrics> = {};
  const policies = [...new Set(rows.map((r) => r.policy))].filter((p) => p !== WEAK_ONLY && p !== STRONG_ONLY).sort();
  for (const policy of policies) {
    const knobs = [...new Set(rows.filter((r) => r.policy === policy).map((r) => r.knob))].filter((k): k is number => k !== null).sort((a, b) => a - b);
    points[policy] = knobs.map((knob) => {
      const rs = at(policy, knob);
      const sent = strongSent && rs.every((r) => sentChars(r) !== null) ? mean(rs, (r) => sentChars(r)!) / strongSent : null;
      const steps = rs.reduce((s, r) => s + r.steps.length, 0);
      const strongSteps = rs.reduce((s, r) => s + r.steps.filter((x) => x.source === 'strong').length, 0);
      const tokenCost = strongTokens > 0 ? mean(rs, (r) => r.strongTokens) / strongTokens : 0;
      return {
        knob,
        cost: kind === 'sent' ? (sent ?? NaN) : tokenCost,
        accuracy: mean(rs, (r) => +r.correct),
        sentShare: sent,
        stepShare: steps ? strongSteps / steps : 0,
      };
    });
    metrics[policy] = curveMetrics(points[policy]!, weakAccuracy, strongAccuracy);
  }
  return { problems: ids.length, weakAccuracy, strongAccuracy, points, metrics };
}

/** CPT(95%) and APGR of a measured curve (cost ÷ strong-only against accuracy). */
export function curveMetrics(points: readonly CalibrationPoint[], weakAccuracy: number, strongAccuracy: number): CurveMetrics {
  const costed: CostPoint[] = points.filter((p) => Number.isFinite(p.cost)).map((p) => ({ cost: p.cost, accuracy: p.accuracy }));
  const curve = costed.length ? pgrCurve(costed, weakAccuracy, strongAccuracy) : null;
  return { cpt95: curve ? cpt(curve, 0.95) : null, apgr: curve ? apgr(curve) : null };
}

/**
 * The best tuned policy: the lowest CPT(95%) (ties: the higher APGR); when none reaches PGR 95%, the
 * highest APGR. It beats Thr when it reaches PGR 95% at no more cost than Thr with an APGR no lower. Its
 * knob is the cheapest measured point with PGR ≥ 95% (else the most accurate point).
 */
export function chooseBest(c: Calibration, tuned: readonly string[], thr = 'thr'): BestChoice | null {
  const thrM = c.metrics[thr] ?? { cpt95: null, apgr: null };
  const candidates = tuned.filter((p) => c.points[p]?.length);
  if (!candidates.length) return null;
  const rank = (p: string) => c.metrics[p]!;
  const best = candidates.reduce((a, b) => {
    const ma = rank(a);
    const mb = rank(b);
    if (ma.cpt95 !== null && mb.cpt95 !== null) return mb.cpt95 < ma.cpt95 || (mb.cpt95 === ma.cpt95 && (mb.apgr ?? 0) > (ma.apgr ?? 0)) ? b : a;
    if (ma.cpt95 !== null || mb.cpt95 !== null) return ma.cpt95 !== null ? a : b;
    return (mb.apgr ?? -Infinity) > (ma.apgr ?? -Infinity) ? b : a;
  });
  const m = rank(best);
  const gap = c.strongAccuracy - c.weakAccuracy;
  const reaching = c.points[best]!.filter((p) => gap > 0 && (p.accuracy - c.weakAccuracy) / gap >= 0.95 && Number.isFinite(p.cost));
  const point = reaching.length
    ? reaching.reduce((a, p) => (p.cost < a.cost ? p : a))
    : c.points[best]!.reduce((a, p) => (p.accuracy > a.accuracy ? p : a));
  const beatsThr = m.cpt95 !== null && (thrM.cpt95 === null || m.cpt95 <= thrM.cpt95) && (m.apgr ?? 0) >= (thrM.apgr ?? 0);
  return { policy: best, knob: point.knob, beatsThr, thr: { cpt95: thrM.cpt95, apgr: thrM.apgr }, cpt95: m.cpt95, apgr: m.apgr };
}
