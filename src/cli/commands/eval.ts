// `trim eval`: runs a dataset through TRIM at every operating point of a policy's sweep (and the two
// baselines), records one result line per (problem, policy, knob) as it finishes, and ends with
// summary.json, a printed table and curve.svg.

import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../core/errors.ts';
import { createPolicy, policyEntry } from '../../core/policies/index.ts';
import { renderCurveSvg } from '../../eval/curve-svg.ts';
import { ANSWER_FIELDS, formatNames, loadDataset, PROBLEM_FIELDS, type Dataset, type LoadOptions } from '../../eval/datasets.ts';
import { gradeSolution } from '../../eval/grading.ts';
import { Progress } from '../../eval/progress.ts';
import { ResultsLog } from '../../eval/results-log.ts';
import { relativePath, settleManifest, writeAtomic, type Identity } from '../../eval/run-manifest.ts';
import { runJobs, type EvalJob, type OperatingPoint } from '../../eval/runner.ts';
import { buildSummary, COST_KINDS, formatTable, STRONG_ONLY, WEAK_ONLY, type CostKind, type ResultRow } from '../../eval/summary.ts';
import { UsageError, type Command } from '../command.ts';
import { firstErrorUsage, runFirstErrorCommand } from '../first-error-eval.ts';
import { datasetFlagOptions, requiredString, wholeNumber } from '../flag-checks.ts';
import { buildRun, DEFAULT_MODE, modelFlagsUsage, parseFlags, type FlagValues, type RunSetup } from '../model-flags.ts';
import { bundleOf } from '../policy-artefacts.ts';

const DEFAULT_CONCURRENCY = 8;

const usage = `
Usage: trim eval [--task answer] --data FILE.jsonl [--format auto|${formatNames().join('|')}] [--limit N] [--offset N]
  [--problem-field NAME] [--answer-field NAME]
  [model, PRM, policy and sampling flags] --policy P [--sweep v1,v2,…] [--baselines]
  --out DIR [--concurrency ${DEFAULT_CONCURRENCY}] [--resume] [--seed N]

Solves every problem of a dataset at every operating point and grades the final answers.

Data:
  --data FILE           JSONL (or a JSON array) of problems with gold answers: MATH-500, AIME, AMC,
                        Minerva, OlympiadBench, GSM8K and ProcessBench layouts are recognised, and
                        other files whose fields have common names (problem: ${PROBLEM_FIELDS.join(', ')};
                        answer: ${ANSWER_FIELDS.join(', ')})
  --format NAME         the layout, when auto-detection (default) guesses wrong
  --problem-field NAME  read the problem from this field (text, or chat messages: the last user turn);
                        a dotted name reaches into objects (extra_info.question)
  --answer-field NAME   read the gold answer from this field (a number, a string, a list of answers, or
                        a worked solution ending in "#### N" or \\boxed{…}); either flag selects the
                        "fields" layout, the other field is then found among the common names
  --offset N --limit N  evaluate problems N.. of the file, at most N of them (file order)
${modelFlagsUsage}
Operating points:
  --sweep v1,v2,…       run the policy at each knob value (thr: threshold, query: threshold,
                        random: rate, pomdp: λ, agg: threshold, agg-lambda: λ); without it the policy runs once at
                        --threshold/--rate/--lambda or its
                        default, or, for a policy of a --bundle, at every knob of the bundle's grid
  --baselines           also run weak-only and strong-only (knob null): needed for normalised cost,
                        PGR, CPT, APGR and ΔIBC
  --cost tokens|sent    the cost axis of the summary (default tokens: strong tokens ÷ strong-only's);
                        sent: characters sent off the device ÷ strong-only's (every strong request
                        carries the accepted prefix, a remote PRM's requests count too). Every point
                        shows both: "sent" (sentShare) is in the table and summary.json either way
  --seed N              base seed; problem P runs with a seed derived from N and P's id at every
                        operating point, so runs replay exactly against servers that honour seeds.
                        Without it a seed is drawn and recorded in DIR/run.json.

Output (DIR is created if needed):
  DIR/results.jsonl     one line per (problem, policy, knob): {id, policy, knob, correct, extracted,
                        gold, strongTokens, weakTokens, strongCalls, steps: [{source, score, tokens}],
                        timing, …}, appended as each run finishes
  DIR/summary.json      per operating point: accuracy, mean strong tokens, normalised cost, PGR; per
                        policy: CPT(50/80/95%), APGR, ΔIBC (Pareto frontier, linear interpolation)
  DIR/curve.svg         accuracy against normalised strong-token cost, one line per policy
  DIR/run.json          the settings and seed, checked by --resume
  DIR/failures.jsonl    runs that failed (not in results.jsonl; --resume retries them)
  The table goes to standard output, progress to standard error. The summary covers every result in
  DIR for the selected problems, each operating point measured on the same problems.

Running:
  --concurrency N       runs in flight at once (default ${DEFAULT_CONCURRENCY}); servers' 429/5xx answers are retried
                        with backoff by the client
  --resume              continue DIR: skip (problem, policy, knob) runs already recorded; a run that
                        was being written when a previous process died is discarded and rerun

Example (MATH-500, prm800k/math_splits/test.jsonl of github.com/openai/prm800k, saved where you like;
the other benchmarks' sources are in src/eval/README.md):
  npx trim eval --data data/math500_test.jsonl --limit 100 \\
    --weak-url http://127.0.0.1:8001 --weak-model Qwen/Qwen2.5-1.5B-Instruct \\
    --strong-url http://127.0.0.1:8000 --strong-model Qwen/Qwen2.5-72B-Instruct \\
    --prm-url http://127.0.0.1:8002 --prm-model Qwen/Qwen2.5-Math-PRM-7B \\
    --policy thr --sweep 0.1,0.3,0.5,0.7,0.9 --baselines --out runs/math500-thr --seed 1

--task first-error ----------------------------------------------------------------------------------
${firstErrorUsage}`;

/** --task picks the protocol: answer (default, the sweep below) or first-error (ProcessBench's). */
function taskOf(argv: readonly string[]): string {
  const i = argv.findIndex((a) => a === '--task' || a.startsWith('--task='));
  if (i < 0) return 'answer';
  const task = argv[i]!.startsWith('--task=') ? argv[i]!.slice('--task='.length) : argv[i + 1];
  if (task !== 'answer' && task !== 'first-error') throw new UsageError(`--task must be answer or first-error; got "${task ?? ''}".`);
  return task;
}

export const command: Command = {
  summary: 'Evaluate a policy sweep on a dataset (or, --task first-error, a PRM on ProcessBench-style labelled steps)',
  usage,
  async run(argv) {
    const task = taskOf(argv);
    if (task === 'first-error') return runFirstErrorCommand(argv);
    argv = argv.filter((a, i) => !(a === '--task' || a.startsWith('--task=') || (i > 0 && argv[i - 1] === '--task')));
    const { values } = parseFlags(argv, {
      ...datasetFlagOptions,
      sweep: { type: 'string' },
      baselines: { type: 'boolean' },
      out: { type: 'string' },
      concurrency: { type: 'string' },
      resume: { type: 'boolean' },
      cost: { type: 'string' },
    });
    const cost = (values.cost ?? 'tokens') as CostKind;
    if (!COST_KINDS.includes(cost)) throw new UsageError(`--cost must be ${COST_KINDS.join(' or ')}; got "${String(values.cost)}".`);
    const dataPath = requiredString(values, 'data', 'the dataset file');
    const out = requiredString(values, 'out', 'the output directory');
    const limit = wholeNumber(values, 'limit', 1);
    const offset = wholeNumber(values, 'offset', 0) ?? 0;
    const concurrency = wholeNumber(values, 'concurrency', 1, 1024) ?? DEFAULT_CONCURRENCY;
    const resume = values.resume === true;

    const setup = buildRun(values);
    const points = operatingPoints(values, setup.policy.knob, values.baselines === true, setup.artefacts);
    const format = typeof values.format === 'string' ? values.format : 'auto';
    if (format !== 'auto' && !formatNames().includes(format))
      throw new UsageError(`--format must be auto or one of ${formatNames().join(', ')}; got "${format}".`);
    const data = loadDataset(dataPath, { format, offset, ...(limit !== undefined ? { limit } : {}), ...fieldFlags(values) });
    if (!data.problems.length)
      throw new UsageError(`No problems selected: ${data.file} has ${data.total} gradable problems and --offset is ${offset}.`);

    mkdirSync(out, { recursive: true });
    const { log, rows: earlier, truncatedBytes } = ResultsLog.open(out, resume);
    try {
      const manifest = settleManifest(out, identity(values, setup, data), setup.seed, resume, earlier.length > 0, ['data']);
      if (manifest.warning) process.stderr.write(`trim eval: ${manifest.warning}\n`);
      if (truncatedBytes) process.stderr.write(`trim eval: discarded an unfinished last line (${truncatedBytes} bytes) of the results; that run will be redone.\n`);
      describeData(data);

      const jobs: EvalJob[] = [];
      for (const problem of data.problems)
        for (const point of points) if (!log.has({ id: problem.id, ...point })) jobs.push({ problem, point });
      const selected = new Set(data.problems.map((p) => p.id));
      const keys = new Set(points.map((p) => JSON.stringify([p.policy, p.knob])));
      const resumedHere = earlier.filter((r) => selected.has(r.id) && keys.has(JSON.stringify([r.policy, r.knob])));
      process.stderr.write(
        `trim eval: ${data.problems.length} problems × ${points.length} operating points = ${data.problems.length * points.length} runs` +
          (resumedHere.length ? ` (${resumedHere.length} already done)` : '') +
          `, seed ${manifest.seed}, concurrency ${concurrency}\n`,
      );

      const progress = new Progress({ total: data.problems.length * points.length, resumed: resumedHere, sink: process.stderr });
      const fresh: ResultRow[] = [];
      const stop = new AbortController();
      const onSignal = () => {
        if (!stop.signal.aborted) process.stderr.write('\ntrim eval: stopping; runs in flight are dropped and will be redone by --resume.\n');
        stop.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let outcome;
      try {
        outcome = await runJobs(jobs, {
          weak: setup.weak,
          strong: setup.strong,
          ...(setup.prm ? { prm: setup.prm } : {}),
          policyFor: (point, seed) => createPolicy(point.policy, { ...(point.knob !== null ? { knob: point.knob } : {}), seed, artefacts: setup.artefacts }),
          grade: gradeSolution,
          limits: setup.limits,
          sampling: setup.sampling,
          seed: manifest.seed,
          concurrency,
          signal: stop.signal,
          onResult: (row) => {
            log.append(row);
            fresh.push(row);
            progress.result(row);
          },
          onFailure: (job, message) => {
            appendFileSync(
              join(out, 'failures.jsonl'),
              JSON.stringify({ id: job.problem.id, policy: job.point.policy, knob: job.point.knob, error: message, at: new Date().toISOString() }) + '\n',
            );
            progress.failure();
          },
        });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        progress.finish();
      }

      const rows = [...earlier, ...fresh].filter((r) => selected.has(r.id));
      report(out, rows, cost);
      if (outcome.interrupted) {
        process.stderr.write(`trim eval: stopped with ${outcome.interrupted} runs left; rerun with --resume to finish them.\n`);
        return 130;
      }
      if (outcome.failed) {
        process.stderr.write(
          `trim eval: ${outcome.failed} runs failed (see ${join(out, 'failures.jsonl')}); they are not in the results. Rerun with --resume to retry them.\n`,
        );
        return 1;
      }
      return 0;
    } finally {
      log.close();
    }
  },
};

/** The policy at each --sweep value (or once), then the baselines. */
function operatingPoints(v: FlagValues, defaultKnob: number | null, baselines: boolean, artefacts: Record<string, unknown>): OperatingPoint[] {
  const policy = String(v.policy);
  const entry = policyEntry(policy);
  const points: OperatingPoint[] = [];
  if (typeof v.sweep === 'string') {
    if (!entry.knob) throw new UsageError(`--policy ${policy} has no knob to sweep; drop --sweep (or use --baselines for the baselines).`);
    if (v.threshold !== undefined || v.rate !== undefined || v.lambda !== undefined)
      throw new UsageError(`--sweep sets the ${entry.knob.name}; drop --${entry.knob.name}.`);
    const knobs = v.sweep.split(',').map((s) => s.trim());
    for (const s of knobs) {
      const knob = Number(s);
      if (s === '' || !Number.isFinite(knob)) throw new UsageError(`--sweep takes comma-separated numbers such as 0.2,0.5,0.8; "${s}" is not one.`);
      try {
        createPolicy(policy, { knob, artefacts });
      } catch (err) {
        if (err instanceof ConfigError) throw new UsageError(`--sweep value ${s}: ${err.message}`);
        throw err;
      }
      if (!points.some((p) => p.knob === knob)) points.push({ policy, knob });
    }
  } else {
    // A tuned bundle knows which knobs were measured: its grid is the policy's curve.
    const bundleGrid = (bundleOf(artefacts)?.policies as Record<string, { grid: number[] } | undefined> | undefined)?.[policy]?.grid;
    if (bundleGrid && v.threshold === undefined && v.rate === undefined && v.lambda === undefined)
      for (const knob of bundleGrid) points.push({ policy, knob });
    else points.push({ policy, knob: defaultKnob });
  }
  if (baselines)
    for (const b of [WEAK_ONLY, STRONG_ONLY]) if (!points.some((p) => p.policy === b)) points.push({ policy: b, knob: null });
  return points;
}

/** What must not change between a run and its --resume (effective values, defaults filled in). */
function identity(v: FlagValues, setup: RunSetup, data: Dataset): Identity {
  const s = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : null);
  return {
    // Relative to the working directory, so a run.json committed with its results names no one's home.
    data: relativePath(data.file),
    format: data.format,
    ...(typeof v['problem-field'] === 'string' ? { problemField: v['problem-field'] } : {}),
    ...(typeof v['answer-field'] === 'string' ? { answerField: v['answer-field'] } : {}),
    weakModel: s('weak-model'),
    weakMode: s('weak-mode') ?? DEFAULT_MODE,
    strongModel: s('strong-model'),
    strongMode: s('strong-mode') ?? DEFAULT_MODE,
    prmModel: s('prm-model'),
    temperature: setup.sampling.temperature ?? null,
    topP: setup.sampling.topP ?? null,
    maxSteps: setup.limits.maxSteps,
    maxStepTokens: setup.limits.maxStepTokens,
  };
}

function describeData(d: Dataset): void {
  const skipped = d.skipped.map((s) => `${s.count} skipped: ${s.reason}`).join('; ');
  process.stderr.write(`trim eval: ${d.file}: ${d.format} format, ${d.records} records, ${d.total} gradable problems${skipped ? ` (${skipped})` : ''}\n`);
}

function report(out: string, rows: ResultRow[], cost: CostKind): void {
  if (!rows.length) {
    process.stderr.write('trim eval: no finished runs yet, so no summary.\n');
    return;
  }
  const summary = buildSummary(rows, { cost });
  writeAtomic(join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  writeAtomic(join(out, 'curve.svg'), renderCurveSvg(summary));
  process.stdout.write(formatTable(summary));
  process.stderr.write(`trim eval: wrote ${join(out, 'summary.json')} and ${join(out, 'curve.svg')}\n`);
  if (summary.dropped)
    process.stderr.write(`trim eval: ${summary.dropped} problems are missing at some operating point and were left out of the summary.\n`);
}

function fieldFlags(v: FlagValues): Pick<LoadOptions, 'problemField' | 'answerField'> {
  const out: Pick<LoadOptions, 'problemField' | 'answerField'> = {};
  for (const [flag, key] of [['problem-field', 'problemField'], ['answer-field', 'answerField']] as const) {
    const x = v[flag];
    if (x === undefined) continue;
    if (typeof x !== 'string' || !x.trim()) throw new UsageError(`--${flag} takes a field name of the data file's records.`);
    out[key] = x.trim();
  }
  return out;
}
