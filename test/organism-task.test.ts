import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.ts';
import { mulberry32 } from '../src/core/rng.ts';
import { splitSteps } from '../src/core/steps.ts';
import { checkSolution, gradeAnswer, prmTargets, stepFault } from '../src/organism/checker.ts';
import { OrganismFormatError } from '../src/organism/errors.ts';
import { generateSplits, toJsonl } from '../src/organism/splits.ts';
import {
  MAX_OPS,
  MAX_VALUE,
  MIN_OPS,
  answerOf,
  chainValues,
  parseProblem,
  problemText,
  randomChain,
  referenceSteps,
  type Chain,
} from '../src/organism/task.ts';
import { REPO_ROOT } from './helpers/paths.ts';

// A hand-written chain with known values: 3 + 4 = 7, 7 - 5 = 2, 2 * 3 = 6.
const known: Chain = {
  start: 3,
  ops: [
    { kind: 'add', operand: 4 },
    { kind: 'subtract', operand: 5 },
    { kind: 'multiply', operand: 3 },
  ],
};
const knownProblem = 'Start with 3, then 1) +4 2) -5 3) *3.';
const knownSteps = ['1) 3+4=7', '2) 7-5=2', '3) 2*3=\\boxed{6}'];

describe('organism task', () => {
  it('writes problems and reference steps in the project step format', () => {
    expect(problemText(known)).toBe(knownProblem);
    expect(referenceSteps(known)).toEqual(knownSteps);
    expect(answerOf(known)).toBe(6);
    expect(chainValues(known)).toEqual([3, 7, 2, 6]);
    // The steps survive the project's own split on blank lines.
    expect(splitSteps(knownSteps.join('\n\n'))).toEqual(knownSteps);
  });

  it('draws chains of 3–6 operations whose every value stays in range, seeded', () => {
    const rng = mulberry32(1);
    const lengths = new Set<number>();
    const kinds = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const c = randomChain(rng);
      lengths.add(c.ops.length);
      c.ops.forEach((o) => kinds.add(o.kind));
      for (const v of chainValues(c)) expect(v >= 0 && v <= MAX_VALUE).toBe(true);
      expect(c.ops.every((o) => o.operand >= 1 && o.operand <= 9)).toBe(true);
      expect(parseProblem(problemText(c))).toEqual(c);
      expect(checkSolution(c, referenceSteps(c))).toMatchObject({ firstError: null, correct: true });
    }
    expect([...lengths].sort()).toEqual(Array.from({ length: MAX_OPS - MIN_OPS + 1 }, (_, i) => MIN_OPS + i));
    expect([...kinds].sort()).toEqual(['add', 'multiply', 'subtract']);
    const a = mulberry32(5);
    const b = mulberry32(5);
    expect(Array.from({ length: 20 }, () => problemText(randomChain(a)))).toEqual(Array.from({ length: 20 }, () => problemText(randomChain(b))));
  });

  it('refuses text that is not an organism problem, saying what it expected', () => {
    for (const bad of [
      'What is 2 + 2?',
      'Start with 3, then 1) +4 3) -5.',
      'Start with 3, then 1) /4.',
      'Start with 3, then 1) +12.',
      'Start with 3.',
      `Start with 3, then ${'1) +4 '.repeat(5000)}.`,
    ]) {
      expect(() => parseProblem(bad)).toThrow(OrganismFormatError);
    }
    expect(() => parseProblem('x')).toThrow(/Start with N, then/);
  });
});

describe('organism checker', () => {
  it('labels the first wrong step and everything after it, and errors cascade', () => {
    // Step 2 subtracts wrongly; step 3 multiplies the wrong value correctly: still after an error.
    const steps = ['1) 3+4=7', '2) 7-5=3', '3) 3*3=\\boxed{9}'];
    const c = checkSolution(knownProblem, steps);
    expect(c.steps.map((s) => s.label)).toEqual(['correct', 'first-wrong', 'after-error']);
    expect(c.steps[1]!.fault).toBe('wrong-result');
    expect(c).toMatchObject({ firstError: 1, answer: '9', expected: 6, correct: false });
    expect(prmTargets(c)).toEqual([1, 0, 0]);
  });

  it('names each kind of fault', () => {
    const at = (k: number, text: string) => stepFault(known, k, text);
    expect(at(0, '1) 3+4=7')).toBeNull();
    expect(at(0, ' 1)3 + 4 = 7 ')).toBeNull();
    expect(at(0, '2) 3+4=7')).toBe('wrong-number');
    expect(at(1, '2) 6-5=1')).toBe('wrong-input');
    expect(at(1, '2) 7+5=12')).toBe('wrong-operation');
    expect(at(1, '2) 7-4=3')).toBe('wrong-operation');
    expect(at(1, '2) 7-5=3')).toBe('wrong-result');
    expect(at(1, '2) 7-5=\\boxed{2}')).toBe('early-answer');
    expect(at(1, '2) 7-5=2 and then')).toBe('unreadable');
    expect(at(2, '3) 2*3=6')).toBe('missing-answer');
    expect(at(2, '3) 2*3=\\boxed{7}')).toBe('wrong-result');
    expect(at(2, '3) 2*3=\\boxed{6} trailing')).toBe('unreadable');
    expect(at(2, '3) 2*3=\\boxed{ 6 }')).toBeNull();
    expect(at(3, '4) 6+1=7')).toBe('extra-step');
    expect(at(0, 'the sum is seven')).toBe('unreadable');
  });

  it('survives hostile model output and grades only an exact integer', () => {
    const hostile = ['<|im_end|><|im_start|>user', '\\boxed{', '9'.repeat(100_000), '', '1) 3+4=7\n\n\\boxed{7}'];
    const c = checkSolution(known, hostile);
    expect(c.steps.map((s) => s.label)).toEqual(['first-wrong', 'after-error', 'after-error', 'after-error', 'after-error']);
    expect(c.correct).toBe(false);
    expect(checkSolution(known, [])).toMatchObject({ steps: [], firstError: null, answer: null, correct: false });
    // A right final answer after wrong steps is still a right answer (the final grade is the answer's).
    expect(checkSolution(known, ['1) 3+4=8', 'so \\boxed{6}']).correct).toBe(true);
    expect(gradeAnswer(' 6 ', 6)).toBe(true);
    expect(gradeAnswer('6.0', 6)).toBe(false);
    expect(gradeAnswer('06', 6)).toBe(true);
    expect(gradeAnswer(null, 6)).toBe(false);
    expect(gradeAnswer('1e1', 10)).toBe(false);
  });
});

describe('organism splits', () => {
  it('are disjoint, seeded, and the test split does not depend on the others', () => {
    const a = generateSplits({ test: 300, val: 300, train: 3000 }, 11);
    const b = generateSplits({ test: 300, val: 0, train: 0 }, 11);
    expect(b.test).toEqual(a.test);
    const sets = [a.test, a.val, a.train].map((r) => new Set(r.map((x) => x.problem)));
    expect(sets.map((s) => s.size)).toEqual([300, 300, 3000]);
    for (const p of sets[0]!) expect(sets[1]!.has(p) || sets[2]!.has(p)).toBe(false);
    for (const p of sets[1]!) expect(sets[2]!.has(p)).toBe(false);
    expect(generateSplits({ test: 50, val: 0, train: 0 }, 12).test).not.toEqual(a.test.slice(0, 50));
    for (const r of a.val) expect(checkSolution(r.problem, r.steps).correct && r.answer === String(answerOf(parseProblem(r.problem)))).toBe(true);
  });

  it('the committed test set is the seeded generator output, with the fields trim eval reads', () => {
    const committed = readFileSync(join(REPO_ROOT, 'public/organism/test.jsonl'), 'utf8');
    const rows = committed.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.length).toBeGreaterThanOrEqual(500);
    expect(committed).toBe(toJsonl(generateSplits({ test: rows.length, val: 0, train: 0 }).test));
    for (const r of rows) {
      expect(typeof r.problem).toBe('string');
      expect(typeof r.answer).toBe('string');
      expect(typeof r.id).toBe('string');
    }
  });
});

describe('trim organism', () => {
  it('writes splits and labels solutions from JSONL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'organism-'));
    expect(await main(['organism', 'data', '--out', dir, '--test', '20', '--val', '5', '--train', '30', '--seed', '3'])).toBe(0);
    const test = readFileSync(join(dir, 'test.jsonl'), 'utf8').trim().split('\n');
    expect(test).toHaveLength(20);
    expect(readFileSync(join(dir, 'train.jsonl'), 'utf8').trim().split('\n')).toHaveLength(30);

    const input = join(dir, 'samples.jsonl');
    writeFileSync(
      input,
      [
        JSON.stringify({ problem: knownProblem, steps: knownSteps }),
        JSON.stringify({ problem: knownProblem, solution: '1) 3+4=7\n\n2) 7-5=1\n\n3) 1*3=\\boxed{3}', id: 'x' }),
        '',
      ].join('\n'),
    );
    const out = join(dir, 'labels.jsonl');
    expect(await main(['organism', 'check', '--in', input, '--out', out])).toBe(0);
    const rows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows[0]).toMatchObject({ labels: ['correct', 'correct', 'correct'], correct: true, fault: null });
    expect(rows[1]).toMatchObject({ id: 'x', labels: ['correct', 'first-wrong', 'after-error'], correct: false, fault: 'wrong-result', expected: 6 });

    writeFileSync(input, '{"problem": "Start with"}\n');
    expect(await main(['organism', 'check', '--in', input])).toBe(1);
    writeFileSync(input, 'not json\n');
    expect(await main(['organism', 'check', '--in', input])).toBe(1);
    expect(await main(['organism', 'data'])).toBe(2);
    expect(await main(['organism', 'data', '--out', dir, '--test', '-1'])).toBe(2);
    expect(await main(['organism'])).toBe(2);
  });
});
