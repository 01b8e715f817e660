// Is a predicted final answer the gold answer? Both are normalised, read into shapes (structure.ts)
// and compared shape by shape; values are compared exactly as numbers when they are plain numbers and
// through the compute engine otherwise. The choices where public graders disagree are documented in
// README.md next to this file; each rule below names the choice it implements.

import { choiceOptions } from './choices.ts';
import { exactEqual, parseNumber, scale, toFloat, type ExactNumber } from './number.ts';
import { compactTex, normalizeAnswer, type Scalar } from './normalize.ts';
import { parseAnswer, type Answer } from './structure.ts';
import { close, constantValue, equationsEquivalent, expressionsEqual, type Complex } from './symbolic.ts';

/** Values the engine computes agree to this relative precision when they are the same number. */
const REL_TOL = 1e-9;

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
  /**
   * Wall-clock budget for one comparison, in ms (default 5000). Past it, the answer is not equal. Real
   * answers take milliseconds; only pathological ones come near it.
   */
  timeLimitMs?: number;
}

interface Context {
  reorder: boolean;
  tolerance: number | null;
  options: Map<string, string> | null;
  problem: string | undefined;
  deadline: number;
  /** The problem asks for a rounded value (README: rounding). */
  rounding: boolean;
  /** Values of constant expressions already evaluated in this comparison. */
  values: Map<string, Complex | null>;
}

const ORDER_REQUESTED =
  /\bin (?:increasing|decreasing|ascending|descending|numerical|alphabetical|the given|the same|that|this) order\b|\bfrom (?:least|smallest|lowest|greatest|largest|highest) to\b/i;

/** Longer answers are not normalised or parsed (see isEquivalent). */
const MAX_INPUT_CHARS = 5000;

const ROUNDING_REQUESTED = /\b(?:decimal places?|nearest|round(?:ed|ing)?|approximate(?:ly)?|significant (?:figures|digits))\b/i;

export function isEquivalent(pred: string, gold: string, opts: EquivalenceOptions = {}): boolean {
  if (typeof pred !== 'string' || typeof gold !== 'string') return false;
  // No final answer is this long; such text is compared as it is, without reading it.
  if (pred.length > MAX_INPUT_CHARS || gold.length > MAX_INPUT_CHARS) return pred.trim() === gold.trim() && pred.trim() !== '';
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
    deadline: Date.now() + (opts.timeLimitMs ?? 5000),
    rounding: !!problem && ROUNDING_REQUESTED.test(problem),
    values: new Map(),
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
    // A list written in brackets is that list, except that "[1, 2]" and "(1, 2]" read as intervals.
    const bracketedList =
      p.kind === 'tuple' && ((p.open === '(' && p.close === ')') || (p.open === '[' && p.close === ']' && p.items.length !== 2));
    const items = p.kind === 'list' || p.kind === 'set' || bracketedList ? p.items : null;
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
  if (p.tex === g.tex || sameDigitsInBase(p.tex, g.tex)) return true;
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
  // Constants (\sqrt{2}, 2\pi + 18) are compared by value: one engine evaluation per distinct text,
  // so matching long lists in any order stays cheap.
  const pv = pn ? { re: toFloat(pn), im: 0 } : constantOf(p.tex, ctx);
  const gv = gn ? { re: toFloat(gn), im: 0 } : constantOf(g.tex, ctx);
  if (pv && gv && finite(pv) && finite(gv)) return sameConstant(p, pn, pv, g, gn, gv, ctx);
  // Expressions with variables, and values beyond floating point (1000!): the engine decides.
  return expressionsEqual(p.tex, g.tex, ctx.deadline) === true;
}

/** "52" for a gold "52_8": the digits of the asked base, with the base left implicit. */
function sameDigitsInBase(p: string, g: string): boolean {
  const base = /^(\d+)_\{?\d+\}?$/;
  const pm = base.exec(p);
  const gm = base.exec(g);
  return (!!gm && !pm && p === gm[1]) || (!!pm && !gm && g === pm[1]);
}

function constantOf(tex: string, ctx: Context): Complex | null {
  if (!ctx.values.has(tex)) ctx.values.set(tex, constantValue(tex, ctx.deadline));
  return ctx.values.get(tex) ?? null;
}

function finite(v: Complex): boolean {
  return Number.isFinite(v.re) && Number.isFinite(v.im);
}

function sameConstant(p: Scalar, pn: ExactNumber | null, pv: Complex, g: Scalar, gn: ExactNumber | null, gv: Complex, ctx: Context): boolean {
  const times = (v: Complex, k: number): Complex => ({ re: v.re * k, im: v.im * k });
  const variants: [Complex, Complex][] = [[pv, gv]];
  if (p.percent) variants.push([times(pv, 0.01), gv]);
  if (g.percent) variants.push([pv, times(gv, 0.01)]);
  // 45° against \frac{\pi}{4}: the same angle in radians.
  if (p.degrees !== g.degrees) variants.push(p.degrees ? [times(pv, Math.PI / 180), gv] : [pv, times(gv, Math.PI / 180)]);
  for (const [a, b] of variants) {
    if (close(a, b, REL_TOL)) return true;
    if (ctx.tolerance !== null && Math.abs(a.im - b.im) < 1e-12 && Math.abs(a.re - b.re) <= ctx.tolerance * (1 + 1e-12)) return true;
  }
  if (Math.abs(pv.im) > 1e-12 || Math.abs(gv.im) > 1e-12) return false;
  return roundedMatch(pv.re, pn?.decimals ?? null, gv.re, gn?.decimals ?? null, ctx);
}

/**
 * Two plain numbers. Exact equality of rationals, so 0.5 = 1/2 = 2/4 (README: unreduced fractions);
 * with a tolerance, within it; and the rounding rules of roundedMatch.
 */
function sameNumber(p: ExactNumber, g: ExactNumber, ctx: Context): boolean {
  if (exactEqual(p, g)) return true;
  const pv = toFloat(p);
  const gv = toFloat(g);
  if (ctx.tolerance !== null && Math.abs(pv - gv) <= ctx.tolerance * (1 + 1e-12)) return true;
  return roundedMatch(pv, p.decimals, gv, g.decimals, ctx);
}

/**
 * Approximate answers (README: rounding), only where the problem asks for a rounded value. Then a
 * decimal gold is itself a rounding, so an answer at least as precise must round to it (OlympiadBench's
 * "1.68" for 1.6794…); and a decimal answer to an exact gold (1.41 for \sqrt{2}) must be that gold
 * correctly rounded at the answer's own precision. Elsewhere "0.3" means 3/10 and 1/3 is not 0.333.
 */
function roundedMatch(p: number, pDecimals: number | null, g: number, gDecimals: number | null, ctx: Context): boolean {
  if (!ctx.rounding) return false;
  if (gDecimals !== null && gDecimals > 0) return (pDecimals === null || pDecimals >= gDecimals) && withinHalfUnit(p, g, gDecimals);
  if (pDecimals !== null && pDecimals > 0 && gDecimals === null) return withinHalfUnit(g, p, pDecimals);
  return false;
}

function withinHalfUnit(value: number, rounded: number, decimals: number): boolean {
  return Math.abs(value - rounded) <= 0.5 * 10 ** -decimals * (1 + 1e-9) + 1e-15;
}
