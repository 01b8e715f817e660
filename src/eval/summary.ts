// From result rows (one per problem × policy × knob) to the numbers a researcher reports: accuracy and
// cost per operating point, and per policy CPT, APGR and ΔIBC on the Pareto frontier of its sweep.
// `trim eval` and `trim simulate` both go through here, so their tables and summary.json agree.
//
// Every operating point is measured on the same problems: a problem that is missing for some point
// (a run that failed, a sweep value added later) is left out of all of them and counted in `dropped`,
// because comparing means over different problem sets would make the cost ratios and PGR meaningless.

import { TrimError } from '../core/errors.ts';
import { apgr, cpt, deltaIbc, ibc, normalisedCost, paretoFrontier, pgr, pgrCurve } from '../core/metrics.ts';

export const WEAK_ONLY = 'weak-only';
export const STRONG_ONLY = 'strong-only';
/** The PGR levels CPT is reported at. */
export const CPT_LEVELS = ['50', '80', '95'] as const;

export interface StepRow {
  source: 'weak' | 'strong';
  /** PRM score of the text kept for this step, null when it was never scored. */
  score: number | null;
  tokens: number;
  /** Weak steps: the weak model's own confidence in the text (StepResult.confidence), when reported. */
  confidence?: number;
  /** The weak draft the strong model replaced, with the score that got it rejected (and its confidence). */
  draft?: { score: number | null; tokens: number; confidence?: number };
  /**
   * Characters that left the device for this step (strong requests, which carry the whole accepted
   * prefix, and a remote PRM's); absent when none did.
   */
  sent?: number;
}

/** One line of results.jsonl: one problem solved by one policy at one knob value. */
export interface ResultRow {
  id: string;
  policy: string;
  /** The policy's knob; null for the weak-only and strong-only baselines. */
  knob: number | null;
  correct: boolean;
  extracted: string | null;
  gold: string;
  /** Tokens the strong model decoded: TRIM's cost. */
  strongTokens: number;
  /** Tokens of weak drafts that were kept. */
  weakTokens: number;
  strongCalls: number;
  steps: StepRow[];
  timing: { totalMs: number; draftMs: number; scoreMs: number; strongMs: number };
  /** Why the solution ended (boxed, end, length, max-steps). */
  finish?: string;
  /** Weak tokens of drafts that were thrown away for a strong step. */
  discardedTokens?: number;
  /** Prompt tokens sent to the strong model. */
  strongPromptTokens?: number;
  prmCalls?: number;
  /** The seed the problem ran with (policy episode and sampling). */
  seed?: number;
  /** Set when grading threw: the row counts as wrong until it is regraded. */
  gradeError?: string;
  /** Characters of request bodies that left the device for this problem (the ledger's sentChars). */
  sentChars?: number;
}

/**
 * What a routed step costs on the cost axis: strong tokens decoded (TRIM's cost), or characters sent
 * off the device (privacy: a late step carries a longer prefix).
 */
export type CostKind = 'tokens' | 'sent';
export const COST_KINDS: readonly CostKind[] = ['tokens', 'sent'];

/** Results that cannot be summarised (a duplicate key, a malformed row). */
export class ResultsError extends TrimError {}

export interface BaselineSummary {
  accuracy: number;
  strongTokens: number;
  weakTokens: number;
  /** Mean characters sent per problem; null when some row does not record them. */
  sentChars: number | null;
}

export interface PointSummary {
  knob: number | null;
  accuracy: number;
  /** Mean strong tokens per problem. */
  strongTokens: number;
  weakTokens: number;
  strongCalls: number;
  /** Mean characters sent off the device per problem; null when some row does not record them. */
  sentChars: number | null;
  /** Normalised cost (÷ strong-only) on the summary's cost axis; null without the strong-only baseline. */
  cost: number | null;
  /** Characters sent off the device ÷ strong-only's, same problems; null when unknown or strong-only sent nothing. */
  sentShare: number | null;
  /** Null without both baselines or when they tie. */
  pgr: number | null;
  deltaIbc: number | null;
  /** Whether the point is on the policy's Pareto frontier (the curve CPT and APGR are read from). */
  frontier: boolean;
}

export interface PolicySummary {
  policy: string;
  points: PointSummary[];
  /** Smallest normalised cost reaching PGR ≥ 50/80/95%, null if the sweep never does. */
  cpt: Record<(typeof CPT_LEVELS)[number], number | null>;
  /** Mean PGR over normalised cost ∈ [0, 1] of the frontier curve. */
  apgr: number | null;
  /** The best ΔIBC over the sweep's operating points that spend strong tokens, and where it was. */
  deltaIbc: number | null;
  deltaIbcKnob: number | null;
}

export interface Summary {
  /** What `cost` measures: strong tokens (default) or characters sent off the device. */
  costKind: CostKind;
  /** Problems measured at every operating point: every number below is a mean over these. */
  problems: number;
  /** Problems left out because some operating point lacks them. */
  dropped: number;
  weak: BaselineSummary | null;
  strong: BaselineSummary | null;
  policies: PolicySummary[];
}

export function rowKey(r: Pick<ResultRow, 'id' | 'policy' | 'knob'>): string {
  return JSON.stringify([r.id, r.policy, r.knob]);
}

interface Group {
  policy: string;
  knob: number | null;
  rows: Map<string, ResultRow>;
}

export function buildSummary(rows: readonly ResultRow[], opts: { cost?: CostKind } = {}): Summary {
  const costKind = opts.cost ?? 'tokens';
  const groups = new Map<string, Group>();
  const allIds = new Set<string>();
  for (const r of rows) {
    const k = JSON.stringify([r.policy, r.knob]);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { policy: r.policy, knob: r.knob, rows: new Map() }));
    if (g.rows.has(r.id))
      throw new ResultsError(`Problem "${r.id}" appears twice for ${r.policy} at knob ${r.knob}; keep one line per (problem, policy, knob).`);
    g.rows.set(r.id, r);
    allIds.add(r.id);
  }
  const common = [...allIds].filter((id) => [...groups.values()].every((g) => g.rows.has(id)));
  const measure = (g: Group) => {
    const rs = common.map((id) => g.rows.get(id)!);
    const mean = (f: (r: ResultRow) => number) => (rs.length ? rs.reduce((s, r) => s + f(r), 0) / rs.length : 0);
    return {
      accuracy: mean((r) => (r.correct ? 1 : 0)),
      strongTokens: mean((r) => r.strongTokens),
      weakTokens: mean((r) => r.weakTokens),
      strongCalls: mean((r) => r.strongCalls),
      sentChars: rs.every((r) => typeof r.sentChars === 'number') ? mean((r) => r.sentChars!) : null,
    };
  };

  let weak: BaselineSummary | null = null;
  let strong: BaselineSummary | null = null;
  const byPolicy = new Map<string, Group[]>();
  for (const g of groups.values()) {
    if (g.policy === WEAK_ONLY || g.policy === STRONG_ONLY) {
      const { accuracy, strongTokens, weakTokens, sentChars } = measure(g);
      if (g.policy === WEAK_ONLY) weak = { accuracy, strongTokens, weakTokens, sentChars };
      else strong = { accuracy, strongTokens, weakTokens, sentChars };
    } else {
      byPolicy.set(g.policy, [...(byPolicy.get(g.policy) ?? []), g]);
    }
  }

  const policies = [...byPolicy.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([policy, gs]) => summarisePolicy(policy, gs.map((g) => ({ knob: g.knob, ...measure(g) })), weak, strong, costKind));
  if (costKind === 'sent' && strong && !(strong.sentChars! > 0))
    throw new ResultsError(
      strong.sentChars === null
        ? 'Cost "sent" needs the characters each run sent (sentChars), which these results do not record: rerun them with this version of trim eval, or use --cost tokens.'
        : 'Cost "sent": strong-only sent nothing off the device (every model is local), so there is no privacy cost to normalise by; serve the strong model (trim serve) or use --cost tokens.',
    );
  return { costKind, problems: common.length, dropped: allIds.size - common.length, weak, strong, policies };
}

function summarisePolicy(
  policy: string,
  measured: { knob: number | null; accuracy: number; strongTokens: number; weakTokens: number; strongCalls: number; sentChars: number | null }[],
  weak: BaselineSummary | null,
  strong: BaselineSummary | null,
  costKind: CostKind,
): PolicySummary {
  // ΔIBC's unit is the cost axis: strong tokens, or characters sent.
  const spend = (b: { strongTokens: number; sentChars: number | null }) => (costKind === 'sent' ? (b.sentChars ?? 0) : b.strongTokens);
  const baseIbc = weak && strong ? ibc(strong.accuracy, weak.accuracy, spend(strong)) : null;
  const points: PointSummary[] = measured
    .sort((a, b) => (a.knob ?? -Infinity) - (b.knob ?? -Infinity))
    .map((m) => {
      const share = sentShare(m.sentChars, strong);
      const cost = strong ? (costKind === 'sent' ? share : normalisedCost(m.strongTokens, strong.strongTokens)) : null;
      const pointPgr = weak && strong ? pgr(m.accuracy, weak.accuracy, strong.accuracy) : null;
      const pointIbc = weak ? ibc(m.accuracy, weak.accuracy, spend(m)) : null;
      return { ...m, cost, sentShare: share, pgr: pointPgr, deltaIbc: deltaIbc(pointIbc, baseIbc), frontier: false };
    });

  const costed = points.filter((p): p is PointSummary & { cost: number } => p.cost !== null);
  // The weak-only point takes part, as in pgrCurve: a point it beats is not on the curve.
  const anchor = weak ? [{ cost: 0, accuracy: weak.accuracy, point: null }] : [];
  for (const f of paretoFrontier([...anchor, ...costed.map((p) => ({ cost: p.cost, accuracy: p.accuracy, point: p }))]))
    if (f.point) f.point.frontier = true;
  const curve = weak && strong && costed.length ? pgrCurve(costed, weak.accuracy, strong.accuracy) : null;

  let best: PointSummary | null = null;
  for (const p of points)
    if (p.frontier && p.deltaIbc !== null && (best === null || p.deltaIbc > best.deltaIbc!)) best = p;

  return {
    policy,
    points,
    cpt: {
      '50': curve ? cpt(curve, 0.5) : null,
      '80': curve ? cpt(curve, 0.8) : null,
      '95': curve ? cpt(curve, 0.95) : null,
    },
    apgr: curve ? apgr(curve) : null,
    deltaIbc: best?.deltaIbc ?? null,
    deltaIbcKnob: best?.knob ?? null,
  };
}

/** Characters sent ÷ strong-only's; null when either is unknown or strong-only sent nothing. */
function sentShare(sent: number | null, strong: BaselineSummary | null): number | null {
  return sent !== null && strong?.sentChars != null && strong.sentChars > 0 ? sent / strong.sentChars : null;
}

const DASH = '–';
const percent = (v: number | null) => (v === null ? DASH : `${(v * 100).toFixed(1)}%`);
const fixed = (v: number | null, digits: number) => (v === null ? DASH : v.toFixed(digits));
const knobText = (k: number | null) => (k === null ? DASH : String(k));

/** The summary as plain-text tables: operating points first, then the per-policy metrics. */
export function formatTable(s: Summary): string {
  const out: string[] = [];
  out.push(
    `${s.problems} problem${s.problems === 1 ? '' : 's'} measured at every operating point` +
      (s.dropped ? ` (${s.dropped} left out: missing at some operating point)` : ''),
    '',
  );

  const pointRows: string[][] = [];
  const strongTok = s.strong?.strongTokens ?? null;
  const baseline = (name: string, b: BaselineSummary | null) => {
    if (!b) return;
    const cost = strongTok === null ? null : normalisedCost(b.strongTokens, strongTok);
    const g = s.weak && s.strong ? pgr(b.accuracy, s.weak.accuracy, s.strong.accuracy) : null;
    const d = name === STRONG_ONLY && g !== null && s.strong!.strongTokens > 0 && g > 0 ? 0 : null;
    const c = s.costKind === 'sent' ? sentShare(b.sentChars, s.strong) : cost;
    pointRows.push([name, DASH, percent(b.accuracy), fixed(b.strongTokens, 1), percent(c), percent(sentShare(b.sentChars, s.strong)), percent(g), fixed(d, 2), '']);
  };
  baseline(WEAK_ONLY, s.weak);
  baseline(STRONG_ONLY, s.strong);
  for (const p of s.policies)
    for (const pt of p.points)
      pointRows.push([
        p.policy,
        knobText(pt.knob),
        percent(pt.accuracy),
        fixed(pt.strongTokens, 1),
        percent(pt.cost),
        percent(pt.sentShare),
        percent(pt.pgr),
        fixed(pt.deltaIbc, 2),
        pt.frontier ? '*' : '',
      ]);
  out.push(
    renderTable(['policy', 'knob', 'accuracy', 'strong tok/problem', 'cost', 'sent', 'PGR', 'ΔIBC', 'frontier'], pointRows, 'llrrrrrrl'),
    '',
  );

  if (s.policies.length) {
    const metricRows = s.policies.map((p) => [
      p.policy,
      percent(p.cpt['50']),
      percent(p.cpt['80']),
      percent(p.cpt['95']),
      percent(p.apgr),
      p.deltaIbc === null ? DASH : `${p.deltaIbc.toFixed(2)} at ${knobText(p.deltaIbcKnob)}`,
    ]);
    out.push(renderTable(['policy', 'CPT(50%)', 'CPT(80%)', 'CPT(95%)', 'APGR', 'best ΔIBC'], metricRows, 'lrrrrr'), '');
  }

  out.push(
    (s.costKind === 'sent' ? 'cost = characters sent off the device ÷ strong-only (--cost sent)' : 'cost = strong-model tokens ÷ strong-only') +
      '; sent = characters sent off the device ÷ strong-only (– when nothing is sent or not recorded); PGR = (accuracy − weak) ÷ (strong − weak); * = on the Pareto frontier.',
  );
  if (!s.weak || !s.strong)
    out.push('Cost, PGR, CPT, APGR and ΔIBC need both baselines: run with --baselines.');
  else if (!(s.strong.accuracy > s.weak.accuracy))
    out.push('Strong-only is not more accurate than weak-only on these problems: there is no gap to recover, so PGR-based metrics are undefined (–).');
  else out.push('– in a CPT column: the sweep never reaches that PGR.');
  return out.join('\n') + '\n';
}

/** A policy name read back from a results file could hold anything; keep the table one line per row. */
const printable = (c: string) => c.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');

function renderTable(headers: string[], rows: string[][], align: string): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => printable(r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map(printable)
      .map((c, i) => (align[i] === 'r' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
