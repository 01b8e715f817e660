// The final answer of a solution, and how it was found. In order of trust:
//   boxed      the last \boxed{…}/\fbox{…}; several different boxes in the final paragraph are one
//              answer with several parts ("\boxed{3} and \boxed{4}" → "3, 4")
//   answer-is  "The final answer is …", "the answer is …", "Answer: …"
//   gsm8k      a "#### n" line
//   raw        the whole text, when it is short and has no prose ("x = 5", "\frac{1}{2}", "Evelyn")
//   conclusion the value stated in the concluding sentence ("Therefore, the area is \(48\) square
//              units."); only with the default `fallbacks: 'all'`, since it reads prose
// Null when none applies. Everything is linear in the length of the text.

import { allBoxed } from './boxed.ts';

export type ExtractionMethod = 'boxed' | 'answer-is' | 'gsm8k' | 'raw' | 'conclusion';

export interface ExtractedAnswer {
  answer: string;
  how: ExtractionMethod;
}

export interface ExtractOptions {
  /** 'explicit' stops before reading a concluding sentence (boxed, answer-is, gsm8k, raw only). */
  fallbacks?: 'all' | 'explicit';
}

/** More different boxes than this in the last paragraph are not one answer in parts. */
const MAX_PARTS = 20;
/** Prose fallbacks only read the end of a solution; a final answer is not 50k characters back. */
const TAIL_CHARS = 4000;

/**
 * "#### 18": a number (and at most a unit word) on a line of its own. Markdown headings also start
 * with "####" ("#### Step 1: …"); they are not answers.
 */
const GSM8K_LINE = /^[ \t]*####[ \t]*([-+]?\\?\$?[ \t]*-?\d[\d,]*(?:\.\d+)?(?:[ \t]+[a-zA-Z%]+)?)[ \t]*$/gm;

export function extractAnswer(solution: string, opts: ExtractOptions = {}): ExtractedAnswer | null {
  if (typeof solution !== 'string') return null;
  const text = solution.replace(/\r\n?/g, '\n');
  const boxed = finalBoxes(text);
  if (boxed) return { answer: boxed, how: 'boxed' };
  const tail = text.slice(-TAIL_CHARS);
  const said = answerIs(tail);
  if (said) return { answer: said, how: 'answer-is' };
  const hashes = [...tail.matchAll(GSM8K_LINE)].at(-1);
  if (hashes) return { answer: hashes[1]!.trim(), how: 'gsm8k' };
  if (isBareAnswer(text)) return { answer: text.trim(), how: 'raw' };
  if ((opts.fallbacks ?? 'all') === 'all') {
    const stated = conclusion(tail);
    if (stated) return { answer: stated, how: 'conclusion' };
  }
  return null;
}

function finalBoxes(text: string): string | null {
  const boxes = allBoxed(text).filter((b) => b.content.length > 0);
  const last = boxes.at(-1);
  if (!last) return null;
  const paragraph = text.lastIndexOf('\n\n', last.start);
  // Boxes come in start order and nest properly, so a box holds another exactly when the next one
  // starts inside it: only the innermost boxes are answers.
  const leaves = boxes.filter((b, i) => b.start > paragraph && !(boxes[i + 1] && boxes[i + 1]!.start < b.end));
  const distinct = new Map<string, string>();
  for (const b of leaves) {
    const key = b.content.replace(/\s+/g, '');
    if (!distinct.has(key)) distinct.set(key, b.content);
  }
  return distinct.size > 1 && distinct.size <= MAX_PARTS ? [...distinct.values()].join(', ') : last.content;
}

const ANSWER_MARKER =
  /(?:\bthe\s+final\s+answer\s+is|\bfinal\s+answer\s*(?:\*\*)?\s*:|\bthe\s+answer\s+is|(?:^|\n|\*\*)\s*answer\s*(?:\*\*)?\s*:)\s*(?:\*\*)?\s*:?/gi;

/** The text after the last "the answer is" / "Answer:" marker, up to the end of its sentence. */
function answerIs(text: string): string | null {
  let last: RegExpExecArray | null = null;
  ANSWER_MARKER.lastIndex = 0;
  for (let m = ANSWER_MARKER.exec(text); m; m = ANSWER_MARKER.exec(text)) last = m;
  if (!last) return null;
  let rest = text.slice(last.index + last[0].length);
  rest = rest.split(/I hope it is correct/i)[0]!;
  // A display block right after the marker ("Answer:\n\[ 5 \]") belongs to it; otherwise one line.
  const firstLine = rest.replace(/^\s*\n/, '').split('\n')[0] ?? '';
  const sentence = firstSentence(firstLine).trim();
  if (!sentence) return null;
  const whole = onlyMath(sentence);
  if (whole !== null) return whole.trim() || null;
  if (isBareAnswer(sentence)) return stripDelimiters(sentence).trim() || null;
  return valueInSentence(sentence) ?? (stripDelimiters(sentence).trim() || null);
}

/** A concluding sentence's value: "Therefore, the area of \(\triangle DEF\) is \(48\) square units." */
function conclusion(text: string): string | null {
  const paragraphs = text.split(/\n\s*\n/).filter((p) => p.trim());
  const last = paragraphs.at(-1);
  if (!last) return null;
  // A closing list of results ("- \(d(6) = \frac{1}{3}\)\n- \(d(16) = 1\)") is one answer in parts.
  const bullets = /\n[ \t]*(?:[-*•]|\d+[.)])[ \t]/.test('\n' + last) ? trailingBullets(last) : [];
  if (bullets.length >= 2) {
    const values = bullets.map(valueInSentence);
    if (values.every((v) => v)) return values.join(', ');
  }
  const sentences = splitSentences(last);
  const cue = /\b(?:therefore|thus|hence|so|in conclusion|in summary|finally|consequently|as a result|conclusion|final)\b/i;
  const ordered = [...sentences].reverse();
  const chosen = ordered.find((s) => cue.test(s) && valueInSentence(s)) ?? ordered.find((s) => valueInSentence(s));
  return chosen ? valueInSentence(chosen) : null;
}

/** The bullet lines that end a paragraph, without their markers. */
function trailingBullets(paragraph: string): string[] {
  const lines = paragraph.split('\n').map((l) => l.trim()).filter(Boolean);
  const out: string[] = [];
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /^(?:[-*•]|\d+[.)])\s+(.*)$/.exec(lines[i]!);
    if (!m) break;
    out.unshift(m[1]!);
  }
  return out;
}

/** The value a sentence states: bold text, else the math after its last "is/are/=", else a number. */
function valueInSentence(sentence: string): string | null {
  const s = markCurrency(sentence);
  const bold = [...s.matchAll(/\*\*([^*\n]{1,200}?)\*\*/g)]
    .map((m) => ({ text: m[1]!.trim(), at: m.index }))
    .filter((b) => !/:$/.test(b.text))
    .reverse();
  const verb = lastVerb(s);
  // Bold mathematics is the answer ("is **12**"); bold words are only when they follow the verb
  // ("the answer is **yes**", not "**The answer** is \(5\)").
  const boldValue = bold.find((b) => /\d|\\/.test(b.text)) ?? bold.find((b) => verb >= 0 && b.at >= verb - 1 && b.text.split(/\s+/).length <= 3);
  if (boldValue) return stripDelimiters(boldValue.text).trim();
  const part = verb >= 0 ? s.slice(verb) : s;
  // After a verb the value comes first ("is \(33\) because…"); with no verb the statement is the last
  // math ("Therefore, \(\cos \angle RPS = -\frac{24}{25}\)").
  const spans = verb >= 0 ? mathSpans(part) : mathSpans(part).reverse();
  if (spans.length > 0) {
    // "are \(x = -1\), \(x = 2\), and \(x = -2\)": consecutive spans joined by commas/"and" are one list.
    const run = [spans[0]!];
    for (let i = 1; i < spans.length; i++) {
      const [a, b] = verb >= 0 ? [spans[i - 1]!, spans[i]!] : [spans[i]!, spans[i - 1]!];
      if (!/^[\s,]*(?:and|or)?[\s,]*$/.test(part.slice(a.end, b.start))) break;
      run.push(spans[i]!);
    }
    if (verb < 0) run.reverse();
    const joined = run.map((r) => r.content.trim().replace(/,$/, '')).filter(Boolean).join(', ');
    if (/[\d\\]|^[a-zA-Z]$/.test(joined) || verb >= 0) return joined || null;
  }
  const num = /-?\d[\d,]*(?:\.\d+)?(?:\s*\/\s*\d+)?/.exec(stripDelimiters(part));
  return num ? num[0].replace(/,(?!\d{3})/g, '').trim() : null;
}

/** Index just past the last " is / are / equals / = " outside math, or -1. */
function lastVerb(s: string): number {
  let at = -1;
  const outside = maskMath(s);
  for (const m of outside.matchAll(/\b(?:is|are|equals|was|were|be|becomes|gives|get|obtain)\b|=/g)) {
    at = m.index + m[0].length;
  }
  return at;
}

interface Span {
  start: number;
  end: number;
  content: string;
}

// Escaped "\\$" is a dollar sign, not a delimiter (markCurrency writes currency that way).
const SPAN = /\\\(([\s\S]*?)\\\)|\\\[([\s\S]*?)\\\]|(?<!\\)\$\$([\s\S]*?)\$\$|(?<!\\)\$((?:[^$\\]|\\[\s\S])*?)\$/g;

function mathSpans(s: string): Span[] {
  return [...s.matchAll(SPAN)].map((m) => ({
    start: m.index,
    end: m.index + m[0].length,
    content: (m[1] ?? m[2] ?? m[3] ?? m[4] ?? '').trim(),
  }));
}

/** The text with math spans blanked out (same length), so prose words are found outside math. */
function maskMath(s: string): string {
  return s.replace(SPAN, (m) => ' '.repeat(m.length));
}

/** If the sentence is nothing but one math span (and punctuation), that span's content. */
function onlyMath(sentence: string): string | null {
  const s = markCurrency(sentence).trim().replace(/[.;,]+$/, '').trim();
  const spans = mathSpans(s);
  if (spans.length === 1 && spans[0]!.start === 0 && spans[0]!.end === s.length) return spans[0]!.content;
  return null;
}

function stripDelimiters(s: string): string {
  return s
    .replace(/\\[()[\]]|\$\$?/g, ' ')
    .replace(/\*\*/g, '')
    .replace(/[.;]\s*$/, '')
    .replace(/\s+/g, ' ');
}

/**
 * "$7.00 in change", "a profit of $195,000.": a dollar sign before a number that does not close as
 * math is currency. It becomes "\$" so that span matching skips it.
 */
function markCurrency(s: string): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === '\\') {
      out += s.slice(i, i + 2);
      i += 2;
      continue;
    }
    if (c === '$' && s[i + 1] !== '$') {
      const close = s.indexOf('$', i + 1);
      const content = close < 0 ? s.slice(i + 1) : s.slice(i + 1, close);
      const currency = /^\d/.test(content) && (close < 0 || /\s$/.test(content) || /[a-zA-Z]{3,}/.test(content.replace(/\\[a-zA-Z]+/g, '')));
      if (currency) {
        out += '\\$';
        i++;
        continue;
      }
      out += s.slice(i, close < 0 ? s.length : close + 1);
      i = close < 0 ? s.length : close + 1;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

function firstSentence(s: string): string {
  return splitSentences(s)[0] ?? '';
}

/** Sentences end at ". " / "! " / "? " outside math, never at a decimal point. */
function splitSentences(s: string): string[] {
  const masked = maskMath(markCurrency(s));
  const text = markCurrency(s);
  const out: string[] = [];
  let start = 0;
  for (const m of masked.matchAll(/[.!?](?=\s+|$)/g)) {
    const end = m.index + 1;
    const piece = text.slice(start, end).trim();
    if (piece) out.push(piece);
    start = end;
  }
  const rest = text.slice(start).trim();
  if (rest) out.push(rest);
  return out;
}

/** Short, one line, and at most two words of prose outside math and commands: an answer, not a solution. */
function isBareAnswer(text: string): boolean {
  const t = text.trim();
  if (!t || t.length > 200 || t.includes('\n')) return false;
  const prose = maskMath(markCurrency(t)).replace(/\\[a-zA-Z]+/g, ' ');
  const words = prose.match(/[a-zA-Z]{3,}/g) ?? [];
  return words.length <= 2;
}
