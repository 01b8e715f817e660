// Labels each step of a model's solution against the chain, the way ProcessBench labels real
// solutions: the steps before the first error are correct, then one first wrong step, then steps
// "after an error" (their own arithmetic may be right, but they build on a wrong value). These labels
// train the PRM and measure it. Model output is untrusted: anything unreadable is simply wrong.

import { lastBoxed } from '../core/grade/boxed.ts';
import { joinSteps } from '../core/steps.ts';
import { OPS, chainValues, parseProblem, type Chain } from './task.ts';

export type StepLabel = 'correct' | 'first-wrong' | 'after-error';

export type StepFault =
  | 'unreadable'
  | 'wrong-number'
  | 'wrong-input'
  | 'wrong-operation'
  | 'wrong-result'
  | 'early-answer'
  | 'missing-answer'
  | 'extra-step';

export interface StepCheck {
  label: StepLabel;
  /** Why the first wrong step is wrong; null for the others. */
  fault: StepFault | null;
}

export interface SolutionCheck {
  steps: StepCheck[];
  /** 0-based index of the first wrong step, null when every step is correct. */
  firstError: number | null;
  /** The last boxed answer of the solution, as written. */
  answer: string | null;
  expected: number;
  /** The final answer equals the chain's result (whatever the steps look like). */
  correct: boolean;
}

// Lenient on spaces only: the format is the task, and a step in another format is not this step.
const STEP_RE = /^\s*(\d{1,3})\)\s*(\d{1,4})\s*([+\-*])\s*(\d{1,4})\s*=\s*(?:(\d{1,5})|\\boxed\{\s*(\d{1,5})\s*\})\s*$/;

/** Why step k (0-based) is wrong when the steps before it were right, or null when it is right. */
export function stepFault(chain: Chain, k: number, text: string): StepFault | null {
  if (k >= chain.ops.length) return 'extra-step';
  if (text.length > 200) return 'unreadable';
  const m = STEP_RE.exec(text);
  if (!m) return 'unreadable';
  const values = chainValues(chain);
  const op = chain.ops[k]!;
  if (Number(m[1]) !== k + 1) return 'wrong-number';
  if (Number(m[2]) !== values[k]) return 'wrong-input';
  if (m[3] !== OPS[op.kind].symbol || Number(m[4]) !== op.operand) return 'wrong-operation';
  const boxed = m[6] !== undefined;
  if (Number(boxed ? m[6] : m[5]) !== values[k + 1]) return 'wrong-result';
  const last = k === chain.ops.length - 1;
  if (last && !boxed) return 'missing-answer';
  if (!last && boxed) return 'early-answer';
  return null;
}

/** Labels every step and grades the final answer. `problem` is the problem text or its chain. */
export function checkSolution(problem: string | Chain, steps: readonly string[]): SolutionCheck {
  const chain = typeof problem === 'string' ? parseProblem(problem) : problem;
  const expected = chainValues(chain)[chain.ops.length]!;
  let firstError: number | null = null;
  const checks = steps.map((text, k): StepCheck => {
    if (firstError !== null) return { label: 'after-error', fault: null };
    const fault = stepFault(chain, k, text);
    if (fault === null) return { label: 'correct', fault: null };
    firstError = k;
    return { label: 'first-wrong', fault };
  });
  const answer = lastBoxed(joinSteps(steps));
  return { steps: checks, firstError, answer, expected, correct: gradeAnswer(answer, expected) };
}

/** The answer is right when it is exactly the expected integer (spaces aside). */
export function gradeAnswer(answer: string | null, expected: number): boolean {
  if (answer === null) return false;
  const a = answer.trim();
  return /^-?\d{1,6}$/.test(a) && Number(a) === expected;
}

/** Step-level targets for the PRM: 1 while the solution is still correct, 0 from the first error on. */
export function prmTargets(check: SolutionCheck): number[] {
  return check.steps.map((s) => (s.label === 'correct' ? 1 : 0));
}
