// Symbolic and numeric equality of two LaTeX expressions through @cortex-js/compute-engine: the same
// canonical form, or the same value (constants), or the same values at seeded random points
// (expressions with variables). The engine is synchronous and can be slow or throw on odd input, so
// every call runs under a deadline, inputs are size-checked first, and any failure means "undecided"
// (null), never a crash and never "equal".

import { ComputeEngine } from '@cortex-js/compute-engine';
import { mulberry32 } from '../rng.ts';

type Engine = InstanceType<typeof ComputeEngine>;
type Expr = NonNullable<ReturnType<Engine['parse']>>;

/** One engine call never runs longer than this, whatever budget the comparison has left. */
const MAX_CALL_MS = 2000;
/** Expressions longer than this are not handed to the engine. */
const MAX_TEX = 400;
/** Points at which two expressions with variables must agree, and how many integer points may be
 * tried to find them (domain limits such as (d-k)! leave some integer points undefined). */
const POINTS = 6;
const INTEGER_POINTS = 16;
/** Points that must evaluate to finite numbers on both sides for a verdict. */
const MIN_VALID_POINTS = 3;
const SEED = 0x5eed;
/** Tolerances for values the engine computes (floating noise only, not rounding by the solver). */
const REL_TOL = 1e-9;
const REL_TOL_POINTS = 1e-7;

/**
 * Operations whose evaluation time grows with the size of their arguments: with a large integer
 * nearby they can outrun any deadline inside a single engine step, so they are not evaluated at all.
 */
const EXPENSIVE = /\\(?:sum|prod|int|oint|lim|binom|dbinom|tbinom|choose)(?![a-zA-Z])|!/;
/** A large integer, or a power of numbers, next to one of those operations. */
const LARGE_INTEGER = /\d{5,}|\d\s*\^/;

let engine: Engine | null = null;

function ce(): Engine {
  if (!engine) {
    engine = new ComputeEngine();
    // Doubles are far more precise than the tolerances used here, and several times faster than the
    // engine's default big decimals (binomials and factorials at 16 points stay well inside budget).
    engine.precision = 'machine';
  }
  return engine;
}

export interface Complex {
  re: number;
  im: number;
}

/** Runs `fn` on the engine before `deadline` (ms since epoch); any failure is null. */
function guarded<T>(deadline: number, fn: (e: Engine) => T): T | null {
  const ms = Math.min(deadline - Date.now(), MAX_CALL_MS);
  if (ms <= 0) return null;
  const e = ce();
  // Parsing declares every new symbol in the current scope, with a type inferred from its use
  // ("d(6)" makes d a function, and a later "d!" then fails). A scope per comparison keeps answers
  // from leaking into each other.
  e.pushScope();
  try {
    return e.withTimeLimit(ms, () => fn(e) as T extends Promise<unknown> ? never : T);
  } catch {
    return null;
  } finally {
    e.popScope();
  }
}

/** Scientific notation with an exponent of four digits or more (1e99999): exact big decimals. */
const HUGE_EXPONENT = /\d\s*[eE]\s*[-+]?\d{4,}/;
/** A numeric power: "9^{99}", "9^9". */
const NUMERIC_POWER = /(\d+(?:\.\d+)?)\s*\^\s*(?:\{\s*(\d+)\s*\}|(\d))/g;
/** Digits an exact power may have before it is refused (no final answer is a 10,000-digit number). */
const MAX_POWER_DIGITS = 10_000;

/**
 * Input the engine can spend unbounded time on inside a single BigInt operation, where its deadline
 * never gets a chance to fire: huge exact powers, towers of powers, factorials or sums of large
 * numbers, scientific notation with huge exponents.
 */
function admissible(tex: string): boolean {
  if (tex.length === 0 || tex.length > MAX_TEX) return false;
  if (EXPENSIVE.test(tex) && LARGE_INTEGER.test(tex)) return false;
  if (HUGE_EXPONENT.test(tex) || /\^\s*\{[^{}]*\^[^{}]*\^/.test(tex) || exponentDepth(tex) > 2) return false;
  for (const m of tex.matchAll(NUMERIC_POWER)) {
    const base = Number(m[1]);
    const digits = Number(m[2] ?? m[3]) * Math.log10(base);
    // In an exponent a power is computed exactly before the outer one: 10^{10^{10}} needs 10^10 bits.
    if (base > 1 && digits > (insideExponent(tex, m.index) ? 6 : MAX_POWER_DIGITS)) return false;
  }
  return true;
}

function insideExponent(tex: string, at: number): boolean {
  const stack: boolean[] = [];
  for (let i = 0; i < at; i++) {
    if (tex[i] === '{') stack.push(tex.slice(0, i).trimEnd().endsWith('^'));
    else if (tex[i] === '}') stack.pop();
  }
  return stack.includes(true);
}

/** How deeply exponents nest: "2^{3^{4}}" is 2. */
function exponentDepth(tex: string): number {
  let max = 0;
  const stack: boolean[] = [];
  let depth = 0;
  for (let i = 0; i < tex.length; i++) {
    const c = tex[i];
    if (c === '{') {
      const isExp = tex.slice(0, i).trimEnd().endsWith('^');
      stack.push(isExp);
      if (isExp) max = Math.max(max, ++depth);
    } else if (c === '}') {
      if (stack.pop()) depth--;
    } else if (c === '^' && tex[i + 1] !== '{' && depth >= 1) {
      max = Math.max(max, depth + 1);
    }
  }
  return max;
}

function parse(e: Engine, tex: string): Expr | null {
  const x = e.parse(tex);
  return x?.isValid ? x : null;
}

function numeric(x: Expr): Complex | null {
  const v = x.N();
  const re = v.re;
  const im = v.im;
  if (typeof re !== 'number' || Number.isNaN(re)) return null;
  return { re, im: typeof im === 'number' && !Number.isNaN(im) ? im : 0 };
}

/** The value of a constant expression ("\frac{\sqrt{3}}{2}", "2\pi"), or null. */
export function constantValue(tex: string, deadline: number): Complex | null {
  if (!admissible(tex)) return null;
  return guarded(deadline, (e) => {
    const x = parse(e, tex);
    if (!x || x.unknowns.length > 0) return null;
    return numeric(x);
  });
}

/** Equal up to `rel` relative to the larger magnitude (and 1e-12 absolute, for values near 0). */
export function close(a: Complex, b: Complex, rel: number): boolean {
  if (![a.re, a.im, b.re, b.im].every(Number.isFinite)) return false;
  const scale = Math.max(Math.abs(a.re), Math.abs(a.im), Math.abs(b.re), Math.abs(b.im));
  const tol = Math.max(rel * scale, 1e-12);
  return Math.abs(a.re - b.re) <= tol && Math.abs(a.im - b.im) <= tol;
}

const UNDEFINED = /"(?:ComplexInfinity|NaN)"/;
const INTEGER_DOMAIN = /"(?:Floor|Ceil|Factorial|Factorial2|Binomial|Mod|Remainder|GCD|LCM)"/;

/**
 * True when `a` and `b` are the same expression: the same canonical form, or (with no variables) the
 * same value, or (with variables) the same value at every sampled point. Null when undecided.
 */
export function expressionsEqual(a: string, b: string, deadline: number): boolean | null {
  if (!admissible(a) || !admissible(b)) return null;
  return guarded(deadline, (e) => {
    const x = parse(e, a);
    const y = parse(e, b);
    if (!x || !y) return null;
    // 1/0 and 2/0 are both "complex infinity" to the engine; an undefined answer equals nothing.
    if (UNDEFINED.test(JSON.stringify(x.json)) || UNDEFINED.test(JSON.stringify(y.json))) return false;
    if (x.isSame(y)) return true;
    const vars = [...new Set([...x.unknowns, ...y.unknowns])];
    if (vars.length === 0) {
      const vx = numeric(x);
      const vy = numeric(y);
      return vx && vy ? close(vx, vy, REL_TOL) : null;
    }
    return samePointValues(e, x, y, vars, (p, q) => close(p, q, REL_TOL_POINTS));
  });
}

/**
 * True when two equations say the same thing: lhs−rhs of one is a non-zero constant multiple of the
 * other's ("2x - y = 3" and "y = 2x - 3"). Null when undecided.
 */
export function equationsEquivalent(a: [string, string], b: [string, string], deadline: number): boolean | null {
  if (![...a, ...b].every(admissible)) return null;
  return guarded(deadline, (e) => {
    const sides = [...a, ...b].map((t) => parse(e, t));
    if (sides.some((s) => !s)) return null;
    const [al, ar, bl, br] = sides as Expr[];
    const x = al!.sub(ar!);
    const y = bl!.sub(br!);
    const vars = [...new Set([...x.unknowns, ...y.unknowns])];
    if (vars.length === 0) return null;
    let ratio: number | null = null;
    return samePointValues(e, x, y, vars, (p, q) => {
      if (Math.abs(p.im) > 1e-9 || Math.abs(q.im) > 1e-9) return false;
      if (Math.abs(q.re) < 1e-12) return Math.abs(p.re) < 1e-9;
      const r = p.re / q.re;
      if (ratio === null) ratio = r;
      return r !== 0 && Math.abs(r - ratio) <= 1e-7 * Math.max(1, Math.abs(ratio));
    });
  });
}

function samePointValues(
  e: Engine,
  x: Expr,
  y: Expr,
  vars: string[],
  agree: (p: Complex, q: Complex) => boolean,
): boolean | null {
  const rng = mulberry32(SEED);
  const integers = INTEGER_DOMAIN.test(JSON.stringify(x.json)) || INTEGER_DOMAIN.test(JSON.stringify(y.json));
  let valid = 0;
  for (let k = 0; k < (integers ? INTEGER_POINTS : POINTS); k++) {
    const point: Record<string, Expr> = {};
    for (const v of vars) {
      // Integer-valued operations (floor, factorial…) are compared on integers; everything else on
      // positive reals away from 0 and 1, where most expressions are defined and distinct.
      const value = integers ? 2 + Math.floor(rng() * 40) : 0.3 + rng() * 2.7;
      point[v] = e.number(value);
    }
    const p = numeric(x.subs(point));
    const q = numeric(y.subs(point));
    if (!p || !q || ![p.re, p.im, q.re, q.im].every(Number.isFinite)) {
      if ((p === null) !== (q === null)) return false;
      continue;
    }
    if (!agree(p, q)) return false;
    if (++valid >= POINTS) break;
  }
  return valid >= MIN_VALID_POINTS ? true : null;
}
