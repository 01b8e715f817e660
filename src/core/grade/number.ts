// Plain numbers, read exactly: integers, decimals, a/b, \frac{a}{b}, mixed numbers (2\frac{1}{2}),
// scientific notation (1.5\times10^{3}, 1.5e3), repeating decimals (0.\overline{3}). Exact rationals (bigint) so that 0.1+0.2-style float
// noise never decides a grade, and so that "0.5" and "\frac{1}{2}" are the same number.

export interface ExactNumber {
  /** Numerator, carrying the sign. */
  n: bigint;
  /** Denominator, always positive. */
  d: bigint;
  /** Digits written after the decimal point when the text was a decimal literal, else null. */
  decimals: number | null;
}

/** Numbers whose digits run longer than this are not read (a 10k-digit "number" is garbage). */
const MAX_DIGITS = 400;
/** Exponents of scientific notation beyond this are not expanded into bigints. */
const MAX_EXPONENT = 400;

const INT = String.raw`\d+`;
const DEC = String.raw`\d+\.\d*|\.\d+`;
const NUM = `(?:${DEC}|${INT})`;

const PATTERNS: ReadonlyArray<[RegExp, (m: RegExpExecArray) => ExactNumber | null]> = [
  [new RegExp(`^(${NUM})$`), (m) => literal(m[1]!)],
  // \frac{a}{b}, \frac{-a}{b}, \frac ab after normalisation
  [new RegExp(String.raw`^\\frac\{([-+]?${NUM})\}\{([-+]?${NUM})\}$`), (m) => divide(literal(m[1]!), literal(m[2]!))],
  [new RegExp(`^(${NUM})/(${NUM})$`), (m) => divide(literal(m[1]!), literal(m[2]!))],
  // Mixed numbers: MATH writes 2\frac{1}{2} for two and a half, never for 2 × 1/2.
  [new RegExp(String.raw`^(${INT})\\frac\{(${INT})\}\{(${INT})\}$`), (m) => mixed(m[1]!, m[2]!, m[3]!)],
  [
    new RegExp(String.raw`^(${NUM})(?:\\times|\\cdot|\*|×)10\^(?:\{([-+]?${INT})\}|([-+]?\d))$`),
    (m) => scientific(m[1]!, m[2] ?? m[3]!),
  ],
  [new RegExp(String.raw`^(${NUM})[eE]([-+]?${INT})$`), (m) => scientific(m[1]!, m[2]!)],
  // Repeating decimals: 0.\overline{3} = 1/3, 1.2\overline{45}.
  [/^(\d*)\.(\d*)\\overline\{(\d+)\}$/, (m) => repeating(m[1]!, m[2]!, m[3]!)],
];

/**
 * Reads `text` (whitespace already removed) as one plain number, or returns null when it is anything
 * else (an expression, a list, words). A leading sign is allowed.
 */
export function parseNumber(text: string): ExactNumber | null {
  if (text.length > MAX_DIGITS) return null;
  let sign = 1n;
  let body = text;
  while (body.startsWith('-') || body.startsWith('+')) {
    if (body[0] === '-') sign = -sign;
    body = body.slice(1);
  }
  for (const [re, make] of PATTERNS) {
    const m = re.exec(body);
    if (!m) continue;
    const num = make(m);
    return num && { ...num, n: sign * num.n };
  }
  return null;
}

function literal(text: string): ExactNumber | null {
  let sign = 1n;
  let t = text;
  if (t.startsWith('-') || t.startsWith('+')) {
    if (t[0] === '-') sign = -1n;
    t = t.slice(1);
  }
  const dot = t.indexOf('.');
  if (dot < 0) return { n: sign * BigInt(t), d: 1n, decimals: null };
  const frac = t.slice(dot + 1);
  const digits = (t.slice(0, dot) + frac) || '0';
  return reduce({ n: sign * BigInt(digits), d: 10n ** BigInt(frac.length), decimals: frac.length });
}

function divide(a: ExactNumber | null, b: ExactNumber | null): ExactNumber | null {
  if (!a || !b || b.n === 0n) return null;
  return reduce({ n: a.n * b.d, d: a.d * b.n, decimals: null });
}

function mixed(whole: string, num: string, den: string): ExactNumber | null {
  const d = BigInt(den);
  if (d === 0n) return null;
  return reduce({ n: BigInt(whole) * d + BigInt(num), d, decimals: null });
}

function scientific(mantissa: string, exponent: string): ExactNumber | null {
  const m = literal(mantissa);
  const e = Number(exponent);
  if (!m || !Number.isSafeInteger(e) || Math.abs(e) > MAX_EXPONENT) return null;
  const scale = 10n ** BigInt(Math.abs(e));
  const value = e >= 0 ? { n: m.n * scale, d: m.d } : { n: m.n, d: m.d * scale };
  // A decimal in scientific notation keeps its significant digits: 1.50e3 is written to 3 places.
  const decimals = m.decimals === null ? null : Math.max(0, m.decimals - e);
  return reduce({ ...value, decimals });
}

function repeating(whole: string, fixed: string, period: string): ExactNumber | null {
  // x = whole.fixed(period)(period)… ⇒ x·10^f·(10^p − 1) = (whole fixed period) − (whole fixed)
  const all = BigInt((whole || '0') + fixed + period);
  const head = BigInt((whole || '0') + fixed);
  const d = 10n ** BigInt(fixed.length) * (10n ** BigInt(period.length) - 1n);
  return reduce({ n: all - head, d, decimals: null });
}

function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b < 0n ? -b : b;
  while (y) [x, y] = [y, x % y];
  return x;
}

function reduce(x: ExactNumber): ExactNumber {
  const sign = x.d < 0n ? -1n : 1n;
  const g = gcd(x.n, x.d) || 1n;
  return { n: (sign * x.n) / g, d: (sign * x.d) / g, decimals: x.decimals };
}

export function exactEqual(a: ExactNumber, b: ExactNumber): boolean {
  return a.n === b.n && a.d === b.d;
}

/** The value as a float (exact enough for tolerance checks; huge values become ±Infinity). */
export function toFloat(x: ExactNumber): number {
  const whole = x.n / x.d;
  let rest = x.n - whole * x.d;
  let d = x.d;
  // Keep the fraction's parts inside float range (a 400-digit denominator is Infinity as a float).
  const excess = BigInt(Math.max(0, d.toString(2).length - 1000));
  rest >>= excess;
  d >>= excess;
  return Number(whole) + Number(rest) / Number(d);
}

/** x scaled by a rational factor p/q (percent → fraction is ×1/100). */
export function scale(x: ExactNumber, p: bigint, q: bigint): ExactNumber {
  return reduce({ n: x.n * p, d: x.d * q, decimals: null });
}
