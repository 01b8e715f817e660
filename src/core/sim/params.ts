// The parameters of the simulated solver (see ./README.md for the generative story they drive).
// Every default says where it comes from; a parameter nobody can identify from traces says so too.

import { ConfigError } from '../errors.ts';

/** A logit-normal distribution of PRM scores: logit(r) ~ N(mu, sigma²). */
export interface ScoreDist {
  mu: number;
  sigma: number;
}

export interface SimParams {
  /** p_w: the weak model's mean next-step accuracy (probability a drafted step is correct). */
  weakAccuracy: number;
  /** p_s: the strong model's mean next-step accuracy. */
  strongAccuracy: number;
  /** Steps per solution: min + NegativeBinomial with this mean and variance, capped at max. */
  length: { min: number; mean: number; variance: number; max: number };
  /**
   * Difficulty on the logit scale: a step's accuracy is σ(α − z) with z = problem + step difficulty,
   * both N(0, sd²); α is solved so that the mean accuracy is exactly p_w (p_s for the strong model,
   * whose difficulty is z·strongSensitivity).
   */
  difficulty: { problemSd: number; stepSd: number; strongSensitivity: number };
  /** PRM score distributions per state, plus how much harder steps lower the score (logit per unit z). */
  scores: { ok: ScoreDist; first: ScoreDist; after: ScoreDist; difficulty: number };
  /**
   * Tokens per step: log-normal for each model; `correlation` ties the weak draft's length to the
   * strong model's length for the same step; `difficulty` lengthens harder steps (log-tokens per unit z).
   */
  tokens: { weak: LogNormal; strong: LogNormal; correlation: number; difficulty: number };
  /** P(final answer correct | some step was wrong): lucky answers exist in real data. */
  lucky: number;
  /**
   * Characters that leave the device (the privacy cost, `--cost sent`): a strong request carries the
   * problem and the whole accepted prefix, a remote PRM's request (`prmRemote` 1) the prefix and the
   * draft; text is `charsPerToken` characters per token.
   */
  sent: { problemChars: number; charsPerToken: number; prmRemote: number };
}

export interface LogNormal {
  logMean: number;
  logSd: number;
}

/**
 * Defaults. p_w and p_s are the reference values of trim-method.md; 0.866 is also the step accuracy of
 * ProcessBench-MATH's model solutions (1 − first errors / steps up to the first error = 0.865).
 * Lengths and weak tokens are moment fits to ProcessBench-MATH (mean 6.5 steps, variance 10.4, at
 * least 2; log(chars/3.5) per step: mean 3.91, sd 0.70). `lucky` is ProcessBench-MATH's share of
 * solutions with a labelled wrong step whose final answer is still right (0.147).
 * Not identifiable from anything we have, so chosen and documented: difficulty spreads, the strong
 * model's sensitivity to difficulty, the score distributions (with them the current score separates
 * correct steps from first errors with AUC 0.90; no step-level AUC of the reference PRM is published,
 * so this is an assumption), and the token correlation and difficulty terms. Steps after an error
 * score lowest: PRMs such as Qwen2.5-Math-PRM and Math-Shepherd learn from labels that mark every step
 * after the first error as wrong (no continuation of a broken prefix reaches the right answer), so
 * they are pushed below the first error itself, which is sometimes still locally plausible.
 */
export const DEFAULT_SIM_PARAMS: SimParams = {
  weakAccuracy: 0.866,
  strongAccuracy: 0.9704,
  length: { min: 2, mean: 6.5, variance: 10.4, max: 30 },
  difficulty: { problemSd: 1.0, stepSd: 1.0, strongSensitivity: 0.8 },
  scores: {
    ok: { mu: 2.5, sigma: 1.5 },
    first: { mu: 0.0, sigma: 1.8 },
    after: { mu: -0.5, sigma: 1.8 },
    difficulty: 0.3,
  },
  tokens: { weak: { logMean: 3.91, logSd: 0.7 }, strong: { logMean: 3.91, logSd: 0.7 }, correlation: 0.7, difficulty: 0.1 },
  lucky: 0.147,
  // 3.5 characters per token is the ratio the token defaults were derived with; the problem length is
  // chosen (a MATH problem is a few hundred characters). The PRM runs on the device by default.
  sent: { problemChars: 250, charsPerToken: 3.5, prmRemote: 0 },
};

/** Fills missing fields from the defaults and checks every value; throws ConfigError naming the field. */
export function resolveSimParams(partial: unknown = {}): SimParams {
  if (partial === null || typeof partial !== 'object' || Array.isArray(partial))
    throw new ConfigError('Simulator parameters must be a JSON object (see src/core/sim/README.md).');
  const p = deepMerge(DEFAULT_SIM_PARAMS, partial as Record<string, unknown>, '') as SimParams;
  prob('weakAccuracy', p.weakAccuracy);
  prob('strongAccuracy', p.strongAccuracy);
  prob('lucky', p.lucky, true);
  const L = p.length;
  if (!Number.isInteger(L.min) || L.min < 1) bad('length.min', L.min, 'an integer ≥ 1');
  if (!Number.isInteger(L.max) || L.max < L.min || L.max > 1000) bad('length.max', L.max, `an integer in [length.min, 1000]`);
  if (!(L.mean >= L.min && L.mean <= L.max)) bad('length.mean', L.mean, 'within [length.min, length.max]');
  if (!(L.variance >= 0)) bad('length.variance', L.variance, 'a number ≥ 0');
  for (const k of ['problemSd', 'stepSd', 'strongSensitivity'] as const)
    if (!(p.difficulty[k] >= 0 && p.difficulty[k] <= 10)) bad(`difficulty.${k}`, p.difficulty[k], 'in [0, 10]');
  for (const k of ['ok', 'first', 'after'] as const) {
    const d = p.scores[k];
    if (!Number.isFinite(d.mu) || Math.abs(d.mu) > 20) bad(`scores.${k}.mu`, d.mu, 'a finite logit in [-20, 20]');
    if (!(d.sigma > 0 && d.sigma <= 20)) bad(`scores.${k}.sigma`, d.sigma, 'in (0, 20]');
  }
  if (!Number.isFinite(p.scores.difficulty)) bad('scores.difficulty', p.scores.difficulty, 'a finite number');
  for (const k of ['weak', 'strong'] as const) {
    const d = p.tokens[k];
    if (!(d.logMean > -5 && d.logMean < 12)) bad(`tokens.${k}.logMean`, d.logMean, 'in (-5, 12)');
    if (!(d.logSd >= 0 && d.logSd <= 5)) bad(`tokens.${k}.logSd`, d.logSd, 'in [0, 5]');
  }
  if (!(p.tokens.correlation >= 0 && p.tokens.correlation <= 1)) bad('tokens.correlation', p.tokens.correlation, 'in [0, 1]');
  if (!Number.isFinite(p.tokens.difficulty)) bad('tokens.difficulty', p.tokens.difficulty, 'a finite number');
  if (!(p.sent.problemChars >= 0 && p.sent.problemChars <= 1e7)) bad('sent.problemChars', p.sent.problemChars, 'in [0, 1e7]');
  if (!(p.sent.charsPerToken > 0 && p.sent.charsPerToken <= 100)) bad('sent.charsPerToken', p.sent.charsPerToken, 'in (0, 100]');
  if (p.sent.prmRemote !== 0 && p.sent.prmRemote !== 1) bad('sent.prmRemote', p.sent.prmRemote, '0 (PRM on the device) or 1 (remote PRM)');
  return p;
}

function prob(name: string, v: number, closed = false): void {
  if (!(closed ? v >= 0 && v <= 1 : v > 0 && v < 1)) bad(name, v, closed ? 'in [0, 1]' : 'in (0, 1)');
}

function bad(name: string, v: unknown, want: string): never {
  throw new ConfigError(`Simulator parameter ${name} = ${JSON.stringify(v)} is invalid: it must be ${want}.`);
}

function deepMerge(base: unknown, over: Record<string, unknown>, path: string): unknown {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) {
    const name = path ? `${path}.${k}` : k;
    if (!(k in out)) throw new ConfigError(`Unknown simulator parameter "${name}". Known: ${Object.keys(out).map((x) => (path ? `${path}.${x}` : x)).join(', ')}.`);
    const b = out[k];
    if (b !== null && typeof b === 'object') {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) bad(name, v, 'an object');
      out[k] = deepMerge(b, v as Record<string, unknown>, name);
    } else {
      if (typeof v !== 'number') bad(name, v, 'a number');
      out[k] = v;
    }
  }
  return out;
}
