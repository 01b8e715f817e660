// `trim fit-observations`: the TRIM-POMDP observation model P(o | state) from step-labelled solutions
// and a PRM's scores for them (or from the simulator, which is how the shipped default was made).

import { readFileSync, writeFileSync } from 'node:fs';
import { errorMessage, TrimError } from '../../core/errors.ts';
import { hazardFromCdf, hazardFromLengths } from '../../core/pomdp/model.ts';
import {
  fitObservationModel,
  OBSERVATION_KINDS,
  observationModelToJson,
  type ObservationKind,
  POMDP_STATES,
  prefixSamples,
  type LabelledSolution,
  type ObservationModel,
  type ObservationSample,
} from '../../core/pomdp/observations.ts';
import { lengthCdf } from '../../core/sim/distributions.ts';
import { simulatedLabels } from '../../core/sim/labels.ts';
import { createWorld } from '../../core/sim/world.ts';
import { parseResults } from '../../eval/results-log.ts';
import { parseOptions, UsageError, type Command } from '../command.ts';
import { simParamsFrom, simParamsOptions, simParamsUsage } from '../sim-params.ts';

const usage = `
Usage: trim fit-observations (--labels FILE --scores FILE | --simulate [--problems N] [--seed N])
  [--bins 20] [--bandwidth H] [--observes KIND] [--lengths RESULTS.jsonl] --out FILE

Fits TRIM-POMDP's observation model: for o = (min of the previous steps' scores, the current step's
score), one density on [0,1]² per hidden state (S0 all correct so far, S1 after an earlier error, S2 at
the first error), a reflected Gaussian KDE binned bins × bins, and writes it as JSON for
--observations.

  --labels FILE     step-labelled solutions, JSON lines in ProcessBench's layout:
                    {"id": "math-0", "steps": ["…", "…"], "label": 1}  (label = index of the first
                    wrong step, -1 when all are correct), e.g. ProcessBench's math split, saved
                    where you like (its source: src/eval/README.md, "Benchmark files")
  --scores FILE     the PRM's scores of those solutions, JSON lines, one per solution:
                    {"id": "math-0", "scores": [0.98, 0.12]}  (one score in [0,1] per step). Lines
                    without "id" are matched to --labels by position, so the {"scores": [...]} lines
                    "trim score --json" prints can be concatenated in the labels' order. Solutions
                    without scores are skipped (and counted).
  --simulate        label and score simulated weak-model solutions instead (how the shipped default
                    model was made); a model fitted this way describes the simulator, not a real PRM
  --bins N          cells per axis (default 20)
  --bandwidth H     kernel bandwidth on both axes (default: Scott's rule per axis and state)
  --observes KIND   min-and-score (default: the reference observation, for --belief reference),
                    score (the current score alone) or score-given-previous (the current score given
                    the last step's, which the Bayes filter needs: src/core/pomdp/README.md, "The plateau")
  --lengths FILE    fit the hazard (when a solution ends) on the lengths of the weak-only runs in a
                    "trim eval" results file; by default on the labelled solutions' lengths
${simParamsUsage}`;

export const command: Command = {
  summary: 'Fit the TRIM-POMDP observation model from step labels and PRM scores (JSON for --observations)',
  usage,
  async run(argv) {
    const values = parseOptions(argv, {
      labels: { type: 'string' },
      scores: { type: 'string' },
      simulate: { type: 'boolean' },
      problems: { type: 'string' },
      seed: { type: 'string' },
      bins: { type: 'string' },
      bandwidth: { type: 'string' },
      lengths: { type: 'string' },
      observes: { type: 'string' },
      out: { type: 'string' },
      ...simParamsOptions,
    });
    if (!values.out) throw new UsageError('--out FILE is required.');
    const bins = values.bins === undefined ? 20 : Number(values.bins);
    if (!Number.isInteger(bins) || bins < 2 || bins > 200) throw new UsageError(`--bins must be a whole number in [2, 200]; got "${values.bins}".`);
    const observes = (values.observes ?? 'min-and-score') as ObservationKind;
    if (!OBSERVATION_KINDS.includes(observes)) throw new UsageError(`--observes must be one of ${OBSERVATION_KINDS.join(', ')}; got "${values.observes}".`);
    const bandwidth = values.bandwidth === undefined ? undefined : Number(values.bandwidth);
    if (bandwidth !== undefined && !(bandwidth > 0 && bandwidth <= 1)) throw new UsageError(`--bandwidth must be a number in (0, 1]; got "${values.bandwidth}".`);

    let samples: ObservationSample[];
    let lengths: number[];
    let source: string;
    let hazard: number[] | undefined;
    if (values.simulate) {
      if (values.labels || values.scores) throw new UsageError('Give either --simulate or --labels with --scores, not both.');
      const problems = values.problems === undefined ? 4000 : Number(values.problems);
      const seed = values.seed === undefined ? 12345 : Number(values.seed);
      if (!Number.isInteger(problems) || problems < 10) throw new UsageError(`--problems must be a whole number ≥ 10; got "${values.problems}".`);
      if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed must be a whole number ≥ 0; got "${values.seed}".`);
      const params = simParamsFrom(values);
      const solutions = simulatedLabels(createWorld(params, problems, seed));
      samples = solutions.flatMap((s) => prefixSamples(s, s.scores));
      lengths = solutions.map((s) => s.steps.length);
      hazard = hazardFromCdf(lengthCdf(params.length), params.length.min);
      source = `simulated: ${problems} weak-model solutions of the simulator (seed ${seed}) labelled and scored by it; describes the simulator, not a real PRM`;
    } else {
      if (!values.labels || !values.scores) throw new UsageError('Give --labels FILE and --scores FILE (or --simulate).');
      const labels = readLabels(values.labels);
      const scores = readScores(values.scores, labels);
      samples = [];
      lengths = [];
      let skipped = 0;
      labels.forEach((l, i) => {
        const s = scores.byId.get(l.id) ?? scores.byPosition[i];
        if (!s) return void skipped++;
        samples.push(...prefixSamples(l, s));
        lengths.push(l.steps.length);
      });
      if (skipped) process.stderr.write(`trim fit-observations: ${skipped} of ${labels.length} labelled solutions have no scores and were skipped.\n`);
      source = `fitted on ${values.labels} with scores from ${values.scores}`;
    }
    if (values.lengths) lengths = weakOnlyLengths(values.lengths);
    hazard ??= hazardFromLengths(lengths);

    let model: ObservationModel;
    try {
      model = fitObservationModel(samples, { bins, observes, ...(bandwidth !== undefined ? { bandwidth } : {}), hazard, source });
    } catch (err) {
      if (err instanceof TrimError) throw new UsageError(err.message);
      throw err;
    }
    writeFileSync(values.out, JSON.stringify(observationModelToJson(model)) + '\n');
    process.stdout.write(describe(model, samples));
    process.stderr.write(`trim fit-observations: wrote ${values.out}\n`);
    return 0;
  },
};

function jsonLines(path: string, flag: string): { value: unknown; line: number }[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`Cannot read ${flag} ${path}: ${errorMessage(err)}.`);
  }
  const out: { value: unknown; line: number }[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      out.push({ value: JSON.parse(line), line: i + 1 });
    } catch {
      throw new UsageError(`${flag} ${path} line ${i + 1} is not valid JSON.`);
    }
  });
  return out;
}

function readLabels(path: string): LabelledSolution[] {
  return jsonLines(path, '--labels').map(({ value, line }) => {
    const r = value as Record<string, unknown>;
    const where = `--labels ${path} line ${line}`;
    if (!r || typeof r !== 'object' || Array.isArray(r)) throw new UsageError(`${where} is not a JSON object.`);
    if (!Array.isArray(r.steps) || r.steps.length === 0) throw new UsageError(`${where}: "steps" must be a non-empty list.`);
    if (typeof r.label !== 'number') throw new UsageError(`${where}: "label" must be the index of the first wrong step, or -1.`);
    return { id: typeof r.id === 'string' || typeof r.id === 'number' ? String(r.id) : `line ${line}`, steps: r.steps, label: r.label };
  });
}

function readScores(path: string, labels: readonly LabelledSolution[]): { byId: Map<string, number[]>; byPosition: (number[] | undefined)[] } {
  const byId = new Map<string, number[]>();
  const byPosition: (number[] | undefined)[] = [];
  let withId = 0;
  let withoutId = 0;
  for (const { value, line } of jsonLines(path, '--scores')) {
    const r = value as Record<string, unknown>;
    const where = `--scores ${path} line ${line}`;
    if (!r || typeof r !== 'object' || Array.isArray(r) || !Array.isArray(r.scores))
      throw new UsageError(`${where}: each line must be {"id": …, "scores": [...]} or {"scores": [...]}.`);
    const scores = r.scores as number[];
    if (r.id === undefined) {
      withoutId++;
      byPosition.push(scores);
    } else {
      withId++;
      const id = String(r.id);
      if (byId.has(id)) throw new UsageError(`${where}: scores for "${id}" appear twice.`);
      byId.set(id, scores);
    }
  }
  if (withId && withoutId) throw new UsageError(`--scores ${path} mixes lines with and without "id": give every line an id, or none.`);
  if (withoutId && withoutId !== labels.length)
    throw new UsageError(`--scores ${path} has ${withoutId} lines without ids but --labels has ${labels.length} solutions: positional matching needs one line per solution.`);
  const unknown = [...byId.keys()].filter((id) => !labels.some((l) => l.id === id));
  if (unknown.length) process.stderr.write(`trim fit-observations: ${unknown.length} score lines name ids not in --labels (e.g. "${unknown[0]}"); ignored.\n`);
  return { byId, byPosition };
}

function weakOnlyLengths(path: string): number[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`Cannot read --lengths ${path}: ${errorMessage(err)}.`);
  }
  const lengths = parseResults(text, path)
    .filter((r) => r.policy === 'weak-only')
    .map((r) => r.steps.length);
  if (lengths.length === 0) throw new UsageError(`--lengths ${path} has no weak-only runs: evaluate with --baselines.`);
  return lengths;
}

/** A short report: prefixes per state, bandwidths, and how well the current score separates S0 from S2. */
function describe(m: ObservationModel, samples: readonly ObservationSample[]): string {
  const cells = m.observes === 'score' ? `${m.bins} cells of the current score` : m.observes === 'score-given-previous' ? `${m.bins} cells of the current score in ${m.bins} rows of the previous one` : `${m.bins}×${m.bins} cells`;
  const lines = [`Observation model (${m.observes ?? 'min-and-score'}): ${cells}, ${samples.length} prefixes.`];
  POMDP_STATES.forEach((name, s) => {
    const mine = samples.filter((x) => x.state === s);
    const mean = (f: (x: ObservationSample) => number) => (mine.length ? mine.reduce((a, x) => a + f(x), 0) / mine.length : NaN);
    lines.push(
      `  ${name}: ${m.counts[s]} prefixes, mean score ${mean((x) => x.score).toFixed(3)}, mean min-previous ${mean((x) => x.minPrevious).toFixed(3)}, bandwidth ${m.bandwidths[s]!.map((h) => h.toFixed(3)).join(' × ')}`,
    );
  });
  lines.push(`  AUC of the current score, S0 vs S2 (first error): ${auc(samples).toFixed(3)}`);
  return lines.join('\n') + '\n';
}

function auc(samples: readonly ObservationSample[]): number {
  const pos = samples.filter((x) => x.state === 0).map((x) => x.score);
  const neg = samples.filter((x) => x.state === 2).map((x) => x.score);
  if (!pos.length || !neg.length) return NaN;
  const all = [...pos.map((v) => ({ v, p: 1 })), ...neg.map((v) => ({ v, p: 0 }))].sort((a, b) => a.v - b.v);
  let rankSum = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j]!.v === all[i]!.v) j++;
    const rank = (i + j + 1) / 2;
    for (let k = i; k < j; k++) if (all[k]!.p) rankSum += rank;
    i = j;
  }
  return (rankSum - (pos.length * (pos.length + 1)) / 2) / (pos.length * neg.length);
}
