// `trim organism`: writes the organism's data splits, and labels model solutions step by step (the
// training scripts in training/ call it, so the task and its checker exist once, in TypeScript).

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { splitSteps } from '../../core/steps.ts';
import { checkSolution } from '../../organism/checker.ts';
import { OrganismFormatError } from '../../organism/errors.ts';
import { injectedRecords } from '../../organism/inject.ts';
import { labelledSolutions, type LabelledRecord } from '../../organism/processbench.ts';
import { ORGANISM_SEED, SPLIT_NAMES, generateSplits, toJsonl, type SplitName } from '../../organism/splits.ts';
import { parseOptions, UsageError, type Command } from '../command.ts';
import { localStepModel } from '../local-models.ts';

const usage = `
Usage:
  trim organism data --out DIR [--seed N] [--test N] [--val N] [--train N]
      Writes DIR/test.jsonl, DIR/val.jsonl and DIR/train.jsonl (disjoint, seeded; defaults
      500 / 500 / 100000, seed ${ORGANISM_SEED}; a split of size 0 is not written).
      Rows: {"id", "problem", "answer", "steps"}.
  trim organism check --in FILE [--out FILE]
      Labels solutions step by step. Each input line is {"problem", "steps": [..]} or
      {"problem", "solution": "..."} (split into steps at blank lines); each output line adds "steps",
      "labels" (correct | first-wrong | after-error per step), "fault", "answer", "expected" and
      "correct". A summary goes to stderr.
  trim organism processbench --weak-path DIR [--problems FILE] [--limit N] [--samples K] [--seed N]
                             [--temperature T] [--top-p P] --out FILE
      A ProcessBench-shaped set for "trim eval --task first-error": the model in DIR solves each problem
      (default public/organism/test.jsonl) K times (default 1; seed ${ORGANISM_SEED}, T 0.7, top-p 0.8) and each
      solution is labelled with its first wrong step (0-based) or -1. Rows: {"id", "problem", "steps",
      "label", "final_answer_correct", "generator"}.
  trim organism processbench --inject [--error-share P] [--problems FILE] [--limit N] [--seed N] --out FILE
      The same shape from student-style mistakes instead of a model: per problem, with probability P
      (default 0.5) the reference solution with one injected mistake (a wrong result, off by one, another
      operation, a number copied wrongly; the steps after it carry on from the wrong value), otherwise the
      reference solution. "generator" names the mistake ("injected:off-by-one") or "reference".
`;

function count(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a whole number ≥ 0, got "${v}".`);
  return n;
}

function data(argv: string[]): void {
  const values = parseOptions(argv, {
    out: { type: 'string' },
    seed: { type: 'string' },
    test: { type: 'string' },
    val: { type: 'string' },
    train: { type: 'string' },
  });
  if (!values.out) throw new UsageError('--out DIR is required.');
  const sizes: Partial<Record<SplitName, number>> = {};
  for (const name of SPLIT_NAMES) {
    const n = count(values[name], name);
    if (n !== undefined) sizes[name] = n;
  }
  const splits = generateSplits(sizes, count(values.seed, 'seed') ?? ORGANISM_SEED);
  mkdirSync(values.out, { recursive: true });
  // A split asked to be empty is not written: "--val 0 --train 0" refreshes the test set alone.
  const written = SPLIT_NAMES.filter((n) => splits[n].length > 0);
  for (const name of written) writeFileSync(join(values.out, `${name}.jsonl`), toJsonl(splits[name]));
  process.stderr.write(`wrote ${written.map((n) => `${splits[n].length} ${n}`).join(', ') || 'nothing'} to ${values.out}\n`);
}

function stepsOf(row: Record<string, unknown>, line: number): string[] {
  if (Array.isArray(row.steps) && row.steps.every((s) => typeof s === 'string')) return row.steps as string[];
  if (typeof row.solution === 'string') return splitSteps(row.solution);
  throw new OrganismFormatError(`Line ${line}: needs "steps" (an array of strings) or "solution" (a string).`);
}

function check(argv: string[]): void {
  const values = parseOptions(argv, { in: { type: 'string' }, out: { type: 'string' } });
  if (!values.in) throw new UsageError('--in FILE is required.');
  const out: string[] = [];
  let solutions = 0;
  let correct = 0;
  let steps = 0;
  let goodSteps = 0;
  readFileSync(values.in, 'utf8')
    .split('\n')
    .forEach((text, i) => {
      if (!text.trim()) return;
      let row: Record<string, unknown>;
      try {
        row = JSON.parse(text) as Record<string, unknown>;
      } catch {
        throw new OrganismFormatError(`Line ${i + 1} of ${values.in} is not JSON; fix or remove it.`);
      }
      if (typeof row.problem !== 'string') throw new OrganismFormatError(`Line ${i + 1}: "problem" must be a string.`);
      const solution = stepsOf(row, i + 1);
      const c = checkSolution(row.problem, solution);
      solutions++;
      if (c.correct) correct++;
      steps += c.steps.length;
      goodSteps += c.steps.filter((s) => s.label === 'correct').length;
      const fault = c.firstError === null ? null : c.steps[c.firstError]!.fault;
      out.push(JSON.stringify({ ...row, steps: solution, labels: c.steps.map((s) => s.label), fault, answer: c.answer, expected: c.expected, correct: c.correct }));
    });
  const body = out.join('\n') + (out.length ? '\n' : '');
  if (values.out) writeFileSync(values.out, body);
  else process.stdout.write(body);
  const pct = (a: number, b: number) => (b ? ((100 * a) / b).toFixed(1) : '0.0');
  process.stderr.write(`${solutions} solutions: ${pct(correct, solutions)}% final answers correct, ${pct(goodSteps, steps)}% of ${steps} steps before any error\n`);
}

async function processbench(argv: string[]): Promise<void> {
  const values = parseOptions(argv, {
    'weak-path': { type: 'string' },
    problems: { type: 'string' },
    limit: { type: 'string' },
    samples: { type: 'string' },
    seed: { type: 'string' },
    temperature: { type: 'string' },
    'top-p': { type: 'string' },
    inject: { type: 'boolean' },
    'error-share': { type: 'string' },
    out: { type: 'string' },
  });
  if (!values.out) throw new UsageError('--out FILE is required.');
  if (values.inject) {
    const modelOnly = (['weak-path', 'samples', 'temperature', 'top-p'] as const).find((f) => values[f] !== undefined);
    if (modelOnly) throw new UsageError(`--${modelOnly} is for a model's own solutions; --inject writes reference solutions with injected mistakes.`);
  } else if (values['error-share'] !== undefined) throw new UsageError('--error-share goes with --inject.');
  else if (!values['weak-path']) throw new UsageError('--weak-path DIR is required: the model whose solutions are labelled (e.g. public/models/organism/weak).');
  const unit = (v: string | undefined, name: string, fallback: number, max: number) => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > max) throw new UsageError(`--${name} must be a number in [0, ${max}]; got "${v}".`);
    return n;
  };
  const file = values.problems ?? 'public/organism/test.jsonl';
  let problems: { id: string; problem: string }[];
  try {
    problems = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l, i) => {
        const r = JSON.parse(l) as { id?: unknown; problem?: unknown };
        if (typeof r.problem !== 'string') throw new OrganismFormatError(`Line ${i + 1} of ${file}: "problem" must be a string.`);
        return { id: typeof r.id === 'string' ? r.id : `problem-${i + 1}`, problem: r.problem };
      });
  } catch (err) {
    if (err instanceof OrganismFormatError) throw err;
    throw new UsageError(`Cannot read the problems in ${file} (${(err as Error).message}); give a JSONL file of {"id", "problem"}.`);
  }
  const limit = count(values.limit, 'limit');
  if (limit !== undefined) problems = problems.slice(0, limit);
  const seed = count(values.seed, 'seed') ?? ORGANISM_SEED;
  if (values.inject) {
    // A hand-edited line that is not an organism problem is refused by the parser with its reason.
    writeRecords(values.out, injectedRecords(problems, { seed, errorShare: unit(values['error-share'], 'error-share', 0.5, 1) }));
    return;
  }
  const model = localStepModel.build('weak', { 'weak-path': values['weak-path'] }, process.env);
  try {
    const records = await labelledSolutions(model, problems, {
      samples: Math.max(1, count(values.samples, 'samples') ?? 1),
      seed,
      sampling: { temperature: unit(values.temperature, 'temperature', 0.7, 2), topP: unit(values['top-p'], 'top-p', 0.8, 1) },
    });
    writeRecords(values.out, records);
  } finally {
    await model.dispose?.();
  }
}

function writeRecords(out: string, records: readonly LabelledRecord[]): void {
  writeFileSync(out, records.map((r) => JSON.stringify(r) + '\n').join(''));
  const wrong = records.filter((r) => r.label >= 0).length;
  process.stderr.write(`wrote ${records.length} labelled solutions to ${out}: ${wrong} with an error, ${records.length - wrong} all correct\n`);
}

const subcommands: Record<string, (argv: string[]) => void | Promise<void>> = { data, check, processbench };

export const command: Command = {
  summary: 'Organism task: write its data splits, label solutions step by step, build a ProcessBench-shaped set',
  usage,
  async run(argv) {
    const [sub, ...rest] = argv;
    const f = sub ? subcommands[sub] : undefined;
    if (!f) throw new UsageError(`Expected a subcommand: ${Object.keys(subcommands).join(' or ')}.\n${usage}`);
    await f(rest);
  },
};
