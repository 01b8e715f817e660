// Labelled routing traces of the organism: a policy solves organism problems with real models, and
// every decision is recorded with what the policy saw (score, previous scores, draft tokens, the weak
// model's confidence when it reports one) and what
// the checker says of the draft and of the accepted prefix. These are the traces the POMDP is fitted
// on (src/core/pomdp/fit.ts) and the ones its beliefs are diagnosed on; the labels need the checker,
// so they exist for the organism (and any task with a checker), not for a user's problems.

import { problemSeed } from '../eval/runner.ts';
import { solveToTrace } from '../core/solve.ts';
import { recordingPolicy } from '../core/policies/recording.ts';
import type { Decision, Observation, RoutingPolicy, Sampling, StepModel, StepScorer } from '../core/types.ts';
import type { TracedStep, LabelledTrace } from '../core/pomdp/fit.ts';
import { checkSolution } from './checker.ts';

export interface TraceProblem {
  id: string;
  problem: string;
}

export interface TraceOptions {
  weak: StepModel;
  strong: StepModel;
  prm: StepScorer;
  policy: RoutingPolicy;
  /** The eval's base seed: problem p runs with problemSeed(seed, p.id), as `trim eval` runs it. */
  seed: number;
  sampling: Sampling;
  onTrace?: (t: LabelledTrace) => void;
}

/** Solves each problem under the policy and labels every draft and accepted step with the checker. */
export async function organismTraces(problems: readonly TraceProblem[], o: TraceOptions): Promise<LabelledTrace[]> {
  const out: LabelledTrace[] = [];
  for (const p of problems) {
    const log: { o: Observation; d: Decision }[] = [];
    const seed = problemSeed(o.seed, p.id);
    const trace = await solveToTrace(p.problem, {
      weak: o.weak,
      strong: o.strong,
      prm: o.prm,
      policy: recordingPolicy(o.policy, (obs, d) => log.push({ o: { ...obs, previous: [...obs.previous] }, d })),
      sampling: { ...o.sampling, seed },
      seed,
    });
    if (trace.finish === 'error') throw new Error(trace.error ?? `solving ${p.id} failed`);
    const texts = trace.steps.map((s) => s.text);
    const accepted = checkSolution(p.problem, texts);
    const steps: TracedStep[] = trace.steps.map((s, i) => {
      const decided = log.find((l) => l.o.t === i + 1);
      // The draft is labelled as a continuation of the accepted prefix it was written after.
      const draftText = s.draft?.text ?? (s.source === 'weak' ? s.text : null);
      const draftLabel = draftText === null ? null : checkSolution(p.problem, [...texts.slice(0, i), draftText]).steps[i]!.label;
      return {
        source: s.source,
        label: accepted.steps[i]!.label,
        tokens: s.tokens,
        ...(decided
          ? {
              draft: {
                score: decided.o.score,
                previous: decided.o.previous,
                tokens: decided.o.draftTokens,
                ...(decided.o.sendChars !== undefined ? { sendChars: decided.o.sendChars } : {}),
                ...(decided.o.confidence !== undefined ? { confidence: decided.o.confidence } : {}),
                label: draftLabel!,
                decision: decided.d,
              },
            }
          : {}),
      };
    });
    const t: LabelledTrace = { id: p.id, steps, correct: accepted.correct, strongTokens: trace.ledger.strongTokens, sentChars: trace.ledger.sentChars };
    out.push(t);
    o.onTrace?.(t);
  }
  return out;
}
