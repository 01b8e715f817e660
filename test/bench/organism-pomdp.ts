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
//   bundle  --fit TRACES… --lambda λ,λ,… --out FILE
//           a routing bundle (src/core/bundle.ts) holding the fitted pomdp policy and that grid, for
//           "trim eval --policy pomdp --bundle FILE" (no calibration: trim tune measures that).
//   beliefs --traces FILE --fit TRACES… [--lambda λ] [--wrong-only]
//           replays the fitted filter over recorded pomdp traces and prints belief and values per step.

import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createPolicy } from '../../src/core/policies/index.ts';
import { pomdpFromArtefacts, pomdpPolicy } from '../../src/core/policies/pomdp.ts';
import { bundleArtefacts, bundleFromJson } from '../../src/core/bundle.ts';

const bundleArtefactsOf = (file: string) => bundleArtefacts(bundleFromJson(JSON.parse(readFileSync(file, 'utf8')), file), 'pomdp');
import { BeliefTracker } from '../../src/core/pomdp/belief.ts';
import { draftObservation, fitPomdpFromTraces, type FittedPomdp, type LabelledTrace } from '../../src/core/pomdp/fit.ts';
import { beliefCell, confidenceCell, type ObservationKind } from '../../src/core/pomdp/observations.ts';
import { actionValues, solvePomdp } from '../../src/core/pomdp/solver.ts';
import type { RoutingPolicy, StepScorer } from '../../src/core/types.ts';
import { organismTraces } from '../../src/organism/traces.ts';
import { checkerOracle, oracleCurve } from '../../src/organism/oracle.ts';
import { apgr, cpt, pgrCurve } from '../../src/core/metrics.ts';
import { readdirSync } from 'node:fs';
import { runInModel } from '../../src/core/pomdp/simulate.ts';
import { memoModel, memoScorer, organismModelFlags, pct, readProblems, readTraces, sweepBaselines, sweepFlags, sweepPoints } from './organism-bench-common.ts';

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
  return createPolicy(name!, { knob: Number(knob) });
}

// --prm-noise σ: a degraded PRM, each score's logit plus σ·N(0, 1); --prm-shift d adds d to every
// logit (a PRM calibrated differently: d < 0 doubts every step more, keeping its order). The noise is
// a pure function of the problem and the prefix up to the scored step, so a step keeps its score wherever it is rescored
// (as a deterministic PRM's would), and every policy sees the same degraded PRM.
function noisyScorer(m: StepScorer, sigma: number, shift: number): StepScorer {
  const gauss = (key: string) => {
    const u = [0, 1].map((salt) => {
      let h = 2166136261 ^ salt;
      for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
      h = Math.imul(h ^ (h >>> 15), 2246822507) ^ Math.imul(h ^ (h >>> 13), 3266489909);
      return ((h >>> 0) + 0.5) / 4294967296;
    });
    return Math.sqrt(-2 * Math.log(u[0]!)) * Math.cos(2 * Math.PI * u[1]!);
  };
  return {
    id: `${m.id}+noise${sigma}+shift${shift}`,
    where: m.where,
    async score(r) {
      const s = await m.score(r);
      return s.map((x, i) => {
        const c = Math.min(1 - 1e-6, Math.max(1e-6, x));
        const z = Math.log(c / (1 - c)) + shift + sigma * gauss(JSON.stringify([r.problem, r.steps.slice(0, i + 1)]));
        return 1 / (1 + Math.exp(-z));
      });
    },
  };
}

async function models() {
  const { localStepModel, localScorer } = await import('../../src/cli/local-models.ts');
  const flags = organismModelFlags;
  return {
    weak: memoModel(localStepModel.build('weak', flags, process.env)),
    strong: memoModel(localStepModel.build('strong', flags, process.env)),
    prm: memoScorer(
      values.prm === 'oracle'
        ? checkerOracle()
        : values['prm-noise'] || values['prm-shift']
          ? noisyScorer(localScorer.build(flags, process.env), Number(values['prm-noise'] ?? 0), Number(values['prm-shift'] ?? 0))
          : localScorer.build(flags, process.env),
    ),
  };
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
} else if (mode === 'bundle') {
  const { bundleToJson } = await import('../../src/core/bundle.ts');
  const f = fitted();
  const bundle = {
    policies: {
      pomdp: {
        observations: f.observations,
        pw: f.model.pw,
        ps: f.model.ps,
        hazard: [...f.model.hazard],
        futureTokens: f.model.futureTokens,
        belief: 'filter' as const,
        grid: values.lambda!.split(',').map(Number),
        extra: {},
      },
    },
    calibration: {},
    best: null,
    provenance: { fittedOn: values.fit, stats: f.stats, date: new Date().toISOString() },
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
