// The pure part of "Check my work": which steps must be scored again after an edit, the verdict shown
// for each step, and the flag threshold a PRM folder's calibration recorded. No DOM, no models.

import { DEFAULT_FLAG_THRESHOLD, firstError } from '../core/check.ts';

/** What was scored last time: the scores of steps[i] given the problem and steps[0..i-1]. */
export interface Checked {
  /** Identifies the problem and the PRM: a change to either re-scores everything. */
  key: string;
  steps: readonly string[];
  scores: readonly number[];
}

/**
 * Index of the first step whose score must be computed again: the first step that differs from what
 * was scored (a PRM reads left to right, so the steps before it keep their scores), or the old length
 * when steps were only added. Equals `next.length` when nothing changed.
 */
export function firstChangedStep(prev: Checked | null, key: string, next: readonly string[]): number {
  if (!prev || prev.key !== key) return 0;
  const n = Math.min(prev.steps.length, next.length, prev.scores.length);
  for (let i = 0; i < n; i++) if (prev.steps[i] !== next[i]) return i;
  return n;
}

export type Verdict = 'looks-right' | 'check-this' | 'after-flagged';

export const VERDICT_TEXT: Readonly<Record<Verdict, string>> = {
  'looks-right': 'looks right',
  'check-this': 'check this step',
  'after-flagged': 'follows a flagged step',
};

/** One verdict per scored step: steps after the first flagged one build on it, whatever their score. */
export function verdicts(scores: readonly number[], threshold: number): { flagged: number | null; verdicts: Verdict[] } {
  const flagged = firstError(scores, threshold);
  return {
    flagged,
    verdicts: scores.map((_, i) => (flagged === null || i < flagged ? 'looks-right' : i === flagged ? 'check-this' : 'after-flagged')),
  };
}

/** Where the default flag threshold came from, for the note beside the setting. */
export interface DefaultThreshold {
  threshold: number;
  source: 'calibrated' | 'default' | 'invalid';
  /** What it was calibrated on, when the folder says (training/train.py records it). */
  calibratedOn?: string;
}

/**
 * The flag threshold a PRM folder's config.json carries (`"trim": {"flagThreshold", "calibratedOn"}`,
 * written by a calibration, as `trim check` reads it), or the default. A value that is not a number in
 * [0, 1] is not used, and says so.
 */
export function calibratedThreshold(config: unknown): DefaultThreshold {
  const trim = (config as { trim?: { flagThreshold?: unknown; calibratedOn?: unknown } } | null)?.trim;
  const t = trim?.flagThreshold;
  if (t === undefined) return { threshold: DEFAULT_FLAG_THRESHOLD, source: 'default' };
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0 || t > 1) return { threshold: DEFAULT_FLAG_THRESHOLD, source: 'invalid' };
  return { threshold: t, source: 'calibrated', ...(typeof trim?.calibratedOn === 'string' ? { calibratedOn: trim.calibratedOn } : {}) };
}

/** The note beside the threshold setting: what an empty box means. `what` names the checker. */
export function thresholdNote(d: DefaultThreshold, what = 'PRM'): string {
  const k = formatThreshold(d.threshold);
  if (d.source === 'calibrated') return `Empty: ${k}, calibrated for this ${what}${d.calibratedOn ? ` on ${d.calibratedOn}` : ''}.`;
  if (d.source === 'invalid') return `Empty: ${k}. This ${what}'s config.json records a flagThreshold that is not a number from 0 to 1, so it is not used.`;
  return `Empty: ${k} (this ${what} carries no calibrated threshold).`;
}

/**
 * 0.454 → "0.454", 0.5 → "0.5"; a threshold under 0.01 keeps two significant digits (0.00063, the
 * strong model's lm-likelihood threshold, would otherwise read "0.001").
 */
export function formatThreshold(t: number): string {
  return String(Number(t > 0 && t < 0.01 ? t.toPrecision(2) : t.toFixed(3)));
}

/** "Scored 1 of 5 steps in 42 ms (4 kept from the last check)." */
export function scoredLine(scored: number, total: number, ms: number): string {
  const kept = total - scored;
  return `Scored ${scored} of ${total} step${total === 1 ? '' : 's'} in ${Math.round(ms)} ms${kept > 0 ? ` (${kept} kept from the last check)` : ''}.`;
}
