// How an evaluation grades a solution against a dataset's gold: the project's grader, with the gold's
// own instructions (a numeric tolerance, several answers in any order) passed on.

import { grade, type GradeOptions } from '../core/grade/index.ts';
import type { EvalProblem } from './datasets.ts';
import type { Graded } from './runner.ts';

export function gradeSolution(solution: string, p: EvalProblem): Graded {
  const opts: GradeOptions = { problem: p.problem };
  if (p.gold.tolerance !== undefined) opts.tolerance = p.gold.tolerance;
  // OlympiadBench marks answers that are several values; their order is not part of the answer.
  if (p.gold.multiple) opts.allowReorder = true;
  const { correct, extracted } = grade(solution, p.gold.answer, opts);
  return { correct, extracted };
}
