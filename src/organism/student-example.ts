// A student's solution with one mistake, for the page's "Example with a mistake": the problem solved
// correctly, then one step's result written wrong, and the steps after it carried on correctly from the
// wrong value (as a student who slipped once would). Only the slipped step is the first error; the
// checker (checker.ts) labels the rest "after an error".

import type { Rng } from '../core/rng.ts';
import { applyOp, chainValues, MAX_VALUE, parseProblem, stepText } from './task.ts';

export interface MistakeExample {
  problem: string;
  steps: string[];
  /** 0-based index of the wrong step. */
  wrong: number;
}

/**
 * Corrupts one step of the correct solution of `problem` (an organism problem). The wrong step is
 * neither the first nor the last when the chain allows it, so there are steps to trust before it and
 * steps that inherit the mistake after it. Its result is another value in 0..MAX_VALUE.
 */
export function mistakeExample(problem: string, rng: Rng): MistakeExample {
  const chain = parseProblem(problem);
  const n = chain.ops.length;
  const lo = n >= 3 ? 1 : 0;
  const hi = n >= 3 ? n - 2 : n - 1;
  const wrong = lo + Math.floor(rng() * (hi - lo + 1));
  const right = chainValues(chain);
  const others = Array.from({ length: MAX_VALUE + 1 }, (_, v) => v).filter((v) => v !== right[wrong + 1]);
  const values = right.slice(0, wrong + 1);
  values.push(others[Math.floor(rng() * others.length)]!);
  for (let k = wrong + 1; k < n; k++) values.push(applyOp(values[k]!, chain.ops[k]!));
  const steps = chain.ops.map((op, k) => stepText(k + 1, values[k]!, op, values[k + 1]!, k === n - 1));
  return { problem: problem.trim(), steps, wrong };
}
