// npx tsx test/bench/organism-pomdp.ts traces|beliefs … — labelled organism traces for fitting and
// diagnosing TRIM-POMDP (src/core/pomdp/README.md, "Fitted on the organism").
//
//   traces  --data FILE [--offset N] [--limit N] --policy record|thr:K|pomdp:λ [--fit TRACES…] [--seed 1] --out FILE
//           solves the problems with the organism's models (all local) under the policy and writes one
//           labelled trace per line; "record" scores every draft and keeps it (weak-only with scores);
//           pomdp:λ uses the POMDP fitted on --fit (comma-separated trace files), or --bundle FILE's.
//           --prm oracle routes with the checker (src/organism/oracle.ts: eval-only headroom, use thr:0.5).
//   sweep   --data FILE [--offset N] [--limit N] --policies "thr:0.5,0.9 pomdp:0.001,0.002 weak-only strong-only"
//           [--fit TRACES…] [--prm oracle] --dir DIR   every policy and knob into DIR/<policy>-<knob>.jsonl
//           (weak-only → weak.jsonl, strong-only → strong.jsonl); the models' answers are memoised per
//           (problem, prefix), which changes nothing (drafts are seeded per problem, the strong model is
//           greedy, the PRM is deterministic) and makes a sweep cost little more than one policy.
//           --observes KIND fits that observation kind; --confidence on|off the drafter-confidence channel
//           (default: on when every draft of the --fit traces carries the weak model's confidence); --transitions default keeps the simulator's
//           p_w, p_s and regeneration cost instead of the fitted ones (ablations).
//           --bundle FILE: pomdp:λ and agg-lambda:λ run that bundle's policies. Set-ups a bundle was not
//           tuned for: --temperature T samples at T (default 0.7; as trim eval's --temperature, it reaches
//           both models: the organism's strong model scores the same at 1.0), --prm-noise σ
//           adds σ·N(0,1) to each PRM score's logit (noise fixed per problem and prefix), --prm-shift d adds d.
//   curve   --dir DIR   reads DIR/weak.jsonl, DIR/strong.jsonl and DIR/<policy>-<knob>.jsonl trace files
//           and prints accuracy, cost, CPT(50/80/95%) and APGR per policy (oracle-*.jsonl: also the
//           cheapest-first oracle curve).
//   model   --fit TRACES… [--lambda λ,λ,…] [--problems N]
//           the Bayes-optimal policy of the fitted model, run in that model (src/core/pomdp/simulate.ts):
//           accuracy, cost, CPT and APGR the model promises.
//   bundle  --fit TRACES… --lambda λ,λ,… --out FILE [--calibrate DIR [--agg-from BUNDLE]] [--note TEXT]
//           a routing bundle (src/core/bundle.ts) holding the fitted pomdp policy and that grid, for
//           "trim eval --policy pomdp --bundle FILE". --calibrate DIR adds the calibration and best that
//           trim tune measures, from DIR's sweep of the tuning problems (weak, strong, thr-*, and pomdp-*
//           at every λ of the grid, swept with the same --fit); --agg-from keeps another bundle's TRIM-Agg.
//   auroc   --traces FILES --fit FILES   AUROC of the PRM score, the weak model's confidence and their
//           logistic fusion (fitted on --fit) for right vs first-wrong drafts of --traces; prints the
//           fusion's weights for "fthr:k --fuse a,b,c" (sweep: Thr on the fused score; cthr:k on confidence).
//   beliefs --traces FILE --fit TRACES… [--lambda λ] [--wrong-only]
//           replays the fitted filter over recorded pomdp traces and prints belief and values per step.

import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createPolicy } from '../../src/core/policies/index.ts';
import { pomdpFromArtefacts, pomdpPolicy } from '../../src/core/policies/pomdp.ts';
import { bundleArtefacts, bundleFromJson, type AggBundle, type RoutingBundle } from '../../src/core/bundle.ts';
import { calibrate, chooseBest, curveMetrics } from '../../src/tune/calibration.ts';
import { STRONG_ONLY, WEAK_ONLY, type ResultRow } from '../../src/eval/summary.ts';

const bundleArtefactsOf = (file: string) => bundleArtefacts(bundleFromJson(JSON.parse(readFileSync(file, 'utf8')), file), 'pomdp');
import { BeliefTracker } from '../../src/core/pomdp/belief.ts';
import { draftObservation, fitPomdpFromTraces, type FittedPomdp, type LabelledTrace } from '../../src/core/pomdp/fit.ts';
import { beliefCell, confidenceCell, type ObservationKind } from '../../src/core/pomdp/observations.ts';
import { actionValues, solvePomdp } from '../../src/core/pomdp/solver.ts';
import type { RoutingPolicy } from '../../src/core/types.ts';
import { organismTraces } from '../../src/organism/traces.ts';
import { checkerOracle, oracleCurve } from '../../src/organism/oracle.ts';
import { apgr, cpt, pgrCurve } from '../../src/core/metrics.ts';
import { readdirSync } from 'node:fs';
import { runInModel } from '../../src/core/pomdp/simulate.ts';
import { organismModelFlags, organismModels, pct, readProblems, readTraces, sweepBaselines, sweepFlags, sweepPoints } from './organism-bench-common.ts';

const [mode, ...argv] = process.argv.slice(2);
const { values } = parseArgs({
  args: argv,
  options: {
    ...sweepFlags,
    policy: { type: 'string' },
    out: { type: 'string' },
    traces: { type: 'string' },
    lambda: { type: 'string' },
    'wrong-only': { type: 'boolean' },
    prm: { type: 'string' },
    problems: { type: 'string' },
    observes: { type: 'string' },
    confidence: { type: 'string' },
    transitions: { type: 'string' },
    bundle: { type: 'string' },
    fuse: { type: 'string' },
    calibrate: { type: 'string' },
    'agg-from': { type: 'string' },
    note: { type: 'string' },
    temperature: { type: 'string' },
    'prm-noise': { type: 'string' },
    'prm-shift': { type: 'string' },
  },
});

// The models' sampling (trim eval's --temperature / --top-p defaults); --temperature T changes it to
// measure a bundle on a set-up it was not tuned for (a hotter weak model).
const sampling = { temperature: Number(values.temperature ?? 0.7), topP: 0.8 };

let fit: FittedPomdp | null = null;
function fitted(): FittedPomdp {
  if (fit) return fit;
  if (!values.fit) throw new Error('--fit TRACES is required');
  // --confidence on|off: the drafter-confidence channel (default: fitted when every draft carries one).
  const confidence = values.confidence === undefined ? 'auto' : values.confidence === 'on' ? true : values.confidence === 'off' ? false : null;
  if (confidence === null) throw new Error('--confidence must be on or off');
  const f = (fit = fitPomdpFromTraces(readTraces(values.fit), { ...(values.observes ? { observes: values.observes as ObservationKind } : {}), confidence }));
  const m = f.model;
  console.error(
    `fitted: p_w ${m.pw.toFixed(4)}, p_s ${m.ps.toFixed(4)}, futureTokens ${m.futureTokens.toFixed(1)}, drafts ${f.stats.drafts} (S0/S1/S2 ${f.stats.draftsByState.join('/')}), strong steps ${f.stats.strongSteps}, confidence channel ${f.observations.confidence ? 'yes' : 'no'}`,
  );
  return f;
}

function policyFrom(spec: string): RoutingPolicy {
  if (spec === 'weak-only' || spec === 'strong-only') return createPolicy(spec);
  if (spec === 'record')
    return { id: 'record', knob: null, episode: () => ({ plan: () => 'score', decide: () => 'accept' }) };
  const [name, knob] = spec.split(':');
  if (name === 'pomdp' && values.bundle) return pomdpFromArtefacts(Number(knob), bundleArtefactsOf(values.bundle));
  if (name === 'agg-lambda' && values.bundle)
    return createPolicy('agg-lambda', { knob: Number(knob), artefacts: bundleArtefacts(bundleFromJson(JSON.parse(readFileSync(values.bundle, 'utf8')), values.bundle), 'agg-lambda') });
  if (name === 'pomdp') {
    const f = fitted();
    // --transitions default: p_w, p_s and the regeneration cost of the simulator (the plateaued set-up).
    if (values.transitions === 'default') return pomdpPolicy({ lambda: Number(knob), observations: f.observations });
    return pomdpPolicy({ lambda: Number(knob), observations: f.observations, pw: f.model.pw, ps: f.model.ps, futureTokens: f.model.futureTokens });
  }
  // TRIM-Thr on another signal, for comparison with the confidence channel: cthr:k regenerates when the
  // weak model's confidence is below k, fthr:k when the logistic fusion of logit(score) and
  // logit(confidence) with --fuse a,b,c weights (what "auroc" prints) is below k.
  if (name === 'cthr' || name === 'fthr') {
    const [a, b, c] = (values.fuse ?? '').split(',').map(Number);
    if (name === 'fthr' && [a, b, c].some((x) => !Number.isFinite(x))) throw new Error('fthr needs --fuse a,b,c (from the auroc mode)');
    return {
      id: name,
      knob: Number(knob),
      episode: () => ({
        plan: () => 'score',
        decide: (o) => {
          if (o.confidence === undefined) throw new Error('cthr/fthr need a weak model that reports its confidence');
          const v = name === 'cthr' ? o.confidence : 1 / (1 + Math.exp(-(a! + b! * logit(o.score) + c! * logit(o.confidence))));
          return v < Number(knob) ? 'regenerate' : 'accept';
        },
      }),
    };
  }
  return createPolicy(name!, { knob: Number(knob) });
}

const logit = (x: number) => {
  const c = Math.min(1 - 1e-6, Math.max(1e-6, x));
  return Math.log(c / (1 - c));
};

/** P(a random right draft ranks above a random first-wrong one), ties counting half. */
function auroc(right: number[], wrong: number[]): number {
  const w = [...wrong].sort((x, y) => x - y);
  const below = (v: number, strict: boolean) => {
    let lo = 0;
    let hi = w.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (strict ? w[mid]! < v : w[mid]! <= v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  let s = 0;
  for (const v of right) s += below(v, true) + 0.5 * (below(v, false) - below(v, true));
  return s / (right.length * wrong.length);
}

/** Logistic regression of "right" on features by gradient ascent (few features, thousands of drafts). */
function logistic(x: number[][], y: number[]): number[] {
  const w = new Array<number>(x[0]!.length).fill(0);
  for (let it = 0; it < 500; it++) {
    const g = new Array<number>(w.length).fill(0);
    x.forEach((row, i) => {
      const z = row.reduce((a, v, k) => a + v * w[k]!, 0);
      const p = 1 / (1 + Math.exp(-Math.max(-30, Math.min(30, z))));
      row.forEach((v, k) => (g[k] = g[k]! + (y[i]! - p) * v));
    });
    g.forEach((v, k) => (w[k] = w[k]! + (0.5 * v) / x.length));
  }
  return w;
}

/** A sweep folder's traces as the eval result rows trim tune calibrates from (what calibrate() reads of them). */
function resultRows(dir: string): ResultRow[] {
  const rows: ResultRow[] = [];
  for (const f of readdirSync(dir)) {
    const m = /^(weak|strong|thr|pomdp)(?:-([0-9.e-]+))?\.jsonl$/.exec(f);
    if (!m) continue;
    const policy = m[1] === 'weak' ? WEAK_ONLY : m[1] === 'strong' ? STRONG_ONLY : m[1]!;
    const knob = m[2] === undefined ? null : Number(m[2]);
    for (const t of readTraces(`${dir}/${f}`))
      rows.push({ id: t.id, policy, knob, correct: t.correct, strongTokens: t.strongTokens, steps: t.steps.map((x) => ({ source: x.source })) } as unknown as ResultRow);
  }
  return rows;
}

function tunedCalibration(dir: string, grid: readonly number[], aggFrom: string | undefined) {
  const rows = resultRows(dir).filter((r) => r.policy !== 'pomdp' || grid.includes(r.knob!));
  const missing = grid.filter((k) => !rows.some((r) => r.policy === 'pomdp' && r.knob === k));
  if (missing.length) throw new Error(`${dir} has no pomdp-<λ>.jsonl for λ ${missing.join(', ')}: sweep them first (with the same --fit).`);
  const cal = calibrate(rows, 'tokens');
  const tuned = ['pomdp'];
  let agg: AggBundle | undefined;
  if (aggFrom) {
    const old = bundleFromJson(JSON.parse(readFileSync(aggFrom, 'utf8')), aggFrom);
    agg = old.policies['agg-lambda'];
    const points = old.calibration['agg-lambda'];
    if (agg && points) {
      cal.points['agg-lambda'] = points;
      cal.metrics['agg-lambda'] = curveMetrics(points, cal.weakAccuracy, cal.strongAccuracy);
      tuned.push('agg-lambda');
    }
  }
  const best = chooseBest(cal, tuned);
  for (const [p, m] of Object.entries(cal.metrics)) console.error(`${p}: CPT(95%) ${pct(m.cpt95)}, APGR ${pct(m.apgr)} on ${cal.problems} problems`);
  console.error(`best: ${JSON.stringify(best)}`);
  return { points: cal.points, best, agg };
}

async function models() {
  return organismModels(values, values.prm === 'oracle' ? checkerOracle() : undefined);
}

function problemsOf(): { id: string; problem: string }[] {
  return readProblems(values.data!, Number(values.offset ?? 0), Number(values.limit ?? 1e9));
}

if (mode === 'sweep') {
  const { weak, strong, prm } = await models();
  const problems = problemsOf();
  const dir = values.dir!;
  mkdirSync(dir, { recursive: true });
  for (const { name, knob, spec } of sweepPoints(values.policies!)) {
    const file =
      name === 'weak-only' ? 'weak.jsonl' : name === 'strong-only' ? 'strong.jsonl' : `${values.prm === 'oracle' ? 'oracle' : name}-${knob}.jsonl`;
    const t0 = performance.now();
    const traces = await organismTraces(problems, { weak, strong, prm, policy: policyFrom(spec), seed: Number(values.seed ?? 1), sampling });
    writeFileSync(`${dir}/${file}`, traces.map((t) => JSON.stringify(t)).join('\n') + '\n');
    const acc = traces.filter((t) => t.correct).length / traces.length;
    const tok = traces.reduce((a, t) => a + t.strongTokens, 0) / traces.length;
    console.log(`${spec.padEnd(20)} accuracy ${(100 * acc).toFixed(1)}% strong tokens/problem ${tok.toFixed(1)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
} else if (mode === 'traces') {
  const { weak, strong, prm } = await models();
  const problems = problemsOf();
  const out = values.out!;
  writeFileSync(out, '');
  let n = 0;
  let correct = 0;
  let strongTokens = 0;
  await organismTraces(problems, {
    weak,
    strong,
    prm,
    policy: policyFrom(values.policy ?? 'record'),
    seed: Number(values.seed ?? 1),
    sampling,
    onTrace: (t) => {
      appendFileSync(out, JSON.stringify(t) + '\n');
      n++;
      correct += t.correct ? 1 : 0;
      strongTokens += t.strongTokens;
      if (n % 50 === 0) console.error(`${n}/${problems.length} accuracy ${((100 * correct) / n).toFixed(1)}%`);
    },
  });
  console.log(`${values.policy}: ${n} problems, accuracy ${((100 * correct) / n).toFixed(1)}%, strong tokens/problem ${(strongTokens / n).toFixed(1)}`);
} else if (mode === 'beliefs') {
  const f = fitted();
  const lambda = Number(values.lambda ?? 2e-4);
  const tables = solvePomdp(f.model, f.observations, lambda);
  for (const tr of readTraces(values.traces!)) {
    if (values['wrong-only'] && tr.correct) continue;
    console.log(`${tr.id} ${tr.correct ? 'right' : 'WRONG'}`);
    const belief = new BeliefTracker(f.observations, 'filter', f.model.pw, f.model.ps);
    tr.steps.forEach((s, i) => {
      const d = s.draft;
      if (!d) return void console.log(`  t${i + 1} ${s.source} (no draft)`);
      const o = draftObservation(d);
      const b = belief.observe(beliefCell(f.observations, d.previous, d.score), confidenceCell(f.observations, d.confidence));
      const v = actionValues(tables, i + 1, b, d.tokens);
      belief.act(b, d.decision);
      console.log(
        `  t${i + 1} draft ${d.label.padEnd(11)} score ${o.score.toFixed(3)} prev [${d.previous.map((p) => p.toFixed(2)).join(' ')}] ` +
          `b=(${b.map((x) => x.toFixed(3)).join(', ')}) A ${v.accept.toFixed(4)} G ${v.regenerate.toFixed(4)} → ${d.decision}; kept ${s.source} ${s.label}`,
      );
    });
  }
} else if (mode === 'auroc') {
  // How well each signal tells a right draft (S0) from a first wrong one (S2) on --traces, and a
  // logistic fusion of the two fitted on --fit (never on the traces it is measured on).
  const drafts = (files: string) =>
    readTraces(files).flatMap((t) => t.steps.flatMap((x) => (x.draft && x.draft.confidence !== undefined && x.draft.label !== 'after-error' ? [x.draft] : [])));
  const train = drafts(values.fit!);
  const test = drafts(values.traces!);
  const feats = (d: (typeof test)[number]) => [1, logit(d.score), logit(d.confidence!)];
  const w = logistic(train.map(feats), train.map((d) => (d.label === 'correct' ? 1 : 0)));
  const split = (f: (d: (typeof test)[number]) => number) => [
    test.filter((d) => d.label === 'correct').map(f),
    test.filter((d) => d.label === 'first-wrong').map(f),
  ] as const;
  const [r, wr] = split(() => 0);
  console.log(`${r.length} right and ${wr.length} first-wrong drafts (fusion fitted on ${train.length} drafts: --fuse ${w.map((v) => v.toFixed(3)).join(',')})`);
  console.log(`AUROC  PRM score ${auroc(...split((d) => d.score)).toFixed(4)}  confidence ${auroc(...split((d) => d.confidence!)).toFixed(4)}  fusion ${auroc(...split((d) => feats(d).reduce((a, v, k) => a + v * w[k]!, 0))).toFixed(4)}`);
  for (const [lo, hi] of [[0, 0.1], [0.1, 0.5], [0.5, 0.9], [0.9, 1.01]] as const) {
    const [a, b] = split((d) => (d.score >= lo && d.score < hi ? d.confidence! : NaN)).map((v) => v.filter((x) => !Number.isNaN(x)));
    if (a!.length && b!.length) console.log(`  score in [${lo}, ${Math.min(1, hi)}): ${a!.length} right, ${b!.length} first-wrong, confidence AUROC ${auroc(a!, b!).toFixed(3)}`);
  }
} else if (mode === 'bundle') {
  const { bundleToJson } = await import('../../src/core/bundle.ts');
  const f = fitted();
  const grid = values.lambda!.split(',').map(Number);
  // --calibrate DIR: the bundle's calibration and best, as trim tune measures them, from a sweep folder of
  // the tuning problems (weak, strong, thr-*, pomdp-* at this fit's grid); --agg-from BUNDLE keeps that
  // bundle's TRIM-Agg (policy and its calibration, measured on the same problems) beside the new POMDP.
  const calibrated = values.calibrate ? tunedCalibration(values.calibrate, grid, values['agg-from']) : null;
  const bundle: RoutingBundle = {
    policies: {
      pomdp: {
        observations: f.observations,
        pw: f.model.pw,
        ps: f.model.ps,
        hazard: [...f.model.hazard],
        futureTokens: f.model.futureTokens,
        belief: 'filter' as const,
        grid,
        extra: { fit: f.stats },
      },
      ...(calibrated?.agg ? { 'agg-lambda': calibrated.agg } : {}),
    },
    calibration: calibrated?.points ?? {},
    best: calibrated?.best ?? null,
    provenance: {
      fittedOn: values.fit,
      ...(values.calibrate ? { calibratedOn: values.calibrate } : {}),
      ...(values['agg-from'] ? { aggFrom: values['agg-from'] } : {}),
      ...(values.note ? { note: values.note } : {}),
      models: { weak: organismModelFlags['weak-path'], strong: organismModelFlags['strong-path'], prm: organismModelFlags['prm-path'] },
      seed: Number(values.seed ?? 1),
      settings: { cost: 'tokens', observes: f.observations.observes ?? 'min-and-score', confidence: !!f.observations.confidence, sampling },
      stats: f.stats,
      date: new Date().toISOString(),
    },
  };
  writeFileSync(values.out!, JSON.stringify(bundleToJson(bundle)) + '\n');
  console.error(`wrote ${values.out}`);
} else if (mode === 'model') {
  const f = fitted();
  const n = Number(values.problems ?? 20000);
  const lambdas = (values.lambda ?? '0.0002,0.0005,0.001,0.002,0.003,0.005,0.008,0.012,0.02,0.03,0.05').split(',').map(Number);
  const weak = runInModel(f.model, f.observations, { kind: 'weak-only' }, n);
  const strong = runInModel(f.model, f.observations, { kind: 'strong-only' }, n);
  console.log(`in the fitted model (${n} problems): weak-only ${(100 * weak.accuracy).toFixed(1)}%, strong-only ${(100 * strong.accuracy).toFixed(1)}%`);
  const pts = lambdas.map((lambda) => ({ lambda, ...runInModel(f.model, f.observations, { kind: 'pomdp', lambda }, n) }));
  for (const p of pts) console.log(`   λ ${String(p.lambda).padEnd(8)} accuracy ${(100 * p.accuracy).toFixed(1)}% cost ${(100 * p.cost).toFixed(1)}%`);
  const curve = pgrCurve(pts.map((p) => ({ cost: p.cost, accuracy: p.accuracy })), weak.accuracy, strong.accuracy)!;
  console.log(`pomdp in its model: CPT(50/80/95%) ${pct(cpt(curve, 0.5))} / ${pct(cpt(curve, 0.8))} / ${pct(cpt(curve, 0.95))}, APGR ${pct(apgr(curve))}`);
} else if (mode === 'curve') {
  const dir = values.dir!;
  const { load, mean, weak, strong, weakAcc, strongAcc } = sweepBaselines(dir);
  const strongTok = mean(strong, (t) => t.strongTokens);
  console.log(`${weak.length} problems: weak-only ${(100 * weakAcc).toFixed(1)}%, strong-only ${(100 * strongAcc).toFixed(1)}% at ${strongTok.toFixed(1)} strong tokens`);
  const groups = new Map<string, { knob: number; acc: number; cost: number }[]>();
  for (const f of readdirSync(dir).filter((x) => /^[a-z]+(?:-[a-z]+)*-[0-9.e-]+\.jsonl$/.test(x))) {
    const [, name, knob] = /^([a-z]+(?:-[a-z]+)*)-([0-9.e-]+)\.jsonl$/.exec(f)!;
    const r = load(f);
    if (r.length !== weak.length) console.log(`  (${f}: ${r.length} problems, not ${weak.length}: skipped)`);
    if (r.length !== weak.length) continue;
    if (!groups.has(name!)) groups.set(name!, []);
    groups.get(name!)!.push({ knob: Number(knob), acc: mean(r, (t) => (t.correct ? 1 : 0)), cost: mean(r, (t) => t.strongTokens) / strongTok });
    if (name === 'oracle') {
      const c = oracleCurve(r, weakAcc).map((p) => ({ acc: p.accuracy, cost: p.strongTokens / strongTok, knob: NaN }));
      groups.set('oracle-cheapest-first', c);
    }
  }
  for (const [name, pts] of groups) {
    pts.sort((a, b) => a.knob - b.knob);
    const curve = pgrCurve(pts.map((p) => ({ cost: p.cost, accuracy: p.acc })), weakAcc, strongAcc)!;
    console.log(`${name}: CPT(50/80/95%) ${pct(cpt(curve, 0.5))} / ${pct(cpt(curve, 0.8))} / ${pct(cpt(curve, 0.95))}, APGR ${pct(apgr(curve))}`);
    if (name !== 'oracle-cheapest-first') for (const p of pts) console.log(`   ${String(p.knob).padEnd(8)} accuracy ${pct(p.acc)} cost ${pct(p.cost)}`);
  }
} else {
  console.error('usage: organism-pomdp.ts traces|beliefs …');
  process.exit(2);
}
process.exit(0);
