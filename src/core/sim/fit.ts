// Fitting the simulator to real `trim eval` traces (results.jsonl rows: steps[].source/score/tokens,
// the rejected draft's score and tokens, and whether the final answer was right).
//
// What the traces identify, and how:
// - lengths (steps per solution) and tokens per step of each model: moments of what was observed;
//   the weak/strong token correlation from regenerated steps (the draft's tokens next to the strong
//   step's);
// - p_w, p_s, the three score distributions and the lucky rate: maximum likelihood of a two-state
//   hidden Markov model per trace (prefix still correct / broken). Each kept step is correct w.p. p_w
//   or p_s while the prefix is correct; every observed score is drawn from ok / first-wrong / after-error
//   by that hidden path; a rejected draft contributes its score without changing the path; the final
//   answer is right when the prefix never broke, or by luck. Policies decide from observed scores
//   only, so their decisions do not bias this likelihood (the data are missing at random);
// - p_w and p_s are then re-matched by simulation so that the simulator's weak-only and strong-only
//   accuracies equal the observed ones under the chosen difficulty spreads (when those baselines are in
//   the traces).
// What they do not identify: how difficulty varies between problems and steps, how much it lowers PRM
// scores or lengthens steps, and how strongly the strong model feels it. Those stay at their current
// values (defaults or --params) and the report says so.

import { TrimError } from '../errors.ts';
import { logit, sigmoid } from './distributions.ts';
import type { ScoreDist, SimParams } from './params.ts';
import { runWorld } from './run.ts';
import { createWorld } from './world.ts';
import { strongOnlyPolicy, weakOnlyPolicy } from '../policies/baselines.ts';

export interface FitRow {
  policy: string;
  correct: boolean;
  steps: readonly { source: 'weak' | 'strong'; score: number | null; tokens: number; draft?: { score: number | null; tokens: number } }[];
}

export interface FitReport {
  params: SimParams;
  rows: number;
  /** Parameter paths estimated from the traces, with the estimate and what it came from. */
  fitted: Record<string, string>;
  /** Parameter paths kept from the starting parameters, with why. */
  kept: Record<string, string>;
  logLikelihood: number;
}

export class FitError extends TrimError {}

const clampScore = (r: number) => Math.min(1 - 1e-6, Math.max(1e-6, r));

/** log density of a logit-normal score up to the Jacobian (the same for every state, so it cancels). */
function logDensity(z: number, d: ScoreDist): number {
  const u = (z - d.mu) / d.sigma;
  return -0.5 * u * u - Math.log(d.sigma);
}

interface HmmParams {
  pw: number;
  ps: number;
  lucky: number;
  ok: ScoreDist;
  first: ScoreDist;
  after: ScoreDist;
}

/** Log-likelihood of one trace under the two-state model (forward algorithm in probability space, rescaled). */
function traceLogLik(r: FitRow, h: HmmParams): number {
  let ok = 1;
  let broken = 0;
  let logScale = 0;
  const e = (score: number | null | undefined, d: ScoreDist) => (score == null ? 1 : Math.exp(logDensity(logit(clampScore(score)), d)));
  for (const s of r.steps) {
    const d = s.draft?.score;
    const draftOk = d == null ? 1 : h.pw * e(d, h.ok) + (1 - h.pw) * e(d, h.first);
    const draftBroken = e(d, h.after);
    const p = s.source === 'weak' ? h.pw : h.ps;
    const nextOk = ok * draftOk * p * e(s.score, h.ok);
    const nextBroken = ok * draftOk * (1 - p) * e(s.score, h.first) + broken * draftBroken * e(s.score, h.after);
    const z = nextOk + nextBroken;
    if (!(z > 0)) return -1e9;
    ok = nextOk / z;
    broken = nextBroken / z;
    logScale += Math.log(z);
  }
  const end = r.correct ? ok + broken * h.lucky : broken * (1 - h.lucky);
  return logScale + Math.log(Math.max(end, 1e-300));
}

function unpack(x: readonly number[]): HmmParams {
  return {
    pw: sigmoid(x[0]!),
    ps: sigmoid(x[1]!),
    lucky: sigmoid(x[2]!),
    ok: { mu: x[3]!, sigma: Math.exp(x[4]!) },
    first: { mu: x[5]!, sigma: Math.exp(x[6]!) },
    after: { mu: x[7]!, sigma: Math.exp(x[8]!) },
  };
}

/** Nelder–Mead minimisation: derivative-free and plenty for 9 smooth parameters. */
export function nelderMead(f: (x: number[]) => number, x0: number[], step = 0.5, iterations = 2000, tol = 1e-8): number[] {
  const n = x0.length;
  const simplex = [x0, ...x0.map((_, i) => x0.map((v, j) => (i === j ? v + step : v)))].map((x) => ({ x, f: f(x) }));
  for (let it = 0; it < iterations; it++) {
    simplex.sort((a, b) => a.f - b.f);
    // Relative tolerance: a log-likelihood summed over thousands of traces is large.
    if (Math.abs(simplex[n]!.f - simplex[0]!.f) <= tol * (1 + Math.abs(simplex[0]!.f))) break;
    const centroid = x0.map((_, j) => simplex.slice(0, n).reduce((s, p) => s + p.x[j]!, 0) / n);
    const worst = simplex[n]!;
    const at = (t: number) => centroid.map((c, j) => c + t * (worst.x[j]! - c));
    const r = at(-1);
    const fr = f(r);
    if (fr < simplex[0]!.f) {
      const e = at(-2);
      const fe = f(e);
      simplex[n] = fe < fr ? { x: e, f: fe } : { x: r, f: fr };
    } else if (fr < simplex[n - 1]!.f) {
      simplex[n] = { x: r, f: fr };
    } else {
      const c = at(fr < worst.f ? -0.5 : 0.5);
      const fc = f(c);
      if (fc < Math.min(fr, worst.f)) simplex[n] = { x: c, f: fc };
      else {
        // Shrink every vertex halfway towards the best one.
        const best = simplex[0]!.x;
        for (let i = 1; i <= n; i++) {
          const x = best.map((b, j) => b + 0.5 * (simplex[i]!.x[j]! - b));
          simplex[i] = { x, f: f(x) };
        }
      }
    }
  }
  simplex.sort((a, b) => a.f - b.f);
  return simplex[0]!.x;
}

function moments(xs: readonly number[]): { mean: number; variance: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return { mean, variance: xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length - 1) };
}

/** Bisection on an accuracy parameter so that the simulated baseline accuracy matches the observed one. */
function matchAccuracy(base: SimParams, which: 'weakAccuracy' | 'strongAccuracy', observed: number, problems: number): number {
  const policy = which === 'weakAccuracy' ? weakOnlyPolicy() : strongOnlyPolicy();
  let lo = 0.3;
  let hi = 0.9995;
  for (let i = 0; i < 25; i++) {
    const mid = (lo + hi) / 2;
    const w = createWorld({ ...base, [which]: mid }, problems, 7);
    const acc = runWorld(w, policy).filter((r) => r.correct).length / problems;
    if (acc < observed) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * The likelihood fits each state's score distribution as seen in the traces, i.e. including the spread
 * that difficulty adds; the simulator adds `scores.difficulty · z` on top of its own per-state
 * distribution. So the simulator's per-state parameters are moved until its weak drafts' logit scores
 * per state have the fitted mean and spread (a few fixed-point rounds; shifts are nearly additive).
 */
function matchScores(base: SimParams, target: Pick<HmmParams, 'ok' | 'first' | 'after'>, problems: number): SimParams['scores'] {
  const scores = structuredClone(base.scores);
  const names = ['ok', 'first', 'after'] as const;
  for (let round = 0; round < 4; round++) {
    const w = createWorld({ ...base, scores }, problems, 11);
    const sum = [0, 0, 0];
    const sq = [0, 0, 0];
    const n = [0, 0, 0];
    for (let i = 0; i < w.size; i++) {
      let broken = false;
      for (let k = w.offset[i]!; k < w.offset[i + 1]!; k++) {
        const state = broken ? 2 : w.weakOk[k] ? 0 : 1;
        const z = logit(clampScore(w.weakScore[3 * k + state]!));
        sum[state]! += z;
        sq[state]! += z * z;
        n[state]!++;
        if (state !== 0) broken = true;
      }
    }
    names.forEach((name, s) => {
      if (n[s]! < 2) return;
      const mean = sum[s]! / n[s]!;
      const sd = Math.sqrt(Math.max(1e-9, sq[s]! / n[s]! - mean * mean));
      scores[name] = { mu: scores[name].mu + (target[name].mu - mean), sigma: Math.min(20, Math.max(0.05, (scores[name].sigma * target[name].sigma) / sd)) };
    });
  }
  return scores;
}

/** Fits the identifiable parameters to traces, starting from (and keeping the rest of) `start`. */
export function fitSimParams(rows: readonly FitRow[], start: SimParams, opts: { matchProblems?: number } = {}): FitReport {
  if (rows.length < 20) throw new FitError(`Only ${rows.length} traces: fitting the simulator needs at least 20 (more is better).`);
  const fitted: Record<string, string> = {};
  const kept: Record<string, string> = {
    difficulty: 'how difficulty varies is not identifiable from final answers and scores alone',
    'scores.difficulty': 'not identifiable without per-step difficulty',
    'tokens.difficulty': 'not identifiable without per-step difficulty',
  };
  const p: SimParams = structuredClone(start);

  const lengths = rows.map((r) => r.steps.length).filter((n) => n > 0);
  if (lengths.length) {
    const m = moments(lengths);
    const min = Math.min(...lengths);
    const max = Math.max(p.length.max, Math.max(...lengths));
    p.length = { min, mean: Math.max(min, m.mean), variance: m.variance, max };
    fitted.length = `min ${min}, mean ${m.mean.toFixed(2)}, variance ${m.variance.toFixed(2)} from ${lengths.length} solutions`;
  }
  const logTokens = (src: 'weak' | 'strong') =>
    rows.flatMap((r) => r.steps.filter((s) => s.source === src && s.tokens > 0).map((s) => Math.log(s.tokens)));
  for (const src of ['weak', 'strong'] as const) {
    const lt = logTokens(src);
    if (lt.length >= 10) {
      const m = moments(lt);
      p.tokens[src] = { logMean: m.mean, logSd: Math.sqrt(m.variance) };
      fitted[`tokens.${src}`] = `log-mean ${m.mean.toFixed(3)}, log-sd ${Math.sqrt(m.variance).toFixed(3)} from ${lt.length} steps`;
    } else kept[`tokens.${src}`] = `fewer than 10 ${src} steps in the traces`;
  }
  const pairs = rows.flatMap((r) => r.steps.filter((s) => s.source === 'strong' && s.draft && s.draft.tokens > 0 && s.tokens > 0).map((s) => [Math.log(s.draft!.tokens), Math.log(s.tokens)] as const));
  if (pairs.length >= 20) {
    const a = moments(pairs.map((x) => x[0]));
    const b = moments(pairs.map((x) => x[1]));
    const cov = pairs.reduce((s, [x, y]) => s + (x - a.mean) * (y - b.mean), 0) / (pairs.length - 1);
    const rho = Math.max(0, Math.min(1, cov / Math.sqrt(a.variance * b.variance)));
    p.tokens.correlation = rho;
    fitted['tokens.correlation'] = `${rho.toFixed(3)} from ${pairs.length} regenerated steps`;
  } else kept['tokens.correlation'] = 'fewer than 20 regenerated steps with their draft';

  const scored = rows.some((r) => r.steps.some((s) => s.score != null || s.draft?.score != null));
  const x0 = [logit(p.weakAccuracy), logit(p.strongAccuracy), logit(Math.min(0.99, Math.max(0.01, p.lucky))), p.scores.ok.mu, Math.log(p.scores.ok.sigma), p.scores.first.mu, Math.log(p.scores.first.sigma), p.scores.after.mu, Math.log(p.scores.after.sigma)];
  const logLik = (h: HmmParams) => rows.reduce((s, r) => s + traceLogLik(r, h), 0);
  // A weak prior keeps unidentified directions (e.g. a state never observed) near the start.
  const objective = (x: number[]) => -logLik(unpack(x)) + x.reduce((s, v, i) => s + 0.5e-3 * (v - x0[i]!) ** 2, 0);
  const best = unpack(nelderMead(objective, x0));
  const logLikelihood = logLik(best);
  p.weakAccuracy = best.pw;
  p.strongAccuracy = best.ps;
  p.lucky = best.lucky;
  fitted.weakAccuracy = `${best.pw.toFixed(4)} (trace likelihood)`;
  fitted.strongAccuracy = `${best.ps.toFixed(4)} (trace likelihood)`;
  fitted.lucky = `${best.lucky.toFixed(3)} (trace likelihood)`;
  const problems = opts.matchProblems ?? 4000;
  if (scored) {
    p.scores = matchScores(p, best, problems);
    for (const k of ['ok', 'first', 'after'] as const)
      fitted[`scores.${k}`] =
        `logit mean ${best[k].mu.toFixed(3)}, sd ${best[k].sigma.toFixed(3)} as observed (trace likelihood); ` +
        `simulator's own ${p.scores[k].mu.toFixed(3)}, ${p.scores[k].sigma.toFixed(3)} once difficulty adds its share`;
  } else kept.scores = 'no step in the traces was scored';

  const baseline = (name: string) => rows.filter((r) => r.policy === name);
  const weakRows = baseline('weak-only');
  if (weakRows.length >= 20) {
    const acc = weakRows.filter((r) => r.correct).length / weakRows.length;
    p.weakAccuracy = matchAccuracy(p, 'weakAccuracy', acc, problems);
    fitted.weakAccuracy = `${p.weakAccuracy.toFixed(4)} (simulated weak-only accuracy matched to the observed ${(acc * 100).toFixed(1)}%)`;
  }
  const strongRows = baseline('strong-only');
  if (strongRows.length >= 20) {
    const acc = strongRows.filter((r) => r.correct).length / strongRows.length;
    p.strongAccuracy = matchAccuracy(p, 'strongAccuracy', acc, problems);
    fitted.strongAccuracy = `${p.strongAccuracy.toFixed(4)} (simulated strong-only accuracy matched to the observed ${(acc * 100).toFixed(1)}%)`;
  }
  return { params: p, rows: rows.length, fitted, kept, logLikelihood };
}
