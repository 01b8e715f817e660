// TRIM-POMDP fitted on labelled routing traces: every draft a policy decided on, with what the policy
// saw (its score, the in-context scores of the accepted steps before it) and a label for it, and every
// accepted step with its source and label. From them: the observation model P(o | state), the weak and
// strong models' step accuracies p_w and p_s, the hazard of the solution ending, and the token count
// of a regeneration. Pure: `trim tune` (and anyone with labelled traces) calls it; the organism's
// traces come from src/organism/traces.ts, where the checker labels them.

import { ConfigError } from '../errors.ts';
import { hazardFromLengths, type PomdpCost, type PomdpModel } from './model.ts';
import { fitObservationModel, type ObservationKind, type ObservationModel, type ObservationSample, type PomdpState } from './observations.ts';

/** A step's label as a checker gives it: right with a right prefix, the first wrong one, or after an error. */
export type TraceStepLabel = 'correct' | 'first-wrong' | 'after-error';

export interface TracedDraft {
  /** The PRM's score of the draft. */
  score: number;
  /** The PRM's in-context scores of the accepted steps before it (strong steps included), as the policy saw them. */
  previous: readonly number[];
  tokens: number;
  /** Characters regenerating this step would have sent off the device (Observation.sendChars), when known. */
  sendChars?: number;
  /** The drafting model's confidence in the draft (Observation.confidence), when it reported one. */
  confidence?: number;
  /** The draft's label as a continuation of the accepted prefix. */
  label: TraceStepLabel;
  decision: 'accept' | 'regenerate';
}

export interface TracedStep {
  source: 'weak' | 'strong';
  /** The accepted step's label. */
  label: TraceStepLabel;
  tokens: number;
  /** The weak draft the policy decided on at this step, when it scored one. */
  draft?: TracedDraft;
}

export interface LabelledTrace {
  id: string;
  steps: readonly TracedStep[];
  correct: boolean;
  strongTokens: number;
  /** Characters the solve sent off the device (its ledger's sentChars), when recorded. */
  sentChars?: number;
}

export interface FitPomdpOptions {
  /** Observation cells per axis (default 20). */
  bins?: number;
  /**
   * What the model observes (default 'score-given-previous': the current score given the last accepted
   * step's, which the Bayes filter needs; 'score': the current score alone; 'min-and-score' is the
   * reference observation, for --belief reference). README, "The plateau".
   */
  observes?: ObservationKind;
  /** Uniform floor mixed into each state's density (default 10⁻³). */
  floor?: number;
  /** Steps of the hazard (default 30). */
  maxSteps?: number;
  /**
   * What λ prices (default 'tokens'). 'sent': characters sent off the device; the model's futureCost is
   * then the mean sendChars of the traces' drafts by step index (shrunk towards a straight line in t,
   * so sparse late steps still grow with t). Needs drafts that record sendChars.
   */
  cost?: PomdpCost;
  /**
   * Fit the confidence channel (the drafting model's confidence, naive Bayes beside the score): 'auto'
   * (default) when every scored draft of the traces carries a confidence, true to require it, false
   * never.
   */
  confidence?: boolean | 'auto';
  source?: string;
}

export interface FittedPomdp {
  /** p_w, p_s, hazard, reward 1, futureTokens: what solvePomdp and pomdpPolicy take. */
  model: PomdpModel;
  observations: ObservationModel;
  /** What the fit counted, for reports. */
  stats: {
    traces: number;
    drafts: number;
    /** Drafts per state: S0 (right, right prefix), S1 (after an error), S2 (first wrong). */
    draftsByState: [number, number, number];
    strongSteps: number;
    strongWrong: number;
  };
}

const STATE: Record<TraceStepLabel, PomdpState> = { correct: 0, 'after-error': 1, 'first-wrong': 2 };

/** The observation the policy saw for a draft: (min of the previous in-context scores, or 1; the draft's score). */
export function draftObservation(d: Pick<TracedDraft, 'score' | 'previous'>): { minPrevious: number; lastPrevious: number; score: number } {
  let min = 1;
  for (const p of d.previous) min = Math.min(min, p);
  return { minPrevious: min, lastPrevious: d.previous.length ? d.previous[d.previous.length - 1]! : 1, score: d.score };
}

/**
 * Fits TRIM-POMDP on labelled traces (of any policy: weak-only with scores, Thr at a few thresholds…).
 * p_w: share of right drafts among drafts written after a right prefix; p_s: the same for strong steps,
 * with half a pseudo-error so that a strong model never seen wrong is not taken as infallible; the
 * hazard from the accepted solutions' lengths; futureTokens: mean tokens of a strong step (of a draft
 * when no strong step was taken).
 */
export function fitPomdpFromTraces(traces: readonly LabelledTrace[], opts: FitPomdpOptions = {}): FittedPomdp {
  if (traces.length === 0) throw new ConfigError('No traces to fit the POMDP on: solve some tuning problems first.');
  const samples: ObservationSample[] = [];
  const byState: [number, number, number] = [0, 0, 0];
  let strongSteps = 0;
  let strongWrong = 0;
  let strongTokens = 0;
  let draftTokens = 0;
  for (const tr of traces) {
    for (const s of tr.steps) {
      if (s.draft) {
        const state = STATE[s.draft.label];
        if (state === undefined) throw new ConfigError(`Trace "${tr.id}": unknown step label ${JSON.stringify(s.draft.label)}.`);
        samples.push({ ...draftObservation(s.draft), ...(s.draft.confidence !== undefined ? { confidence: s.draft.confidence } : {}), state });
        byState[state]++;
        draftTokens += s.draft.tokens;
      }
      if (s.source === 'strong') {
        strongTokens += s.tokens;
        if (s.label !== 'after-error') {
          strongSteps++;
          if (s.label === 'first-wrong') strongWrong++;
        }
      }
    }
  }
  const drafts = samples.length;
  if (byState[0] + byState[2] === 0) throw new ConfigError('The traces hold no scored draft after a right prefix: p_w cannot be fitted.');
  const pw = byState[0] / (byState[0] + byState[2]);
  const ps = strongSteps > 0 ? (strongSteps - strongWrong) / (strongSteps + 0.5) : 0.97;
  const lengths = traces.map((t) => t.steps.length).filter((l) => l > 0);
  const hazard = hazardFromLengths(lengths, opts.maxSteps ?? 30);
  const totalStrong = traces.reduce((a, t) => a + t.steps.filter((s) => s.source === 'strong').length, 0);
  const futureTokens = totalStrong > 0 ? strongTokens / totalStrong : drafts > 0 ? draftTokens / drafts : 60;
  const cost = opts.cost ?? 'tokens';
  const sentCost = cost === 'sent' ? { cost, futureCost: futureCharsByStep(traces, hazard.length) } : {};
  const withConfidence = samples.filter((x) => x.confidence !== undefined).length;
  const wantConfidence = opts.confidence ?? 'auto';
  if (wantConfidence === true && withConfidence === 0)
    throw new ConfigError(
      "No draft of these traces carries the drafting model's confidence: solve them with a weak model that reports it (the organism's and the in-browser models do), or fit without the confidence channel.",
    );
  const confidence = wantConfidence === true || (wantConfidence === 'auto' && drafts > 0 && withConfidence === drafts);
  const observations = fitObservationModel(samples, {
    confidence,
    ...(opts.bins !== undefined ? { bins: opts.bins } : {}),
    ...(opts.floor !== undefined ? { floor: opts.floor } : {}),
    observes: opts.observes ?? 'score-given-previous',
    hazard,
    source: opts.source ?? `fitted on ${traces.length} labelled traces (${drafts} scored drafts)`,
  });
  return {
    model: { pw: clampOpen(pw), ps: Math.min(1, Math.max(1e-6, ps)), hazard, reward: 1, futureTokens, ...sentCost },
    observations,
    stats: { traces: traces.length, drafts, draftsByState: byState, strongSteps, strongWrong },
  };
}

/** p_w must be strictly inside (0, 1) for the model; a sample that never errs (or never succeeds) is nudged in. */
function clampOpen(p: number): number {
  return Math.min(1 - 1e-6, Math.max(1e-6, p));
}

/** Pseudo-samples of the straight-line fit mixed into each step's mean (sparse late steps lean on the line). */
const LINE_PRIOR = 5;

/**
 * Expected characters a regeneration at step t sends, t = 1…maxSteps: each step's mean of the drafts'
 * sendChars, shrunk towards a least-squares line a + b·t over all of them. Every request carries the
 * accepted prefix, so the line rises and a late step's regeneration is priced above an early one's.
 */
export function futureCharsByStep(traces: readonly LabelledTrace[], maxSteps: number): number[] {
  const sum = new Array<number>(maxSteps).fill(0);
  const n = new Array<number>(maxSteps).fill(0);
  let count = 0;
  let st = 0;
  let sc = 0;
  let stt = 0;
  let stc = 0;
  for (const tr of traces)
    tr.steps.forEach((s, i) => {
      const c = s.draft?.sendChars;
      if (c === undefined) return;
      const t = i + 1;
      const k = Math.min(maxSteps, t) - 1;
      sum[k] = sum[k]! + c;
      n[k] = n[k]! + 1;
      count++;
      st += t;
      sc += c;
      stt += t * t;
      stc += t * c;
    });
  if (count === 0)
    throw new ConfigError(
      'Cost "sent" needs the characters each regeneration would send (the drafts\' sendChars), which these traces do not record: solve them with a remote strong model, or fit with cost "tokens".',
    );
  const varT = stt - (st * st) / count;
  const slope = varT > 0 ? (stc - (st * sc) / count) / varT : 0;
  const intercept = (sc - slope * st) / count;
  const line = (t: number) => Math.max(0, intercept + slope * t);
  return sum.map((s, k) => (s + LINE_PRIOR * line(k + 1)) / (n[k]! + LINE_PRIOR));
}
