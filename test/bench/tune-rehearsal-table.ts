// npx tsx test/bench/tune-rehearsal-table.ts DIR… — one table of `trim eval` runs (their results.jsonl,
// the same problems) on both cost axes: CPT(95%) and APGR in strong tokens and in characters sent off
// the device (sentShare), and each policy's cheapest point with PGR ≥ 95% on each axis. Used for the
// README's rehearsal of the held-aside remote protocol (tune on half the problems, eval on the other).
// DIR=NAME shows that run's policies as NAME (two bundles' pomdp runs apart); baselines are kept once.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSummary, type ResultRow } from '../../src/eval/summary.ts';

const dirs = process.argv.slice(2);
if (!dirs.length) {
  process.stderr.write('Usage: npx tsx test/bench/tune-rehearsal-table.ts DIR[=NAME]… (trim eval --out folders on the same problems)\n');
  process.exit(2);
}
const seen = new Set<string>();
const rows: ResultRow[] = [];
for (const arg of dirs) {
  const [d, name] = arg.split('=') as [string, string | undefined];
  for (const l of readFileSync(join(d, 'results.jsonl'), 'utf8').split('\n')) {
    if (!l.trim()) continue;
    const r = JSON.parse(l) as ResultRow;
    if (name && r.policy !== 'weak-only' && r.policy !== 'strong-only') r.policy = name;
    const k = JSON.stringify([r.id, r.policy, r.knob]);
    // The baselines appear in every run: keep one of each.
    if (!seen.has(k)) (seen.add(k), rows.push(r));
  }
}
const tok = buildSummary(rows, { cost: 'tokens' });
const sent = buildSummary(rows, { cost: 'sent' });
const pct = (x: number | null | undefined) => (x === null || x === undefined ? 'never' : `${(x * 100).toFixed(1)}%`);
const cheapest = (pts: readonly { knob: number | null; cost: number | null; pgr: number | null }[]) => {
  const ok = pts.filter((p) => p.pgr !== null && p.pgr >= 0.95 && p.cost !== null);
  return ok.length ? ok.reduce((a, p) => (p.cost! < a.cost! ? p : a)) : null;
};
process.stdout.write(
  `${tok.problems} problems; weak-only ${pct(tok.weak?.accuracy)}, strong-only ${pct(tok.strong?.accuracy)} at ${tok.strong?.strongTokens.toFixed(1)} strong tokens and ${tok.strong?.sentChars?.toFixed(0)} characters sent per problem\n\n` +
    '| policy | CPT(95%) tokens | APGR tokens | cheapest PGR≥95% (tokens) | CPT(95%) sent | APGR sent | cheapest PGR≥95% (sent) |\n|---|---|---|---|---|---|---|\n',
);
for (const p of tok.policies) {
  const s = sent.policies.find((x) => x.policy === p.policy)!;
  const ct = cheapest(p.points);
  const cs = cheapest(s.points);
  process.stdout.write(
    `| ${p.policy} (${p.points.length} knobs) | ${pct(p.cpt['95'])} | ${pct(p.apgr)} | ${ct ? `${ct.knob}: ${pct(ct.cost)}` : 'none'} | ${pct(s.cpt['95'])} | ${pct(s.apgr)} | ${cs ? `${cs.knob}: ${pct(cs.cost)}` : 'none'} |\n`,
  );
}
