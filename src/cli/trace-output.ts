// How a solve trace is shown: one JSON object (the documented `trim solve --json` shape) or a transcript.

import type { SolveTrace, StepRecord } from '../core/solve.ts';

export interface SolveJson {
  problem: string;
  answer: string | null;
  finish: SolveTrace['finish'];
  steps: {
    index: number;
    text: string;
    source: StepRecord['source'];
    score: number | null;
    draft: { text: string; score: number | null; tokens: number } | null;
    tokens: number;
    continuation?: StepRecord['continuation'];
    estimated?: true;
    /** Meant for the strong model, which could not be reached: the weak draft was kept (--on-unreachable hold). */
    held?: StepRecord['held'];
  }[];
  ledger: {
    weakTokens: number;
    strongTokens: number;
    strongCalls: number;
    strongPromptTokens: number;
    discardedDraftTokens: number;
    prmCalls: number;
    sentChars: number;
  };
  policy: SolveTrace['policy'];
  timing: SolveTrace['timing'];
}

const ms = (x: number) => Math.round(x * 10) / 10;

export function traceJson(t: SolveTrace): SolveJson {
  const l = t.ledger;
  return {
    problem: t.problem,
    answer: t.answer,
    finish: t.finish,
    steps: t.steps.map((s) => ({
      index: s.index,
      text: s.text,
      source: s.source,
      score: s.score,
      draft: s.draft ? { text: s.draft.text, score: s.draft.score, tokens: s.draft.tokens } : null,
      tokens: s.tokens,
      ...(s.continuation ? { continuation: s.continuation } : {}),
      ...(s.estimated ? { estimated: true as const } : {}),
      ...(s.held ? { held: s.held } : {}),
    })),
    ledger: {
      weakTokens: l.weakTokens,
      strongTokens: l.strongTokens,
      strongCalls: l.strongCalls,
      strongPromptTokens: l.strongPromptTokens,
      discardedDraftTokens: l.discardedDraftTokens,
      prmCalls: l.prmCalls,
      sentChars: l.sentChars,
    },
    policy: t.policy,
    timing: { totalMs: ms(t.timing.totalMs), draftMs: ms(t.timing.draftMs), scoreMs: ms(t.timing.scoreMs), strongMs: ms(t.timing.strongMs) },
  };
}

const score = (s: number | null) => (s === null ? '  -  ' : s.toFixed(3));
const indent = (text: string) => text.replace(/^/gm, '    ');

export function traceTranscript(t: SolveTrace): string {
  const l = t.ledger;
  const lines = [`Problem: ${t.problem}`, `Policy: ${t.policy.id}${t.policy.knob === null ? '' : ` (${t.policy.knob})`}`, ''];
  for (const s of t.steps) {
    const note = s.continuation === 'instruct' ? ', approximate continuation' : '';
    lines.push(`[${s.index + 1}] ${s.source.padEnd(6)} score ${score(s.score)}  ${s.tokens} tokens${s.estimated ? ' (estimated)' : ''}${note}`);
    if (s.draft) lines.push(`    rejected weak draft (score ${score(s.draft.score)}, ${s.draft.tokens} tokens):`, indent(s.draft.text).replace(/^    /gm, '    | '));
    lines.push(indent(s.text), '');
  }
  lines.push(
    `Answer: ${t.answer ?? '(none)'}   finish: ${t.finish}`,
    `Weak tokens: ${l.weakTokens} kept, ${l.discardedDraftTokens} discarded   Strong: ${l.strongTokens} tokens in ${l.strongCalls} calls (prompt ${l.strongPromptTokens})${l.estimated ? '   some counts estimated' : ''}`,
    `PRM calls: ${l.prmCalls}   Sent: ${l.sentChars} characters in ${l.sentRequests} requests`,
    `Time: ${(t.timing.totalMs / 1000).toFixed(2)} s (draft ${(t.timing.draftMs / 1000).toFixed(2)}, score ${(t.timing.scoreMs / 1000).toFixed(2)}, strong ${(t.timing.strongMs / 1000).toFixed(2)})`,
  );
  return lines.join('\n');
}
