// Grading one solution against a gold answer: extract, then compare.

import { isEquivalent, type EquivalenceOptions } from './equivalent.ts';
import { extractAnswer, type ExtractionMethod, type ExtractOptions } from './extract.ts';

export interface GradeOptions extends EquivalenceOptions, ExtractOptions {}

export interface GradeResult {
  correct: boolean;
  /** The answer read from the solution, or null when none was found (then `correct` is false). */
  extracted: string | null;
  how: ExtractionMethod | null;
}

export function grade(solution: string, gold: string, opts: GradeOptions = {}): GradeResult {
  const found = extractAnswer(solution, opts);
  if (!found) return { correct: false, extracted: null, how: null };
  return { correct: isEquivalent(found.answer, gold, opts), extracted: found.answer, how: found.how };
}
