// npx tsx test/bench/tune-labels.ts WORK DATA — how far `trim tune`'s Monte-Carlo rollout labels
// (WORK/labels.jsonl) agree with the organism checker on the same weak drafts (WORK/results.jsonl, the
// weak-only solves). Prints agreement per solution (same first wrong step) and per step (same label).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDataset } from '../../src/eval/datasets.ts';
import { WEAK_ONLY } from '../../src/eval/summary.ts';
import { organismRowLabels } from '../../src/tune/labels.ts';
import type { RowLabels, TunedRow } from '../../src/tune/traces.ts';

const [work, dataPath] = process.argv.slice(2);
if (!work || !dataPath) {
  process.stderr.write('Usage: npx tsx test/bench/tune-labels.ts WORK DATA (a trim tune work folder with rollout labels, and its organism problems)\n');
  process.exit(2);
}
const lines = (p: string) => readFileSync(p, 'utf8').split('\n').filter((l) => l.trim());
const problems = new Map(loadDataset(dataPath, { format: 'auto' }).problems.map((p) => [p.id, p.problem]));
const weak = new Map(lines(join(work, 'results.jsonl')).map((l) => JSON.parse(l) as TunedRow).filter((r) => r.policy === WEAK_ONLY).map((r) => [r.id, r]));
const firstError = (steps: readonly string[]) => steps.findIndex((s) => s !== 'correct');
let solutions = 0, sameFirst = 0, unlabelled = 0, steps = 0, sameSteps = 0, wrongSolutions = 0, sameFirstWrong = 0, earlier = 0, later = 0;
for (const l of lines(join(work, 'labels.jsonl'))) {
  const r = JSON.parse(l) as { id: string; labels: RowLabels | null };
  const row = weak.get(r.id);
  const problem = problems.get(r.id);
  if (!row || !problem) continue;
  if (!r.labels) {
    unlabelled++;
    continue;
  }
  const truth = organismRowLabels(problem, row).steps;
  const mc = r.labels.steps;
  solutions++;
  const a = firstError(truth);
  const b = firstError(mc);
  if (a === b) sameFirst++;
  else if (b >= 0 && (a < 0 || b < a)) earlier++;
  else later++;
  if (!row.correct) {
    wrongSolutions++;
    if (a === b) sameFirstWrong++;
  }
  for (let i = 0; i < truth.length; i++) {
    steps++;
    if (truth[i] === mc[i]) sameSteps++;
  }
}
const pct = (a: number, b: number) => `${((100 * a) / Math.max(1, b)).toFixed(1)}%`;
process.stdout.write(
  `rollout labels against the organism checker on ${solutions} weak solutions (${unlabelled} unlabelled):\n` +
    `  same first wrong step: ${sameFirst}/${solutions} (${pct(sameFirst, solutions)}); among wrong answers ${sameFirstWrong}/${wrongSolutions} (${pct(sameFirstWrong, wrongSolutions)})\n` +
    `  rollouts put the first error earlier in ${earlier}, later (or nowhere) in ${later}\n` +
    `  same step label: ${sameSteps}/${steps} (${pct(sameSteps, steps)})\n`,
);
