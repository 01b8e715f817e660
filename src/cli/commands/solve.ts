// `trim solve`: runs TRIM on one problem against OpenAI-compatible servers and prints the trace.

import { readFileSync } from 'node:fs';
import { AbortedError } from '../../core/errors.ts';
import { solveToTrace, type OnUnreachable, type SolveEvent } from '../../core/solve.ts';
import { UsageError, type Command } from '../command.ts';
import { buildRun, modelFlagsUsage, parseFlags } from '../model-flags.ts';
import { traceJson, traceTranscript } from '../trace-output.ts';

const usage = `
Usage: trim solve (--problem TEXT | --problem-file FILE) [model, policy and sampling flags] [--json]

Solves one problem step by step: the weak model drafts each step, the PRM scores it, the policy
decides, and the strong model rewrites the steps the policy rejects.

Problem:
  --problem TEXT        the problem statement
  --problem-file FILE   read it from FILE ("-" reads standard input)
${modelFlagsUsage}
When the strong model cannot be reached:
  [--on-unreachable fail|hold]
                        fail (default): exit 1 with the error, as for any failed request.
                        hold: keep the weak model's draft of each step meant for the strong model,
                        note it on stderr, and stop trying the strong model for this problem (the
                        page's behaviour offline). Only when no try got any answer (connection
                        refused, host not found); HTTP errors and timeouts still fail.

Output:
  --json                one JSON object: {problem, answer, finish, steps: [{index, text, source,
                        score, draft, tokens}], ledger, policy, timing}; otherwise a transcript.

Example:
  trim solve --problem "What is 2+3*4?" \\
    --weak-url http://127.0.0.1:8001 --weak-model Qwen/Qwen2.5-1.5B-Instruct \\
    --strong-url https://api.example.com --strong-model big --strong-mode instruct --strong-key-env STRONG_API_KEY \\
    --prm-url http://127.0.0.1:8002 --prm-model Qwen/Qwen2.5-Math-PRM-7B --policy thr --threshold 0.5 --json
`;

function readProblem(v: { problem?: string; 'problem-file'?: string }): string {
  if ((v.problem === undefined) === (v['problem-file'] === undefined)) throw new UsageError('Give exactly one of --problem TEXT or --problem-file FILE.');
  if (v.problem !== undefined) return v.problem;
  const file = v['problem-file']!;
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new UsageError(`Cannot read --problem-file ${file}${code ? ` (${code})` : ''}.`);
  }
}

function readOnUnreachable(v: string | undefined): OnUnreachable {
  if (v === undefined || v === 'fail' || v === 'hold') return v ?? 'fail';
  throw new UsageError(`--on-unreachable must be fail or hold; got "${v}".`);
}

export const command: Command = {
  summary: 'Solve one problem with TRIM routing between OpenAI-compatible servers',
  usage,
  async run(argv) {
    const { values } = parseFlags(argv, {
      problem: { type: 'string' },
      'problem-file': { type: 'string' },
      json: { type: 'boolean' },
      'on-unreachable': { type: 'string' },
    });
    const problem = readProblem(values);
    const onUnreachable = readOnUnreachable(values['on-unreachable']);
    const setup = buildRun(values);

    const stop = new AbortController();
    const onSigint = () => stop.abort();
    process.once('SIGINT', onSigint);
    let failure: unknown;
    try {
      const trace = await solveToTrace(problem, { ...setup, onUnreachable, signal: stop.signal }, (e: SolveEvent) => {
        if (e.type === 'error') failure = e.error;
        // A script reading stdout gets the usual trace; the person running it learns what was held.
        if (e.type === 'hold')
          process.stderr.write(
            `trim solve: step ${e.t} kept from the weak model: ${e.tried ? e.message : 'the strong model could not be reached earlier in this problem, so it was not tried again.'}\n`,
          );
      });
      if (trace.finish === 'aborted') throw new AbortedError('Stopped before the solution was finished.');
      if (trace.finish === 'error') throw failure ?? new Error(trace.error ?? 'The run failed.');
      process.stdout.write((values.json ? JSON.stringify(traceJson(trace)) : traceTranscript(trace)) + '\n');
      return 0;
    } finally {
      process.off('SIGINT', onSigint);
    }
  },
};
