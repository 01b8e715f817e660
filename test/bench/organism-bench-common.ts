// What the organism bench scripts (organism-pomdp.ts, organism-sent.ts) share: where the organism's
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
