// Runs a real RoutingPolicy on a simulated world, following solve()'s contract step by step (plan,
// draft, score, decide, rewrite) and producing the same per-problem record `trim eval` writes, so the
// summary, the calibration and the trainers cannot tell simulated results from real ones.

import type { Observation, PolicyEpisode, RoutingPolicy } from '../types.ts';
import { StepState, stepsOf, type SimWorld } from './world.ts';

export interface SimStep {
  source: 'weak' | 'strong';
  /** PRM score of the kept text, null when no PRM call ever covered it (as in a real trace). */
  score: number | null;
  tokens: number;
  /** The scored weak draft a strong step replaced. */
  draft?: { score: number; tokens: number };
  /** Characters that left the device for this step (strong request, remote PRM); absent when none did. */
  sent?: number;
}

/** A results.jsonl row of `trim eval` (src/eval/summary.ts ResultRow), for a simulated problem. */
export interface SimRow {
  id: string;
  policy: string;
  knob: number | null;
  correct: boolean;
  /** A simulated problem has no answer text. */
  extracted: null;
  gold: string;
  strongTokens: number;
  weakTokens: number;
  strongCalls: number;
  steps: SimStep[];
  timing: { totalMs: number; draftMs: number; scoreMs: number; strongMs: number };
  finish: 'boxed';
  discardedTokens: number;
  prmCalls: number;
  /** Characters sent off the device for the whole problem (params.sent's model). */
  sentChars: number;
  seed: number;
}

const NO_TIME = { totalMs: 0, draftMs: 0, scoreMs: 0, strongMs: 0 } as const;

/** Solves simulated problem i with the policy; `seed` seeds the policy's episode. */
export function runProblem(w: SimWorld, i: number, policy: RoutingPolicy, seed = i): SimRow {
  const episode: PolicyEpisode = policy.episode(seed);
  const first = w.offset[i]!;
  const n = stepsOf(w, i);
  const steps: SimStep[] = [];
  // Scores of the accepted steps as the PRM would re-score them with every later draft.
  const previous: number[] = [];
  let scoredUpTo = 0;
  let broken = false;
  let strongTokens = 0;
  let weakTokens = 0;
  let strongCalls = 0;
  let discardedTokens = 0;
  let prmCalls = 0;
  const text = w.params.sent;
  // Characters of the problem and the accepted prefix: what every remote request carries.
  let prefixChars = text.problemChars;
  let sentChars = 0;

  for (let t = 1; t <= n; t++) {
    const k = first + t - 1;
    const state = broken ? StepState.After : null;
    const weakState = state ?? (w.weakOk[k] ? StepState.Ok : StepState.First);
    const plan = episode.plan(t);
    let useStrong = plan === 'strong';
    let draftScore: number | null = null;
    let sent = 0;
    if (plan === 'score') {
      prmCalls++;
      if (text.prmRemote) sent += prefixChars + w.weakTokens[k]! * text.charsPerToken;
      draftScore = w.weakScore[3 * k + weakState]!;
      // Regenerating sends the problem and the accepted prefix (the simulator's characters-sent model).
      const o: Observation = { t, score: draftScore, previous: previous.slice(), draftTokens: w.weakTokens[k]!, strongTokens, budgetLeft: null, sendChars: prefixChars };
      useStrong = episode.decide(o) === 'regenerate';
      // The call scored every accepted step too: they now have scores in the trace.
      for (; scoredUpTo < steps.length; scoredUpTo++) steps[scoredUpTo]!.score = previous[scoredUpTo]!;
    }
    let kept: SimStep;
    let keptState: number;
    let keptScore: number;
    if (useStrong) {
      if (plan === 'score') discardedTokens += w.weakTokens[k]!;
      keptState = state ?? (w.strongOk[k] ? StepState.Ok : StepState.First);
      keptScore = w.strongScore[3 * k + keptState]!;
      kept = { source: 'strong', score: null, tokens: w.strongTokens[k]! };
      if (draftScore !== null) kept.draft = { score: draftScore, tokens: w.weakTokens[k]! };
      sent += prefixChars;
      strongTokens += kept.tokens;
      strongCalls++;
    } else {
      keptState = weakState;
      keptScore = w.weakScore[3 * k + weakState]!;
      kept = { source: 'weak', score: draftScore, tokens: w.weakTokens[k]! };
      weakTokens += kept.tokens;
      if (draftScore !== null) scoredUpTo = steps.length + 1;
    }
    if (sent > 0) kept.sent = sent;
    sentChars += sent;
    prefixChars += kept.tokens * text.charsPerToken;
    steps.push(kept);
    previous.push(keptScore);
    if (keptState !== StepState.Ok) broken = true;
  }
  return {
    id: `sim-${i}`,
    policy: policy.id,
    knob: policy.knob,
    correct: !broken || w.luck[i]! < w.params.lucky,
    extracted: null,
    gold: '',
    strongTokens,
    weakTokens,
    strongCalls,
    steps,
    timing: { ...NO_TIME },
    finish: 'boxed',
    discardedTokens,
    prmCalls,
    sentChars,
    seed,
  };
}

/** Runs every problem of the world (or the first `limit`) under one policy. */
export function runWorld(w: SimWorld, policy: RoutingPolicy, limit = w.size): SimRow[] {
  const rows: SimRow[] = new Array(Math.min(limit, w.size));
  for (let i = 0; i < rows.length; i++) rows[i] = runProblem(w, i, policy);
  return rows;
}
