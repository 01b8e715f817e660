// An oracle "PRM" for the organism, for measuring headroom only: it scores a step 1 when the checker
// says it is right (given the steps before it) and 0 otherwise. TRIM-Thr at any threshold in (0, 1)
// with it routes exactly the wrong drafts. It needs the answer key (the problem's chain), so it is an
// evaluation tool, never a router a user can run.

import type { StepScorer } from '../core/types.ts';
import { checkSolution } from './checker.ts';

export function checkerOracle(): StepScorer {
  return {
    id: 'oracle:organism-checker',
    where: 'device',
    async score(r) {
      return checkSolution(r.problem, r.steps).steps.map((s) => (s.label === 'correct' ? 1 : 0));
    },
  };
}

/**
 * The oracle's cost curve: from the oracle's runs (each problem's strong tokens when exactly its wrong
 * drafts were routed, and whether it then ended right), the problems are fixed cheapest first, which is
 * the least a router that fixes a problem only by routing its wrong drafts can pay for each accuracy.
 * Points are (mean strong tokens per problem, accuracy), from weak-only's (0, weakAccuracy) on.
 */
export function oracleCurve(runs: readonly { strongTokens: number; correct: boolean }[], weakAccuracy: number): { strongTokens: number; accuracy: number }[] {
  const n = runs.length;
  const out = [{ strongTokens: 0, accuracy: weakAccuracy }];
  let spent = 0;
  let right = runs.filter((r) => r.strongTokens === 0 && r.correct).length;
  // A routed problem whose run still ended wrong gains nothing; its tokens count where it falls.
  for (const r of runs.filter((x) => x.strongTokens > 0).sort((a, b) => a.strongTokens - b.strongTokens)) {
    spent += r.strongTokens;
    if (r.correct) right++;
    out.push({ strongTokens: spent / n, accuracy: Math.max(weakAccuracy, right / n) });
  }
  return out;
}
