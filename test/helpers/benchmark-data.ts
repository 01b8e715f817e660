// Where the public benchmark files are, and what to tell a person who does not have them. They are
// third-party data and never live in the repository (their README beside our copy says why); tests
// and benches that need them read a folder given by TRIM_DATA_DIR, or ../shared/data beside the clone.

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from './paths.ts';

export const DATA_DIR_VARIABLE = 'TRIM_DATA_DIR';

/** The public source of each file, as recorded beside our copy; src/eval/README.md has the details. */
export const BENCHMARK_SOURCES: Record<string, string> = {
  'math500_test.jsonl': 'github.com/openai/prm800k: prm800k/math_splits/test.jsonl (MATH-500)',
  'aime24_test.jsonl': 'github.com/QwenLM/Qwen2.5-Math: evaluation/data/aime24/test.jsonl',
  'amc23_test.jsonl': 'github.com/QwenLM/Qwen2.5-Math: evaluation/data/amc23/test.jsonl',
  'minerva_math_test.jsonl': 'github.com/QwenLM/Qwen2.5-Math: evaluation/data/minerva_math/test.jsonl',
  'olympiadbench_oe_to_maths_en_comp_test.jsonl': 'github.com/QwenLM/Qwen2.5-Math: evaluation/data/olympiadbench/test.jsonl',
  'gsm8k_test.jsonl': 'github.com/openai/grade-school-math: grade_school_math/data/test.jsonl',
  'processbench_gsm8k.jsonl': 'github.com/QwenLM/ProcessBench (commit ee5ae00): dataset/gsm8k.json, one record per line',
  'processbench_math.jsonl': 'github.com/QwenLM/ProcessBench (commit ee5ae00): dataset/math.json, one record per line',
  'processbench_olympiadbench.jsonl': 'github.com/QwenLM/ProcessBench (commit ee5ae00): dataset/olympiadbench.json, one record per line',
  'processbench_omnimath.jsonl': 'github.com/QwenLM/ProcessBench (commit ee5ae00): dataset/omnimath.json, one record per line',
};

export interface DataDir {
  /** The folder to read, or null when none is there. */
  dir: string | null;
  /** Where it was looked for, for messages. */
  looked: string;
}

/** TRIM_DATA_DIR when set (even if missing: the person asked for it), else ../shared/data when it exists. */
export function findDataDir(env: NodeJS.ProcessEnv = process.env): DataDir {
  const given = env[DATA_DIR_VARIABLE];
  if (given) {
    const dir = resolve(given);
    return { dir: existsSync(dir) ? dir : null, looked: `${DATA_DIR_VARIABLE}=${given}` };
  }
  const beside = resolve(REPO_ROOT, '../shared/data');
  return { dir: existsSync(beside) ? beside : null, looked: `${beside} (${DATA_DIR_VARIABLE} is not set)` };
}

/** The files of `wanted` that are not in the folder (all of them when there is no folder). */
export function missingFiles(found: DataDir, wanted: readonly string[]): string[] {
  return wanted.filter((f) => !found.dir || !existsSync(join(found.dir, f)));
}

/** What to do when benchmark files are missing: which files, from where, and the variable to set. */
export function missingDataMessage(what: string, found: DataDir, missing: readonly string[]): string {
  const where = found.dir ? `are not in ${found.dir}` : `were not found: no data folder at ${found.looked}`;
  return [
    `${what} needs public benchmark files that ${where}:`,
    ...missing.map((f) => `  ${f}  from ${BENCHMARK_SOURCES[f] ?? 'see src/eval/README.md'}`),
    `Download them from those public sources into a folder of your choice (src/eval/README.md, "Benchmark files", ` +
      `says how), then set ${DATA_DIR_VARIABLE}=/path/to/that/folder.`,
  ].join('\n');
}

/** For scripts: the folder holding every file of `wanted`, or a clear message and exit code 1. */
export function requireDataFiles(what: string, wanted: readonly string[]): string {
  const found = findDataDir();
  const missing = missingFiles(found, wanted);
  if (missing.length) {
    process.stderr.write(missingDataMessage(what, found, missing) + '\n');
    process.exit(1);
  }
  return found.dir!;
}
