// Runs every (problem, operating point) job of an evaluation through solve(), a few at a time, and
// hands each finished one over as a result row. Runs that fail (a server that stays down, a refused
// request) are reported and not recorded, so a later --resume retries them; runs cut short by an abort
// are in flight and likewise not recorded.

import { errorMessage } from '../core/errors.ts';
import { deriveSeed } from '../core/rng.ts';
import { solveToTrace, type SolveTrace } from '../core/solve.ts';
import { joinSteps, type Limits } from '../core/steps.ts';
import type { RoutingPolicy, Sampling, StepModel, StepScorer } from '../core/types.ts';
import type { EvalProblem } from './datasets.ts';
import type { ResultRow } from './summary.ts';

/** One operating point: a policy name and its knob (null for the baselines). */
export interface OperatingPoint {
  policy: string;
  knob: number | null;
}

export interface EvalJob {
  problem: EvalProblem;
  point: OperatingPoint;
}

export interface Graded {
  correct: boolean;
  extracted: string | null;
}

export interface RunnerOptions {
  weak: StepModel;
  strong: StepModel;
  prm?: StepScorer;
  /** A fresh policy for an operating point; the seed is the problem's. */
  policyFor(point: OperatingPoint, seed: number): RoutingPolicy;
  grade(solution: string, problem: EvalProblem): Graded;
  limits?: Partial<Limits>;
  sampling?: Sampling;
  /** Base seed; each problem runs with deriveSeed(seed, id) at every operating point. */
  seed: number;
  concurrency: number;
  signal?: AbortSignal;
  /** Extra fields for a finished run's row (what `trim tune` keeps for labelling: step texts, observations). */
  extendRow?(job: EvalJob, trace: SolveTrace): Record<string, unknown>;
  /** Called once per finished run, in completion order; a throw stops the evaluation. */
  onResult(row: ResultRow): void;
  onFailure(job: EvalJob, message: string): void;
}

export interface RunnerOutcome {
  finished: number;
  failed: number;
  /** Jobs not finished because the run was aborted. */
  interrupted: number;
}

/** The seed a problem runs with: the same at every operating point, so points differ only by policy. */
export function problemSeed(base: number, id: string): number {
  return deriveSeed(base, id);
}

export async function runJobs(jobs: readonly EvalJob[], o: RunnerOptions): Promise<RunnerOutcome> {
  const outcome: RunnerOutcome = { finished: 0, failed: 0, interrupted: 0 };
  let next = 0;
  let fatal: unknown = null;
  const worker = async () => {
    while (next < jobs.length && fatal === null) {
      const job = jobs[next++]!;
      if (o.signal?.aborted) {
        outcome.interrupted++;
        continue;
      }
      try {
        const trace = await runOne(job, o);
        if (trace.finish === 'aborted') outcome.interrupted++;
        else if (trace.finish === 'error') {
          outcome.failed++;
          o.onFailure(job, trace.error ?? 'the run failed');
        } else {
          o.onResult(toRow(job, trace, o));
          outcome.finished++;
        }
      } catch (err) {
        // onResult failing (the disk is full…) or a bug: stop handing out work, report it once.
        fatal ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, jobs.length)) }, worker));
  if (fatal !== null) throw fatal;
  return outcome;
}

async function runOne(job: EvalJob, o: RunnerOptions): Promise<SolveTrace> {
  const seed = problemSeed(o.seed, job.problem.id);
  return solveToTrace(job.problem.problem, {
    weak: o.weak,
    strong: o.strong,
    ...(o.prm ? { prm: o.prm } : {}),
    policy: o.policyFor(job.point, seed),
    ...(o.limits ? { limits: o.limits } : {}),
    sampling: { ...o.sampling, seed },
    seed,
    ...(o.signal ? { signal: o.signal } : {}),
  });
}

function toRow(job: EvalJob, trace: SolveTrace, o: RunnerOptions): ResultRow {
  const solution = joinSteps(trace.steps.map((s) => s.text));
  let graded: Graded;
  let gradeError: string | undefined;
  try {
    graded = o.grade(solution, job.problem);
  } catch (err) {
    // The solution is kept and counted wrong; the row says why, so a grader fix can regrade it.
    graded = { correct: false, extracted: null };
    gradeError = errorMessage(err);
  }
  const { correct, extracted } = graded;
  const l = trace.ledger;
  return {
    id: job.problem.id,
    policy: job.point.policy,
    knob: job.point.knob,
    correct,
    extracted,
    gold: job.problem.gold.answer,
    strongTokens: l.strongTokens,
    weakTokens: l.weakTokens,
    strongCalls: l.strongCalls,
    steps: trace.steps.map((s) => ({
      source: s.source,
      score: s.score,
      tokens: s.tokens,
      ...(s.confidence !== undefined ? { confidence: s.confidence } : {}),
      ...(s.draft ? { draft: { score: s.draft.score, tokens: s.draft.tokens, ...(s.draft.confidence !== undefined ? { confidence: s.draft.confidence } : {}) } } : {}),
      ...(s.sentChars ? { sent: s.sentChars } : {}),
    })),
    timing: roundTiming(trace.timing),
    finish: trace.finish,
    discardedTokens: l.discardedDraftTokens,
    strongPromptTokens: l.strongPromptTokens,
    prmCalls: l.prmCalls,
    sentChars: l.sentChars,
    seed: problemSeed(o.seed, job.problem.id),
    ...(gradeError ? { gradeError } : {}),
    ...(o.extendRow ? o.extendRow(job, trace) : {}),
  };
}

/** Tenths of a millisecond are all the precision wall-clock timing has. */
function roundTiming(t: SolveTrace['timing']): SolveTrace['timing'] {
  const r = (ms: number) => Math.round(ms * 10) / 10;
  return { totalMs: r(t.totalMs), draftMs: r(t.draftMs), scoreMs: r(t.scoreMs), strongMs: r(t.strongMs) };
}
