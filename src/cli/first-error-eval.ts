// The command line of `trim eval --task first-error` (ProcessBench's protocol): flags in, the run in
// src/eval/first-error.ts, the summary out. `trim eval` hands over to it when --task says so.

import { mkdirSync } from 'node:fs';
import { DEFAULT_FLAG_THRESHOLD } from '../core/check.ts';
import { formatFirstErrorSummary, loadLabelledSolutions, runFirstErrorEval, type ThresholdChoice } from '../eval/first-error.ts';
import { parseOptions, UsageError } from './command.ts';
import { localModelFlagOptions } from './local-models.ts';
import { buildScorer, modelFlagOptions, type FlagValues } from './model-flags.ts';

const DEFAULT_CONCURRENCY = 8;

export const firstErrorUsage = `
Usage: trim eval --task first-error --data FILE.jsonl
  (--prm-url URL --prm-model NAME | --prm-path DIR [--prm-head H] [--prm-dtype D] | --prm-lm DIR [--prm-dtype D])
  [--threshold K | --calibrate FILE.jsonl [--calibrate-limit N]] --out DIR
  [--offset N] [--limit N] [--concurrency ${DEFAULT_CONCURRENCY}] [--resume]

ProcessBench's protocol: for each labelled solution the PRM scores every step, and the prediction is
the first step (0-based) scored below the threshold, or -1 when none is. errorAcc is the share of
solutions with an error (label ≥ 0) whose prediction is the label, correctAcc the share of all-correct
solutions (label -1) predicted -1, F1 their harmonic mean (0 when either is 0; null, with a note in the
summary, when the data has no solution of one kind).

  --data FILE           JSONL (or a JSON array) of {"id", "problem", "steps": [..], "label"}, label the
                        first wrong step (0-based) or -1: ProcessBench's files as published
  --threshold K         flag a step scored below K (a score equal to K is not flagged); default ${DEFAULT_FLAG_THRESHOLD}
  --calibrate FILE      score this other labelled file first and use the threshold that maximises F1
                        on it (ProcessBench calibrates on its GSM8K subset): the candidates are 0, 1 and
                        the midpoints between neighbouring distinct scores; ties go to the lowest
  --calibrate-limit N   use only the first N records of the calibration file
  --offset N --limit N  evaluate records N.. of --data, at most N of them (file order)
  --out DIR             results.jsonl ({id, label, predicted, scores} per record), calibration.jsonl,
                        summary.json ({n, errorAcc, correctAcc, f1, threshold, thresholdSource, …}),
                        run.json (the settings --resume checks), failures.jsonl
  --concurrency N       records scored at once (default ${DEFAULT_CONCURRENCY}; a PRM folder scores one at a time)
  --resume              continue DIR: records already in results.jsonl (and calibration.jsonl) are
                        not scored again
  PRM flags as in trim solve; --prm-lm DIR scores with a language model folder instead (lm-likelihood:
  the probability of a step's least likely token). Progress goes to standard error, the summary to standard output.

Example (ProcessBench's MATH split, threshold from its GSM8K split):
  npx trim eval --task first-error --data data/processbench_math.jsonl \\
    --calibrate data/processbench_gsm8k.jsonl \\
    --prm-url http://127.0.0.1:8002 --prm-model Qwen/Qwen2.5-Math-PRM-7B --out runs/pb-math
`;

function wholeNumber(v: string | undefined, name: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be a whole number ≥ ${min}; got "${v}".`);
  return n;
}

export async function runFirstErrorCommand(argv: string[]): Promise<number> {
  const m = modelFlagOptions;
  const l = localModelFlagOptions;
  const v = parseOptions(argv, {
    task: { type: 'string' },
    data: { type: 'string' },
    out: { type: 'string' },
    threshold: { type: 'string' },
    calibrate: { type: 'string' },
    'calibrate-limit': { type: 'string' },
    offset: { type: 'string' },
    limit: { type: 'string' },
    concurrency: { type: 'string' },
    resume: { type: 'boolean' },
    'prm-url': m['prm-url'],
    'prm-model': m['prm-model'],
    'prm-path': l['prm-path'],
    'prm-head': l['prm-head'],
    'prm-dtype': l['prm-dtype'],
    'prm-lm': l['prm-lm'],
  });
  if (v.data === undefined) throw new UsageError('--data FILE is required: the labelled solutions ({"problem", "steps", "label"} per line).');
  if (v.out === undefined) throw new UsageError('--out DIR is required: where results.jsonl and summary.json go.');
  if (v.threshold !== undefined && v.calibrate !== undefined) throw new UsageError('Give --threshold K or --calibrate FILE, not both.');
  if (v['calibrate-limit'] !== undefined && v.calibrate === undefined) throw new UsageError('--calibrate-limit goes with --calibrate FILE.');
  const offset = wholeNumber(v.offset, 'offset', 0) ?? 0;
  const limit = wholeNumber(v.limit, 'limit', 1);
  const concurrency = wholeNumber(v.concurrency, 'concurrency', 1) ?? DEFAULT_CONCURRENCY;
  let threshold: ThresholdChoice;
  if (v.calibrate !== undefined) {
    const calLimit = wholeNumber(v['calibrate-limit'], 'calibrate-limit', 1);
    threshold = { kind: 'calibrate', file: v.calibrate, records: loadLabelledSolutions(v.calibrate, calLimit !== undefined ? { limit: calLimit } : {}).records };
  } else if (v.threshold !== undefined) {
    const k = Number(v.threshold);
    if (v.threshold.trim() === '' || !Number.isFinite(k) || k < 0 || k > 1) throw new UsageError(`--threshold must be a number in [0, 1]; got "${v.threshold}".`);
    threshold = { kind: 'given', threshold: k };
  } else threshold = { kind: 'default', threshold: DEFAULT_FLAG_THRESHOLD };

  const data = loadLabelledSolutions(v.data, { offset, ...(limit !== undefined ? { limit } : {}) });
  if (!data.records.length) throw new UsageError(`No records selected: ${v.data} has ${data.total} records and --offset is ${offset}.`);
  const prm = buildScorer(v as FlagValues);
  if (!prm) throw new UsageError('A PRM is needed: give --prm-url URL --prm-model NAME, --prm-path DIR, or a language model folder as the checker with --prm-lm DIR.');

  mkdirSync(v.out, { recursive: true });
  const stop = new AbortController();
  const onSignal = () => {
    if (!stop.signal.aborted) process.stderr.write('\ntrim eval: stopping; records in flight are dropped and will be scored by --resume.\n');
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const outcome = await runFirstErrorEval({
      out: v.out,
      data,
      prm,
      threshold,
      identity: {
        // The model, not the server address: a server may move between a run and its resume.
        prm: v['prm-path'] ?? (v['prm-lm'] !== undefined ? `lm-likelihood:${v['prm-lm']}` : `${v['prm-model']}`),
        prmHead: v['prm-head'] ?? null,
        prmDtype: v['prm-dtype'] ?? null,
        offset,
        limit: limit ?? null,
        calibrateLimit: v['calibrate-limit'] !== undefined ? Number(v['calibrate-limit']) : null,
      },
      concurrency,
      resume: v.resume === true,
      signal: stop.signal,
      stderr: process.stderr,
    });
    if (outcome.summary) process.stdout.write(formatFirstErrorSummary(outcome.summary) + '\n');
    if (outcome.interrupted) {
      process.stderr.write(`trim eval: stopped with ${outcome.interrupted} records left; rerun with --resume to finish them.\n`);
      return 130;
    }
    if (outcome.failed) {
      process.stderr.write(`trim eval: ${outcome.failed} records could not be scored (see ${v.out}/failures.jsonl); rerun with --resume to retry them.\n`);
      return 1;
    }
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await prm.dispose?.();
  }
}
