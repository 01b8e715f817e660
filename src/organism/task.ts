// The model organism's task: a start number and 3–6 single-digit operations applied in order. Each
// step performs one operation on the previous step's result, so a wrong step poisons every step
// after it, the way a wrong line poisons a real derivation. Numbers stay single digits (results
// 0..MAX_VALUE, operands 1..9) so that models of tens of thousands of parameters learn it on a CPU in
// minutes (two-digit arithmetic takes such models far longer).

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

/** Largest intermediate result. */
export const MAX_VALUE = 9;
export const MIN_OPS = 3;
export const MAX_OPS = 6;

interface OpSpec {
  /** The symbol in the problem ("*3") and in a step ("2*3=6"). */
  symbol: string;
  apply(a: number, b: number): number;
  /** Operands this operation may take. */
  operands: readonly number[];
}

const digits = (from: number) => Array.from({ length: 10 - from }, (_, i) => from + i);

export const OPS: Readonly<Record<OpKind, OpSpec>> = {
  add: { symbol: '+', apply: (a, b) => a + b, operands: digits(1) },
  subtract: { symbol: '-', apply: (a, b) => a - b, operands: digits(1) },
  // ×1 would be a step that changes nothing; a tiny model learns nothing from it.
  multiply: { symbol: '*', apply: (a, b) => a * b, operands: digits(2) },
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
    // Multiplying 0 is a step with nothing to compute.
    const kinds = OP_KINDS.filter((k) => !(k === 'multiply' && value === 0) && OPS[k].operands.some((b) => inRange(OPS[k].apply(value, b))));
    const kind = pick(kinds);
    const operand = pick(OPS[kind].operands.filter((b) => inRange(OPS[kind].apply(value, b))));
    ops.push({ kind, operand });
    value = OPS[kind].apply(value, operand);
  }
  return { start, ops };
}

const PROBLEM_HEAD = 'Start with ';

// The text is terse on purpose: every character is a token of a byte-level model, and training cost
// grows with the square of the length.
/** "Start with 7, then 1) +5 2) *2 3) -9." */
export function problemText(chain: Chain): string {
  const ops = chain.ops.map((op, i) => `${i + 1}) ${OPS[op.kind].symbol}${op.operand}`).join(' ');
  return `${PROBLEM_HEAD}${chain.start}, then ${ops}.`;
}

const PROBLEM_RE = /^Start with (\d{1,2}), then (.+)\.$/;
const OP_RE = /^(\d{1,2})\) ([+\-*])(\d)$/;

/** Reads a problem written by `problemText` back into its chain; anything else is refused. */
export function parseProblem(text: string): Chain {
  const fail = (why: string) => new OrganismFormatError(`Not an organism problem (${why}): expected "Start with N, then 1) +N 2) *N ….".`);
  const t = text.trim();
  if (t.length > 400) throw fail('too long');
  const m = PROBLEM_RE.exec(t);
  if (!m) throw fail('wrong opening or closing words');
  const parts = m[2]!.split(/ (?=\d{1,2}\) )/);
  const ops = parts.map((p, i) => {
    const o = OP_RE.exec(p);
    if (!o || Number(o[1]) !== i + 1) throw fail(`operation ${i + 1} reads "${p.slice(0, 40)}"`);
    const kind = OP_KINDS.find((k) => OPS[k].symbol === o[2])!;
    return { kind, operand: Number(o[3]) };
  });
  return { start: Number(m[1]), ops };
}

/** Step k (1-based) of the reference solution: "k) a+b=c", the last one with c boxed ("3) 2*3=\boxed{6}"). */
export function stepText(k: number, a: number, op: Operation, c: number, last: boolean): string {
  return `${k}) ${a}${OPS[op.kind].symbol}${op.operand}=${last ? `\\boxed{${c}}` : c}`;
}

/** The reference solution, one step per operation. */
export function referenceSteps(chain: Chain): string[] {
  const values = chainValues(chain);
  return chain.ops.map((op, i) => stepText(i + 1, values[i]!, op, values[i + 1]!, i === chain.ops.length - 1));
}

export function answerOf(chain: Chain): number {
  return chainValues(chain)[chain.ops.length]!;
}
