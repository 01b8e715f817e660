// Text-level clean-up of a LaTeX answer before it is split into parts and compared. Two stages:
// `normalizeAnswer` removes what never carries meaning in a final answer (math delimiters, spacing,
// sizing, \dfrac vs \frac…); `cleanScalar` then works on one part of a list and removes what is
// presentation around a value (units, degrees, percent, dollars) while remembering the marks that can
// change the value (percent, degrees). The regexes run on whitespace-collapsed text and have no nested
// quantifiers, so none can backtrack badly on hostile input.

import { braceMatches } from './latex.ts';
import { parseNumber } from './number.ts';

const REPLACEMENTS: ReadonlyArray<[RegExp, string]> = [
  // Thousands separators written the LaTeX way, before commas start meaning "list".
  [/(\d)\{,\}(?=\d{3})/g, '$1'],
  [/(\d),\s*\\!\s*(?=\d{3})/g, '$1'],
  [/\\\$/g, ''],
  [/\$/g, ' '],
  [/(?<!\\)\\[()[\]]/g, ' '],
  [/\\(?:displaystyle|textstyle|scriptstyle|limits|nolimits)(?![a-zA-Z])/g, ''],
  [/\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|big|Big|bigg|Bigg)(?![a-zA-Z])\s*\.?/g, ''],
  [/(?<!\\)\\[,;:! ]/g, ' '],
  [/\\(?:quad|qquad|enspace|thinspace|medspace|thickspace|hfill)(?![a-zA-Z])/g, ' '],
  [/~/g, ' '],
  [/\\[dtc]frac(?![a-zA-Z])/g, '\\frac'],
  // "2 1/2" is two and a half (written with a space; without it, "21/2" is 21/2).
  [/(^|[^\d.])(\d+)\s+(\d+)\s*\/\s*(\d+)(?![\d.])/g, '$1$2\\frac{$3}{$4}'],
  [/\\frac\s*(\d)\s*(\d)/g, '\\frac{$1}{$2}'],
  [/\\frac\s*(\d)\s*\{/g, '\\frac{$1}{'],
  [/\\frac\s*\{([^{}]*)\}\s*(\d)/g, '\\frac{$1}{$2}'],
  [/\\sqrt\s*(\d+|[a-zA-Z])(?![a-zA-Z])/g, '\\sqrt{$1}'],
  [/\\(?:leqslant|leq|le)(?![a-zA-Z])|≤/g, '\\le '],
  [/\\(?:geqslant|geq|ge)(?![a-zA-Z])|≥/g, '\\ge '],
  [/\\(?:neq|ne)(?![a-zA-Z])|≠/g, '\\ne '],
  [/[−–]/g, '-'],
  [/×/g, '\\times '],
  [/[·⋅]/g, '\\cdot '],
  [/π/g, '\\pi '],
  [/±/g, '\\pm '],
  [/√\s*(\d+)/g, '\\sqrt{$1}'],
  [/∞|\\infinity(?![a-zA-Z])/g, '\\infty '],
  [/°/g, '^\\circ '],
  [/\\text\{\s*(?:and|or)\s*\}/g, ','],
  // "2 and 4", "x=1 or x=-1": lists written in words.
  [/([\d})])\s+(?:and|or)\s+(?=[-+\d\\({a-zA-Z])/g, '$1,'],
  [/\\(?:varnothing|emptyset)(?![a-zA-Z])|\\\{\s*\\\}/g, '\\emptyset '],
  [/\\(?:dots|ldots|cdots)(?![a-zA-Z])/g, '\\ldots '],
  [/\\mathbb\s*\{?\s*R\s*\}?|^\s*(?:\\text\{\s*)?all real numbers\s*\}?\s*$/gi, '(-\\infty,\\infty)'],
  [/\\(?:mathbf|boldsymbol|bm|textbf|mathit|textit|mathsf|displaystyle)\s*(?=\{)/g, ''],
];

const PARAMETER_RANGE =
  /\s*(?:[,;]|\\text\{\s*(?:for|where)(?:\s+(?:all|any|some))?\s*\}|\b(?:for|where)(?:\s+(?:all|any|some))?\b)?\s*\(?\s*[a-zA-Z]\s*\\in\s*\\mathbb\s*\{?[ZN]\}?\s*\)?\s*$/;

/** Whole-answer clean-up. Returns a trimmed string with single spaces. */
export function normalizeAnswer(raw: string): string {
  let s = raw;
  for (const [re, to] of REPLACEMENTS) s = s.replace(re, to);
  s = s.replace(/\s+/g, ' ').trim();
  // "x \in [1, 2]" states the answer set of x: the set is the answer.
  s = s.replace(/^[a-zA-Z]\s*\\in(?![a-zA-Z])\s*/, '');
  // "… + k\pi for k \in \mathbb{Z}": the range of a parameter qualifies the answer, it is not part of it.
  s = s.replace(PARAMETER_RANGE, '');
  s = trimTrailingPunctuation(s);
  // "(2, 4) \text{ units}": a unit after a whole tuple, interval or matrix (parts lose theirs later).
  s = dropTrailingTextUnits(s);
  s = stripOuterBraces(s);
  return s;
}

/** Trailing spaces and sentence punctuation, removed in one backward pass (a regex like
 * /[\s.]+$/ is quadratic on a long run of dots that does not reach the end). */
function trimTrailingPunctuation(s: string): string {
  let end = s.length;
  while (end > 0 && /[\s.;,:]/.test(s[end - 1]!)) end--;
  return s.slice(0, end);
}

/** "{5}" → "5": a group around the whole answer carries nothing. */
function stripOuterBraces(s: string): string {
  let t = s;
  while (t.startsWith('{') && braceMatches(t).get(0) === t.length - 1) t = t.slice(1, -1).trim();
  return t;
}

export interface Scalar {
  /** The value's LaTeX, whitespace removed (or a lower-case phrase when `text`). */
  tex: string;
  /** A percent sign was removed: the value may be meant as tex/100. */
  percent: boolean;
  /** A degree mark was removed: the value may be meant as tex·π/180. */
  degrees: boolean;
  /** The part is words, not mathematics ("east", "Evelyn"): compare as a phrase. */
  text: boolean;
}

const TEXT_COMMAND = /\\(?:text|textrm|textnormal|mathrm|mbox|operatorname|textsf|texttt|mathtt)\s*\{/g;
const UNIT_POWER = String.raw`(?:\^\s*\{?\s*[23]\s*\}?)?`;
/**
 * Words that are units or counted things, removed after a value. A closed list, so that "2 n" or
 * "x \text{ or } y" keep their letters; after a plain number any trailing words go (see cleanScalar).
 */
const UNIT_WORDS = new Set(
  (
    'square sq cubic cu unit degree deg radian rad dollar cent euro pound lb ounce oz ton gram g kg mg ' +
    'kilogram meter metre m cm mm km kilometer kilometre centimeter centimetre millimeter inch in feet foot ' +
    'ft yard yd mile mi mph kmh km/h m/s second sec s minute min hour hr h day week month year yr liter ' +
    'litre l ml gallon gal quart pint cup percent point people person'
  ).split(' '),
);
const POWER_SUFFIX = /\^\{?[23]\}?$/;

function isUnitWord(word: string): boolean {
  const w = word.toLowerCase().replace(POWER_SUFFIX, '').replace(/\.$/, '');
  return UNIT_WORDS.has(w) || (w.endsWith('s') && UNIT_WORDS.has(w.slice(0, -1))) || (w.endsWith('es') && UNIT_WORDS.has(w.slice(0, -2)));
}

/** "20 centimeters" → "20", "75 square units" → "75", "12 tomatoes" → "12". */
function dropTrailingWords(s: string): string {
  const words = s.split(' ');
  let k = words.length;
  while (k > 1 && /^[a-zA-Z][a-zA-Z./]*(?:\^\{?[23]\}?)?$/.test(words[k - 1]!)) k--;
  if (k === words.length) return s;
  const head = words.slice(0, k).join(' ');
  const tail = words.slice(k);
  if (!/[\d}a-zA-Z)\]]$/.test(head)) return s;
  // After a plain number any words are what is counted; after an expression only known units are
  // dropped, since "2 n" or "a b" are products, not units.
  if (tail.every(isUnitWord) && /\d|\\pi|\\sqrt|\\frac/.test(head)) return head;
  if (parseNumber(head.replace(/\s+/g, '')) && tail.every((w) => w.length >= 3 || isUnitWord(w))) return head;
  return s;
}

/** Cleans one part of an answer (one list element, one tuple coordinate, or the whole answer). */
export function cleanScalar(raw: string): Scalar {
  let s = raw.trim();
  let percent = false;
  let degrees = false;
  if (/\\%|%|\\text\{\s*percent\s*\}/.test(s)) {
    percent = true;
    s = s.replace(/\\%|%|\\text\{\s*percent\s*\}/g, ' ');
  }
  if (/\\circ|\\degree/.test(s)) {
    degrees = true;
    s = s.replace(/\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree/g, ' ');
  }
  s = dropTrailingTextUnits(s);
  const wasText = TEXT_COMMAND.test(s);
  TEXT_COMMAND.lastIndex = 0;
  s = unwrapTextCommands(s).replace(/\s+/g, ' ').trim();
  s = dropTrailingWords(s);
  // A trailing "C" or "F" after a degree mark is the temperature scale, not a variable.
  if (degrees) s = s.replace(/\s*[CF]$/, '');
  s = trimTrailingPunctuation(s).replace(/^[:\s]+/, '');
  if (isPhrase(s, wasText)) return { tex: phrase(s), percent, degrees, text: true };
  return { tex: compactTex(s), percent, degrees, text: false };
}

/** Whitespace removed, except the one space that ends a command before a letter ("\pi k" ≠ "\pik"). */
export function compactTex(s: string): string {
  return s.replace(/(\\[a-zA-Z]+)\s+(?=[a-zA-Z])/g, '$1\u0000').replace(/\s+/g, '').replace(/\u0000/g, ' ');
}

/**
 * "5\text{ cm}^2" → "5": a text group at the end of a part is a unit when something comes before it.
 * A text group that is the whole part ("\text{Evelyn}") is the answer and stays.
 */
function dropTrailingTextUnits(s: string): string {
  let t = s;
  for (let guard = 0; guard < 4; guard++) {
    const m = new RegExp(String.raw`\\(?:text|textrm|mathrm|mbox)\s*\{([^{}]*)\}\s*${UNIT_POWER}\s*$`).exec(t);
    if (!m) break;
    const before = t.slice(0, m.index).trim();
    if (!before || !/[\d}a-zA-Z)\]]$/.test(before) || !/^\s*[a-zA-Z][a-zA-Z .\/-]*$/.test(m[1]!)) break;
    // "x\text{ and }y" is not a unit: only drop text after a complete value.
    if (/^\s*(?:and|or|if|for|where|when)\b/i.test(m[1]!)) break;
    t = before;
  }
  return t;
}

/** \text{abc} → abc, for every text-like command, nested groups included. */
function unwrapTextCommands(s: string): string {
  let t = s;
  for (let guard = 0; guard < 50; guard++) {
    TEXT_COMMAND.lastIndex = 0;
    const m = TEXT_COMMAND.exec(t);
    if (!m) break;
    const open = m.index + m[0].length - 1;
    const close = braceMatches(t).get(open) ?? -1;
    if (close < 0) {
      t = t.slice(0, m.index) + t.slice(open + 1);
      continue;
    }
    t = t.slice(0, m.index) + t.slice(open + 1, close) + t.slice(close + 1);
  }
  return t;
}

const MATH_WORDS = new Set([
  'sin', 'cos', 'tan', 'cot', 'sec', 'csc', 'log', 'ln', 'exp', 'sqrt', 'frac', 'pi', 'infty', 'arcsin',
  'arccos', 'arctan', 'sinh', 'cosh', 'tanh', 'max', 'min', 'gcd', 'lcm', 'mod', 'det', 'lim',
]);

/** Words rather than mathematics: letters and spaces only, with a word of three letters or more. */
function isPhrase(s: string, wasText: boolean): boolean {
  if (!/^[a-zA-Z][a-zA-Z' -]*[a-zA-Z]$/.test(s)) return false;
  const words = s.split(/[\s-]+/);
  if (!wasText && words.some((w) => MATH_WORDS.has(w.toLowerCase()))) return false;
  return words.some((w) => w.length >= 3) && (wasText || !/^[a-zA-Z]\s*-\s*[a-zA-Z]$/.test(s));
}

function phrase(s: string): string {
  return s
    .toLowerCase()
    .replace(/\b(?:the|a|an)\b/g, ' ')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}
