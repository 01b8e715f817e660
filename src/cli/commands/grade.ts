// `trim grade`: grades final answers in a JSONL file with the project's grader (src/core/grade).
// Each line is printed unchanged plus "correct" and "extracted" (to stdout, or to --out); a summary
// goes to stderr. The input file is never modified.
// A line that is not a JSON object with string "pred" and "gold" stops the run with its line number
// and nothing is written, unless --skip-bad is given: then the line is reported on stderr, counted in
// the summary, and left out of the output.

import { once } from 'node:events';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { TrimError } from '../../core/errors.ts';
import { grade, type GradeOptions } from '../../core/grade/index.ts';
import { parseOptions, UsageError, type Command } from '../command.ts';

/** A line of the input file that cannot be graded; the message names the file and the line. */
export class GradeInputError extends TrimError {}

const usage = `
Usage: trim grade --input FILE.jsonl [--out FILE.jsonl] [--strict-extraction] [--skip-bad]

Reads one JSON object per line: {"pred": a solution or an answer, "gold": the gold answer, …} and
prints each line to stdout (or writes it to --out) with "correct": true|false and "extracted": the
answer read from "pred" (or null when none was found) added; the input file is left as it is.
Optional per-line fields are used when present:
  "problem"       the problem text (answer order, multiple-choice options)
  "tolerance"     an absolute numeric tolerance (e.g. OlympiadBench's error)
  "allowReorder"  true when a list of answers may come in any order
A summary (lines, accuracy, answers not found) goes to stderr.

  --input FILE          the JSONL file to grade ("-" reads stdin)
  --out FILE            write the graded lines to this file instead of stdout (it may be the input
                        file itself, which is then replaced once every line is graded)
  --strict-extraction   only take \\boxed{…}, "the answer is …", "#### n" or a bare answer; do not read
                        the value of a concluding sentence
  --skip-bad            report and skip lines that are not {"pred", "gold"} objects instead of stopping

Example:
  npx trim grade --input predictions.jsonl --out graded.jsonl
`;

interface Tally {
  lines: number;
  correct: number;
  noAnswer: number;
  bad: number;
}

export const command: Command = {
  summary: 'Grade final answers in a JSONL file of {"pred", "gold"} lines',
  usage,
  async run(argv) {
    const values = parseOptions(argv, {
      input: { type: 'string' },
      out: { type: 'string' },
      'strict-extraction': { type: 'boolean', default: false },
      'skip-bad': { type: 'boolean', default: false },
    });
    if (!values.input) throw new UsageError('--input FILE.jsonl is required: one {"pred": …, "gold": …} object per line.');
    const text = await readInput(values.input);
    const tally: Tally = { lines: 0, correct: 0, noAnswer: 0, bad: 0 };
    const fallbacks = values['strict-extraction'] ? 'explicit' : 'all';
    const graded: string[] = [];
    const lines = text.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i]!.trim()) continue;
      try {
        graded.push(gradeLine(lines[i]!, i + 1, values.input, fallbacks, tally));
      } catch (err) {
        if (!(err instanceof GradeInputError) || !values['skip-bad']) throw err;
        tally.bad++;
        process.stderr.write(`trim grade: skipped ${err.message}\n`);
      }
    }
    // Everything is graded before anything is written, so a bad line never leaves half an output.
    const body = graded.map((l) => l + '\n').join('');
    if (values.out) {
      const tmp = `${values.out}.${process.pid}.tmp`;
      await writeFile(tmp, body);
      await rename(tmp, values.out);
    } else if (!process.stdout.write(body)) {
      await once(process.stdout, 'drain');
    }
    process.stderr.write(summary(tally) + '\n');
  },
};

async function readInput(file: string): Promise<string> {
  if (file === '-') {
    let text = '';
    for await (const chunk of process.stdin) text += String(chunk);
    return text;
  }
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new GradeInputError(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function gradeLine(raw: string, n: number, file: string, fallbacks: 'all' | 'explicit', tally: Tally): string {
  let record: unknown;
  try {
    record = JSON.parse(raw);
  } catch (err) {
    throw new GradeInputError(`${file} line ${n} is not valid JSON (${err instanceof Error ? err.message : String(err)}). Each line must be one {"pred": …, "gold": …} object.`);
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    throw new GradeInputError(`${file} line ${n} is not a JSON object. Each line must be one {"pred": …, "gold": …} object.`);
  }
  const r = record as Record<string, unknown>;
  const pred = asText(r.pred);
  const gold = asText(r.gold);
  if (pred === null || gold === null) {
    const missing = pred === null ? 'pred' : 'gold';
    throw new GradeInputError(`${file} line ${n}: "${missing}" must be a string (or a number); got ${describe(r[missing])}.`);
  }
  const opts: GradeOptions = { fallbacks };
  if (typeof r.problem === 'string') opts.problem = r.problem;
  if (typeof r.tolerance === 'number' && Number.isFinite(r.tolerance)) opts.tolerance = r.tolerance;
  if (typeof r.allowReorder === 'boolean') opts.allowReorder = r.allowReorder;
  const { correct, extracted } = grade(pred, gold, opts);
  tally.lines++;
  if (correct) tally.correct++;
  if (extracted === null) tally.noAnswer++;
  return JSON.stringify({ ...r, correct, extracted });
}

/** Numbers are accepted as answers (a gold of 18 means "18"). */
function asText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  return Array.isArray(v) ? 'an array' : `a ${typeof v}`;
}

function summary(t: Tally): string {
  const acc = t.lines ? ((100 * t.correct) / t.lines).toFixed(1) : '0.0';
  const bad = t.bad ? `, ${t.bad} bad line${t.bad === 1 ? '' : 's'} skipped` : '';
  return `graded ${t.lines} line${t.lines === 1 ? '' : 's'}: ${t.correct} correct (accuracy ${acc}%), no answer found in ${t.noAnswer}${bad}`;
}
