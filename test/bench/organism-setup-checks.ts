// npx tsx test/bench/organism-setup-checks.ts folds|bootstrap … — how far to trust a set-up's numbers
// (README, "Set-ups the bundle was not tuned for"); neither tunes anything.
//
//   folds --data VAL --traces DIR [--temperature T] [--prm-noise σ] [--prm-shift d] [--confidence on|off]
//         --variants "score-given-previous:20,score:20,min-and-score:20" [--folds 2]
//         validation only: TRIM-POMDP fitted (fitPomdpFromTraces, observation kind:bins per variant) on
//         the other folds' traces of DIR (record-null, strong, thr-0.3 … thr-0.95 .jsonl, as
//         organism-pomdp.ts sweep writes them) and run on each fold's problems, so every problem is
//         routed by a fit that never saw it; prints that out-of-fold curve beside Thr's (11 thresholds).
//   bootstrap --dir DIR [--policy pomdp] [--draws 1000]
//         a sweep folder (weak.jsonl, strong.jsonl, thr-K.jsonl, POLICY-λ.jsonl): paired bootstrap over
//         problems of CPT(95%)(policy) − CPT(95%)(Thr), the gap the problem sample alone could make.
import { readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createPolicy } from '../../src/core/policies/index.ts';
import { pomdpPolicy } from '../../src/core/policies/pomdp.ts';
import { fitPomdpFromTraces, type LabelledTrace } from '../../src/core/pomdp/fit.ts';
import type { ObservationKind } from '../../src/core/pomdp/observations.ts';
import { organismTraces } from '../../src/organism/traces.ts';
import { apgr, cpt, pgrCurve } from '../../src/core/metrics.ts';
import { organismModels, pct, readProblems, readTraces } from './organism-bench-common.ts';

const [mode, ...argv] = process.argv.slice(2);
const { values: v } = parseArgs({
  args: argv,
  options: {
    data: { type: 'string' }, traces: { type: 'string' }, dir: { type: 'string' }, policy: { type: 'string' }, draws: { type: 'string' },
    'prm-noise': { type: 'string' }, 'prm-shift': { type: 'string' }, temperature: { type: 'string' }, confidence: { type: 'string' },
    variants: { type: 'string' }, grid: { type: 'string' }, folds: { type: 'string' },
  },
});
const mean = <T>(r: readonly T[], f: (t: T) => number) => r.reduce((a, t) => a + f(t), 0) / r.length;

if (mode === 'folds') {
  const sampling = { temperature: Number(v.temperature ?? 0.7), topP: 0.8 };
  const { weak, strong, prm } = await organismModels(v);
  const confidence = v.confidence === undefined ? 'auto' : v.confidence === 'on';
  const problems = readProblems(v.data!, 0, 1e9);
  const D = v.traces!;
  const all = readTraces(['record-null', 'strong', 'thr-0.3', 'thr-0.5', 'thr-0.7', 'thr-0.8', 'thr-0.9', 'thr-0.95'].map((f) => `${D}/${f}.jsonl`).join(','));
  const grid = (v.grid ?? '0.000057,0.00012,0.00026,0.00057,0.0012,0.0026,0.0057,0.012,0.026,0.057').split(',').map(Number);
  const K = Number(v.folds ?? 2);
  const foldOf = (i: number) => Math.floor((i * K) / problems.length);
  const run = (ps: typeof problems, policy: ReturnType<typeof createPolicy>) => organismTraces(ps, { weak, strong, prm, policy, seed: 1, sampling });
  const wk = await run(problems, createPolicy('weak-only'));
  const st = await run(problems, createPolicy('strong-only'));
  const wAcc = mean(wk, (t) => +t.correct), sAcc = mean(st, (t) => +t.correct), sTok = mean(st, (t) => t.strongTokens);
  const report = (name: string, pts: { knob: number; r: LabelledTrace[] }[]) => {
    const p = pts.map((x) => ({ knob: x.knob, acc: mean(x.r, (t) => +t.correct), cost: mean(x.r, (t) => t.strongTokens) / sTok }));
    const c = pgrCurve(p.map((x) => ({ cost: x.cost, accuracy: x.acc })), wAcc, sAcc)!;
    console.log(`${name}: CPT(50/80/95%) ${pct(cpt(c, 0.5))} / ${pct(cpt(c, 0.8))} / ${pct(cpt(c, 0.95))}, APGR ${pct(apgr(c))}   ` + p.map((x) => `${x.knob}:${pct(x.acc)}@${pct(x.cost)}`).join(' '));
  };
  console.log(`${problems.length} problems: weak-only ${pct(wAcc)}, strong-only ${pct(sAcc)} at ${sTok.toFixed(1)} tokens; ${K} folds`);
  const thr = [];
  for (const k of [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]) thr.push({ knob: k, r: await run(problems, createPolicy('thr', { knob: k })) });
  report('thr (11 knobs)', thr);
  for (const variant of v.variants!.split(',')) {
    const [observes, bins] = variant.split(':');
    const out = grid.map((knob) => ({ knob, r: [] as LabelledTrace[] }));
    for (let f = 0; f < K; f++) {
      const held = new Set(problems.filter((_, i) => foldOf(i) === f).map((p) => p.id));
      const fit = fitPomdpFromTraces(all.filter((t) => !held.has(t.id)), { observes: observes as ObservationKind, bins: Number(bins ?? 20), confidence });
      const ps = problems.filter((p) => held.has(p.id));
      for (const o of out) o.r.push(...(await run(ps, pomdpPolicy({ lambda: o.knob, observations: fit.observations, pw: fit.model.pw, ps: fit.model.ps, futureTokens: fit.model.futureTokens }))));
    }
    report(`pomdp ${variant} out-of-fold`, out);
  }
} else if (mode === 'bootstrap') {
  const dir = v.dir!;
  const pol = v.policy ?? 'pomdp';
  const load = (f: string) => readTraces(`${dir}/${f}`);
  const weak = load('weak.jsonl');
  const strong = load('strong.jsonl');
  const groups: Record<string, LabelledTrace[][]> = {};
  for (const f of readdirSync(dir)) {
    const m = /^([a-z]+(?:-[a-z]+)*)-([0-9.e-]+)\.jsonl$/.exec(f);
    if (m && (m[1] === 'thr' || m[1] === pol)) (groups[m[1]!] ??= []).push(load(f));
  }
  if (!groups.thr || !groups[pol]) throw new Error(`${dir} needs thr-K.jsonl and ${pol}-λ.jsonl sweeps`);
  const n = weak.length;
  let seed = 12345;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
  const c95 = (idx: number[], name: string) => {
    const m = (r: LabelledTrace[], f: (t: LabelledTrace) => number) => idx.reduce((a, i) => a + f(r[i]!), 0) / idx.length;
    const st = m(strong, (t) => t.strongTokens);
    const c = pgrCurve(groups[name]!.map((r) => ({ cost: m(r, (t) => t.strongTokens) / st, accuracy: m(r, (t) => +t.correct) })), m(weak, (t) => +t.correct), m(strong, (t) => +t.correct));
    return c ? cpt(c, 0.95) : null;
  };
  const all = [...Array(n).keys()];
  const d: number[] = [];
  for (let b = 0; b < Number(v.draws ?? 1000); b++) {
    const idx = all.map(() => Math.floor(rnd() * n));
    const a = c95(idx, pol);
    const t = c95(idx, 'thr');
    if (a !== null && t !== null) d.push(a - t);
  }
  d.sort((a, b) => a - b);
  const q = (p: number) => (100 * d[Math.floor(p * (d.length - 1))]!).toFixed(1);
  console.log(`${dir}: ${pol} − thr CPT(95%) ${(100 * (c95(all, pol)! - c95(all, 'thr')!)).toFixed(1)} pt; bootstrap (${d.length} draws reaching PGR 95%) 5/50/95%: ${q(0.05)} / ${q(0.5)} / ${q(0.95)} pt; P(${pol} ≤ thr) ${(d.filter((x) => x <= 0).length / d.length).toFixed(2)}`);
} else {
  console.error('usage: organism-setup-checks.ts folds|bootstrap …');
  process.exit(2);
}
process.exit(0);
