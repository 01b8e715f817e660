// One step of a solution as a list item: who wrote it (on device / remote), its PRM score, and for a
// regenerated step the discarded draft behind a <details>. Used for live runs and for history alike.

import type { StepRecord } from '../../core/solve.ts';
import type { Where } from '../../core/types.ts';
import { h } from '../dom.ts';
import { setMathText } from '../math-render.ts';
import { holdMessage, type Hold } from '../remote-gate.ts';
import type { StepTiming } from '../step-clock.ts';

/** Where a step was written: the small model is always on the device; the strong model may be too. */
export function whereOf(source: 'weak' | 'strong', strongWhere: Where | null): Where {
  return source === 'weak' ? 'device' : (strongWhere ?? 'remote');
}

export function whereLabel(source: 'weak' | 'strong', strongWhere: Where | null): string {
  if (source === 'weak') return 'On device';
  return whereOf(source, strongWhere) === 'device' ? 'Strong model, on device' : 'Remote';
}

export function scoreLabel(score: number | null): string {
  return score === null || Number.isNaN(score) ? 'PRM –' : `PRM ${score.toFixed(2)}`;
}

export function stepItem(step: StepRecord, hold: Hold | undefined, strongWhere: Where | null, timing?: StepTiming): HTMLLIElement {
  const text = h('div', { class: 'step-text' });
  setMathText(text, step.text);
  const notes = [
    step.continuation === 'instruct' ? 'approximate continuation (the server cannot continue a prefix exactly)' : null,
    step.estimated ? 'token count estimated' : null,
  ].filter(Boolean);
  const li = h(
    'li',
    {
      class: `step step-${step.source}`,
      'data-source': step.source,
      'data-where': whereOf(step.source, strongWhere),
      'data-index': step.index,
      ...(hold ? { 'data-held': hold.reason } : {}),
    },
    h(
      'div',
      { class: 'step-meta' },
      h('span', { class: `where where-${step.source}` }, whereLabel(step.source, strongWhere)),
      h('span', { class: 'score', 'data-field': 'score' }, scoreLabel(step.score)),
      h('span', { class: 'tokens' }, `${step.tokens} tokens`),
      notes.length ? h('span', { class: 'note' }, notes.join('; ')) : null,
      timing && timingLabel(timing, strongWhere)
        ? h('span', { class: 'timing', 'data-field': 'timing', title: 'Where this step’s time went' }, timingLabel(timing, strongWhere))
        : null,
    ),
    hold ? h('p', { class: 'held' }, holdMessage(hold.reason)) : null,
    text,
  );
  if (step.draft) li.append(draftDetails(step.draft.text, step.draft.score, step.draft.tokens));
  return li;
}

export function draftDetails(text: string, score: number | null, tokens: number): HTMLDetailsElement {
  const body = h('div', { class: 'draft-text' });
  setMathText(body, text);
  return h('details', { class: 'draft' }, h('summary', {}, `Discarded draft from the device · ${scoreLabel(score)} · ${tokens} tokens`), body);
}

const seconds = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : `${(ms / 1000).toFixed(1)} s`);

/** "drafting 1.2 s · scoring 0.4 s · remote 2.1 s": where the step's time went; phases it skipped are left out. */
export function timingLabel(t: StepTiming, strongWhere: Where | null): string {
  const parts = [
    t.draft > 0 ? `drafting ${seconds(t.draft)}` : null,
    t.score > 0 ? `scoring ${seconds(t.score)}` : null,
    t.strong > 0 ? `${(strongWhere ?? 'remote') === 'remote' ? 'remote' : 'strong model'} ${seconds(t.strong)}` : null,
  ];
  return parts.filter(Boolean).join(' · ');
}
