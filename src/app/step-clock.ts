// Where each step's wall time goes (drafting, scoring, waiting for the strong model), measured from the
// solve's own event stream. Kept in the history record beside the steps, so a solve reopened from the
// history shows the same lines as it did live. Pure: the clock is passed in.

import type { SolveEvent } from '../core/solve.ts';

/** Wall time one step spent in each phase, as the page saw it (ms). */
export interface StepTiming {
  draft: number;
  score: number;
  /** Waiting for the strong model: the remote server, or the strong model on the device. */
  strong: number;
}

const zero = (): StepTiming => ({ draft: 0, score: 0, strong: 0 });

export class StepClock {
  private timing = zero();
  private mark: number;

  constructor(private readonly now: () => number) {
    this.mark = now();
  }

  /** Feeds one event; returns the finished step's timing when `e` is a step, else null. */
  observe(e: SolveEvent): StepTiming | null {
    const now = this.now();
    const since = now - this.mark;
    // Text streams inside a phase; every other event ends one (or starts the next step).
    if (e.type !== 'text') this.mark = now;
    if (e.type === 'start') this.timing = zero();
    else if (e.type === 'draft') this.timing.draft += since;
    else if (e.type === 'score') this.timing.score += since;
    else if (e.type === 'step') {
      if (e.step.source === 'strong') this.timing.strong += since;
      const done = this.timing;
      this.timing = zero();
      return done;
    }
    return null;
  }
}
