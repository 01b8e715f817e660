// Calibration to a budget (RouteLLM-style): instead of a raw threshold or λ, the user states how much of
// the strong model to use — a normalised strong-token cost, or a share of steps sent — and the knob that
// spends that much on a reference set is picked. Pure functions, so the page offers "budget: X% of steps
// sent" from the same code the CLI uses.

import { ConfigError, TrimError } from './errors.ts';

export type BudgetMetric = 'cost' | 'steps';

/** Records calibration reads: a results.jsonl row of `trim eval` or of the simulator. */
export interface CalibrationRow {
  id: string;
  policy: string;
  knob: number | null;
  strongTokens: number;
  steps: readonly { source: 'weak' | 'strong' }[];
}

export interface KnobSpend {
  knob: number;
  /** Normalised strong-token cost, or the share of steps written by the strong model. */
  spend: number;
}

export interface Calibration {
  knob: number;
  /** What the chosen knob spends on the reference set (interpolated between measured knobs). */
  spend: number;
  target: number;
  metric: BudgetMetric;
  /** False when the target is outside what the measured knobs span: the nearest end is returned. */
  reached: boolean;
  /** The measured points the choice was read from. */
  points: KnobSpend[];
}

export class CalibrationError extends TrimError {}

/** Spend per knob of one policy in a set of rows; `cost` needs strong-only rows on the same problems. */
export function spendByKnob(rows: readonly CalibrationRow[], policy: string, metric: BudgetMetric): KnobSpend[] {
  const mine = rows.filter((r) => r.policy === policy && r.knob !== null);
  if (mine.length === 0) throw new CalibrationError(`No results for policy "${policy}" with a knob: run a sweep of it first.`);
  let strongOnly: Map<string, number> | null = null;
  if (metric === 'cost') {
    strongOnly = new Map(rows.filter((r) => r.policy === 'strong-only').map((r) => [r.id, r.strongTokens]));
    if (strongOnly.size === 0)
      throw new CalibrationError('A normalised cost needs strong-only results on the same problems: evaluate with --baselines (or calibrate with --by steps).');
  }
  const byKnob = new Map<number, CalibrationRow[]>();
  for (const r of mine) byKnob.set(r.knob!, [...(byKnob.get(r.knob!) ?? []), r]);
  const out: KnobSpend[] = [];
  for (const [knob, rs] of byKnob) {
    if (metric === 'steps') {
      const total = rs.reduce((s, r) => s + r.steps.length, 0);
      const strong = rs.reduce((s, r) => s + r.steps.filter((x) => x.source === 'strong').length, 0);
      out.push({ knob, spend: total ? strong / total : 0 });
    } else {
      const shared = rs.filter((r) => strongOnly!.has(r.id));
      if (!shared.length) throw new CalibrationError(`No strong-only results share problems with ${policy} at knob ${knob}.`);
      const base = shared.reduce((s, r) => s + strongOnly!.get(r.id)!, 0);
      if (!(base > 0)) throw new CalibrationError('Strong-only spent no tokens on these problems: the normalised cost is undefined.');
      out.push({ knob, spend: shared.reduce((s, r) => s + r.strongTokens, 0) / base });
    }
  }
  return out.sort((a, b) => a.knob - b.knob);
}

/**
 * The knob whose spend meets the target, by linear interpolation between measured knobs. Spend must be
 * monotone in the knob (either direction); small reversals from sampling noise are smoothed by pooling
 * adjacent violators (isotonic regression) before reading the curve, so one noisy point cannot flip
 * the answer.
 */
export function calibrateKnob(points: readonly KnobSpend[], target: number, metric: BudgetMetric = 'cost'): Calibration {
  if (!(target >= 0 && Number.isFinite(target))) throw new ConfigError(`The target ${metric === 'cost' ? 'cost' : 'share of steps'} must be a number ≥ 0, got ${target}.`);
  if (points.length === 0) throw new CalibrationError('No measured operating points to calibrate from.');
  const sorted = [...points].sort((a, b) => a.knob - b.knob);
  for (const p of sorted) if (!Number.isFinite(p.knob) || !Number.isFinite(p.spend)) throw new CalibrationError('Every operating point needs a finite knob and spend.');
  const first = sorted[0]!;
  const last = sorted[sorted.length - 1]!;
  const increasing = last.spend >= first.spend;
  const fitted = isotonic(sorted.map((p) => p.spend), increasing);
  const result = (knob: number, spend: number, reached: boolean): Calibration => ({ knob, spend, target, metric, reached, points: sorted });
  const lo = Math.min(...fitted);
  const hi = Math.max(...fitted);
  if (target <= lo || target >= hi) {
    // Outside the measured range: the knob at the edge of the flat end nearest the target, i.e. the
    // one closest to where spending starts to change.
    const edge = target <= lo ? lo : hi;
    const idx = increasing === (target <= lo) ? lastIndexOf(fitted, edge) : fitted.indexOf(edge);
    return result(sorted[idx]!.knob, edge, Math.abs(edge - target) < 1e-12);
  }
  for (let i = 1; i < sorted.length; i++) {
    const a = fitted[i - 1]!;
    const b = fitted[i]!;
    if ((a - target) * (b - target) <= 0 && a !== b) {
      const f = (target - a) / (b - a);
      const ka = sorted[i - 1]!.knob;
      const kb = sorted[i]!.knob;
      return result(ka + f * (kb - ka), target, true);
    }
  }
  // Only reachable with a flat stretch exactly at the target.
  const j = fitted.findIndex((v) => v === target);
  return result(sorted[j]!.knob, target, true);
}

function lastIndexOf(a: number[], v: number): number {
  for (let i = a.length - 1; i >= 0; i--) if (a[i] === v) return i;
  return -1;
}

/** Pool-adjacent-violators: the closest monotone sequence in least squares. */
export function isotonic(values: readonly number[], increasing: boolean): number[] {
  const v = increasing ? [...values] : values.map((x) => -x);
  const blocks: { sum: number; n: number }[] = [];
  for (const x of v) {
    blocks.push({ sum: x, n: 1 });
    while (blocks.length > 1) {
      const b = blocks[blocks.length - 1]!;
      const a = blocks[blocks.length - 2]!;
      if (a.sum / a.n <= b.sum / b.n) break;
      blocks.splice(blocks.length - 2, 2, { sum: a.sum + b.sum, n: a.n + b.n });
    }
  }
  const out: number[] = [];
  for (const b of blocks) for (let i = 0; i < b.n; i++) out.push(b.sum / b.n);
  return increasing ? out : out.map((x) => -x);
}

/**
 * Finds the knob for a target spend by bisection on a monotone spend function measured on demand
 * (the simulator, or any reference set that can be re-run). `scale: 'log'` bisects λ-like knobs in
 * log space. Returns the measured points along with the choice.
 */
export function searchKnob(
  spendAt: (knob: number) => number,
  range: { lo: number; hi: number; scale?: 'linear' | 'log' },
  target: number,
  metric: BudgetMetric = 'cost',
  iterations = 20,
): Calibration {
  const { lo, hi } = range;
  const log = range.scale === 'log';
  if (log && !(lo > 0)) throw new ConfigError('A log-scale knob search needs a positive lower end.');
  const to = (u: number) => (log ? Math.exp(u) : u);
  let a = log ? Math.log(lo) : lo;
  let b = log ? Math.log(hi) : hi;
  const points: KnobSpend[] = [];
  const measure = (u: number) => {
    const knob = to(u);
    const spend = spendAt(knob);
    points.push({ knob, spend });
    return spend;
  };
  const sa = measure(a);
  const sb = measure(b);
  const increasing = sb >= sa;
  if ((increasing && target <= sa) || (!increasing && target >= sa)) return { ...calibrateKnob(points, target, metric), knob: to(a), spend: sa, reached: Math.abs(sa - target) < 1e-12 };
  if ((increasing && target >= sb) || (!increasing && target <= sb)) return { ...calibrateKnob(points, target, metric), knob: to(b), spend: sb, reached: Math.abs(sb - target) < 1e-12 };
  for (let i = 0; i < iterations; i++) {
    const m = (a + b) / 2;
    const s = measure(m);
    if (increasing === s < target) a = m;
    else b = m;
  }
  return calibrateKnob(points, target, metric);
}
