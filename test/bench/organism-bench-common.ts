// What the organism bench scripts (organism-pomdp.ts, organism-sent.ts, organism-setups.ts) share: where the organism's
// models are, reading problems and trace files, and memoising the models' answers so a sweep over
// many policies costs little more than one.

import { readFileSync } from 'node:fs';
import type { LabelledTrace } from '../../src/core/pomdp/fit.ts';
import type { StepModel, StepResult, StepScorer } from '../../src/core/types.ts';

/** The organism's model folders, as `trim eval`'s --weak-path, --strong-path and --prm-path take them. */
const M = 'public/models/organism';
export const organismModelFlags = { 'weak-path': `${M}/weak`, 'strong-path': `${M}/strong`, 'prm-path': `${M}/prm` };

const jsonLines = <T>(file: string): T[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);

/** Labelled traces from comma-separated JSONL files. */
export const readTraces = (files: string): LabelledTrace[] => files.split(',').flatMap((f) => jsonLines<LabelledTrace>(f));

/** Problems `offset` to `offset + limit` of a JSONL file. */
export function readProblems(file: string, offset: number, limit: number): { id: string; problem: string }[] {
  return jsonLines<{ id: string; problem: string }>(file).slice(offset, offset + limit);
}

export const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(1)}%`);

/**
 * Answers memoised per (problem, prefix, request): safe because drafts are seeded per problem and the
 * strong model is greedy, so the same request always gets the same step.
 */
export function memoModel(m: StepModel): StepModel {
  const cache = new Map<string, Promise<StepResult>>();
  return {
    id: m.id,
    where: m.where,
    next(r) {
      const key = JSON.stringify([r.problem, r.steps, r.partial ?? '', r.maxTokens, r.sampling ?? null]);
      let p = cache.get(key);
      if (!p) cache.set(key, (p = m.next({ ...r, onText: undefined })));
      return p;
    },
  };
}

/** Scores memoised per (problem, steps): the PRM is deterministic. Each call gets its own copy. */
export function memoScorer(m: StepScorer): StepScorer {
  const cache = new Map<string, Promise<number[]>>();
  return {
    id: m.id,
    where: m.where,
    score(r) {
      const key = JSON.stringify([r.problem, r.steps]);
      let p = cache.get(key);
      if (!p) cache.set(key, (p = m.score(r)));
      return p.then((x) => [...x]);
    },
  };
}

/** The flags both scripts' sweeps take (parseArgs options). */
export const sweepFlags = {
  data: { type: 'string' },
  offset: { type: 'string' },
  limit: { type: 'string' },
  policies: { type: 'string' },
  fit: { type: 'string' },
  seed: { type: 'string' },
  dir: { type: 'string' },
} as const;

/** A sweep's --policies ("thr:0.5,0.9 weak-only") as one policy spec per operating point, in order. */
export function sweepPoints(policies: string): { name: string; knob: string | null; spec: string }[] {
  return policies
    .trim()
    .split(/\s+/)
    .flatMap((group) => {
      const [name, knobs] = group.split(':');
      return (knobs ? knobs.split(',') : [null]).map((knob) => ({ name: name!, knob, spec: knob === null ? name! : `${name}:${knob}` }));
    });
}

/** A sweep directory's baselines (weak.jsonl, strong.jsonl) and how to read its other runs. */
export function sweepBaselines(dir: string) {
  const load = (f: string) => readTraces(`${dir}/${f}`);
  const mean = (r: LabelledTrace[], f: (t: LabelledTrace) => number) => r.reduce((a, t) => a + f(t), 0) / r.length;
  const weak = load('weak.jsonl');
  const strong = load('strong.jsonl');
  return { load, mean, weak, strong, weakAcc: mean(weak, (t) => (t.correct ? 1 : 0)), strongAcc: mean(strong, (t) => (t.correct ? 1 : 0)) };
}

// --prm-noise σ: a degraded PRM, each score's logit plus σ·N(0, 1); --prm-shift d adds d to every
// logit (a PRM calibrated differently: d < 0 doubts every step more, keeping its order). The noise is
// a pure function of the problem and the prefix up to the scored step, so a step keeps its score wherever it is rescored
// (as a deterministic PRM's would), and every policy sees the same degraded PRM.
export function noisyScorer(m: StepScorer, sigma: number, shift: number): StepScorer {
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

/**
 * The organism's three models, memoised, with the PRM degraded as --prm-noise / --prm-shift say
 * (`replacePrm`, e.g. the checker's oracle, stands in for the PRM entirely).
 */
export async function organismModels(
  setup: { 'prm-noise'?: string; 'prm-shift'?: string },
  replacePrm?: StepScorer,
): Promise<{ weak: StepModel; strong: StepModel; prm: StepScorer }> {
  const { localStepModel, localScorer } = await import('../../src/cli/local-models.ts');
  const prm = replacePrm ?? localScorer.build(organismModelFlags, process.env);
  const degraded = !replacePrm && (setup['prm-noise'] || setup['prm-shift']);
  return {
    weak: memoModel(localStepModel.build('weak', organismModelFlags, process.env)),
    strong: memoModel(localStepModel.build('strong', organismModelFlags, process.env)),
    prm: memoScorer(degraded ? noisyScorer(prm, Number(setup['prm-noise'] ?? 0), Number(setup['prm-shift'] ?? 0)) : prm),
  };
}
