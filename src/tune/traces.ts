// What `trim tune` keeps of each solve so that its steps can be labelled and a router fitted on them:
// the accepted steps' texts, the rejected drafts' texts and every decision with the observation the
// policy saw. They ride in the run's result row (results.jsonl), so a killed tune loses only what was in
// flight, and labelling reads them back from the file.

import type { LabelledTrace, TraceStepLabel, TracedStep } from '../core/pomdp/fit.ts';
import type { SolveTrace } from '../core/solve.ts';
import { recordingPolicy } from '../core/policies/recording.ts';
import type { Decision, RoutingPolicy } from '../core/types.ts';
import type { ResultRow } from '../eval/summary.ts';

export interface TracedDecision {
  t: number;
  score: number;
  previous: number[];
  tokens: number;
  /** Characters regenerating would have sent off the device (Observation.sendChars), when known. */
  sendChars?: number;
  /** The drafting model's own confidence in the draft (Observation.confidence), when its backend reports it. */
  confidence?: number;
  decision: Decision;
}

/** The fields `trim tune` adds to a result row. */
export interface TuneFields {
  texts: string[];
  /** The rejected weak draft of each step, null where the step's own text was the draft. */
  draftTexts: (string | null)[];
  decisions: TracedDecision[];
}

export type TunedRow = ResultRow & Partial<TuneFields>;

/** Records what a policy decides, per episode seed, for the row of that run. */
export class DecisionRecorder {
  private readonly logs = new Map<string, TracedDecision[]>();

  /** The policy, recording its decisions under `key` (one run: operating point and problem seed). */
  wrap(policy: RoutingPolicy, key: string): RoutingPolicy {
    const log: TracedDecision[] = [];
    this.logs.set(key, log);
    return recordingPolicy(policy, (o, decision) => {
      log.push({ t: o.t, score: o.score, previous: [...o.previous], tokens: o.draftTokens, ...(o.sendChars !== undefined ? { sendChars: o.sendChars } : {}), ...(o.confidence !== undefined ? { confidence: o.confidence } : {}), decision });
    });
  }

  /** The row fields of a finished run; its log is released. */
  fields(key: string, trace: SolveTrace): TuneFields {
    const decisions = this.logs.get(key) ?? [];
    this.logs.delete(key);
    return { texts: trace.steps.map((s) => s.text), draftTexts: trace.steps.map((s) => s.draft?.text ?? null), decisions };
  }
}

/** A policy that scores every draft and keeps it: the weak model's own solution, with the PRM's view of each step. */
export function scoreEverythingPolicy(): RoutingPolicy {
  return { id: 'weak-only', knob: null, episode: () => ({ plan: () => 'score', decide: () => 'accept' }) };
}

/** Labels of one solve: each accepted step's, and each decided draft's (as a continuation of its prefix). */
export interface RowLabels {
  steps: TraceStepLabel[];
  /** By step t (1-based), for the steps where a draft was decided on. */
  drafts: Record<number, TraceStepLabel>;
}

/** A row and its labels as the trace the POMDP fit takes. */
export function labelledTrace(row: TunedRow, labels: RowLabels): LabelledTrace {
  const byT = new Map((row.decisions ?? []).map((d) => [d.t, d]));
  const steps: TracedStep[] = row.steps.map((s, i) => {
    const d = byT.get(i + 1);
    const draftLabel = labels.drafts[i + 1];
    return {
      source: s.source,
      label: labels.steps[i] ?? 'after-error',
      tokens: s.tokens,
      ...(d && draftLabel ? { draft: { score: d.score, previous: d.previous, tokens: d.tokens, ...(d.sendChars !== undefined ? { sendChars: d.sendChars } : {}), ...(d.confidence !== undefined ? { confidence: d.confidence } : {}), label: draftLabel, decision: d.decision } } : {}),
    };
  });
  return { id: `${row.id}|${row.policy}|${row.knob}`, steps, correct: row.correct, strongTokens: row.strongTokens };
}

/** ProcessBench-style labels (index of the first wrong step, −1 for none) as per-step labels. */
export function labelsFromFirstError(n: number, firstError: number): TraceStepLabel[] {
  return Array.from({ length: n }, (_, i) => (firstError < 0 || i < firstError ? 'correct' : i === firstError ? 'first-wrong' : 'after-error'));
}
