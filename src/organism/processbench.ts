// A ProcessBench-shaped set from the organism: a step model (the weak one) solves organism problems, and
// the checker labels each solution with its first wrong step, or -1 when every step is right. The weak
// model is right about half the time, so the set holds both kinds in about equal numbers, and its
// errors are the model's own, as ProcessBench's are. `trim eval --task first-error` reads the result.

import { createPolicy } from '../core/policies/index.ts';
import { deriveSeed } from '../core/rng.ts';
import { solveToTrace } from '../core/solve.ts';
import type { Sampling, StepModel } from '../core/types.ts';
import { checkSolution } from './checker.ts';

export interface OrganismProblem {
  id: string;
  problem: string;
}

export interface LabelledRecord {
  id: string;
  problem: string;
  steps: string[];
  /** First wrong step (0-based), or -1. */
  label: number;
  /** The final answer is right (the checker's grade), as ProcessBench's final_answer_correct. */
  final_answer_correct: boolean;
  generator: string;
}

export interface LabelOptions {
  samples: number;
  seed: number;
  sampling: Sampling;
  onRecord?: (r: LabelledRecord) => void;
}

/** `samples` solutions per problem, each labelled; ids are "<problem id>#<sample>". */
export async function labelledSolutions(model: StepModel, problems: readonly OrganismProblem[], o: LabelOptions): Promise<LabelledRecord[]> {
  const out: LabelledRecord[] = [];
  for (const p of problems) {
    for (let k = 0; k < o.samples; k++) {
      const seed = deriveSeed(o.seed, `${p.id}#${k}`);
      const trace = await solveToTrace(p.problem, {
        weak: model,
        strong: model, // never called: the weak-only policy keeps every draft
        policy: createPolicy('weak-only'),
        limits: { maxSteps: 12, maxStepTokens: 48 },
        sampling: { ...o.sampling, seed },
        seed,
      });
      if (trace.finish === 'error') throw new Error(trace.error ?? `solving ${p.id} failed`);
      const steps = trace.steps.map((s) => s.text);
      if (!steps.length) continue;
      const check = checkSolution(p.problem, steps);
      const record: LabelledRecord = {
        id: `${p.id}#${k}`,
        problem: p.problem,
        steps,
        label: check.firstError ?? -1,
        final_answer_correct: check.correct,
        generator: model.id,
      };
      out.push(record);
      o.onRecord?.(record);
    }
  }
  return out;
}
