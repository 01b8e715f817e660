// "Check my work" on screen: the student's steps, each with its PRM score and a plain verdict, the first
// flagged step marked as the place to look, and the hint (or corrected step) about it. Student and
// model text go in as text; math goes through the safe renderer.

import { h } from '../dom.ts';
import { setMathText } from '../math-render.ts';
import { VERDICT_TEXT, verdicts } from '../check-state.ts';
import { scoreLabel } from './step-item.ts';

export interface CheckElements {
  list: HTMLOListElement;
  status: HTMLElement;
  error: HTMLElement;
  help: HTMLElement;
  helpButton: HTMLButtonElement;
  helpText: HTMLElement;
}

export class CheckView {
  /** What the scores are called beside each step: "PRM", or "Likelihood" for the strong-model checker. */
  scoreName = 'PRM';

  constructor(private readonly el: CheckElements) {}

  /** Clears the last result and error; `status` says what is happening. */
  begin(status: string): void {
    this.el.status.textContent = status;
    this.el.error.replaceChildren();
    this.hideHelp();
  }

  setStatus(text: string): void {
    this.el.status.textContent = text;
  }

  showError(message: string): void {
    this.el.error.replaceChildren(h('p', {}, message));
  }

  /**
   * One item per step; `scores[i]` is undefined while step i waits for the PRM. Verdicts and the flag
   * come from the steps scored so far, so a flag never moves earlier once shown.
   */
  showSteps(steps: readonly string[], scores: readonly (number | undefined)[], threshold: number): number | null {
    const known: number[] = [];
    for (const s of scores) {
      if (s === undefined) break;
      known.push(s);
    }
    const v = verdicts(known, threshold);
    this.el.list.replaceChildren(
      ...steps.map((step, i) => {
        const score = scores[i];
        const verdict = v.verdicts[i];
        const text = h('div', { class: 'step-text' });
        setMathText(text, step);
        return h(
          'li',
          {
            class: 'check-step',
            'data-index': i,
            'data-score': score === undefined ? null : String(score),
            'data-verdict': verdict ?? 'pending',
            'data-flagged': i === v.flagged ? 'true' : null,
          },
          h(
            'div',
            { class: 'step-meta' },
            h('span', { class: 'score' }, score === undefined ? `${this.scoreName} …` : scoreLabel(score).replace(/^PRM/, this.scoreName)),
            h('span', { class: 'verdict' }, verdict ? VERDICT_TEXT[verdict] : 'scoring…'),
            i === v.flagged ? h('strong', { class: 'flag' }, 'Look here first') : null,
          ),
          text,
        );
      }),
    );
    return v.flagged;
  }

  clearSteps(): void {
    this.el.list.replaceChildren();
  }

  /** Offers help with the flagged step: a hint from a remote model, or a corrected step from one on the device. */
  offerHelp(label: string): void {
    this.el.help.hidden = false;
    this.el.helpButton.textContent = label;
    this.el.helpButton.disabled = false;
    this.el.helpText.replaceChildren();
  }

  hideHelp(): void {
    this.el.help.hidden = true;
    this.el.helpText.replaceChildren();
  }

  showHelp(kind: 'hint' | 'corrected', text: string, note: string): void {
    const body = h('div', { class: 'step-text' });
    setMathText(body, text);
    this.el.helpText.dataset.kind = kind;
    this.el.helpText.replaceChildren(h('p', { class: 'note' }, note), body);
  }

  showHelpMessage(message: string): void {
    delete this.el.helpText.dataset.kind;
    this.el.helpText.replaceChildren(h('p', { class: 'held' }, message));
  }
}
