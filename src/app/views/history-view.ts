// Past solves, newest first; choosing one shows its transcript and ledger again.

import { h } from '../dom.ts';
import type { SolveRecord } from '../history.ts';

const STATUS: Record<SolveRecord['status'], string> = {
  running: 'running',
  done: 'done',
  stopped: 'stopped',
  error: 'ended with an error',
  interrupted: 'interrupted',
};

export class HistoryView {
  constructor(
    private readonly root: HTMLElement,
    private readonly onOpen: (r: SolveRecord) => void,
  ) {}

  render(records: readonly SolveRecord[]): void {
    if (!records.length) {
      this.root.replaceChildren(h('p', {}, 'Solved problems appear here and are kept in this browser.'));
      return;
    }
    this.root.replaceChildren(
      h(
        'ul',
        { class: 'history-list', 'aria-label': 'Solved problems' },
        ...records.map((r) => {
          const strong = r.steps.filter((s) => s.source === 'strong').length;
          const by = strong === 0 ? 'all by the small model' : `${strong} by the strong model${r.setup.strongWhere === 'device' ? ' (on this device)' : ' (remote)'}`;
          const summary = `${r.steps.length} step${r.steps.length === 1 ? '' : 's'}, ${by} · ${STATUS[r.status]}${r.answer !== null ? ` · answer ${r.answer}` : ''}`;
          return h(
            'li',
            { 'data-id': r.id },
            h('button', { type: 'button', class: 'history-open', onclick: () => this.onOpen(r) }, r.problem.length > 120 ? r.problem.slice(0, 117) + '…' : r.problem),
            h('span', { class: 'history-meta' }, `${new Date(r.startedAt).toLocaleString()} · ${summary}`),
          );
        }),
      ),
    );
  }
}
