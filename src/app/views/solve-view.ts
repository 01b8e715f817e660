// The solution as it is written: one list item per step, growing live while the models stream, then
// replaced by the finished step (with math rendered). Also shows a stored record from the history.

import type { SolveEvent } from '../../core/solve.ts';
import type { Where } from '../../core/types.ts';
import { h } from '../dom.ts';
import type { SolveRecord } from '../history.ts';
import { setMathText } from '../math-render.ts';
import { draftDetails, scoreLabel, stepItem, whereOf } from './step-item.ts';

export interface SolveViewElements {
  steps: HTMLOListElement;
  answer: HTMLElement;
  answerText: HTMLElement;
  status: HTMLElement;
  error: HTMLElement;
}

const FINISH_TEXT: Record<string, string> = {
  boxed: 'Solved.',
  end: 'The model ended the solution without a boxed answer.',
  length: 'A step hit the token limit; the solution stands as it is.',
  'max-steps': 'The step limit was reached; the solution stands as it is.',
  aborted: 'Stopped. The steps so far are kept.',
  error: 'The run ended with an error. The steps so far are kept.',
};

interface Live {
  t: number;
  li: HTMLLIElement;
  where: HTMLElement;
  score: HTMLElement;
  text: HTMLElement;
  draftTokens: number;
}

export class SolveView {
  private live: Live | null = null;
  private strongWhere: Where | null = null;

  constructor(private readonly el: SolveViewElements) {}

  begin(message: string): void {
    this.el.steps.replaceChildren();
    this.el.answer.hidden = true;
    this.el.error.replaceChildren();
    this.live = null;
    this.setStatus(message);
  }

  /** Where the strong model of the run being shown writes (labels its steps). */
  setStrongWhere(where: Where | null): void {
    this.strongWhere = where;
  }

  setStatus(message: string): void {
    this.el.status.textContent = message;
  }

  showError(message: string, action?: { label: string; run: () => void }): void {
    this.el.error.replaceChildren(h('p', {}, message));
    if (action) this.el.error.append(h('button', { type: 'button', onclick: action.run }, action.label));
  }

  onEvent(e: SolveEvent, rec: SolveRecord): void {
    switch (e.type) {
      case 'start':
        return this.setStatus('Solving…');
      case 'text': {
        const live = this.liveStep(e.t);
        live.where.textContent = whereOf(e.source, this.strongWhere) === 'device' ? 'Writing on device…' : 'Writing remotely…';
        live.li.dataset.source = e.source;
        live.text.append(e.delta);
        return;
      }
      case 'draft': {
        const live = this.liveStep(e.t);
        live.text.textContent = e.text;
        live.draftTokens = e.tokens;
        return this.setStatus(`Step ${e.t}: drafted on device (${e.tokens} tokens).`);
      }
      case 'score':
        this.liveStep(e.t).score.textContent = scoreLabel(e.score);
        // The same PRM call scored earlier steps that had no score yet (remote ones).
        e.scores.slice(0, -1).forEach((s, i) => {
          const cell = this.el.steps.querySelector(`li[data-index="${i}"] [data-field="score"]`);
          if (cell && cell.textContent === scoreLabel(null)) cell.textContent = scoreLabel(s);
        });
        return this.setStatus(`Step ${e.t}: PRM score ${e.score.toFixed(2)}.`);
      case 'decision':
        if (e.decision === 'regenerate') {
          const live = this.liveStep(e.t);
          const draft = live.text.textContent ?? '';
          const score = Number(live.score.textContent?.replace('PRM ', ''));
          live.li.insertBefore(draftDetails(draft, Number.isFinite(score) ? score : null, live.draftTokens), live.text);
          live.text.textContent = '';
          live.score.textContent = scoreLabel(null);
          this.setStatus(`Step ${e.t}: the strong model rewrites it.`);
        }
        return;
      case 'remote':
        return this.setStatus(`Step ${e.t}: request sent to ${e.transmission.host}.`);
      case 'hold':
        return this.setStatus(`Step ${e.t}: the remote model cannot be reached; the small model’s draft is kept.`);
      case 'step': {
        const t = e.step.index + 1;
        const hold = rec.holds.find((x) => x.t === t);
        const li = stepItem(e.step, hold, this.strongWhere, rec.timings?.[e.step.index]);
        if (this.live?.t === t) this.live.li.replaceWith(li);
        else this.el.steps.append(li);
        this.live = null;
        return;
      }
      case 'error':
        return this.showError(e.message);
      case 'done':
        this.live?.li.remove();
        this.live = null;
        return this.finish(rec);
    }
  }

  /** Shows a stored record (from the history, or a finished run). */
  showRecord(rec: SolveRecord): void {
    this.begin('');
    this.strongWhere = rec.setup.strongWhere;
    for (const step of rec.steps) this.el.steps.append(stepItem(step, rec.holds.find((x) => x.t === step.index + 1), this.strongWhere, rec.timings?.[step.index]));
    this.finish(rec);
    if (rec.error) this.showError(rec.error);
  }

  private finish(rec: SolveRecord): void {
    this.setStatus(rec.status === 'interrupted' ? 'Interrupted by a reload; the steps so far are kept.' : (FINISH_TEXT[rec.finish ?? 'error'] ?? ''));
    if (rec.answer !== null) {
      setMathText(this.el.answerText, `\\boxed{${rec.answer}}`);
      this.el.answer.hidden = false;
    }
  }

  private liveStep(t: number): Live {
    if (this.live?.t === t) return this.live;
    this.live?.li.remove();
    const where = h('span', { class: 'where' }, 'Writing on device…');
    const score = h('span', { class: 'score' }, scoreLabel(null));
    const text = h('div', { class: 'step-text live-text' });
    const li = h('li', { class: 'step step-live', 'data-live': t, 'aria-busy': 'true' }, h('div', { class: 'step-meta' }, where, score), text);
    this.el.steps.append(li);
    this.live = { t, li, where, score, text, draftTokens: 0 };
    return this.live;
  }
}
