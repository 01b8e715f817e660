// npx tsx test/bench/organism-pomdp.ts traces|beliefs … — labelled organism traces for fitting and
// diagnosing TRIM-POMDP (src/core/pomdp/README.md, "Fitted on the organism").
//
//   traces  --data FILE [--offset N] [--limit N] --policy record|thr:K|pomdp:λ [--fit TRACES…] [--seed 1] --out FILE
//           solves the problems with the organism's models (all local) under the policy and writes one
//           labelled trace per line; "record" scores every draft and keeps it (weak-only with scores);
//           pomdp:λ uses the POMDP fitted on --fit (comma-separated trace files).
//   beliefs --traces FILE --fit TRACES… [--lambda λ] [--wrong-only]
//           replays the fitted filter over recorded pomdp traces and prints belief and values per step.

import { readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createPolicy } from '../../src/core/policies/index.ts';
import { pomdpPolicy } from '../../src/core/policies/pomdp.ts';
import { BeliefTracker } from '../../src/core/pomdp/belief.ts';
import { draftObservation, fitPomdpFromTraces, type FittedPomdp, type LabelledTrace } from '../../src/core/pomdp/fit.ts';
import { modelCell } from '../../src/core/pomdp/observations.ts';
import { actionValues, solvePomdp } from '../../src/core/pomdp/solver.ts';
import type { RoutingPolicy } from '../../src/core/types.ts';
import { organismTraces } from '../../src/organism/traces.ts';

const M = 'public/models/organism';
const [mode, ...argv] = process.argv.slice(2);
const { values } = parseArgs({
  args: argv,
  options: {
    data: { type: 'string' },
    offset: { type: 'string' },
    limit: { type: 'string' },
    policy: { type: 'string' },
    fit: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    traces: { type: 'string' },
    lambda: { type: 'string' },
    'wrong-only': { type: 'boolean' },
  },
});

const readTraces = (files: string): LabelledTrace[] =>
  files.split(',').flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as LabelledTrace),
  );

function fitted(): FittedPomdp {
  if (!values.fit) throw new Error('--fit TRACES is required');
  const f = fitPomdpFromTraces(readTraces(values.fit));
  const m = f.model;
  console.error(
    `fitted: p_w ${m.pw.toFixed(4)}, p_s ${m.ps.toFixed(4)}, futureTokens ${m.futureTokens.toFixed(1)}, drafts ${f.stats.drafts} (S0/S1/S2 ${f.stats.draftsByState.join('/')}), strong steps ${f.stats.strongSteps}`,
  );
  return f;
}

function policyFrom(spec: string): RoutingPolicy {
  if (spec === 'record')
    return { id: 'record', knob: null, episode: () => ({ plan: () => 'score', decide: () => 'accept' }) };
  const [name, knob] = spec.split(':');
  if (name === 'pomdp') {
    const f = fitted();
    return pomdpPolicy({ lambda: Number(knob), observations: f.observations, pw: f.model.pw, ps: f.model.ps, futureTokens: f.model.futureTokens });
  }
  return createPolicy(name!, { knob: Number(knob) });
}

if (mode === 'traces') {
  const { localStepModel, localScorer } = await import('../../src/cli/local-models.ts');
  const flags = { 'weak-path': `${M}/weak`, 'strong-path': `${M}/strong`, 'prm-path': `${M}/prm` };
  const weak = localStepModel.build('weak', flags, process.env);
  const strong = localStepModel.build('strong', flags, process.env);
  const prm = localScorer.build(flags, process.env);
  const offset = Number(values.offset ?? 0);
  const problems = readFileSync(values.data!, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { id: string; problem: string })
    .slice(offset, offset + Number(values.limit ?? 1e9));
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
    sampling: { temperature: 0.7, topP: 0.8 },
    onTrace: (t) => {
      appendFileSync(out, JSON.stringify(t) + '\n');
      n++;
      correct += t.correct ? 1 : 0;
      strongTokens += t.strongTokens;
      if (n % 50 === 0) console.error(`${n}/${problems.length} accuracy ${((100 * correct) / n).toFixed(1)}%`);
    },
  });
  console.log(`${values.policy}: ${n} problems, accuracy ${((100 * correct) / n).toFixed(1)}%, strong tokens/problem ${(strongTokens / n).toFixed(1)}`);
  await Promise.all([weak.dispose?.(), strong.dispose?.(), prm.dispose?.()]);
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
      const b = belief.observe(modelCell(f.observations, o.minPrevious, o.score));
      const v = actionValues(tables, i + 1, b, d.tokens);
      belief.act(b, d.decision);
      console.log(
        `  t${i + 1} draft ${d.label.padEnd(11)} score ${o.score.toFixed(3)} prev [${d.previous.map((p) => p.toFixed(2)).join(' ')}] ` +
          `b=(${b.map((x) => x.toFixed(3)).join(', ')}) A ${v.accept.toFixed(4)} G ${v.regenerate.toFixed(4)} → ${d.decision}; kept ${s.source} ${s.label}`,
      );
    });
  }
} else {
  console.error('usage: organism-pomdp.ts traces|beliefs …');
  process.exit(2);
}
