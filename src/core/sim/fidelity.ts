// The fidelity gate: before a policy is trained or solved in a fitted simulator, TRIM-Thr is replayed
// in it at the knobs of the real Thr traces and the two curves are compared point by point. A
// simulator whose Thr curve is several points away from the real one cannot be trusted to rank
// policies (the held-aside set-up's fit put Thr at CPT(95%) 46.7% against 21.2% measured), so callers
// (`trim simulate --fit`, `trim tune`) say so and fall back to the real traces.

import { TrimError } from '../errors.ts';
import { strongOnlyPolicy, weakOnlyPolicy } from '../policies/baselines.ts';
import { thresholdPolicy } from '../policies/threshold.ts';
import type { SimParams } from './params.ts';
import { runWorld } from './run.ts';
import { createWorld } from './world.ts';

/** What the gate reads of a real `trim eval` row (results.jsonl). */
export interface FidelityTrace {
  policy: string;
  knob: number | null;
  correct: boolean;
  strongTokens: number;
  steps: readonly { source: 'weak' | 'strong' }[];
}

export interface CurvePoint {
  /** Normalised cost: strong tokens ÷ strong-only's, or the share of steps sent when the real traces have no strong-only run. */
  cost: number;
  accuracy: number;
}

export interface FidelityPoint {
  /** 'thr' at a knob, or a baseline ('weak-only', 'strong-only'). */
  policy: string;
  knob: number | null;
  problems: number;
  real: CurvePoint;
  sim: CurvePoint;
  /** max(|cost gap|, |accuracy gap|), as fractions (0.03 = 3 points). */
  gap: number;
}

export interface FidelityReport {
  pass: boolean;
  tolerance: number;
  /** The largest gap over the points; the point it is at. */
  worstGap: number;
  worst: FidelityPoint | null;
  /** Root mean square of the points' gaps: a smoother measure for choosing between fits. */
  rmsGap: number;
  costMeasure: 'tokens' | 'steps';
  points: FidelityPoint[];
  /** The two curves side by side, ready to print. */
  table: string;
}

export interface FidelityOptions {
  /** Largest allowed gap in cost or accuracy at any point (default 0.03: 3 points). */
  tolerance?: number;
  /** Simulated problems per point (default 4000); every point runs the same ones. */
  problems?: number;
  seed?: number;
}

export class FidelityError extends TrimError {}

/**
 * Replays TRIM-Thr (and the baselines present in the traces) in the simulator with `params` at every
 * knob of the real Thr traces, and compares cost and accuracy point by point. Pure and deterministic.
 */
export function fidelityGate(real: readonly FidelityTrace[], params: SimParams, opts: FidelityOptions = {}): FidelityReport {
  const tolerance = opts.tolerance ?? 0.03;
  const groups = new Map<string, FidelityTrace[]>();
  for (const r of real) {
    if (r.policy !== 'thr' && r.policy !== 'weak-only' && r.policy !== 'strong-only') continue;
    const key = r.policy === 'thr' ? `thr@${r.knob}` : r.policy;
    const g = groups.get(key);
    if (g) g.push(r);
    else groups.set(key, [r]);
  }
  if (![...groups.keys()].some((k) => k.startsWith('thr@')))
    throw new FidelityError('The fidelity gate needs real TRIM-Thr traces (trim eval --policy thr --sweep …): none were given.');
  const strongReal = groups.get('strong-only');
  const costMeasure: 'tokens' | 'steps' = strongReal && strongReal.length > 0 ? 'tokens' : 'steps';
  const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const stepShare = (rows: readonly { steps: readonly { source: string }[] }[]) => {
    const all = rows.reduce((s, r) => s + r.steps.length, 0);
    return all ? rows.reduce((s, r) => s + r.steps.filter((x) => x.source === 'strong').length, 0) / all : 0;
  };
  const realStrongTokens = strongReal ? mean(strongReal.map((r) => r.strongTokens)) : 0;
  const realPoint = (rows: readonly FidelityTrace[]): CurvePoint => ({
    cost: costMeasure === 'tokens' ? (realStrongTokens > 0 ? mean(rows.map((r) => r.strongTokens)) / realStrongTokens : 0) : stepShare(rows),
    accuracy: mean(rows.map((r) => (r.correct ? 1 : 0))),
  });

  const world = createWorld(params, opts.problems ?? 4000, opts.seed ?? 0);
  const simStrong = runWorld(world, strongOnlyPolicy());
  const simStrongTokens = mean(simStrong.map((r) => r.strongTokens));
  const simPoint = (policy: string, knob: number | null): CurvePoint => {
    const rows = policy === 'strong-only' ? simStrong : runWorld(world, policy === 'weak-only' ? weakOnlyPolicy() : thresholdPolicy(knob!));
    return {
      cost: costMeasure === 'tokens' ? (simStrongTokens > 0 ? mean(rows.map((r) => r.strongTokens)) / simStrongTokens : 0) : stepShare(rows),
      accuracy: mean(rows.map((r) => (r.correct ? 1 : 0))),
    };
  };

  const order = (k: string) => (k === 'weak-only' ? -1 : k === 'strong-only' ? 2 : Number(k.slice(4)));
  const points: FidelityPoint[] = [...groups.entries()]
    .sort((a, b) => order(a[0]) - order(b[0]))
    .map(([key, rows]) => {
      const policy = key.startsWith('thr@') ? 'thr' : key;
      const knob = policy === 'thr' ? rows[0]!.knob : null;
      const r = realPoint(rows);
      const s = simPoint(policy, knob);
      return { policy, knob, problems: rows.length, real: r, sim: s, gap: Math.max(Math.abs(r.cost - s.cost), Math.abs(r.accuracy - s.accuracy)) };
    });
  const worst = points.reduce<FidelityPoint | null>((w, p) => (!w || p.gap > w.gap ? p : w), null);
  const worstGap = worst?.gap ?? 0;
  const rmsGap = Math.sqrt(mean(points.map((p) => p.gap * p.gap)));
  return { pass: worstGap <= tolerance, tolerance, worstGap, worst, rmsGap, costMeasure, points, table: formatFidelity(points, tolerance, costMeasure) };
}

function formatFidelity(points: readonly FidelityPoint[], tolerance: number, costMeasure: 'tokens' | 'steps'): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const head = ['policy', 'knob', 'problems', 'real cost', 'sim cost', 'real acc', 'sim acc', 'gap', ''];
  const body = points.map((p) => [
    p.policy,
    p.knob === null ? '–' : String(p.knob),
    String(p.problems),
    pct(p.real.cost),
    pct(p.sim.cost),
    pct(p.real.accuracy),
    pct(p.sim.accuracy),
    `${(p.gap * 100).toFixed(1)} pt`,
    p.gap > tolerance ? 'over' : '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  const cost = costMeasure === 'tokens' ? 'cost = strong tokens ÷ strong-only' : 'cost = share of steps written by the strong model (no strong-only run in the traces)';
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line), `${cost}; gap = max(|cost gap|, |accuracy gap|); tolerance ${(tolerance * 100).toFixed(1)} pt.`, ''].join('\n');
}
