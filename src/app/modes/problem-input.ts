// The problem box as both modes read it: a problem that cannot be used (empty, too long) is shown as
// the mode's error, with nothing started.

import { errorMessage } from '../../core/errors.ts';
import { validateProblem } from '../../core/solve.ts';

/** What a mode's view offers for an input it refuses. */
export interface RefusalView {
  begin(status: string): void;
  showError(message: string): void;
}

/** Clears the view and shows `message`: the input was refused before anything ran. */
export function refuse(view: RefusalView, message: string): void {
  view.begin('');
  view.showError(message);
}

/** The problem in `box`, or null after showing why it cannot be used. */
export function readProblem(box: HTMLTextAreaElement, view: RefusalView): string | null {
  try {
    return validateProblem(box.value);
  } catch (err) {
    refuse(view, errorMessage(err));
    return null;
  }
}
