// Evaluation datasets: JSONL (or JSON array) files of math problems with gold answers, in the layouts
// of the public benchmarks (their sources: src/eval/README.md, "Benchmark files"). Each layout is a
// format in a registry: how to recognise it, where its problem and gold answer live, and which field
// gives a stable id. Other files are read by the generic `fields` layout: the problem and answer from
// fields named on the command line (--problem-field, --answer-field) or from common names.
//
// ProcessBench has no gold answer, only model solutions labelled `final_answer_correct`. Ours: a
// problem's gold is the final answer of its first solution (in file order) labelled correct, extracted
// like any solution's answer; problems with no such solution (or none with an extractable answer)
// cannot be graded and are skipped, counted in `skipped`. Several records share a problem, so records
// are grouped by problem text and the problem takes the id of its first record.

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { TrimError } from '../core/errors.ts';
import { extractAnswer, lastBoxed } from '../core/grade/index.ts';
import { withoutInstruction } from '../core/prompt.ts';

/** A data file that cannot be read as an evaluation set; the message names the file and line. */
export class DatasetError extends TrimError {}

export interface Gold {
  /** The reference answer (LaTeX or plain text). */
  answer: string;
  /** Several answers, in any order (OlympiadBench `is_multiple_answer`). */
  multiple?: boolean;
  /** The unit the answer is given in, which a prediction may carry or omit. */
  unit?: string;
  /** Allowed absolute numeric error (OlympiadBench `error`). */
  tolerance?: number;
}

export interface EvalProblem {
  /** Stable across runs of the same file: the record's own id field, else its position. */
  id: string;
  problem: string;
  gold: Gold;
}

export interface Dataset {
  file: string;
  format: string;
  /** Records in the file (lines with data). */
  records: number;
  /** Gradable problems in the file, before --offset and --limit. */
  total: number;
  /** The problems selected by --offset and --limit, in file order. */
  problems: EvalProblem[];
  /** Why some records gave no problem, with counts. */
  skipped: { reason: string; count: number }[];
}

type RawRecord = Record<string, unknown>;

interface Line {
  /** 1-based line number (or array index + 1) for messages. */
  line: number;
  record: RawRecord;
}

interface Read {
  problems: EvalProblem[];
  skipped?: { reason: string; count: number }[];
}

export interface DatasetFormat {
  readonly name: string;
  readonly description: string;
  /** Whether a record has this format's layout (used by --format auto, on the first record). */
  detect(r: RawRecord, file: string): boolean;
  read(lines: readonly Line[], file: string): Read;
}

const formats = new Map<string, DatasetFormat>();

export function registerFormat(f: DatasetFormat): void {
  formats.set(f.name, f);
}

export function formatNames(): string[] {
  return [...formats.keys()];
}

export interface LoadOptions {
  /** A format name or 'auto' (default). */
  format?: string;
  offset?: number;
  limit?: number;
  /** The field holding the problem (the `fields` layout; a dotted path reaches into objects). */
  problemField?: string;
  /** The field holding the gold answer (the `fields` layout). */
  answerField?: string;
}

/** Field names the `fields` layout recognises, in order of preference. */
export const PROBLEM_FIELDS = ['problem', 'question', 'Problem', 'Question', 'prompt', 'input', 'query'] as const;
export const ANSWER_FIELDS = ['answer', 'Answer', 'final_answer', 'target', 'expected_answer', 'ground_truth', 'gold'] as const;

export function loadDataset(file: string, opts: LoadOptions = {}): Dataset {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new DatasetError(`Cannot read the data file ${file}: ${(err as Error).message}. Check the --data path.`);
  }
  return parseDataset(text, file, opts);
}

/** Parses the text of a data file (the same as loadDataset, for data already in memory). */
export function parseDataset(text: string, file: string, opts: LoadOptions = {}): Dataset {
  const lines = parseRecords(text, file);
  if (!lines.length) throw new DatasetError(`${file} holds no records; give a JSONL file with one problem per line.`);
  const named = opts.problemField !== undefined || opts.answerField !== undefined;
  const format = named ? fieldsFormat(lines[0]!, file, opts) : chooseFormat(lines[0]!, file, opts.format ?? 'auto');
  const read = format.read(lines, file);
  // The system turn already asks for step-by-step reasoning and a boxed answer (src/core/prompt.ts);
  // files that carry the same instruction in the problem would have it twice.
  const problems = read.problems.map((p) => ({ ...p, problem: withoutInstruction(p.problem) }));
  const skipped = read.skipped ?? [];
  const ids = new Map<string, number>();
  problems.forEach((p, i) => {
    const first = ids.get(p.id);
    if (first !== undefined)
      throw new DatasetError(
        `${file}: problems ${first + 1} and ${i + 1} share the id "${p.id}"; results are keyed by id, so ids must be unique.`,
      );
    ids.set(p.id, i);
  });
  const offset = opts.offset ?? 0;
  const limit = opts.limit ?? Infinity;
  return {
    file,
    format: format.name,
    records: lines.length,
    total: problems.length,
    problems: problems.slice(offset, offset + limit),
    skipped,
  };
}

function parseRecords(text: string, file: string): Line[] {
  const trimmed = text.replace(/^\uFEFF/, '').trimStart();
  if (trimmed.startsWith('[')) {
    let arr: unknown;
    try {
      arr = JSON.parse(trimmed);
    } catch (err) {
      throw new DatasetError(`${file} starts like a JSON array but does not parse: ${(err as Error).message}.`);
    }
    if (!Array.isArray(arr)) throw new DatasetError(`${file} is not a JSON array of records.`);
    return arr.map((record, i) => ({ line: i + 1, record: asRecord(record, file, i + 1) }));
  }
  const out: Line[] = [];
  text.split('\n').forEach((raw, i) => {
    const l = raw.replace(/^\uFEFF/, '').trim();
    if (!l) return;
    let v: unknown;
    try {
      v = JSON.parse(l);
    } catch (err) {
      throw new DatasetError(`${file} line ${i + 1} is not valid JSON (${(err as Error).message}); each line must be one JSON object.`);
    }
    out.push({ line: i + 1, record: asRecord(v, file, i + 1) });
  });
  return out;
}

function asRecord(v: unknown, file: string, line: number): RawRecord {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new DatasetError(`${file} line ${line} is not a JSON object; each record must be {"problem": …, "answer": …}.`);
  return v as RawRecord;
}

function chooseFormat(first: Line, file: string, name: string): DatasetFormat {
  if (name !== 'auto') {
    const f = formats.get(name);
    if (!f) throw new DatasetError(`Unknown data format "${name}". Known: auto, ${formatNames().join(', ')}.`);
    return f;
  }
  for (const f of formats.values()) if (f.detect(first.record, file)) return f;
  throw new DatasetError(
    `Cannot tell the format of ${file}: its first record has the fields ${Object.keys(first.record).join(', ') || '(none)'}, ` +
      `and none is a problem field (${PROBLEM_FIELDS.join(', ')}) next to an answer field (${ANSWER_FIELDS.join(', ')}). ` +
      `Name the fields with --problem-field and --answer-field, or pass --format (${formatNames().join(', ')}).`,
  );
}

/** --problem-field / --answer-field: the `fields` layout, with the named fields (the other recognised). */
function fieldsFormat(first: Line, file: string, opts: LoadOptions): DatasetFormat {
  if (opts.format !== undefined && opts.format !== 'auto' && opts.format !== 'fields')
    throw new DatasetError(
      `--problem-field and --answer-field read the plain "fields" layout; drop --format ${opts.format} (or drop the field flags to read the ${opts.format} layout).`,
    );
  const keys = Object.keys(first.record).join(', ') || '(none)';
  const pick = (given: string | undefined, common: readonly string[], what: string, flag: string): string => {
    if (given !== undefined) {
      if (fieldValue(first.record, given) === undefined)
        throw new DatasetError(`${file} line ${first.line} has no "${given}" field (${flag}); its fields are ${keys}.`);
      return given;
    }
    const found = common.find((k) => fieldValue(first.record, k) !== undefined);
    if (!found)
      throw new DatasetError(`${file} line ${first.line} has no ${what} field (${common.join(', ')}); its fields are ${keys}. Name it with ${flag}.`);
    return found;
  };
  return fieldsLayout(
    pick(opts.problemField, PROBLEM_FIELDS, 'problem', '--problem-field'),
    pick(opts.answerField, ANSWER_FIELDS, 'answer', '--answer-field'),
  );
}

// --- field access --------------------------------------------------------------------------------

const has = (r: RawRecord, k: string) => r[k] !== undefined && r[k] !== null;

/** A field by name, or by a dotted path into nested objects ("reward_model.ground_truth"). */
function fieldValue(r: RawRecord, key: string): unknown {
  if (has(r, key)) return r[key];
  let v: unknown = r;
  for (const part of key.split('.')) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    v = (v as RawRecord)[part];
  }
  return v === null ? undefined : v;
}

function text(l: Line, file: string, ...keys: string[]): string {
  for (const k of keys) {
    const v = l.record[k];
    if (typeof v === 'string' && v.trim()) return v;
  }
  throw new DatasetError(`${file} line ${l.line} has no non-empty ${keys.map((k) => `"${k}"`).join(' or ')} field.`);
}

/** The record's own id when it has one; otherwise its line, which is stable for an unchanged file. */
function recordId(l: Line, ...keys: string[]): string {
  for (const k of keys) {
    const v = l.record[k];
    if (typeof v === 'string' && v.trim()) return v.trim();
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  }
  return `line-${l.line}`;
}

/** A gold answer given as a JSON number (AMC's 27.0) in its plain decimal form: "27". */
function numberText(v: number): string {
  return Number.isInteger(v) ? v.toFixed(0) : String(v);
}

function answerField(l: Line, file: string, key: string): string {
  const v = l.record[key];
  if (typeof v === 'number' && Number.isFinite(v)) return numberText(v);
  if (typeof v === 'string' && v.trim()) return v.trim();
  throw new DatasetError(`${file} line ${l.line}: the "${key}" field must be a non-empty string or a number to grade against.`);
}

const perRecord =
  (f: (l: Line, file: string) => EvalProblem) =>
  (lines: readonly Line[], file: string): Read => ({ problems: lines.map((l) => f(l, file)) });

// --- formats, most specific first (auto-detection takes the first match) ---------------------------

registerFormat({
  name: 'processbench',
  description: 'ProcessBench: problem + labelled model solution; gold = the answer of a solution labelled correct.',
  detect: (r) => Array.isArray(r.steps) && typeof r.final_answer_correct === 'boolean',
  read: readProcessBench,
});

registerFormat({
  name: 'olympiad',
  description: 'OlympiadBench: question + final_answer list, with is_multiple_answer, unit and error tolerance.',
  detect: (r) => has(r, 'question') && Array.isArray(r.final_answer),
  read: perRecord((l, file) => {
    const fa = l.record.final_answer;
    if (!Array.isArray(fa) || !fa.length || !fa.every((a) => typeof a === 'string' && a.trim()))
      throw new DatasetError(`${file} line ${l.line}: "final_answer" must be a non-empty list of answer strings.`);
    const context = typeof l.record.context === 'string' && l.record.context.trim() ? l.record.context.trim() + '\n\n' : '';
    const unit = typeof l.record.unit === 'string' && l.record.unit.trim() ? l.record.unit.trim() : undefined;
    const tol = l.record.error === null || l.record.error === undefined ? undefined : Number(l.record.error);
    if (tol !== undefined && !(Number.isFinite(tol) && tol >= 0))
      throw new DatasetError(`${file} line ${l.line}: "error" must be a numeric tolerance such as "1e-1", got ${JSON.stringify(l.record.error)}.`);
    const gold: Gold = { answer: (fa as string[]).map(stripMathDelimiters).join(', ') };
    if (l.record.is_multiple_answer === true || fa.length > 1) gold.multiple = true;
    if (unit) gold.unit = unit;
    if (tol !== undefined) gold.tolerance = tol;
    return { id: recordId(l, 'id'), problem: context + text(l, file, 'question'), gold };
  }),
});

registerFormat({
  name: 'gsm8k',
  description: 'GSM8K: question + worked answer whose last line is "#### <number>".',
  detect: (r) => typeof r.answer === 'string' && /(^|\n)####\s*\S/.test(r.answer),
  read: perRecord((l, file) => {
    const worked = text(l, file, 'answer');
    const i = worked.lastIndexOf('####');
    const final = i < 0 ? '' : worked.slice(i + 4).trim();
    if (!final) throw new DatasetError(`${file} line ${l.line}: the answer has no final "#### <number>" line.`);
    // GSM8K writes thousands with commas ("1,450,000"); the number is what counts.
    const answer = /^-?\d{1,3}(,\d{3})+(\.\d+)?$/.test(final) ? final.replace(/,/g, '') : final;
    return { id: recordId(l, 'id', 'idx'), problem: text(l, file, 'question', 'problem'), gold: { answer } };
  }),
});

registerFormat({
  name: 'minerva',
  description: 'Minerva OCW: problem + worked solution; gold = the last \\boxed{} of the solution.',
  detect: (r) => has(r, 'problem') && typeof r.solution === 'string' && !has(r, 'answer'),
  read: perRecord((l, file) => {
    const answer = lastBoxed(text(l, file, 'solution'));
    if (!answer) throw new DatasetError(`${file} line ${l.line}: the solution has no \\boxed{…} answer to grade against.`);
    return { id: recordId(l, 'idx', 'id'), problem: text(l, file, 'problem'), gold: { answer } };
  }),
});

registerFormat({
  name: 'aime',
  description: 'AIME: problem + integer answer, possibly zero-padded ("025"), compared as an integer.',
  detect: (r, file) =>
    has(r, 'answer') && (/aime/i.test(basename(file)) || (typeof r.url === 'string' && /aime/i.test(r.url))),
  read: perRecord((l, file) => {
    const raw = answerField(l, file, 'answer');
    return {
      id: recordId(l, 'id', 'idx', 'unique_id'),
      problem: text(l, file, 'problem', 'question'),
      gold: { answer: /^\d+$/.test(raw) ? String(Number(raw)) : raw },
    };
  }),
});

registerFormat({
  name: 'amc',
  description: 'AMC: problem + numeric answer given as a JSON number (27.0 → "27").',
  detect: (r) => typeof r.answer === 'number',
  read: perRecord((l, file) => ({
    id: recordId(l, 'id', 'idx', 'unique_id'),
    problem: text(l, file, 'problem', 'question'),
    gold: { answer: answerField(l, file, 'answer') },
  })),
});

registerFormat({
  name: 'math',
  description: 'MATH-style: problem (or question) + answer string; id from unique_id, id or idx.',
  detect: (r) => (has(r, 'problem') || has(r, 'question')) && has(r, 'answer'),
  read: perRecord((l, file) => ({
    id: recordId(l, 'unique_id', 'id', 'idx'),
    problem: text(l, file, 'problem', 'question'),
    gold: { answer: answerField(l, file, 'answer') },
  })),
});

registerFormat({
  name: 'fields',
  description: `any other layout: problem and answer from --problem-field / --answer-field, or from common names (${PROBLEM_FIELDS.join(', ')}; ${ANSWER_FIELDS.join(', ')})`,
  detect: (r) => PROBLEM_FIELDS.some((k) => has(r, k)) && ANSWER_FIELDS.some((k) => has(r, k)),
  read: (lines, file) => fieldsFormat(lines[0]!, file, {}).read(lines, file),
});

/**
 * The generic layout. The problem is a string, or chat messages whose last user turn is the problem.
 * The gold answer is a number, a string, or a list of answers; a worked solution gives the number after
 * its "#### " line or its last \boxed{}, as GSM8K and MATH write them.
 */
function fieldsLayout(problemField: string, answerField: string): DatasetFormat {
  return {
    name: 'fields',
    description: `problem from "${problemField}", gold answer from "${answerField}"`,
    detect: () => true,
    read: perRecord((l, file) => ({
      id: recordId(l, 'unique_id', 'id', 'idx'),
      problem: problemText(l, file, problemField),
      gold: goldFromField(l, file, answerField),
    })),
  };
}

function problemText(l: Line, file: string, key: string): string {
  const v = fieldValue(l.record, key);
  if (typeof v === 'string' && v.trim()) return v;
  if (Array.isArray(v)) {
    const user = v.filter((m): m is { role: string; content: string } => typeof m?.content === 'string' && m?.role === 'user').at(-1);
    if (user?.content.trim()) return user.content;
  }
  throw new DatasetError(`${file} line ${l.line}: the "${key}" field must be the problem text (or chat messages with a user turn).`);
}

function goldFromField(l: Line, file: string, key: string): Gold {
  const v = fieldValue(l.record, key);
  if (typeof v === 'number' && Number.isFinite(v)) return { answer: numberText(v) };
  if (Array.isArray(v) && v.length && v.every((a) => typeof a === 'string' && a.trim())) {
    const gold: Gold = { answer: (v as string[]).map(stripMathDelimiters).join(', ') };
    if (v.length > 1) gold.multiple = true;
    return gold;
  }
  if (typeof v === 'string' && v.trim()) {
    const hash = v.lastIndexOf('####');
    if (hash >= 0 && /(^|\n)####\s*\S/.test(v)) return { answer: v.slice(hash + 4).trim() };
    const boxed = v.includes('\\boxed') ? lastBoxed(v) : null;
    if (boxed) return { answer: boxed };
    const t = v.trim();
    return { answer: /^\$[^$]+\$$/.test(t) ? stripMathDelimiters(t) : t };
  }
  throw new DatasetError(
    `${file} line ${l.line}: the "${key}" field must be a gold answer (a string, a number or a list of strings), got ${JSON.stringify(v) ?? 'nothing'}.`,
  );
}

/** "$69$,$84$" → "69,84": the dollar signs delimit math mode, they are not part of the answer. */
function stripMathDelimiters(a: string): string {
  return a.replace(/(?<!\\)\$/g, '').trim();
}

function readProcessBench(lines: readonly Line[], file: string): Read {
  const byProblem = new Map<string, { id: string; gold: string | null; anyCorrect: boolean }>();
  for (const l of lines) {
    const problem = text(l, file, 'problem');
    const steps = l.record.steps;
    if (!Array.isArray(steps) || !steps.every((s) => typeof s === 'string'))
      throw new DatasetError(`${file} line ${l.line}: "steps" must be a list of strings.`);
    if (typeof l.record.final_answer_correct !== 'boolean')
      throw new DatasetError(`${file} line ${l.line}: "final_answer_correct" must be true or false.`);
    let entry = byProblem.get(problem);
    if (!entry) byProblem.set(problem, (entry = { id: recordId(l, 'id'), gold: null, anyCorrect: false }));
    if (entry.gold === null && l.record.final_answer_correct) {
      entry.anyCorrect = true;
      // Only explicit answers: a gold read from a concluding sentence of prose would be a guess.
      entry.gold = extractAnswer((steps as string[]).join('\n\n'), { fallbacks: 'explicit' })?.answer ?? null;
    }
  }
  const problems: EvalProblem[] = [];
  let noCorrect = 0;
  let noAnswer = 0;
  for (const [problem, e] of byProblem) {
    if (e.gold) problems.push({ id: e.id, problem, gold: { answer: e.gold } });
    else if (e.anyCorrect) noAnswer++;
    else noCorrect++;
  }
  const skipped = [
    { reason: 'no solution labelled correct', count: noCorrect },
    { reason: 'no solution labelled correct states its final answer explicitly', count: noAnswer },
  ];
  return { problems, skipped: skipped.filter((s) => s.count > 0) };
}
