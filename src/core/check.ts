// "Check my work": a student's own solution is split into steps, a PRM scores each step, and the first
// step whose score falls below the flag threshold is the place to look. Only that step and the steps
// before it may ever be shown to a strong model for a hint, so the hint prompt is built here from that
// prefix alone: a later step cannot reach a request by accident.

import type { ChatMessage } from './prompt.ts';

/**
 * The flag threshold when nothing says otherwise. A calibration (`trim eval --task first-error
 * --calibrate`) gives a better one per PRM; 0.5 is the even-odds point of a probability-of-correct score.
 */
export const DEFAULT_FLAG_THRESHOLD = 0.5;

/**
 * A student's solution as steps: its paragraphs (separated by blank lines) or, when it has no blank
 * line between two lines of text, its lines. Each step is trimmed; empty ones are dropped.
 */
export function splitStudentSteps(solution: string): string[] {
  // Blank lines before or after the text (a paste often ends with some) do not make it paragraphs.
  const text = solution.replace(/\r\n?/g, '\n').trim();
  const parts = /\n[ \t]*\n/.test(text) ? text.split(/\n[ \t]*\n/) : text.split('\n');
  return parts.map((s) => s.trim()).filter((s) => s !== '');
}

/**
 * 0-based index of the first step whose score is strictly below `threshold`, or null when none is.
 * A score equal to the threshold is not flagged (the same rule as TRIM-Thr, which regenerates a draft
 * only when its score is below the threshold).
 */
export function firstError(scores: readonly number[], threshold: number): number | null {
  const i = scores.findIndex((s) => s < threshold);
  return i < 0 ? null : i;
}

/** The steps a hint request may carry: those before the flagged step, and the flagged step itself. */
export function hintSteps(steps: readonly string[], flagged: number): string[] {
  if (!Number.isInteger(flagged) || flagged < 0 || flagged >= steps.length)
    throw new RangeError(`The flagged step ${flagged} is not one of the ${steps.length} steps.`);
  return steps.slice(0, flagged + 1);
}

export const HINT_SYSTEM_PROMPT =
  'You are a patient math tutor. A student is working through a problem step by step and one of their steps ' +
  'looks wrong. Reply with a short hint (one or two sentences) that helps them find the mistake in that step ' +
  'themselves. Do not write the corrected step, do not give the final answer, and do not solve the problem.';

/**
 * The chat messages that ask for a hint about step `flagged` (0-based). They hold the problem, the steps
 * before the flagged one and the flagged step, never a later one.
 */
export function hintMessages(problem: string, steps: readonly string[], flagged: number): ChatMessage[] {
  const shown = hintSteps(steps, flagged);
  const before = shown.slice(0, -1);
  const parts = [`Problem:\n${problem.trim()}`];
  if (before.length) parts.push(`The student's steps so far:\n\n${before.map((s, i) => `Step ${i + 1}: ${s}`).join('\n\n')}`);
  parts.push(`The step that looks wrong (step ${flagged + 1}):\n\n${shown[shown.length - 1]}`);
  parts.push('Give a short hint about this step only, without the answer.');
  return [
    { role: 'system', content: HINT_SYSTEM_PROMPT },
    { role: 'user', content: parts.join('\n\n') },
  ];
}
