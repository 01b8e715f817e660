// Where `trim tune` gets its step labels (which drafts were right), in order of preference:
//  - a checker, where the task has one (the organism: src/organism/checker.ts labels every step exactly);
//  - labels the user gives, ProcessBench's layout ({problem, steps, label}: index of the first wrong
//    step, or −1), scored by the user's PRM;
//  - otherwise only the final answers: Monte-Carlo rollouts with the strong model, as Math-Shepherd
//    labels steps. A prefix is "good" when the strong model, continuing from it, reaches the gold
//    answer in any of N rollouts. A weak solution whose answer is right is labelled all-correct; for a
//    wrong one the first wrong step is found by binary search over prefix lengths (good(0) must hold —
//    a problem the strong model cannot solve from scratch has no label and is left out —, the whole
//    wrong solution is bad), so a solution of n steps costs about log2(n) × N rollouts. Binary search
//    assumes a good prefix's own prefixes are good, which is what "first error" means; a rollout that
//    fails by bad luck moves the label earlier, which is why N > 1 helps.

import { hasBoxed, joinSteps, type Limits } from '../core/steps.ts';
import type { Sampling, StepModel } from '../core/types.ts';
import type { TraceStepLabel } from '../core/pomdp/fit.ts';
import { checkSolution } from '../organism/checker.ts';
import { parseProblem } from '../organism/task.ts';
import { labelsFromFirstError, type RowLabels, type TunedRow } from './traces.ts';

/** Whether every problem is an organism problem (then the checker labels them). */
export function isOrganismData(problems: readonly { problem: string }[]): boolean {
  if (problems.length === 0) return false;
  try {
    for (const p of problems) parseProblem(p.problem);
    return true;
  } catch {
    return false;
  }
}

/** The checker's labels of a solve's accepted steps and decided drafts. */
export function organismRowLabels(problem: string, row: TunedRow): RowLabels {
  const texts = row.texts ?? [];
  const check = checkSolution(problem, texts);
  const steps = check.steps.map((s) => s.label);
  const drafts: Record<number, TraceStepLabel> = {};
  for (const d of row.decisions ?? []) {
    const i = d.t - 1;
    const draftText = d.decision === 'accept' ? texts[i] : row.draftTexts?.[i];
    if (draftText === undefined || draftText === null) continue;
    drafts[d.t] = d.decision === 'accept' ? steps[i]! : checkSolution(problem, [...texts.slice(0, i), draftText]).steps[i]!.label;
  }
  return { steps, drafts };
}

export interface RolloutOptions {
  strong: StepModel;
  limits: Limits;
  sampling: Sampling;
  /** Rollouts per prefix; the prefix is good when any reaches the gold answer. */
  rollouts: number;
  grade(solution: string): boolean;
  signal?: AbortSignal;
}

export interface RolloutLabels {
  /** Null when the strong model could not solve the problem from scratch: no label. */
  labels: RowLabels | null;
  strongTokens: number;
  rollouts: number;
}

/** The strong model continues `prefix` to the end; whether it reaches the gold answer, and its tokens. */
async function rollout(problem: string, prefix: readonly string[], seed: number, o: RolloutOptions): Promise<{ correct: boolean; tokens: number }> {
  const steps = [...prefix];
  let tokens = 0;
  // A prefix that already holds the final answer is judged as it stands.
  if (steps.some((s) => hasBoxed(s))) return { correct: o.grade(joinSteps(steps)), tokens };
  while (steps.length < o.limits.maxSteps) {
    const r = await o.strong.next({ problem, steps, maxTokens: o.limits.maxStepTokens, sampling: { ...o.sampling, seed }, ...(o.signal ? { signal: o.signal } : {}) });
    tokens += r.completionTokens;
    if (r.text.trim()) steps.push(r.text);
    if (hasBoxed(r.text) || r.finish !== 'step') break;
  }
  return { correct: o.grade(joinSteps(steps)), tokens };
}

/** Monte-Carlo labels of a weak-only solve (every draft kept), Math-Shepherd style with binary search. */
export async function rolloutRowLabels(problem: string, row: TunedRow, seed: number, o: RolloutOptions): Promise<RolloutLabels> {
  const texts = row.texts ?? [];
  const n = texts.length;
  const label = (firstError: number): RowLabels => {
    const steps = labelsFromFirstError(n, firstError);
    const drafts: Record<number, TraceStepLabel> = {};
    for (const d of row.decisions ?? []) if (d.decision === 'accept' && steps[d.t - 1]) drafts[d.t] = steps[d.t - 1]!;
    return { steps, drafts };
  };
  if (row.correct) return { labels: label(-1), strongTokens: 0, rollouts: 0 };
  let strongTokens = 0;
  let rollouts = 0;
  const good = async (k: number): Promise<boolean> => {
    for (let i = 0; i < o.rollouts; i++) {
      const r = await rollout(problem, texts.slice(0, k), seed + 7919 * (k * o.rollouts + i + 1), o);
      strongTokens += r.tokens;
      rollouts++;
      if (r.correct) return true;
    }
    return false;
  };
  if (n === 0 || !(await good(0))) return { labels: null, strongTokens, rollouts };
  let lo = 0;
  let hi = n;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (await good(mid)) lo = mid;
    else hi = mid;
  }
  return { labels: label(hi - 1), strongTokens, rollouts };
}
