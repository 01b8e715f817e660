// npx tsx test/bench/organism-setups.ts --name NAME [--val val300.jsonl] [--temperature T] [--prm-noise σ] [--prm-shift d] [--out DIR]
//   [--limit N: only the first N problems of each split, for a quick check]
//
// One organism set-up (README, "Set-ups the bundle was not tuned for"), tuned for itself and measured:
// (1) the traces trim tune solves, on the first 300 problems of --val (the organism's validation split,
// as the committed bundle was tuned on) under the set-up (weak-only
// with every draft scored, strong-only, Thr 0.3 … 0.95; checker labels; seed 1); (2) fitPomdpFromTraces
// on them, as trim tune fits (the drafter-confidence channel when every draft carries one); (3) trim
// tune's λ grid (defaultLambdaGrid) measured on those problems and refined near PGR 95% (refineNear95);
// (4) the 500 test problems under the same set-up: weak-only, strong-only, Thr, the tuned POMDP and,
// for the transfer table, the committed bundle's POMDP and Agg unchanged. Never tunes on test. One
// process, so the models' answers are memoised across all of it (a few minutes). Writes every trace
// to DIR/val and DIR/test (default runs/setups/NAME) and the tuned POMDP as DIR/routing.json.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createPolicy } from '../../src/core/policies/index.ts';
import { pomdpFromArtefacts, pomdpPolicy } from '../../src/core/policies/pomdp.ts';
import { bundleArtefacts, bundleFromJson, bundleToJson, type RoutingBundle } from '../../src/core/bundle.ts';
import { fitPomdpFromTraces, type LabelledTrace } from '../../src/core/pomdp/fit.ts';
import type { RoutingPolicy } from '../../src/core/types.ts';
import { organismTraces } from '../../src/organism/traces.ts';
import { apgr, cpt, pgrCurve } from '../../src/core/metrics.ts';
import { defaultLambdaGrid, refineNear95 } from '../../src/cli/commands/tune.ts';
import { organismModels, pct, readProblems } from './organism-bench-common.ts';

const { values: v } = parseArgs({ options: { name: { type: 'string' }, out: { type: 'string' }, val: { type: 'string' }, limit: { type: 'string' }, 'prm-noise': { type: 'string' }, 'prm-shift': { type: 'string' }, temperature: { type: 'string' } } });
const sampling = { temperature: Number(v.temperature ?? 0.7), topP: 0.8 };
const { weak, strong, prm } = await organismModels(v);
const record: RoutingPolicy = { id: 'record', knob: null, episode: () => ({ plan: () => 'score', decide: () => 'accept' }) };
const mean = (r: LabelledTrace[], f: (t: LabelledTrace) => number) => r.reduce((a, t) => a + f(t), 0) / r.length;
if (!v.name) throw new Error('--name NAME is required (it names the output folder)');
const out = v.out ?? `runs/setups/${v.name}`;
mkdirSync(`${out}/val`, { recursive: true });
mkdirSync(`${out}/test`, { recursive: true });
const THR_VAL = [0.3, 0.5, 0.7, 0.8, 0.9, 0.95];
const THR_TEST = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95];

async function runSet(problems: { id: string; problem: string }[], dir: string, file: string, policy: RoutingPolicy) {
  const r = await organismTraces(problems, { weak, strong, prm, policy, seed: 1, sampling });
  writeFileSync(`${dir}/${file}.jsonl`, r.map((t) => JSON.stringify(t)).join('\n') + '\n');
  return r;
}
function table(title: string, wk: LabelledTrace[], st: LabelledTrace[], groups: Record<string, { knob: number; r: LabelledTrace[] }[]>) {
  const wA = mean(wk, (t) => +t.correct), sA = mean(st, (t) => +t.correct), sT = mean(st, (t) => t.strongTokens);
  console.log(`== ${title}: ${wk.length} problems, weak-only ${pct(wA)}, strong-only ${pct(sA)} at ${sT.toFixed(1)} strong tokens`);
  for (const [name, pts] of Object.entries(groups)) {
    const p = pts.map((x) => ({ knob: x.knob, acc: mean(x.r, (t) => +t.correct), cost: mean(x.r, (t) => t.strongTokens) / sT })).sort((a, b) => a.knob - b.knob);
    const c = pgrCurve(p.map((x) => ({ cost: x.cost, accuracy: x.acc })), wA, sA)!;
    console.log(`${name}: CPT(50/80/95%) ${pct(cpt(c, 0.5))} / ${pct(cpt(c, 0.8))} / ${pct(cpt(c, 0.95))}, APGR ${pct(apgr(c))}`);
    console.log('   ' + p.map((x) => `${x.knob} ${pct(x.acc)}@${pct(x.cost)}`).join(' · '));
  }
  return { wA, sA };
}

// 1. Validation traces under the set-up (the first 300 validation problems, as the committed bundle's).
const val = readProblems(v.val ?? 'val300.jsonl', 0, Math.min(300, Number(v.limit ?? 300)));
const rec = await runSet(val, `${out}/val`, 'record', record);
const vWeak = await runSet(val, `${out}/val`, 'weak', createPolicy('weak-only'));
const vStrong = await runSet(val, `${out}/val`, 'strong', createPolicy('strong-only'));
const vThr = [];
for (const k of THR_VAL) vThr.push({ knob: k, r: await runSet(val, `${out}/val`, `thr-${k}`, createPolicy('thr', { knob: k })) });
// 2. The fit, as trim tune fits.
const fit = fitPomdpFromTraces([...rec, ...vStrong, ...vThr.flatMap((x) => x.r)]);
const m = fit.model;
console.log(`fitted: p_w ${m.pw.toFixed(4)}, p_s ${m.ps.toFixed(4)}, ${m.futureTokens.toFixed(1)} tokens per strong step, drafts ${fit.stats.drafts} (${fit.stats.draftsByState.join('/')}), confidence channel ${fit.observations.confidence ? 'yes' : 'no'}`);
const tuned = (lambda: number) => pomdpPolicy({ lambda, observations: fit.observations, pw: m.pw, ps: m.ps, futureTokens: m.futureTokens });
// 3. trim tune's grid on the tuning problems, refined near PGR 95%.
const grid = defaultLambdaGrid(mean(vStrong, (t) => t.strongTokens));
const vPomdp = [];
for (const l of grid) vPomdp.push({ knob: l, r: await runSet(val, `${out}/val`, `pomdp-${l}`, tuned(l)) });
const { wA, sA } = table(`${v.name} validation (tuning problems, in-sample)`, vWeak, vStrong, { thr: vThr, pomdp: vPomdp });
const extra = refineNear95(vPomdp.map((x) => ({ knob: x.knob, accuracy: mean(x.r, (t) => +t.correct) })), wA, sA);
console.log(`refined near PGR 95%: ${extra.join(', ')}`);
const fullGrid = [...grid, ...extra].sort((a, b) => a - b);
const tunedBundle: RoutingBundle = {
  policies: { pomdp: { observations: fit.observations, pw: m.pw, ps: m.ps, hazard: [...m.hazard], futureTokens: m.futureTokens, belief: 'filter' as const, grid: fullGrid, extra: {} } },
  calibration: {}, best: null, provenance: { note: `test/bench/organism-setups.ts ${process.argv.slice(2).join(' ')}`, stats: fit.stats, date: new Date().toISOString() },
};
writeFileSync(`${out}/routing.json`, JSON.stringify(bundleToJson(tunedBundle)) + '\n');
// 4. Test.
const test = readProblems('public/organism/test.jsonl', 0, Number(v.limit ?? 500));
const T = `${out}/test`;
const tWeak = await runSet(test, T, 'weak', createPolicy('weak-only'));
const tStrong = await runSet(test, T, 'strong', createPolicy('strong-only'));
const groups: Record<string, { knob: number; r: LabelledTrace[] }[]> = { thr: [], pomdp: [], 'bundle-pomdp': [], 'bundle-agg': [] };
for (const k of THR_TEST) groups.thr!.push({ knob: k, r: await runSet(test, T, `thr-${k}`, createPolicy('thr', { knob: k })) });
for (const l of fullGrid) groups.pomdp!.push({ knob: l, r: await runSet(test, T, `pomdp-${l}`, tuned(l)) });
const R = 'public/models/organism/routing.json';
const committed = bundleFromJson(JSON.parse(readFileSync(R, 'utf8')), R);
for (const l of committed.policies.pomdp!.grid) groups['bundle-pomdp']!.push({ knob: l, r: await runSet(test, T, `bundlepomdp-${l}`, pomdpFromArtefacts(l, bundleArtefacts(committed, 'pomdp'))) });
for (const l of committed.policies['agg-lambda']!.grid) groups['bundle-agg']!.push({ knob: l, r: await runSet(test, T, `bundleagg-${l}`, createPolicy('agg-lambda', { knob: l, artefacts: bundleArtefacts(committed, 'agg-lambda') })) });
table(`${v.name} test`, tWeak, tStrong, groups);
process.exit(0);
