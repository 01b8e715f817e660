// Student-style mistakes, put into reference solutions one at a time. The weak model's own errors are
// mostly wrong results made where a half-trained model is unsure; a student also slips by one, applies
// the wrong operation, or copies a number wrongly, anywhere in the solution. A PRM that has only seen the
// model's errors scores such steps too high to flag, so these solutions measure it and calibrate its flag
// threshold (`trim organism processbench --inject`, training/train.py's flags stage) and are what a
// checker PRM trains on (its prm-check stage). After the wrong step the student carries on correctly
// from the wrong value, as students do, so the error cascades like a real one.

import { deriveSeed, mulberry32, type Rng } from '../core/rng.ts';
import { checkSolution } from './checker.ts';
import type { LabelledRecord, OrganismProblem } from './processbench.ts';
import { MAX_VALUE, OPS, applyOp, chainValues, parseProblem, referenceSteps, stepText, type Chain, type OpKind, type Operation } from './task.ts';

export const INJECTED_KINDS = ['wrong-result', 'off-by-one', 'wrong-operation', 'copied-operand', 'copied-input'] as const;
export type InjectedKind = (typeof INJECTED_KINDS)[number];

export interface Injected {
  steps: string[];
  /** The wrong step (0-based). */
  at: number;
  kind: InjectedKind;
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
const digits = Array.from({ length: MAX_VALUE + 1 }, (_, i) => i);
const inRange = (v: number) => v >= 0 && v <= MAX_VALUE;

/** What the student writes at the wrong step: its input, operation and result (null when this kind cannot happen there). */
function mistake(kind: InjectedKind, a: number, op: Operation, c: number, before: readonly number[], rng: Rng): { a: number; op: Operation; c: number } | null {
  switch (kind) {
    case 'wrong-result':
      // Any other digit: an arithmetic slip that is not merely one off.
      return { a, op, c: pick(rng, digits.filter((d) => Math.abs(d - c) > 1)) };
    case 'off-by-one': {
      const near = [c - 1, c + 1].filter(inRange);
      return { a, op, c: pick(rng, near) };
    }
    case 'wrong-operation': {
      // Another operation on the same number, computed right: "+" read as "-", "*" as "+".
      const other = (Object.keys(OPS) as OpKind[]).filter((k) => k !== op.kind).map((kind) => ({ kind, operand: op.operand }));
      const fits = other.filter((o) => inRange(applyOp(a, o)) && applyOp(a, o) !== c && !(o.kind === 'multiply' && o.operand === 1));
      if (!fits.length) return null;
      const o = pick(rng, fits);
      return { a, op: o, c: applyOp(a, o) };
    }
    case 'copied-operand': {
      // The problem's number copied wrongly (a neighbouring digit), then computed right.
      const fits = [op.operand - 1, op.operand + 1]
        .filter((b) => b >= 1 && b <= 9 && !(op.kind === 'multiply' && b === 1))
        .map((operand) => ({ kind: op.kind, operand }))
        .filter((o) => inRange(applyOp(a, o)));
      if (!fits.length) return null;
      const o = pick(rng, fits);
      return { a, op: o, c: applyOp(a, o) };
    }
    case 'copied-input': {
      // The previous result copied wrongly: an earlier value of the solution, or a neighbouring digit.
      const fits = [...new Set([...before.slice(0, -1), a - 1, a + 1])].filter((x) => x !== a && inRange(x) && inRange(applyOp(x, op)) && applyOp(x, op) !== c);
      if (!fits.length) return null;
      const x = pick(rng, fits);
      return { a: x, op, c: applyOp(x, op) };
    }
  }
}

/**
 * The reference solution with one student-style mistake at a random step (`kind` random unless given;
 * a kind that cannot happen at the chosen step falls back to a wrong result, which always can).
 */
export function injectError(chain: Chain, rng: Rng, kind?: InjectedKind): Injected {
  const values = chainValues(chain);
  const n = chain.ops.length;
  const at = Math.floor(rng() * n);
  let chosen: InjectedKind = kind ?? pick(rng, INJECTED_KINDS);
  const op = chain.ops[at]!;
  let m = mistake(chosen, values[at]!, op, values[at + 1]!, values.slice(0, at + 1), rng);
  if (!m) {
    chosen = 'wrong-result';
    m = mistake(chosen, values[at]!, op, values[at + 1]!, values.slice(0, at + 1), rng)!;
  }
  const steps = referenceSteps(chain).slice(0, at);
  steps.push(stepText(at + 1, m.a, m.op, m.c, at === n - 1));
  // The student carries on correctly from the wrong value (which may leave the single digits).
  let v = m.c;
  for (let k = at + 1; k < n; k++) {
    const next = applyOp(v, chain.ops[k]!);
    steps.push(stepText(k + 1, v, chain.ops[k]!, next, k === n - 1));
    v = next;
  }
  return { steps, at, kind: chosen };
}

export interface InjectOptions {
  seed: number;
  /** Share of the solutions that get a mistake (the rest are the reference solution), in [0, 1]. */
  errorShare: number;
}

/**
 * One labelled solution per problem: with probability `errorShare` the reference solution with one
 * injected mistake, otherwise the reference solution itself. Each problem draws from its own seed, so a
 * record does not depend on the others or on --limit. The label is the checker's, which must agree with
 * where the mistake was put (a disagreement is a bug here, not data).
 */
export function injectedRecords(problems: readonly OrganismProblem[], o: InjectOptions): LabelledRecord[] {
  return problems.map((p) => {
    const chain = parseProblem(p.problem);
    const rng = mulberry32(deriveSeed(o.seed, `inject:${p.id}`));
    const wrong = rng() < o.errorShare;
    const made = wrong ? injectError(chain, rng) : null;
    const steps = made ? made.steps : referenceSteps(chain);
    const check = checkSolution(chain, steps);
    const label = check.firstError ?? -1;
    if (label !== (made ? made.at : -1)) throw new Error(`Injecting into ${p.id} went wrong: the mistake is at step ${made?.at ?? -1}, the checker says ${label}.`);
    return {
      id: `${p.id}#${made ? `inject-${made.kind}` : 'reference'}`,
      problem: p.problem,
      steps,
      label,
      final_answer_correct: check.correct,
      generator: made ? `injected:${made.kind}` : 'reference',
    };
  });
}
