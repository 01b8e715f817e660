// curve.svg: accuracy against strong-model cost, one line per policy, the two baselines marked and the
// straight line between them (what mixing weak and strong per problem buys) for reference. The figure
// carries its own title, axis labels and legend, so it can be read without the table.
//
// Only policy curves are <path> elements (axes, ticks and reference lines are <line>), so a reader
// or a test can count the policies in the figure.

import type { PolicySummary, Summary } from './summary.ts';

const WIDTH = 820;
const HEIGHT = 520;
const PLOT = { left: 80, right: 560, top: 70, bottom: 440 };
const LEGEND_X = 590;
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];
const DASHES = ['', '6 3', '2 3', '8 3 2 3'];

interface Axis {
  min: number;
  max: number;
  ticks: number[];
}

export function renderCurveSvg(s: Summary): string {
  // Without the strong-only baseline there is no normalisation: plot raw tokens per problem instead.
  const normalised = s.strong !== null && s.strong.strongTokens > 0;
  const xOf = (p: { cost: number | null; strongTokens: number }) => (normalised ? p.cost! : p.strongTokens);

  const xs: number[] = [0];
  const ys: number[] = [];
  for (const p of s.policies)
    for (const pt of p.points) {
      xs.push(xOf(pt));
      ys.push(pt.accuracy);
    }
  if (s.weak) ys.push(s.weak.accuracy);
  if (s.strong) {
    ys.push(s.strong.accuracy);
    xs.push(normalised ? 1 : s.strong.strongTokens);
  }
  const xAxis = niceAxis(0, Math.max(...xs, normalised ? 1 : 1e-9));
  const yAxis = accuracyAxis(ys);
  const px = (x: number) => PLOT.left + ((x - xAxis.min) / (xAxis.max - xAxis.min)) * (PLOT.right - PLOT.left);
  const py = (y: number) => PLOT.bottom - ((y - yAxis.min) / (yAxis.max - yAxis.min)) * (PLOT.bottom - PLOT.top);

  const el: string[] = [];
  // Under --cost sent the points' cost is characters sent ÷ strong-only's: label the axis by what it is.
  const sent = s.costKind === 'sent' && normalised;
  const title = sent ? 'Accuracy vs characters sent off the device' : 'Accuracy vs strong-model cost';
  const subtitle =
    `${s.problems} problem${s.problems === 1 ? '' : 's'}; ` +
    (sent
      ? 'cost = characters sent off the device ÷ those of strong-only'
      : normalised
        ? 'cost = strong-model tokens ÷ those of strong-only'
        : 'no strong-only baseline: cost in strong tokens per problem');
  el.push(
    `<title>${esc(title)}</title>`,
    `<desc>${esc(describe(s))}</desc>`,
    `<rect x="0" y="0" width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="28" text-anchor="middle" font-size="18" font-weight="bold">${esc(title)}</text>`,
    `<text x="${WIDTH / 2}" y="50" text-anchor="middle" font-size="12" fill="#444444">${esc(subtitle)}</text>`,
  );

  // Grid, axes, ticks and labels.
  for (const t of xAxis.ticks) {
    const x = f(px(t));
    el.push(
      `<line x1="${x}" y1="${PLOT.top}" x2="${x}" y2="${PLOT.bottom}" stroke="#e5e5e5"/>`,
      `<line x1="${x}" y1="${PLOT.bottom}" x2="${x}" y2="${PLOT.bottom + 5}" stroke="#000000"/>`,
      `<text x="${x}" y="${PLOT.bottom + 20}" text-anchor="middle" font-size="12">${esc(normalised ? pct(t, 0) : tokens(t))}</text>`,
    );
  }
  for (const t of yAxis.ticks) {
    const y = f(py(t));
    el.push(
      `<line x1="${PLOT.left}" y1="${y}" x2="${PLOT.right}" y2="${y}" stroke="#e5e5e5"/>`,
      `<line x1="${PLOT.left - 5}" y1="${y}" x2="${PLOT.left}" y2="${y}" stroke="#000000"/>`,
      `<text x="${PLOT.left - 9}" y="${f(py(t) + 4)}" text-anchor="end" font-size="12">${esc(pct(t, 0))}</text>`,
    );
  }
  el.push(
    `<line x1="${PLOT.left}" y1="${PLOT.bottom}" x2="${PLOT.right}" y2="${PLOT.bottom}" stroke="#000000"/>`,
    `<line x1="${PLOT.left}" y1="${PLOT.top}" x2="${PLOT.left}" y2="${PLOT.bottom}" stroke="#000000"/>`,
    `<text x="${(PLOT.left + PLOT.right) / 2}" y="${PLOT.bottom + 45}" text-anchor="middle" font-size="13">${esc(
      sent ? 'Characters sent off the device, normalised (strong-only = 100%)' : normalised ? 'Strong-model tokens, normalised (strong-only = 100%)' : 'Strong-model tokens per problem',
    )}</text>`,
    `<text transform="translate(22 ${(PLOT.top + PLOT.bottom) / 2}) rotate(-90)" text-anchor="middle" font-size="13">Accuracy</text>`,
  );

  // Baselines and the mixing line between them.
  const weakAt = s.weak ? { x: px(0), y: py(s.weak.accuracy) } : null;
  const strongAt = s.strong ? { x: px(normalised ? 1 : s.strong.strongTokens), y: py(s.strong.accuracy) } : null;
  if (weakAt && strongAt)
    el.push(
      `<line x1="${f(weakAt.x)}" y1="${f(weakAt.y)}" x2="${f(strongAt.x)}" y2="${f(strongAt.y)}" stroke="#888888" stroke-width="1.5" stroke-dasharray="4 4"/>`,
    );
  if (weakAt && s.weak)
    el.push(
      `<rect x="${f(weakAt.x - 6)}" y="${f(weakAt.y - 6)}" width="12" height="12" fill="#444444"/>`,
      `<text x="${f(weakAt.x + 10)}" y="${f(weakAt.y > PLOT.bottom - 25 ? weakAt.y - 12 : weakAt.y + 20)}" font-size="12" fill="#444444">${esc(`weak only ${pct(s.weak.accuracy, 1)}`)}</text>`,
    );
  if (strongAt && s.strong)
    el.push(
      `<polygon points="${diamond(strongAt.x, strongAt.y, 8)}" fill="#444444"/>`,
      // Labels stay inside the plot, clear of the title, when a baseline sits at its top edge.
      `<text x="${f(strongAt.x - 10)}" y="${f(strongAt.y < PLOT.top + 25 ? strongAt.y + 24 : strongAt.y - 12)}" text-anchor="end" font-size="12" fill="#444444">${esc(
        `strong only ${pct(s.strong.accuracy, 1)}`,
      )}</text>`,
    );

  // Policies: the line follows the Pareto frontier (the curve CPT and APGR are read from), starting at
  // the weak-only point; every operating point is marked, dominated ones hollow, with its knob.
  s.policies.forEach((p, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const dash = DASHES[Math.floor(i / COLOURS.length) % DASHES.length]!;
    el.push(policyPath(p, colour, dash, xOf, px, py, weakAt));
    for (const pt of p.points) {
      const x = f(px(xOf(pt)));
      const y = f(py(pt.accuracy));
      el.push(
        pt.frontier
          ? `<circle cx="${x}" cy="${y}" r="4" fill="${colour}"/>`
          : `<circle cx="${x}" cy="${y}" r="4" fill="#ffffff" stroke="${colour}" stroke-width="1.5"/>`,
      );
      if (pt.knob !== null)
        el.push(`<text x="${f(px(xOf(pt)) + 6)}" y="${f(py(pt.accuracy) + 14)}" font-size="10" fill="${colour}">${esc(String(pt.knob))}</text>`);
    }
  });

  // Legend.
  let ly = PLOT.top + 4;
  const entry = (swatch: string, label: string) => {
    el.push(swatch, `<text x="${LEGEND_X + 34}" y="${ly + 4}" font-size="12">${esc(label)}</text>`);
    ly += 22;
  };
  el.push(`<text x="${LEGEND_X}" y="${ly - 10}" font-size="12" font-weight="bold">Legend</text>`);
  ly += 8;
  s.policies.forEach((p, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const dash = DASHES[Math.floor(i / COLOURS.length) % DASHES.length]!;
    const apgr = p.apgr === null ? '' : ` (APGR ${pct(p.apgr, 1)})`;
    entry(
      `<line x1="${LEGEND_X}" y1="${ly}" x2="${LEGEND_X + 26}" y2="${ly}" stroke="${colour}" stroke-width="2.5"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
      `${shorten(p.policy, 22)}${apgr}`,
    );
  });
  if (s.weak) entry(`<rect x="${LEGEND_X + 7}" y="${ly - 6}" width="12" height="12" fill="#444444"/>`, 'weak model only');
  if (s.strong) entry(`<polygon points="${diamond(LEGEND_X + 13, ly, 8)}" fill="#444444"/>`, 'strong model only');
  if (s.weak && s.strong)
    entry(
      `<line x1="${LEGEND_X}" y1="${ly}" x2="${LEGEND_X + 26}" y2="${ly}" stroke="#888888" stroke-width="1.5" stroke-dasharray="4 4"/>`,
      'mixing per problem',
    );
  if (s.policies.length) {
    entry(`<circle cx="${LEGEND_X + 13}" cy="${ly}" r="4" fill="#444444"/>`, 'on the Pareto frontier');
    entry(`<circle cx="${LEGEND_X + 13}" cy="${ly}" r="4" fill="#ffffff" stroke="#444444" stroke-width="1.5"/>`, 'dominated point');
    el.push(`<text x="${LEGEND_X}" y="${ly + 4}" font-size="11" fill="#444444">Small numbers: the policy's knob.</text>`);
  }

  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" ` +
    `font-family="Helvetica, Arial, sans-serif" role="img" aria-label="${esc(title)}">\n` +
    el.map((e) => `  ${e}`).join('\n') +
    '\n</svg>\n'
  );
}

function policyPath(
  p: PolicySummary,
  colour: string,
  dash: string,
  xOf: (pt: { cost: number | null; strongTokens: number }) => number,
  px: (x: number) => number,
  py: (y: number) => number,
  weakAt: { x: number; y: number } | null,
): string {
  const onCurve = p.points.filter((pt) => pt.frontier).map((pt) => ({ x: px(xOf(pt)), y: py(pt.accuracy) }));
  // Without baselines nothing is marked frontier; then the line joins the points in cost order.
  const pts = onCurve.length
    ? onCurve
    : p.points.map((pt) => ({ x: px(xOf(pt)), y: py(pt.accuracy) })).sort((a, b) => a.x - b.x);
  if (weakAt && onCurve.length && !(pts[0]!.x <= weakAt.x)) pts.unshift(weakAt);
  const d = pts.map((q, i) => `${i ? 'L' : 'M'}${f(q.x)} ${f(q.y)}`).join(' ') || `M${PLOT.left} ${PLOT.bottom}`;
  return `<path d="${d}" fill="none" stroke="${colour}" stroke-width="2.5"${dash ? ` stroke-dasharray="${dash}"` : ''}><title>${esc(p.policy)}</title></path>`;
}

function describe(s: Summary): string {
  const parts = [`Accuracy against normalised strong-model cost for ${s.problems} problems.`];
  if (s.weak) parts.push(`Weak model only: ${pct(s.weak.accuracy, 1)}.`);
  if (s.strong) parts.push(`Strong model only: ${pct(s.strong.accuracy, 1)}.`);
  for (const p of s.policies)
    parts.push(
      `${p.policy}: ${p.points.map((pt) => `${pct(pt.accuracy, 1)} at ${pt.cost === null ? `${tokens(pt.strongTokens)} tokens` : pct(pt.cost, 1)}`).join(', ')}.`,
    );
  return parts.join(' ');
}

/** Axis from lo to a round number above hi, with 4–10 round ticks. */
function niceAxis(lo: number, hi: number): Axis {
  const span = hi - lo || 1;
  const raw = span / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => span / st <= 8) ?? 10 * mag;
  const max = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let t = lo; t <= max + step / 1e6; t += step) ticks.push(Math.round(t / step) * step);
  return { min: lo, max, ticks };
}

/** Accuracy axis: a tenth of margin around the data, in 5% or 10% ticks, inside [0, 1]. */
function accuracyAxis(values: number[]): Axis {
  if (!values.length) return { min: 0, max: 1, ticks: [0, 0.2, 0.4, 0.6, 0.8, 1] };
  const min = Math.max(0, Math.floor((Math.min(...values) - 0.05) * 10) / 10);
  const max = Math.min(1, Math.ceil((Math.max(...values) + 0.05) * 10) / 10);
  const step = max - min <= 0.4 ? 0.05 : 0.1;
  const ticks: number[] = [];
  for (let t = min; t <= max + 1e-9; t += step) ticks.push(Math.round(t * 1000) / 1000);
  return { min, max: max > min ? max : min + 0.1, ticks };
}

function diamond(x: number, y: number, r: number): string {
  return [
    [x, y - r],
    [x + r, y],
    [x, y + r],
    [x - r, y],
  ]
    .map(([a, b]) => `${f(a!)},${f(b!)}`)
    .join(' ');
}

/** Legend room is fixed; the full name stays in the curve's tooltip. */
const shorten = (text: string, max: number) => ([...text].length > max ? [...text].slice(0, max - 1).join('') + '…' : text);
const f = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '0');
const pct = (v: number, digits: number) => `${(v * 100).toFixed(digits)}%`;
const tokens = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(1)}k` : v.toFixed(0));

/**
 * Text for XML content and attribute values. Names come from results files and may hold anything:
 * markup characters are escaped and characters XML 1.0 forbids (controls, lone surrogates) replaced.
 */
export function esc(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}
