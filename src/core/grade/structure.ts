// Reads a normalised answer into its shape: a value, an equation, an inequality, a tuple or interval,
// a list, a set, a union of intervals, a matrix, or a multiple-choice letter. Comparison then works on
// shapes (equivalent.ts), so "(1, 2]" is never mistaken for the list "1, 2" and the parts of a tuple are
// compared as values.

import { enclosedBy, maxDepth, splitTopLevel } from './latex.ts';
import { cleanScalar, compactTex, type Scalar } from './normalize.ts';

export type Bracket = '(' | '[' | ')' | ']';

export type Answer =
  | { kind: 'value'; value: Scalar }
  /** a = b (= c…): every side, in order. */
  | { kind: 'equation'; sides: Answer[]; tex: string[] }
  /** An inequality kept as written (when it is not a simple bound on one variable). */
  | { kind: 'relation'; tex: string }
  /** (a, b), [a, b), … : a tuple or an interval; which one is the reader's business. */
  | { kind: 'tuple'; open: Bracket; close: Bracket; items: Answer[] }
  /** a, b, c written bare (or the two values of a ± b). */
  | { kind: 'list'; items: Answer[] }
  | { kind: 'set'; items: Answer[] }
  | { kind: 'union'; items: Answer[] }
  | { kind: 'matrix'; rows: Answer[][] }
  | { kind: 'choice'; letter: string }
  /** Too long or too deeply nested to read safely: only compared as a string. */
  | { kind: 'opaque'; tex: string };

/** Answers longer than this are compared as strings only: no real final answer is this long. */
export const MAX_STRUCTURED_CHARS = 1000;
/** Nesting deeper than this is garbage, not mathematics. */
const MAX_NESTING = 24;
/** Lists longer than this are compared as strings only (bounds the pairwise matching). */
const MAX_ITEMS = 64;

const MATRIX = /^\\begin\{([pbvBV]?matrix|array)\}(?:\{[^{}]*\})?([\s\S]*)\\end\{\1\}$/;
const CHOICE = /^\(([A-J])\)$|^([A-E])$/;
const THOUSANDS = /(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d,])/g;

export function parseAnswer(tex: string): Answer {
  if (tex.length > MAX_STRUCTURED_CHARS || maxDepth(tex) > MAX_NESTING) return { kind: 'opaque', tex };
  return parse(tex.trim(), 0);
}

function parse(s: string, level: number): Answer {
  if (level > MAX_NESTING) return { kind: 'opaque', tex: s };
  const choice = choiceLetter(s);
  if (choice) return { kind: 'choice', letter: choice };

  const matrix = MATRIX.exec(s);
  if (matrix) return parseMatrix(matrix[2]!, level);

  // "1,000,000" and "$12,441,600" are numbers, not lists, when every comma in the answer groups digits.
  const noThousands = s.replace(THOUSANDS, (m) => m.replace(/,/g, ''));
  if (noThousands !== s && !noThousands.includes(',') && !/^[([]/.test(s)) return parse(noThousands, level + 1);

  if (enclosedBy(s, '\\{', '\\}')) {
    const members = items(s.slice(2, -2), level);
    return members ? { kind: 'set', items: members } : { kind: 'opaque', tex: s };
  }

  const unionParts = splitTopLevel(s, ['\\cup']);
  if (unionParts.length > 1) return { kind: 'union', items: unionParts.map((p) => parse(p.trim(), level + 1)) };

  const listParts = splitTopLevel(s, [',', ';']).map((p) => p.trim());
  if (listParts.length > 1) {
    if (listParts.length > MAX_ITEMS) return { kind: 'opaque', tex: s };
    // "x = 1, 2" names the variable once for the whole list.
    const eq = /^([a-zA-Z])\s*=\s*/.exec(listParts[0]!);
    const parts = eq ? listParts.map((p, i) => (i === 0 ? p.slice(eq[0].length) : p.replace(/^[a-zA-Z]\s*=\s*/, ''))) : listParts;
    const parsed = parts.filter((p) => p.length > 0).map((p) => parse(p, level + 1));
    // "±1, ±7" is the list 1, -1, 7, -7.
    return { kind: 'list', items: parsed.flatMap((a) => (a.kind === 'list' ? a.items : [a])) };
  }

  const bracketed = tupleOrInterval(s, level);
  if (bracketed) return bracketed;

  const sides = splitTopLevel(s, ['=', '\\approx', '\\equiv']).map((p) => p.trim());
  if (sides.length > 1 && sides.every((p) => p.length > 0)) {
    return { kind: 'equation', tex: sides.map((p) => cleanScalar(p).tex), sides: sides.map((p) => parse(p, level + 1)) };
  }

  const bound = inequality(s, level);
  if (bound) return bound;

  // "1 \pm \sqrt{19}" and "\pm 7" are two values each.
  const pm = splitTopLevel(s, ['\\pm', '\\mp']);
  if (pm.length === 2 && pm[1]!.trim()) {
    const a = pm[0]!.trim();
    const b = pm[1]!.trim();
    const term = splitTopLevel(b, ['+', '-']).length > 1 ? `(${b})` : b;
    return { kind: 'list', items: a ? [value(`${a}+${term}`), value(`${a}-${term}`)] : [value(b), value(`-${term}`)] };
  }
  return value(s);
}

function value(s: string): Answer {
  return { kind: 'value', value: cleanScalar(s) };
}

/** The comma-separated parts of a bracket's content, or null when there are too many to compare. */
function items(inner: string, level: number): Answer[] | null {
  const parts = splitTopLevel(inner, [',', ';'])
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  return parts.length > MAX_ITEMS ? null : parts.map((p) => parse(p, level + 1));
}

/** "(C)", "C", "\text{(C)}", "\textbf{(C) } 12": the letter of a multiple-choice answer. */
function choiceLetter(s: string): string | null {
  const bare = s.replace(/\\(?:text|textbf|mathrm|mathbf)\s*\{([^{}]*)\}/g, '$1').replace(/[{}\s]+/g, '');
  const m = CHOICE.exec(bare) ?? /^\(([A-J])\)/.exec(bare);
  return m ? (m[1] ?? m[2])! : null;
}

function parseMatrix(body: string, level: number): Answer {
  const rows = body
    .split(/\\\\/)
    .map((r) => r.trim())
    .filter((r) => r.length > 0)
    .map((r) => r.split('&').map((c) => parse(c.trim(), level + 1)));
  return { kind: 'matrix', rows };
}

function tupleOrInterval(s: string, level: number): Answer | null {
  const open = s[0];
  const close = s[s.length - 1];
  if ((open !== '(' && open !== '[') || (close !== ')' && close !== ']')) return null;
  // enclosedBy with a mixed pair: the brackets of "[1, 2)" count alike, so check the whole span.
  if (!enclosedBy(s, open, close)) return null;
  const parts = items(s.slice(1, -1), level);
  if (!parts) return { kind: 'opaque', tex: s };
  if (parts.length === 1 && open === '(' && close === ')') return parts[0]!;
  return { kind: 'tuple', open, close, items: parts };
}

const INEQUALITY_OPS = ['\\le', '\\ge', '<', '>'] as const;

/**
 * "x > 3" → the interval (3, ∞); "-1 \le x < 2" → [-1, 2). Bounds on a single variable become
 * intervals so that they compare equal to interval notation; other inequalities stay relations.
 */
function inequality(s: string, level: number): Answer | null {
  const parts: string[] = [];
  const ops: string[] = [];
  let rest = s;
  for (let guard = 0; guard < 3; guard++) {
    const split = firstTopLevelOp(rest);
    if (!split) break;
    parts.push(rest.slice(0, split.at).trim());
    ops.push(split.op);
    rest = rest.slice(split.at + split.op.length);
  }
  if (ops.length === 0) return null;
  parts.push(rest.trim());
  const isVar = (p: string) => /^[a-zA-Z](?:_\{?\w+\}?)?$/.test(p);
  const lower = (op: string) => op === '>' || op === '\\ge';
  const strict = (op: string) => op === '<' || op === '>';
  const inf = (sign: string): Answer => ({ kind: 'value', value: cleanScalar(`${sign}\\infty`) });
  if (ops.length === 1 && isVar(parts[0]!)) {
    const bound = parse(parts[1]!, level + 1);
    return lower(ops[0]!)
      ? { kind: 'tuple', open: strict(ops[0]!) ? '(' : '[', close: ')', items: [bound, inf('')] }
      : { kind: 'tuple', open: '(', close: strict(ops[0]!) ? ')' : ']', items: [inf('-'), bound] };
  }
  if (ops.length === 1 && isVar(parts[1]!)) {
    // "3 < x" reads as x > 3.
    const flipped = `${parts[1]} ${flip(ops[0]!)} ${parts[0]}`;
    return inequality(flipped, level);
  }
  if (ops.length === 2 && isVar(parts[1]!) && lower(ops[0]!) === lower(ops[1]!)) {
    const [lo, hi] = lower(ops[0]!) ? [parts[2]!, parts[0]!] : [parts[0]!, parts[2]!];
    const [loOp, hiOp] = lower(ops[0]!) ? [ops[1]!, ops[0]!] : [ops[0]!, ops[1]!];
    return {
      kind: 'tuple',
      open: strict(loOp) ? '(' : '[',
      close: strict(hiOp) ? ')' : ']',
      items: [parse(lo, level + 1), parse(hi, level + 1)],
    };
  }
  return { kind: 'relation', tex: compactTex(s) };
}

function firstTopLevelOp(s: string): { at: number; op: string } | null {
  const parts = splitTopLevel(s, INEQUALITY_OPS);
  if (parts.length < 2) return null;
  const at = parts[0]!.length;
  const op = INEQUALITY_OPS.find((o) => s.startsWith(o, at))!;
  return { at, op };
}

function flip(op: string): string {
  return { '<': '>', '>': '<', '\\le': '\\ge', '\\ge': '\\le' }[op]!;
}
