// `trim check`: "check my work" for a student's own solution. A PRM scores every step (on this machine
// with --prm-path, or a /pooling server), the first step below the flag threshold is marked, and with
// --hint a strong model is asked about that one step: the request holds the problem, the steps before
// it and the flagged step, never a later step. A strong model in a folder (--strong-path) cannot follow
// a tutor's instruction, so it writes the step again from the steps before it instead.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_FLAG_THRESHOLD, firstError, splitStudentSteps } from '../../core/check.ts';
import { ConfigError, errorMessage } from '../../core/errors.ts';
import { DEFAULT_LIMITS } from '../../core/steps.ts';
import type { ContinuationMode, StepModel, StepScorer } from '../../core/types.ts';
import { continuationModes } from '../../backends/continuation.ts';
import { openAIHintModel, type HintModel } from '../../backends/hint.ts';
import { parseOptions, UsageError, type Command } from '../command.ts';
import { keyFromEnv } from '../key-env.ts';
import { localModelFlagOptions, localStepModel } from '../local-models.ts';
import { buildScorer, DEFAULT_MODE, modelFlagOptions, templateFor, type FlagValues } from '../model-flags.ts';
import { readInput, readSteps } from './score.ts';

const usage = `
Usage: trim check (--problem TEXT | --problem-file FILE) (--steps-file FILE.json | --solution-file FILE.txt)
                  (--prm-url URL --prm-model NAME | --prm-path DIR [--prm-head H] [--prm-dtype D]
                   | --prm-lm DIR [--prm-dtype D])
                  [--threshold K | --threshold-from SUMMARY.json] [--json]
                  [--hint (--strong-url URL --strong-model NAME [--strong-mode MODE] [--strong-key-env VAR]
                          | --strong-path DIR [--strong-dtype D])]

Checks a solution someone wrote: the PRM scores each step (the probability that it is correct given the
problem and the steps before it), and the first step scored below the threshold is flagged as the place
to look. Scoring with --prm-path sends nothing anywhere.

Solution:
  --problem TEXT          the problem statement (--problem-file FILE reads it; "-" is standard input)
  --steps-file FILE       a JSON array of strings, one per step
  --solution-file FILE    plain text: its paragraphs (blank lines between them) are the steps, or its
                          lines when it has no blank line

PRM (as in trim solve):
  --prm-url URL --prm-model NAME           a vLLM step-pooling PRM (POST {URL}/pooling)
  --prm-path DIR [--prm-head H] [--prm-dtype D]
                                           a PRM folder, run on this machine
  --prm-lm DIR [--prm-dtype D]             a language model folder as the checker (lm-likelihood: a
                                           step scores the probability of its least likely token under
                                           the model); for the organism, its strong model flags a
                                           student's slips far better than its PRM

Flag threshold:
  --threshold K           flag the first step whose score is below K (a score equal to K is not
                          flagged). Default: the threshold a --prm-path or --prm-lm folder records in its config.json
                          ("trim": {"flagThreshold": K}, written by its calibration), else ${DEFAULT_FLAG_THRESHOLD}
  --threshold-from FILE   take K from a summary.json written by "trim eval --task first-error" (its
                          calibrated threshold for this PRM)

Hint (only when a step is flagged):
  --hint                  ask the strong model about the flagged step. The request carries the problem,
                          the steps before the flagged one and the flagged step; never a later step.
  --strong-url URL --strong-model NAME [--strong-mode MODE] [--strong-key-env VAR]
                          a server asked for a short hint that does not give the answer away (MODE:
                          raw uses /v1/completions with the chat template applied here; the others a
                          plain chat request)
  --strong-path DIR [--strong-dtype D]
                          a model folder on this machine: it cannot write hints, so it writes the
                          flagged step again from the steps before it ("corrected step", greedy)

Output:
  --json                  {"scores": [...], "firstError": i | null, "threshold": K} (i 0-based), plus
                          "hint" (a server) or "correctedStep" (a folder) with --hint when a step is flagged;
                          otherwise each step with its score, the flagged one marked

Example:
  trim check --problem "Start with 4, then 1) -3 2) +6." --solution-file mine.txt \\
    --prm-path public/models/organism/prm --hint --strong-path public/models/organism/strong
`;

const strongFlags = ['strong-url', 'strong-model', 'strong-mode', 'strong-key-env', 'strong-path', 'strong-dtype'] as const;

function flags(argv: string[]) {
  const m = modelFlagOptions;
  const l = localModelFlagOptions;
  return parseOptions(argv, {
    problem: { type: 'string' },
    'problem-file': { type: 'string' },
    'steps-file': { type: 'string' },
    'solution-file': { type: 'string' },
    'prm-url': m['prm-url'],
    'prm-model': m['prm-model'],
    'prm-path': l['prm-path'],
    'prm-head': l['prm-head'],
    'prm-dtype': l['prm-dtype'],
    'prm-lm': l['prm-lm'],
    threshold: { type: 'string' },
    'threshold-from': { type: 'string' },
    json: { type: 'boolean' },
    hint: { type: 'boolean' },
    'strong-url': m['strong-url'],
    'strong-model': m['strong-model'],
    'strong-mode': m['strong-mode'],
    'strong-key-env': m['strong-key-env'],
    'strong-path': l['strong-path'],
    'strong-dtype': l['strong-dtype'],
  });
}

type Values = ReturnType<typeof flags>;

function readProblem(v: Values): string {
  if ((v.problem === undefined) === (v['problem-file'] === undefined)) throw new UsageError('Give exactly one of --problem TEXT or --problem-file FILE.');
  return v.problem ?? readInput(v['problem-file']!, '--problem-file');
}

function readSolution(v: Values): string[] {
  if ((v['steps-file'] === undefined) === (v['solution-file'] === undefined))
    throw new UsageError('Give exactly one of --steps-file FILE.json (a JSON array of steps) or --solution-file FILE.txt (plain text).');
  const steps = v['steps-file'] !== undefined ? readSteps(v['steps-file']) : splitStudentSteps(readInput(v['solution-file']!, '--solution-file'));
  if (steps.length === 0) throw new UsageError('The solution has no steps to check: it is empty.');
  return steps;
}

/**
 * The flag threshold a PRM folder carries: config.json's "trim": {"flagThreshold", "calibratedOn"}, as
 * training/train.py records it after calibrating that PRM. Null when the folder records none.
 */
function folderThreshold(dir: string): { threshold: number; source: string } | null {
  const file = join(dir, 'config.json');
  if (!existsSync(file)) return null;
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null; // the PRM loader reports a broken config.json with its own message
  }
  const trim = (config as { trim?: { flagThreshold?: unknown; calibratedOn?: unknown } } | null)?.trim;
  const k = trim?.flagThreshold;
  if (k === undefined) return null;
  if (typeof k !== 'number' || !Number.isFinite(k) || k < 0 || k > 1)
    throw new UsageError(`${file} records a flagThreshold that is not a number in [0, 1] (${JSON.stringify(k)}); fix it or give --threshold K.`);
  return { threshold: k, source: typeof trim?.calibratedOn === 'string' ? `${file}, calibrated on ${trim.calibratedOn}` : file };
}

function readThreshold(v: { threshold?: string; 'threshold-from'?: string; 'prm-path'?: string; 'prm-lm'?: string }): { threshold: number; source: string } {
  if (v.threshold !== undefined && v['threshold-from'] !== undefined) throw new UsageError('Give --threshold K or --threshold-from FILE, not both.');
  if (v.threshold !== undefined) {
    const k = Number(v.threshold);
    if (v.threshold.trim() === '' || !Number.isFinite(k) || k < 0 || k > 1) throw new UsageError(`--threshold must be a number in [0, 1]; got "${v.threshold}".`);
    return { threshold: k, source: '--threshold' };
  }
  const file = v['threshold-from'];
  if (file === undefined) {
    const dir = v['prm-path'] ?? v['prm-lm'];
    return (dir !== undefined ? folderThreshold(dir) : null) ?? { threshold: DEFAULT_FLAG_THRESHOLD, source: 'default' };
  }
  let summary: unknown;
  try {
    summary = JSON.parse(readInput(file, '--threshold-from'));
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`--threshold-from ${file} is not valid JSON (${errorMessage(err)}); give the summary.json of "trim eval --task first-error".`);
  }
  const k = (summary as { threshold?: unknown } | null)?.threshold;
  if (typeof k !== 'number' || !Number.isFinite(k) || k < 0 || k > 1)
    throw new UsageError(`--threshold-from ${file} holds no "threshold" in [0, 1]; give the summary.json of "trim eval --task first-error".`);
  return { threshold: k, source: file };
}

/** What --hint asks: a hint from a server, or a corrected step from a folder. */
type Helper = { kind: 'hint'; model: HintModel } | { kind: 'corrected'; model: StepModel };

function buildHelper(v: Values, env: NodeJS.ProcessEnv): Helper | null {
  const given = strongFlags.filter((f) => v[f] !== undefined);
  if (!v.hint) {
    if (given.length) throw new UsageError(`--${given[0]} is for --hint; add --hint to ask the strong model about the flagged step.`);
    return null;
  }
  const url = v['strong-url'];
  const path = v['strong-path'];
  if ((url === undefined) === (path === undefined))
    throw new UsageError('--hint needs the strong model: give --strong-url URL --strong-model NAME, or --strong-path DIR (not both).');
  if (path !== undefined) return { kind: 'corrected', model: localStepModel.build('strong', v as FlagValues, env) };
  if (v['strong-dtype'] !== undefined) throw new UsageError('--strong-dtype goes with --strong-path DIR.');
  const model = v['strong-model'];
  if (model === undefined || !model.trim()) throw new UsageError('--strong-model is required (the model name the server at --strong-url serves).');
  const mode = v['strong-mode'] ?? DEFAULT_MODE;
  if (!(continuationModes() as string[]).includes(mode)) throw new UsageError(`--strong-mode must be one of ${continuationModes().join(', ')}; got "${mode}".`);
  const keyEnv = v['strong-key-env'];
  try {
    return {
      kind: 'hint',
      model: openAIHintModel({
        baseUrl: url!,
        model,
        mode: mode as ContinuationMode,
        template: templateFor(model),
        ...(keyEnv ? { apiKey: keyFromEnv(env, keyEnv, '--strong-key-env', 'STRONG_API_KEY'), apiKeySource: `$${keyEnv}` } : {}),
      }),
    };
  } catch (err) {
    throw err instanceof ConfigError ? new UsageError(err.message) : err;
  }
}

/** Model output and pasted text go to a terminal: control characters (escape sequences) are dropped. */
function printable(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '');
}

function transcript(steps: readonly string[], scores: readonly number[], flagged: number | null, threshold: number, source: string): string {
  const lines = [`Threshold ${threshold} (${source === 'default' ? 'default' : `from ${source}`}); a step scored below it is flagged.`, ''];
  steps.forEach((s, i) => {
    const mark = i === flagged ? '>' : ' ';
    const text = printable(s).replace(/\n/g, '\n           ');
    lines.push(`${mark} ${String(i + 1).padStart(3)}  ${scores[i]!.toFixed(3)}  ${text}${i === flagged ? '   <- first step below the threshold: look here' : ''}`);
  });
  lines.push('');
  lines.push(flagged === null ? 'No step is scored below the threshold.' : `Step ${flagged + 1} is the first step scored below the threshold.`);
  return lines.join('\n');
}

export const command: Command = {
  summary: "Check a student's solution: score each step with a PRM, flag the first weak step, optionally hint",
  usage,
  async run(argv) {
    const v = flags(argv);
    const problem = readProblem(v);
    const steps = readSolution(v);
    const { threshold, source } = readThreshold(v);
    const prm: StepScorer | undefined = buildScorer(v as FlagValues);
    if (!prm) throw new UsageError('A PRM is needed to score the steps: give --prm-url URL --prm-model NAME, --prm-path DIR, or a language model folder as the checker with --prm-lm DIR.');
    let helper: Helper | null = null;
    try {
      helper = buildHelper(v, process.env);
      // One call scores every step: each score depends only on the steps up to it.
      const scores = await prm.score({ problem, steps });
      const flagged = firstError(scores, threshold);
      let hint: string | undefined;
      let correctedStep: string | undefined;
      if (helper && flagged !== null) {
        if (helper.kind === 'hint') hint = await helper.model.hint({ problem, steps, flagged });
        else {
          const r = await helper.model.next({
            problem,
            steps: steps.slice(0, flagged),
            maxTokens: DEFAULT_LIMITS.maxStepTokens,
            sampling: { temperature: 0 },
          });
          correctedStep = r.text.trim();
        }
      }
      if (v.json) {
        process.stdout.write(
          JSON.stringify({
            scores,
            firstError: flagged,
            threshold,
            ...(hint !== undefined ? { hint } : {}),
            ...(correctedStep !== undefined ? { correctedStep } : {}),
          }) + '\n',
        );
        return 0;
      }
      let out = transcript(steps, scores, flagged, threshold, source);
      if (hint !== undefined) out += `\n\nHint for step ${flagged! + 1}: ${printable(hint)}`;
      if (correctedStep !== undefined)
        out += `\n\nCorrected step ${flagged! + 1} (written by the strong model from the steps before it):\n    ${printable(correctedStep).replace(/\n/g, '\n    ')}`;
      if (helper && flagged === null) out += '\n\nNo hint: no step is flagged.';
      process.stdout.write(out + '\n');
      return 0;
    } finally {
      await prm.dispose?.();
      if (helper?.kind === 'corrected') await helper.model.dispose?.();
    }
  },
};
