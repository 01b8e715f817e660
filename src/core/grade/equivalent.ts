// Is a predicted final answer the gold answer? Both are normalised, read into shapes (structure.ts)
// and compared shape by shape; values are compared exactly as numbers when they are plain numbers and
// through the compute engine otherwise. The choices where public graders disagree are documented in
// README.md next to this file; each rule below names the choice it implements.

import { choiceOptions } from './choices.ts';
import { exactEqual, isInteger, parseNumber, scale, toFloat, type ExactNumber } from './number.ts';
import { compactTex, normalizeAnswer, type Scalar } from './normalize.ts';
import { parseAnswer, type Answer } from './structure.ts';
import { close, constantValue, equationsEquivalent, expressionsEqual } from './symbolic.ts';

export interface EquivalenceOptions {
  /**
   * Whether a bare list ("1, -2") may come in any order. Default: yes, unless `problem` asks for an
   * order ("in increasing order"). Tuples and intervals are always ordered; sets never are.
   */
  allowReorder?: boolean;
  /** Absolute tolerance for numeric answers (OlympiadBench's `error`). Default: exact. */
  tolerance?: number;
  /** The problem text: used for the list-order default and to read multiple-choice options. */
  problem?: string;
  /** Wall-clock budget for one comparison, in ms (default 2000). Past it, the answer is not equal. */
  timeLimitMs?: number;
}

interface Context {
  reorder: boolean;
  tolerance: number | null;
  options: Map<string, string> | null;
  problem: string | undefined;
  deadline: number;
}

const ORDER_REQUESTED =
  /\bin (?:increasing|decreasing|ascending|descending|numerical|alphabetical|the given|the same|that|this) order\b|\bfrom (?:least|smallest|lowest|greatest|largest|highest) to\b/i;

export function isEquivalent(pred: string, gold: string, opts: EquivalenceOptions = {}): boolean {
  if (typeof pred !== 'string' || typeof gold !== 'string') return false;
  const p = normalizeAnswer(pred);
  const g = normalizeAnswer(gold);
  if (!p || !g) return false;
  if (compactTex(p) === compactTex(g)) return true;
  const problem = typeof opts.problem === 'string' ? opts.problem : undefined;
  const ctx: Context = {
    reorder: opts.allowReorder ?? !(problem && ORDER_REQUESTED.test(problem)),
    tolerance: typeof opts.tolerance === 'number' && opts.tolerance >= 0 ? opts.tolerance : null,
    options: null,
    problem,
    deadline: Date.now() + (opts.timeLimitMs ?? 2000),
  };
  return same(parseAnswer(p), parseAnswer(g), ctx);
}

/** The one comparison every shape goes through. */
function same(p: Answer, g: Answer, ctx: Context): boolean {
  if (Date.now() > ctx.deadline) return false;
  // "x = 5" against "5": the value after the last "=" is the answer (also "4 × 5 = 20" against 20).
  if (p.kind === 'equation' && g.kind !== 'equation') return same(p.sides.at(-1)!, g, ctx);
  // "5" against "x = 5" / "f(x) = 2x" against "2x": the gold names what is asked; its value is enough.
  if (g.kind === 'equation' && p.kind !== 'equation') return namesUnknown(g.tex[0]!) && same(p, g.sides.at(-1)!, ctx);
  // The same answer boxed in two forms ("\boxed{\binom{d}{k}\frac{(k-1)!}{2}}, \boxed{\frac{d!}{2k(d-k)!}}")
  // is that answer when every form is.
  if (p.kind === 'list' && (g.kind === 'value' || g.kind === 'choice')) return p.items.every((x) => same(x, g, ctx));
  return BY_GOLD_KIND[g.kind](p, g as never, ctx);
}

type Comparator<K extends Answer['kind']> = (p: Answer, g: Extract<Answer, { kind: K }>, ctx: Context) => boolean;

const BY_GOLD_KIND: { [K in Answer['kind']]: Comparator<K> } = {
  value: (p, g, ctx) => p.kind === 'value' && sameScalar(p.value, g.value, ctx),
  equation: (p, g, ctx) => {
    if (p.kind !== 'equation') return false;
    const pl = p.tex[0]!;
    const gl = g.tex[0]!;
    if (pl === gl || (namesUnknown(pl) && namesUnknown(gl))) {
      // f(n) = n against f(z) = z: the argument's name is a dummy.
      const renamed = renameArgument(pl, gl, p.tex.at(-1)!);
      return same(renamed === null ? p.sides.at(-1)! : parseAnswer(renamed), g.sides.at(-1)!, ctx);
    }
    if (p.tex.length !== 2 || g.tex.length !== 2) return false;
    return equationsEquivalent([p.tex[0]!, p.tex[1]!], [g.tex[0]!, g.tex[1]!], ctx.deadline) === true;
  },
  relation: (p, g) => p.kind === 'relation' && p.tex === g.tex,
  tuple: (p, g, ctx) => {
    // (1,2) ≠ (1,2] ≠ [1,2]: brackets are part of an interval's value (README: brackets).
    if (p.kind === 'tuple') return p.open === g.open && p.close === g.close && inOrder(p.items, g.items, ctx);
    // A point written without its parentheses ("3, 4" for "(3,4)") is the same point; an interval
    // with a closed end is not written that way, so only "(…)" golds accept it.
    if (p.kind === 'list' && g.open === '(' && g.close === ')') return inOrder(p.items, g.items, ctx);
    if (p.kind === 'matrix') return inOrder(vectorOf(p), g.items, ctx);
    return false;
  },
  list: (p, g, ctx) => {
    const items = p.kind === 'list' || p.kind === 'set' ? p.items : p.kind === 'tuple' && p.open === '(' ? p.items : null;
    if (!items) return false;
    return ctx.reorder ? anyOrder(items, g.items, ctx) : inOrder(items, g.items, ctx);
  },
  set: (p, g, ctx) => (p.kind === 'set' || p.kind === 'list') && anyOrder(p.items, g.items, ctx),
  union: (p, g, ctx) => p.kind === 'union' && anyOrder(p.items, g.items, ctx),
  matrix: (p, g, ctx) => {
    if (p.kind === 'matrix') {
      return p.rows.length === g.rows.length && p.rows.every((row, i) => inOrder(row, g.rows[i]!, ctx));
    }
    // A vector answer written as a tuple: "(1, 2, 3)" for a column matrix.
    const v = vectorOf(g);
    return v.length > 0 && (p.kind === 'tuple' || p.kind === 'list') && inOrder(p.items, v, ctx);
  },
  choice: (p, g, ctx) => {
    if (p.kind === 'choice') return p.letter === g.letter;
    // The option's content instead of its letter ("Plane" for "(C)") when the problem lists options.
    ctx.options ??= ctx.problem ? choiceOptions(ctx.problem) : new Map();
    const option = ctx.options.get(g.letter);
    return option !== undefined && same(p, parseAnswer(normalizeAnswer(option)), ctx);
  },
  opaque: (p, g) => p.kind === 'opaque' && compactTex(p.tex) === compactTex(g.tex),
};

/** A variable, a subscripted variable, a Greek letter or f(x): what an "x = …" answer names. */
function namesUnknown(lhs: string): boolean {
  return /^(?:[a-zA-Z]|\\[a-zA-Z]+)(?:_\{?\w+\}?)?(?:\([a-zA-Z,]*\))?$/.test(lhs);
}

/** When both sides name the same function of one differently named variable, `rhs` in gold's variable. */
function renameArgument(predLhs: string, goldLhs: string, rhs: string): string | null {
  const p = /^([a-zA-Z]+)\(([a-zA-Z])\)$/.exec(predLhs);
  const g = /^([a-zA-Z]+)\(([a-zA-Z])\)$/.exec(goldLhs);
  if (!p || !g || p[1] !== g[1] || p[2] === g[2]) return null;
  return rhs.replace(new RegExp(`(?<![\\\\a-zA-Z])${p[2]}(?![a-zA-Z])`, 'g'), g[2]!);
}

function vectorOf(m: Extract<Answer, { kind: 'matrix' }>): Answer[] {
  if (m.rows.length === 1) return m.rows[0]!;
  return m.rows.every((r) => r.length === 1) ? m.rows.map((r) => r[0]!) : [];
}

function inOrder(p: Answer[], g: Answer[], ctx: Context): boolean {
  return p.length === g.length && p.every((x, i) => same(x, g[i]!, ctx));
}

/** A one-to-one matching in any order (a multiset comparison: "-2, -2" needs two -2s). */
function anyOrder(p: Answer[], g: Answer[], ctx: Context): boolean {
  if (p.length !== g.length) return false;
  const used = new Array<boolean>(p.length).fill(false);
  return g.every((gi) => {
    const j = p.findIndex((pj, k) => !used[k] && same(pj, gi, ctx));
    if (j < 0) return false;
    used[j] = true;
    return true;
  });
}

function sameScalar(p: Scalar, g: Scalar, ctx: Context): boolean {
  // Words compare as phrases ("\text{East}" = "east"); words never equal mathematics.
  if (p.text || g.text) return p.text && g.text && p.tex === g.tex;
  if (p.tex === g.tex) return true;
  const pn = parseNumber(p.tex);
  const gn = parseNumber(g.tex);
  if (pn && gn) {
    // 50% = 50 = 0.5: a percent sign may be dropped, or turned into /100 (README: percent).
    return (
      sameNumber(pn, gn, ctx) ||
      (p.percent && sameNumber(scale(pn, 1n, 100n), gn, ctx)) ||
      (g.percent && sameNumber(pn, scale(gn, 1n, 100n), ctx))
    );
  }
  if (expressionsEqual(p.tex, g.tex, ctx.deadline)) return true;
  if (g.degrees !== p.degrees) {
    // 45° against \frac{\pi}{4}: the same angle in radians.
    const [deg, rad] = g.degrees ? [g.tex, p.tex] : [p.tex, g.tex];
    if (expressionsEqual(rad, `\\frac{${deg}\\pi}{180}`, ctx.deadline)) return true;
  }
  if ((p.percent || g.percent) && expressionsEqual(p.percent ? `\\frac{${p.tex}}{100}` : p.tex, g.percent ? `\\frac{${g.tex}}{100}` : g.tex, ctx.deadline)) {
    return true;
  }
  return approximates(pn, p.tex, gn, g.tex, ctx);
}

/**
 * Two plain numbers. Exact equality of rationals, so 0.5 = 1/2 = 2/4 (README: unreduced fractions);
 * with a tolerance, within it; and the rounding rules below.
 */
function sameNumber(p: ExactNumber, g: ExactNumber, ctx: Context): boolean {
  if (exactEqual(p, g)) return true;
  const pv = toFloat(p);
  const gv = toFloat(g);
  if (ctx.tolerance !== null && Math.abs(pv - gv) <= ctx.tolerance * (1 + 1e-12)) return true;
  // A gold decimal with d places is itself rounded: a more precise answer that rounds to it is right
  // (OlympiadBench's "1.68"). An integer gold is never a rounding (README: rounding).
  if (g.decimals !== null && g.decimals > 0 && (p.decimals === null || p.decimals > g.decimals)) {
    return withinHalfUnit(pv, gv, g.decimals);
  }
  // A decimal answer to a gold with no finite decimal expansion (1/3, 2/7): right when it is the gold
  // correctly rounded to at least three significant digits. Terminating golds must be exact.
  if (p.decimals !== null && g.decimals === null && !terminates(g)) return roundsTo(pv, p.decimals, gv);
  return false;
}

/** Decimals against constants the engine evaluates (\sqrt{2}, \pi), in either direction. */
function approximates(pn: ExactNumber | null, pTex: string, gn: ExactNumber | null, gTex: string, ctx: Context): boolean {
  if (pn?.decimals != null && !gn) {
    const gv = constantValue(gTex, ctx.deadline);
    if (!gv || Math.abs(gv.im) > 1e-12) return false;
    if (ctx.tolerance !== null && Math.abs(toFloat(pn) - gv.re) <= ctx.tolerance) return true;
    return roundsTo(toFloat(pn), pn.decimals, gv.re);
  }
  if (gn && !pn) {
    const pv = constantValue(pTex, ctx.deadline);
    if (!pv || Math.abs(pv.im) > 1e-12) return false;
    const gv = toFloat(gn);
    if (ctx.tolerance !== null && Math.abs(pv.re - gv) <= ctx.tolerance) return true;
    if (gn.decimals !== null && gn.decimals > 0) return withinHalfUnit(pv.re, gv, gn.decimals);
    return close(pv, { re: gv, im: 0 }, 1e-9);
  }
  return false;
}

function withinHalfUnit(value: number, rounded: number, decimals: number): boolean {
  return Math.abs(value - rounded) <= 0.5 * 10 ** -decimals * (1 + 1e-9) + 1e-15;
}

/** `shown` (a decimal with `decimals` places) is `exact` rounded, with three significant digits or more. */
function roundsTo(shown: number, decimals: number, exact: number): boolean {
  if (shown === 0) return false;
  const significant = decimals + Math.floor(Math.log10(Math.abs(shown))) + 1;
  return significant >= 3 && withinHalfUnit(exact, shown, decimals);
}

/** A rational has a finite decimal expansion when its denominator has no prime factor but 2 and 5. */
function terminates(x: ExactNumber): boolean {
  if (isInteger(x)) return true;
  let d = x.d;
  while (d % 2n === 0n) d /= 2n;
  while (d % 5n === 0n) d /= 5n;
  return d === 1n;
}
