// Student-style mistakes injected into organism reference solutions (what trains the organism PRM to
// flag them and what measures it): the mistake is where it is said to be, the checker agrees, the steps
// before it are the reference's and the steps after it carry on from the wrong value; the sets are
// seeded and do not depend on --limit; `trim organism processbench --inject` writes them.

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.ts';
import { mulberry32 } from '../src/core/rng.ts';
import { checkSolution, type StepFault } from '../src/organism/checker.ts';
import { INJECTED_KINDS, injectError, injectedRecords, type InjectedKind } from '../src/organism/inject.ts';
import { generateSplits } from '../src/organism/splits.ts';
import { applyOp, chainValues, parseProblem, referenceSteps } from '../src/organism/task.ts';

const PROBLEMS = generateSplits({ test: 0, val: 300, train: 0 }).val;

/** The checker's reason for each kind of mistake. */
const FAULT: Record<InjectedKind, StepFault> = {
  'wrong-result': 'wrong-result',
  'off-by-one': 'wrong-result',
  'wrong-operation': 'wrong-operation',
  'copied-operand': 'wrong-operation',
  'copied-input': 'wrong-input',
};

const STEP = /^(\d+)\) (-?\d+)([+\-*])(\d+)=(?:\\boxed\{(-?\d+)\}|(-?\d+))$/;

describe('injectError', () => {
  it.each(INJECTED_KINDS)('%s: one mistake where it says, the reference before it, correct arithmetic on the wrong value after it', (kind) => {
    const rng = mulberry32(11);
    let asked = 0;
    for (const p of PROBLEMS) {
      const chain = parseProblem(p.problem);
      const made = injectError(chain, rng, kind);
      const check = checkSolution(chain, made.steps);
      expect(made.steps).toHaveLength(chain.ops.length);
      expect(check.firstError).toBe(made.at);
      expect(check.steps[made.at]!.fault).toBe(FAULT[made.kind]);
      expect(check.correct).toBe(false); // add, subtract and multiply by 1..9 are one-to-one: the error reaches the answer
      expect(made.steps.slice(0, made.at)).toEqual(referenceSteps(chain).slice(0, made.at));
      expect(made.steps[made.steps.length - 1]).toMatch(/\\boxed\{-?\d+\}$/);
      const values = chainValues(chain);
      const wrong = STEP.exec(made.steps[made.at]!)!;
      const result = Number(wrong[5] ?? wrong[6]);
      if (made.kind === 'off-by-one') expect(Math.abs(result - values[made.at + 1]!)).toBe(1);
      if (made.kind === 'wrong-result') expect(Math.abs(result - values[made.at + 1]!)).toBeGreaterThan(1);
      // Every later step applies the problem's operation to the value before it, correctly.
      let v = result;
      for (let k = made.at + 1; k < made.steps.length; k++) {
        const m = STEP.exec(made.steps[k]!)!;
        expect(Number(m[2])).toBe(v);
        v = applyOp(v, chain.ops[k]!);
        expect(Number(m[5] ?? m[6])).toBe(v);
      }
      if (made.kind === kind) asked++;
    }
    // A kind that cannot happen at the chosen step falls back to a wrong result; most of the time it can.
    expect(asked).toBeGreaterThan(PROBLEMS.length / 2);
  });

  it('puts mistakes at every position, first and last steps included', () => {
    const rng = mulberry32(5);
    const at = new Set(PROBLEMS.map((p) => injectError(parseProblem(p.problem), rng).at));
    expect([...at].sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

describe('injectedRecords', () => {
  it('labels each solution with the first wrong step or -1, seeded per problem, independent of the others', () => {
    const all = injectedRecords(PROBLEMS, { seed: 3, errorShare: 0.5 });
    const wrong = all.filter((r) => r.label >= 0);
    expect(wrong.length).toBeGreaterThan(100);
    expect(wrong.length).toBeLessThan(200);
    for (const r of all) {
      expect(r.label).toBe(checkSolution(r.problem, r.steps).firstError ?? -1);
      expect(r.final_answer_correct).toBe(r.label < 0);
      expect(r.generator).toBe(r.label < 0 ? 'reference' : `injected:${r.id.split('#inject-')[1]}`);
    }
    // The first ten do not depend on what follows them, and the same seed gives the same set.
    expect(injectedRecords(PROBLEMS.slice(0, 10), { seed: 3, errorShare: 0.5 })).toEqual(all.slice(0, 10));
    expect(injectedRecords(PROBLEMS, { seed: 3, errorShare: 0.5 })).toEqual(all);
    expect(injectedRecords(PROBLEMS, { seed: 4, errorShare: 0.5 })).not.toEqual(all);
    expect(injectedRecords(PROBLEMS.slice(0, 20), { seed: 3, errorShare: 0 }).every((r) => r.label === -1)).toBe(true);
    expect(injectedRecords(PROBLEMS.slice(0, 20), { seed: 3, errorShare: 1 }).every((r) => r.label >= 0)).toBe(true);
  });
});

async function trim(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((stderr += String(s)), true));
  try {
    return { code: await main(args), stderr };
  } finally {
    vi.restoreAllMocks();
  }
}

describe('trim organism processbench --inject', () => {
  it('writes reference solutions with and without one injected mistake, labelled', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'trim-inject-')), 'injected.jsonl');
    const r = await trim(['organism', 'processbench', '--inject', '--limit', '40', '--error-share', '0.5', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const rows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; problem: string; steps: string[]; label: number });
    expect(rows).toHaveLength(40);
    const wrong = rows.filter((x) => x.label >= 0).length;
    expect(r.stderr).toContain(`wrote 40 labelled solutions to ${out}: ${wrong} with an error, ${40 - wrong} all correct`);
    expect(wrong).toBeGreaterThan(5);
    expect(wrong).toBeLessThan(35);
    expect(rows[0]!.id).toMatch(/^organism-test-001#(reference|inject-[a-z-]+)$/);
    for (const x of rows) expect(x.label).toBe(checkSolution(x.problem, x.steps).firstError ?? -1);
  });

  it("refuses a model's options with --inject, and --error-share without it", async () => {
    const out = join(tmpdir(), 'never-written.jsonl');
    const cases: [string[], RegExp][] = [
      [['--inject', '--weak-path', 'public/models/organism/weak'], /--weak-path is for a model's own solutions; --inject writes reference solutions/],
      [['--inject', '--samples', '2'], /--samples is for a model's own solutions/],
      [['--inject', '--error-share', '1.5'], /--error-share must be a number in \[0, 1\]/],
      [['--weak-path', 'public/models/organism/weak', '--error-share', '0.3'], /--error-share goes with --inject/],
    ];
    for (const [args, message] of cases) {
      const r = await trim(['organism', 'processbench', ...args, '--out', out]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });
});
