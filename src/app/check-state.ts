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

/**
 * The flag threshold a PRM folder's config.json carries (`trim.flagThreshold`, written by a
 * calibration), or the default. Anything that is not a number in [0, 1] is ignored.
 */
export function calibratedThreshold(config: unknown): { threshold: number; calibrated: boolean } {
  const t = (config as { trim?: { flagThreshold?: unknown } } | null)?.trim?.flagThreshold;
  return typeof t === 'number' && Number.isFinite(t) && t >= 0 && t <= 1 ? { threshold: t, calibrated: true } : { threshold: DEFAULT_FLAG_THRESHOLD, calibrated: false };
}

/** "Scored 1 of 5 steps in 42 ms (4 kept from the last check)." */
export function scoredLine(scored: number, total: number, ms: number): string {
  const kept = total - scored;
  return `Scored ${scored} of ${total} step${total === 1 ? '' : 's'} in ${Math.round(ms)} ms${kept > 0 ? ` (${kept} kept from the last check)` : ''}.`;
}
