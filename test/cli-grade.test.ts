// `trim grade` as a user runs it: a child process on files in a temporary folder.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/paths.ts';

const BIN = resolve(REPO_ROOT, 'src/cli/bin.mjs');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function trim(args: string[], stdin?: string): Promise<Run> {
  return new Promise((done) => {
    const child = execFile(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    child.stdin?.end(stdin ?? '');
  });
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trim-grade-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const LINES = [
  { id: 'a', pred: 'First, 2 + 2 = 4.\n\nSo the result is $\\boxed{\\dfrac{1}{2}}$.', gold: '0.5' },
  { id: 'b', pred: 'The answer is (1, 2].', gold: '(1,2)' },
  { id: 'c', pred: 'I could not finish this problem in the time that was given.', gold: '3' },
  { id: 'd', pred: '\\boxed{4.1}', gold: '4.2', tolerance: 0.1 },
  { id: 'e', pred: '\\boxed{2, 1}', gold: '1, 2', allowReorder: false },
  { id: 'f', pred: 'Jane pays 5 + 13 = 18 dollars.\n#### 18', gold: 18 },
];

describe('trim grade', () => {
  it('prints every line with "correct" and "extracted" added, a summary to stderr, and leaves the input alone', async () => {
    const input = join(dir, 'preds.jsonl');
    const text = LINES.map((l) => JSON.stringify(l)).join('\n') + '\n\n';
    await writeFile(input, text);
    const run = await trim(['grade', '--input', input]);
    expect(run.code).toBe(0);
    expect(await readFile(input, 'utf8')).toBe(text);
    const out = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(out.map((o) => o.id)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(out.map((o) => o.correct)).toEqual([true, false, false, true, false, true]);
    expect(out.map((o) => o.extracted)).toEqual(['\\dfrac{1}{2}', '(1, 2]', null, '4.1', '2, 1', '18']);
    // Other fields come back untouched.
    expect(out[3]).toMatchObject({ pred: '\\boxed{4.1}', gold: '4.2', tolerance: 0.1 });
    expect(run.stderr).toContain('graded 6 lines: 3 correct (accuracy 50.0%), no answer found in 1');
  });

  it('writes to --out, reads stdin with "-", and --strict-extraction ignores concluding sentences', async () => {
    const out = join(dir, 'graded.jsonl');
    const line = JSON.stringify({ pred: 'Thus, the total area of the garden is \\(48\\) square meters.', gold: '48' });
    const run = await trim(['grade', '--input', '-', '--out', out], line + '\n');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('');
    expect(JSON.parse(await readFile(out, 'utf8'))).toMatchObject({ correct: true, extracted: '48' });
    const strict = await trim(['grade', '--input', '-', '--strict-extraction'], line + '\n');
    expect(JSON.parse(strict.stdout)).toMatchObject({ correct: false, extracted: null });
  });

  it('writes the graded lines back over the input when --out names it', async () => {
    const file = join(dir, 'in-place.jsonl');
    await writeFile(file, JSON.stringify({ id: 'x', pred: '\\boxed{7}', gold: '7' }) + '\n');
    const run = await trim(['grade', '--input', file, '--out', file]);
    expect(run.code).toBe(0);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ id: 'x', pred: '\\boxed{7}', gold: '7', correct: true, extracted: '7' });
  });

  it('stops at a bad line with its number and writes nothing', async () => {
    const input = join(dir, 'bad.jsonl');
    const out = join(dir, 'never.jsonl');
    await writeFile(input, [JSON.stringify(LINES[0]), '{"pred": "\\\\boxed{1}"', JSON.stringify(LINES[1])].join('\n'));
    const run = await trim(['grade', '--input', input, '--out', out]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/line 2 is not valid JSON/);
    expect(existsSync(out)).toBe(false);

    await writeFile(input, [JSON.stringify(LINES[0]), JSON.stringify({ pred: 'x' }), '[1]'].join('\n'));
    const missing = await trim(['grade', '--input', input]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('line 2: "gold" must be a string (or a number); got nothing');
    expect(missing.stdout).toBe('');
  });

  it('with --skip-bad reports and counts bad lines and grades the rest', async () => {
    const input = join(dir, 'mixed.jsonl');
    await writeFile(input, [JSON.stringify(LINES[0]), 'not json', '[1]', JSON.stringify(LINES[5])].join('\n'));
    const run = await trim(['grade', '--input', input, '--skip-bad']);
    expect(run.code).toBe(0);
    expect(run.stdout.trim().split('\n')).toHaveLength(2);
    expect(run.stderr).toContain('line 2 is not valid JSON');
    expect(run.stderr).toContain('line 3 is not a JSON object');
    expect(run.stderr).toContain('graded 2 lines: 2 correct (accuracy 100.0%), no answer found in 0, 2 bad lines skipped');
  });

  it('explains missing arguments and unreadable files', async () => {
    const none = await trim(['grade']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--input FILE.jsonl is required');
    const unknown = await trim(['grade', '--input', 'x', '--bogus']);
    expect(unknown.code).toBe(2);
    const missing = await trim(['grade', '--input', join(dir, 'absent.jsonl')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('cannot read');
  });
});
