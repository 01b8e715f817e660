// `trim score`: scores the steps of a solution with a PRM folder on this machine, one score per step.
// Steps are scored as a solve run scores them, one more step per call; by default the PRM's KV cache
// carries the prefix from call to call, and --full re-scores everything from scratch at every call
// (the reference behaviour) so the two can be compared.

import { readFileSync } from 'node:fs';
import { ConfigError, errorMessage } from '../../core/errors.ts';
import { parseOptions, UsageError, type Command } from '../command.ts';
import { localModelFlagOptions, localPrmOptions } from '../local-models.ts';

const usage = `
Usage: trim score --prm-path DIR [--prm-head H] [--prm-dtype D] (--problem TEXT | --problem-file FILE)
                  --steps-file FILE [--full] [--json]

Scores each step of a solution with a local PRM: the probability that the step is correct given the
problem and the steps before it.

  --prm-path DIR        PRM folder in the transformers.js layout ("trim build-model", "trim convert")
  --prm-head H          two-class | value | lm-tag (default: the head recorded in DIR/config.json)
  --prm-dtype D         weights to load, e.g. fp32 or q4 (default: the folder's own)
  --problem TEXT        the problem statement
  --problem-file FILE   read it from FILE ("-" reads standard input)
  --steps-file FILE     a JSON array of strings, one per step ("-" reads standard input)
  --full                re-score all steps from scratch at every step instead of incrementally
  --json                print {"scores": [...]}; otherwise one score per line

Example:
  trim score --prm-path models/prm --problem "What is 2+3*4?" --steps-file steps.json --json
`;

export function readInput(file: string, flag: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new UsageError(`Cannot read ${flag} ${file}${code ? ` (${code})` : ''}.`);
  }
}

export function readSteps(file: string): string[] {
  let steps: unknown;
  try {
    steps = JSON.parse(readInput(file, '--steps-file'));
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`--steps-file ${file} is not valid JSON (${errorMessage(err)}); it must hold an array of strings, one per step.`);
  }
  if (!Array.isArray(steps) || !steps.every((s) => typeof s === 'string'))
    throw new UsageError(`--steps-file ${file} must hold a JSON array of strings, one per step, like ["Step 1 …", "Step 2 …"].`);
  return steps;
}

function flags(argv: string[]) {
  const { 'prm-path': path, 'prm-head': head, 'prm-dtype': dtype } = localModelFlagOptions;
  return parseOptions(argv, {
    'prm-path': path,
    'prm-head': head,
    'prm-dtype': dtype,
    problem: { type: 'string' },
    'problem-file': { type: 'string' },
    'steps-file': { type: 'string' },
    full: { type: 'boolean' },
    json: { type: 'boolean' },
  });
}

export const command: Command = {
  summary: 'Score the steps of a solution with a local PRM folder (one score per step)',
  usage,
  async run(argv) {
    const values = flags(argv);
    if (values['prm-path'] === undefined) throw new UsageError('--prm-path DIR is required: the PRM folder to score with.');
    if ((values.problem === undefined) === (values['problem-file'] === undefined)) throw new UsageError('Give exactly one of --problem TEXT or --problem-file FILE.');
    if (values['steps-file'] === undefined) throw new UsageError('--steps-file FILE is required: a JSON array of strings, one per step.');
    const problem = values.problem ?? readInput(values['problem-file']!, '--problem-file');
    const steps = readSteps(values['steps-file']);
    const options = localPrmOptions(values);

    const { loadTjsPrm } = await import('../../backends/tjs-prm.ts');
    const prm = await loadTjsPrm({ ...options, incremental: !values.full }).catch((err: unknown) => {
      // A head the folder does not have, or a layout it cannot use, is a bad argument.
      throw err instanceof ConfigError ? new UsageError(err.message) : err;
    });
    try {
      let scores: number[] = [];
      for (let t = 1; t <= steps.length; t++) scores = await prm.score({ problem, steps: steps.slice(0, t) });
      process.stdout.write(values.json ? JSON.stringify({ scores }) + '\n' : scores.map((s) => `${s}\n`).join(''));
      return 0;
    } finally {
      await prm.dispose();
    }
  },
};
