// The privacy ledger: tokens written on this device and remotely, for the problem on screen and for
// this session, and the exact text of every request that left the device, with the host it went to.

import type { Ledger } from '../../core/ledger.ts';
import type { Transmission } from '../../core/types.ts';
import { h } from '../dom.ts';
import type { SolveRecord } from '../history.ts';

interface Row {
  field: string;
  label: string;
  /** The row's value for one solve; the strong model's tokens count where it ran. */
  value: (l: Ledger, strongOnDevice: boolean) => number;
}

const ROWS: Row[] = [
  { field: 'deviceTokens', label: 'Tokens generated on this device', value: (l, dev) => l.weakTokens + l.discardedDraftTokens + (dev ? l.strongTokens : 0) },
  { field: 'discardedTokens', label: '… of which discarded drafts', value: (l) => l.discardedDraftTokens },
  { field: 'strongTokens', label: 'Tokens generated remotely', value: (l, dev) => (dev ? 0 : l.strongTokens) },
  { field: 'strongPromptTokens', label: 'Prompt tokens sent to the remote model', value: (l, dev) => (dev ? 0 : l.strongPromptTokens) },
  { field: 'sentRequests', label: 'Requests that left this device', value: (l) => l.sentRequests },
  { field: 'sentChars', label: 'Characters sent', value: (l) => l.sentChars },
  { field: 'prmCalls', label: 'PRM calls (on this device)', value: (l) => l.prmCalls },
];

function total(row: Row, records: readonly SolveRecord[]): number {
  return records.reduce((sum, r) => sum + (r.ledger ? row.value(r.ledger, r.setup.strongWhere === 'device') : 0), 0);
}

export class LedgerView {
  constructor(private readonly root: HTMLElement) {}

  /** `problem` is the record on screen (null before the first solve); `session` the records of this session. */
  render(problem: SolveRecord | null, session: readonly SolveRecord[]): void {
    const estimated = [problem, ...session].some((r) => r?.ledger?.estimated);
    const table = h(
      'table',
      { class: 'ledger-table' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, ''), h('th', { scope: 'col' }, 'This problem'), h('th', { scope: 'col' }, 'This session'))),
      h(
        'tbody',
        {},
        ...ROWS.map((r) =>
          h(
            'tr',
            {},
            h('th', { scope: 'row' }, r.label),
            h('td', { 'data-scope': 'problem', 'data-field': r.field }, total(r, problem ? [problem] : [])),
            h('td', { 'data-scope': 'session', 'data-field': r.field }, total(r, session)),
          ),
        ),
      ),
    );
    const hosts = new Map<string, number>();
    for (const rec of session) for (const t of rec.transmissions) hosts.set(t.host, (hosts.get(t.host) ?? 0) + 1);
    const summary = hosts.size
      ? `This session sent data to: ${[...hosts].map(([host, n]) => `${host} (${n} request${n === 1 ? '' : 's'})`).join(', ')}.`
      : 'Nothing has left this device in this session.';
    this.root.replaceChildren(
      ...[
        table,
        estimated ? h('p', { class: 'note' }, 'Some counts are estimates: a server did not report token usage.') : null,
        h('p', { class: 'hosts' }, summary),
        transmissionList(problem?.transmissions ?? []),
      ].filter((x) => x !== null),
    );
  }
}

function transmissionList(ts: readonly Transmission[]): HTMLElement {
  if (!ts.length) return h('p', { class: 'no-transmissions' }, 'No request left this device for this problem.');
  return h(
    'ol',
    { class: 'transmissions', 'aria-label': 'Requests that left this device' },
    ...ts.map((t) =>
      h(
        'li',
        { class: 'transmission', 'data-host': t.host },
        h('p', {}, `POST ${t.url} → ${t.host}`, t.attempt > 1 ? ` (retry ${t.attempt - 1})` : '', ` · ${t.purpose === 'step' ? 'write a step' : 'score steps'}`),
        h('details', {}, h('summary', {}, `Exact request body (${t.body.length.toLocaleString('en')} characters)`), h('pre', { class: 'body' }, t.body)),
      ),
    ),
  );
}
