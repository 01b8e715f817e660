// A solution is a list of steps joined by a blank line. These helpers are the only place that knows it.

export const STEP_DELIMITER = '\n\n';

export const DEFAULT_LIMITS = { maxSteps: 30, maxStepTokens: 2048 } as const;

export interface Limits {
  maxSteps: number;
  maxStepTokens: number;
}

export function joinSteps(steps: readonly string[]): string {
  return steps.join(STEP_DELIMITER);
}

/** Splits a solution into steps, dropping degenerate fragments (blank lines in a row). */
export function splitSteps(solution: string): string[] {
  return solution
    .replace(/\r\n/g, '\n')
    .split(/\n[ \t]*\n/)
    .map((s) => s.replace(/^\n+|\s+$/g, ''))
    .filter((s) => !isDegenerate(s));
}

/** Empty, or only whitespace and punctuation: not a step. */
export function isDegenerate(text: string): boolean {
  return !/[\p{L}\p{N}\\=+\-*/^<>]/u.test(text);
}

/** The text a model must continue: the accepted steps, then the delimiter that opens the next one. */
export function continuationPrefix(steps: readonly string[], partial = ''): string {
  return (steps.length ? joinSteps(steps) + STEP_DELIMITER : '') + partial;
}

export function hasBoxed(text: string): boolean {
  return text.includes('\\boxed{') || /\\boxed\s+\S/.test(text) || text.includes('\\fbox{');
}

/**
 * Cuts a generation at the first step delimiter. Servers honour `stop`, but some return the stop
 * string, and local decoders check it on decoded text, so the cut is done here once for everyone.
 */
export function cutAtDelimiter(text: string): { text: string; cut: boolean } {
  const i = text.indexOf(STEP_DELIMITER);
  return i < 0 ? { text, cut: false } : { text: text.slice(0, i), cut: true };
}
