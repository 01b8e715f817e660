// npx tsx test/bench/organism-sent.ts sweep|curve … — the organism with its strong model as a remote,
// priced in characters sent (issue 11, "Privacy as a cost"; README, trim tune).
//
//   sweep --data FILE [--offset N] [--limit N] --policies "thr:0.1,0.5 pomdp:1e-5 weak-only strong-only"
//         [--fit TRACES,…] [--seed 1] --dir DIR
//         Solves with the organism's models, all run here, but the strong model is declared remote and
//         every request it would send is counted exactly as `trim eval --strong-url URL --strong-model
//         strong` counts it: the body is sized by the same OpenAI client (requestChars), so sentChars and
//         each decision's sendChars are the characters trim eval would send to `trim serve`. The PRM is
//         local. Answers are memoised per (problem, prefix) as in organism-pomdp.ts (deterministic models).
//         pomdp:λ is TRIM-POMDP fitted on --fit with cost "sent" (λ per character); pomdptok:λ the same
//         fit priced in strong tokens (λ per token), for comparison.
//         weak-only → weak.jsonl, strong-only → strong.jsonl, record → record.jsonl, others <name>-<knob>.jsonl.
//   curve --dir DIR   accuracy, characters sent and strong tokens per policy; CPT(95%) and APGR on the
//         characters axis (sent ÷ strong-only's), and each policy's cheapest point with PGR ≥ 95%.

import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { stepModelSources } from '../../src/cli/model-flags.ts';
import { apgr, cpt, pgrCurve } from '../../src/core/metrics.ts';
import { fitPomdpFromTraces, type LabelledTrace } from '../../src/core/pomdp/fit.ts';
import { createPolicy } from '../../src/core/policies/index.ts';
import { pomdpPolicy } from '../../src/core/policies/pomdp.ts';
import type { RoutingPolicy, StepModel } from '../../src/core/types.ts';
import { organismTraces } from '../../src/organism/traces.ts';
import { memoModel, memoScorer, organismModelFlags, pct, readProblems, readTraces, sweepBaselines, sweepFlags, sweepPoints } from './organism-bench-common.ts';

const [mode, ...argv] = process.argv.slice(2);
const { values } = parseArgs({
  args: argv,
  options: {
    ...sweepFlags,
  },
});

/**
 * The local strong model as trim eval sees `trim serve`'s: remote, each request shown to beforeSend with
 * a body of exactly the size the OpenAI client would send (the content is not needed to count it).
 */
function asRemote(local: StepModel): StepModel {
  const client = stepModelSources.find((s) => s.flag === 'url')!.build('strong', { 'strong-url': 'http://127.0.0.1:8743', 'strong-model': 'strong' }, process.env);
  return {
    id: client.id,
    where: 'remote',
    requestChars: (r) => client.requestChars!(r),
    async next(r) {
      await r.beforeSend?.({ url: 'http://127.0.0.1:8743/v1/completions', host: '127.0.0.1:8743', body: ' '.repeat(client.requestChars!(r)), purpose: 'step', attempt: 1 });
      return local.next(r);
    },
  };
}

async function models() {
  const { localStepModel, localScorer } = await import('../../src/cli/local-models.ts');
  const flags = organismModelFlags;
  return {
    weak: memoModel(localStepModel.build('weak', flags, process.env)),
    strong: asRemote(memoModel(localStepModel.build('strong', flags, process.env))),
    prm: memoScorer(localScorer.build(flags, process.env)),
  };
}

let fitted: ReturnType<typeof fitPomdpFromTraces> | null = null;
let tokenFit: ReturnType<typeof fitPomdpFromTraces> | null = null;
function policyFrom(spec: string): RoutingPolicy {
  if (spec === 'weak-only' || spec === 'strong-only') return createPolicy(spec);
  if (spec === 'record') return { id: 'record', knob: null, episode: () => ({ plan: () => 'score', decide: () => 'accept' }) };
  const [name, knob] = spec.split(':');
  // pomdptok:λ — the same fit priced in strong tokens (λ per token), the ablation beside pomdp:λ.
  if (name === 'pomdptok') {
    if (!values.fit) throw new Error('pomdptok needs --fit TRACES');
    const f = (tokenFit ??= fitPomdpFromTraces(readTraces(values.fit)));
    return pomdpPolicy({ lambda: Number(knob), observations: f.observations, pw: f.model.pw, ps: f.model.ps, futureTokens: f.model.futureTokens });
  }
  if (name === 'pomdp') {
    if (!fitted) {
      if (!values.fit) throw new Error('pomdp needs --fit TRACES');
      const f = (fitted = fitPomdpFromTraces(readTraces(values.fit), { cost: 'sent' }));
      console.error(
        `fitted (cost sent): p_w ${f.model.pw.toFixed(4)}, p_s ${f.model.ps.toFixed(4)}, characters of a regeneration at steps 1/3/6/10: ` +
          [1, 3, 6, 10].map((t) => f.model.futureCost![t - 1]!.toFixed(0)).join('/'),
      );
    }
    const f = fitted;
    return pomdpPolicy({ lambda: Number(knob), observations: f.observations, pw: f.model.pw, ps: f.model.ps, futureTokens: f.model.futureTokens, cost: 'sent', futureCost: f.model.futureCost! });
  }
  return createPolicy(name!, { knob: Number(knob) });
}

if (mode === 'sweep') {
  const { weak, strong, prm } = await models();
  const problems = readProblems(values.data!, Number(values.offset ?? 0), Number(values.limit ?? 1e9));
  const dir = values.dir!;
  mkdirSync(dir, { recursive: true });
  for (const { name, knob, spec } of sweepPoints(values.policies!)) {
    const file = name === 'weak-only' ? 'weak.jsonl' : name === 'strong-only' ? 'strong.jsonl' : knob === null ? `${name}.jsonl` : `${name}-${knob}.jsonl`;
    const t0 = performance.now();
    const traces = await organismTraces(problems, { weak, strong, prm, policy: policyFrom(spec), seed: Number(values.seed ?? 1), sampling: { temperature: 0.7, topP: 0.8 } });
    writeFileSync(`${dir}/${file}`, traces.map((t) => JSON.stringify(t)).join('\n') + '\n');
    const n = traces.length;
    const acc = traces.filter((t) => t.correct).length / n;
    const sent = traces.reduce((a, t) => a + (t.sentChars ?? 0), 0) / n;
    const tok = traces.reduce((a, t) => a + t.strongTokens, 0) / n;
    console.log(`${spec.padEnd(20)} accuracy ${pct(acc)} sent/problem ${sent.toFixed(0)} strong tokens/problem ${tok.toFixed(1)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
} else if (mode === 'curve') {
  const dir = values.dir!;
  const { load, mean, weak, strong, weakAcc, strongAcc } = sweepBaselines(dir);
  const strongSent = mean(strong, (t) => t.sentChars!);
  const strongTok = mean(strong, (t) => t.strongTokens);
  console.log(`${weak.length} problems: weak-only ${pct(weakAcc)}, strong-only ${pct(strongAcc)}, sending ${strongSent.toFixed(0)} characters (${strongTok.toFixed(1)} strong tokens) per problem`);
  const groups = new Map<string, { knob: number; acc: number; sent: number; tok: number }[]>();
  for (const f of readdirSync(dir).filter((x) => /^[a-z]+-[0-9.e-]+\.jsonl$/.test(x))) {
    const [, name, knob] = /^([a-z]+)-(.+)\.jsonl$/.exec(f)!;
    const r = load(f);
    if (r.length !== weak.length) {
      console.log(`  (${f}: ${r.length} problems, not ${weak.length}: skipped)`);
      continue;
    }
    if (!groups.has(name!)) groups.set(name!, []);
    groups.get(name!)!.push({ knob: Number(knob), acc: mean(r, (t) => (t.correct ? 1 : 0)), sent: mean(r, (t) => t.sentChars!) / strongSent, tok: mean(r, (t) => t.strongTokens) / strongTok });
  }
  for (const [name, pts] of groups) {
    pts.sort((a, b) => a.knob - b.knob);
    const curve = pgrCurve(pts.map((p) => ({ cost: p.sent, accuracy: p.acc })), weakAcc, strongAcc)!;
    const reaching = pts.filter((p) => (p.acc - weakAcc) / (strongAcc - weakAcc) >= 0.95);
    const cheapest = reaching.length ? reaching.reduce((a, p) => (p.sent < a.sent ? p : a)) : null;
    console.log(
      `${name}: in characters sent CPT(50/80/95%) ${pct(cpt(curve, 0.5))} / ${pct(cpt(curve, 0.8))} / ${pct(cpt(curve, 0.95))}, APGR ${pct(apgr(curve))}; ` +
        `cheapest point with PGR ≥ 95%: ${cheapest ? `knob ${cheapest.knob}, sent ${pct(cheapest.sent)} (${(cheapest.sent * strongSent).toFixed(0)} characters/problem)` : 'none'}`,
    );
    for (const p of pts)
      console.log(`   ${String(p.knob).padEnd(10)} accuracy ${pct(p.acc)} PGR ${pct((p.acc - weakAcc) / (strongAcc - weakAcc))} sent ${pct(p.sent)} strong tokens ${pct(p.tok)}`);
  }
} else {
  console.error('usage: organism-sent.ts sweep|curve …');
  process.exit(2);
}
process.exit(0);
