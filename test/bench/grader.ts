// Validates the grader against human labels: ProcessBench solutions carry `final_answer_correct`, and
// their problems overlap GSM8K, MATH-500 and OlympiadBench, which give the gold answers. Prints the
// agreement per split, the confusion counts and every disagreement, so each can be judged a label
// error or a grader error. Then times the grader on pathological model outputs (each must stay well
// under a second). Run: npm run bench:grader [-- --split math] [-- --quiet]; the benchmark files are
// read from TRIM_DATA_DIR (default ../shared/data beside the clone).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { grade, type GradeOptions } from '../../src/core/grade/index.ts';
import { HOSTILE_CASES } from '../helpers/hostile-answers.ts';
import { requireDataFiles } from '../helpers/benchmark-data.ts';

interface Gold {
  answer: string;
  opts: GradeOptions;
}

interface ProcessBenchRecord {
  id: string;
  problem: string;
  steps: string[];
  final_answer_correct: boolean;
}

const { values } = parseArgs({
  options: { split: { type: 'string' }, quiet: { type: 'boolean', default: false } },
});

const GOLD_FILE: Record<string, string> = {
  gsm8k: 'gsm8k_test.jsonl',
  math: 'math500_test.jsonl',
  olympiadbench: 'olympiadbench_oe_to_maths_en_comp_test.jsonl',
};
const splits = values.split ? [values.split] : Object.keys(GOLD_FILE);
for (const s of splits)
  if (!GOLD_FILE[s]) {
    process.stderr.write(`--split must be one of ${Object.keys(GOLD_FILE).join(', ')}; got "${s}".\n`);
    process.exit(2);
  }
const DATA_DIR = requireDataFiles('npm run bench:grader', splits.flatMap((s) => [`processbench_${s}.jsonl`, GOLD_FILE[s]!]));

function readJsonl<T>(file: string): T[] {
  return readFileSync(join(DATA_DIR, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}

/** Problem texts are joined after collapsing whitespace and case. */
function key(problem: string): string {
  return problem.replace(/\s+/g, ' ').trim().toLowerCase();
}

function goldIndex(split: string): Map<string, Gold> {
  const out = new Map<string, Gold>();
  if (split === 'gsm8k') {
    for (const r of readJsonl<{ question: string; answer: string }>('gsm8k_test.jsonl')) {
      out.set(key(r.question), { answer: r.answer.split('####').at(-1)!.trim(), opts: {} });
    }
  } else if (split === 'math') {
    for (const r of readJsonl<{ problem: string; answer: string }>('math500_test.jsonl')) {
      out.set(key(r.problem), { answer: r.answer, opts: { problem: r.problem } });
    }
  } else {
    type Olympiad = { question: string; final_answer: string[]; is_multiple_answer: boolean; error: string | null };
    for (const r of readJsonl<Olympiad>('olympiadbench_oe_to_maths_en_comp_test.jsonl')) {
      const opts: GradeOptions = { problem: r.question, allowReorder: r.is_multiple_answer };
      if (r.error) opts.tolerance = Number(r.error);
      out.set(key(r.question), { answer: r.final_answer.join(', '), opts });
    }
  }
  return out;
}

let allAgree = 0;
let allN = 0;
for (const split of splits) {
  const golds = goldIndex(split);
  const records = readJsonl<ProcessBenchRecord>(`processbench_${split}.jsonl`);
  const counts = { tp: 0, fn: 0, fp: 0, tn: 0, noAnswer: 0, noGold: 0 };
  const disagreements: string[] = [];
  let slowest = 0;
  const t0 = performance.now();
  for (const r of records) {
    const gold = golds.get(key(r.problem));
    if (!gold) {
      counts.noGold++;
      continue;
    }
    const t = performance.now();
    const g = grade(r.steps.join('\n\n'), gold.answer, gold.opts);
    slowest = Math.max(slowest, performance.now() - t);
    if (g.extracted === null) counts.noAnswer++;
    const label = r.final_answer_correct;
    if (label && g.correct) counts.tp++;
    else if (label) counts.fn++;
    else if (g.correct) counts.fp++;
    else counts.tn++;
    if (label !== g.correct) {
      disagreements.push(
        `  ${r.id.padEnd(18)} label=${label ? 'right' : 'wrong'} grader=${g.correct ? 'right' : 'wrong'} ` +
          `how=${g.how ?? '-'} extracted=${JSON.stringify(g.extracted)} gold=${JSON.stringify(gold.answer)}`,
      );
    }
  }
  const n = counts.tp + counts.fn + counts.fp + counts.tn;
  const agree = counts.tp + counts.tn;
  allAgree += agree;
  allN += n;
  const ms = performance.now() - t0;
  console.log(
    `${split}: ${n} records with a gold answer (${counts.noGold} without), agreement ${((100 * agree) / n).toFixed(1)}% ` +
      `(${agree}/${n})`,
  );
  console.log(
    `  label right & grader right ${counts.tp}, label right & grader wrong ${counts.fn}, ` +
      `label wrong & grader right ${counts.fp}, label wrong & grader wrong ${counts.tn}; no answer found ${counts.noAnswer}`,
  );
  console.log(`  ${(ms / n).toFixed(1)} ms per record on average, slowest ${slowest.toFixed(0)} ms`);
  if (!values.quiet) for (const d of disagreements) console.log(d);
}
if (splits.length > 1) console.log(`all: agreement ${((100 * allAgree) / allN).toFixed(1)}% (${allAgree}/${allN})`);

// Hostile inputs: the time each takes, slowest first, and whether the verdict is the expected one.
const timings = HOSTILE_CASES.map((c) => {
  const t = performance.now();
  const g = grade(c.pred, c.gold);
  return { name: c.name, ms: performance.now() - t, ok: g.correct === c.correct };
}).sort((a, b) => b.ms - a.ms);
console.log(`hostile inputs: ${timings.length} cases, slowest ${timings[0]!.ms.toFixed(0)} ms (${timings[0]!.name}), ` +
  `total ${timings.reduce((s, t) => s + t.ms, 0).toFixed(0)} ms, wrong verdicts ${timings.filter((t) => !t.ok).length}`);
if (!values.quiet) for (const t of timings.slice(0, 5)) console.log(`  ${t.ms.toFixed(1).padStart(7)} ms  ${t.name}`);
