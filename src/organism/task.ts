// The model organism's task: a start number and 3–6 single-digit operations applied in order. Each
// step performs one operation on the previous step's result, so a wrong step poisons every step
// after it, the way a wrong line poisons a real derivation. Numbers stay small (results 0..MAX_VALUE,
// operands 1..9) so that models of tens of thousands of parameters can learn it on a laptop CPU.

import type { Rng } from '../core/rng.ts';
import { OrganismFormatError } from './errors.ts';

export type OpKind = 'add' | 'subtract' | 'multiply';

export interface Operation {
  kind: OpKind;
  operand: number;
}

export interface Chain {
  start: number;
  ops: Operation[];
}

/** Largest intermediate result; keeps every number at one or two digits. */
export const MAX_VALUE = 9;
export const MIN_OPS = 3;
export const MAX_OPS = 6;

interface OpSpec {
  /** The words in the problem ("multiply by 3"). */
  verb: string;
  /** The symbol in a step ("12 * 3 = 36"). */
  symbol: string;
  apply(a: number, b: number): number;
  /** Operands this operation may take. */
  operands: readonly number[];
}

const digits = (from: number) => Array.from({ length: 10 - from }, (_, i) => from + i);

export const OPS: Readonly<Record<OpKind, OpSpec>> = {
  add: { verb: 'add', symbol: '+', apply: (a, b) => a + b, operands: digits(1) },
  subtract: { verb: 'subtract', symbol: '-', apply: (a, b) => a - b, operands: digits(1) },
  // ×1 would be a step that changes nothing; a tiny model learns nothing from it.
  multiply: { verb: 'multiply by', symbol: '*', apply: (a, b) => a * b, operands: digits(2) },
};

const OP_KINDS = Object.keys(OPS) as OpKind[];

export function applyOp(value: number, op: Operation): number {
  return OPS[op.kind].apply(value, op.operand);
}

/** Every intermediate value, start included: values[k] is the result after k operations. */
export function chainValues(chain: Chain): number[] {
  const values = [chain.start];
  for (const op of chain.ops) values.push(applyOp(values[values.length - 1]!, op));
  return values;
}

function inRange(v: number): boolean {
  return v >= 0 && v <= MAX_VALUE;
}

/** A random chain whose every intermediate result stays in 0..MAX_VALUE. */
export function randomChain(rng: Rng): Chain {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
  const n = MIN_OPS + Math.floor(rng() * (MAX_OPS - MIN_OPS + 1));
  const start = 1 + Math.floor(rng() * 9);
  const ops: Operation[] = [];
  let value = start;
  while (ops.length < n) {
    // Choosing the kind first keeps the three kinds equally common wherever they are possible.
    const kinds = OP_KINDS.filter((k) => OPS[k].operands.some((b) => inRange(OPS[k].apply(value, b))));
    const kind = pick(kinds);
    const operand = pick(OPS[kind].operands.filter((b) => inRange(OPS[kind].apply(value, b))));
    ops.push({ kind, operand });
    value = OPS[kind].apply(value, operand);
  }
  return { start, ops };
}

const PROBLEM_HEAD = 'Start with ';
const PROBLEM_TAIL = ' What is the result?';

/** "Start with 7. 1) add 5; 2) multiply by 2; 3) subtract 9. What is the result?" */
export function problemText(chain: Chain): string {
  const ops = chain.ops.map((op, i) => `${i + 1}) ${OPS[op.kind].verb} ${op.operand}`).join('; ');
  return `${PROBLEM_HEAD}${chain.start}. ${ops}.${PROBLEM_TAIL}`;
}

const OP_RE = /^(\d+)\) (add|subtract|multiply by) (\d+)$/;

/** Reads a problem written by `problemText` back into its chain; anything else is refused. */
export function parseProblem(text: string): Chain {
  const t = text.trim();
  const fail = (why: string) =>
    new OrganismFormatError(`Not an organism problem (${why}): expected "Start with N. 1) add N; 2) …. What is the result?".`);
  if (!t.startsWith(PROBLEM_HEAD) || !t.endsWith(PROBLEM_TAIL)) throw fail('wrong opening or closing words');
  const body = t.slice(PROBLEM_HEAD.length, -PROBLEM_TAIL.length);
  const m = /^(\d{1,2})\. (.+)\.$/.exec(body);
  if (!m) throw fail('no start number');
  const parts = m[2]!.split('; ');
  if (parts.length < 1 || parts.length > 30) throw fail(`${parts.length} operations`);
  const ops = parts.map((p, i) => {
    const o = OP_RE.exec(p);
    if (!o || Number(o[1]) !== i + 1) throw fail(`operation ${i + 1} reads "${p.slice(0, 40)}"`);
    const kind = OP_KINDS.find((k) => OPS[k].verb === o[2])!;
    return { kind, operand: Number(o[3]) };
  });
  return { start: Number(m[1]), ops };
}

export const ANSWER_LEAD = '. Answer: ';

/** Step k (1-based) of the reference solution: "k) a + b = c", the last one followed by the boxed answer. */
export function stepText(k: number, a: number, op: Operation, c: number, last: boolean): string {
  const s = `${k}) ${a} ${OPS[op.kind].symbol} ${op.operand} = ${c}`;
  return last ? `${s}${ANSWER_LEAD}\\boxed{${c}}` : s;
}

/** The reference solution, one step per operation. */
export function referenceSteps(chain: Chain): string[] {
  const values = chainValues(chain);
  return chain.ops.map((op, i) => stepText(i + 1, values[i]!, op, values[i + 1]!, i === chain.ops.length - 1));
}

export function answerOf(chain: Chain): number {
  return chainValues(chain)[chain.ops.length]!;
}
