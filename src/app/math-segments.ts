// Splits untrusted model or user text into plain-text and TeX segments. Only the TeX segments ever reach
// KaTeX; plain text is inserted as text nodes. Doing the split ourselves (instead of an auto-render
// extension that walks the DOM) means no model text is ever parsed as HTML.

export type Segment = { kind: 'text'; text: string } | { kind: 'math'; tex: string; display: boolean };

/** TeX longer than this is shown as text: KaTeX time grows with input and a model can ramble. */
export const MAX_TEX_CHARS = 4000;

const DISPLAY_ENVS = new Set(['equation', 'equation*', 'align', 'align*', 'aligned', 'gather', 'gather*', 'multline', 'multline*', 'cases', 'array', 'matrix', 'pmatrix', 'bmatrix', 'vmatrix', 'split']);

interface Match {
  end: number;
  tex: string;
  display: boolean;
}

type Opener = (s: string, i: number) => Match | null;

/** Index of the brace closing the group that opens at `open`, or -1. */
function closingBrace(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i;
  }
  return -1;
}

function delimited(open: string, close: string, display: boolean): Opener {
  return (s, i) => {
    if (!s.startsWith(open, i)) return null;
    const end = s.indexOf(close, i + open.length);
    if (end < 0) return null;
    return { end: end + close.length, tex: s.slice(i + open.length, end), display };
  };
}

/** `$…$` only when it looks like math: no space just inside the dollars, no digit right after ("$5 and $10"). */
const inlineDollar: Opener = (s, i) => {
  if (s[i] !== '$' || s[i + 1] === '$') return null;
  const first = s[i + 1];
  if (first === undefined || /\s/.test(first)) return null;
  for (let j = i + 1; j < s.length; j++) {
    const c = s[j];
    if (c === '\\') {
      j++;
      continue;
    }
    if (c === '\n' && s[j + 1] === '\n') return null;
    if (c === '$') {
      if (/\s/.test(s[j - 1] ?? '') || /\d/.test(s[j + 1] ?? '')) return null;
      return { end: j + 1, tex: s.slice(i + 1, j), display: false };
    }
  }
  return null;
};

const environment: Opener = (s, i) => {
  const m = /^\\begin\{([a-zA-Z]+\*?)\}/.exec(s.slice(i, i + 40));
  if (!m || !DISPLAY_ENVS.has(m[1]!)) return null;
  const close = `\\end{${m[1]}}`;
  const end = s.indexOf(close, i + m[0].length);
  if (end < 0) return null;
  return { end: end + close.length, tex: s.slice(i, end + close.length), display: true };
};

/** A bare `\boxed{…}` outside math delimiters (models often write it so) is rendered as math. */
const bareBoxed: Opener = (s, i) => {
  if (!s.startsWith('\\boxed{', i)) return null;
  const close = closingBrace(s, i + '\\boxed'.length);
  if (close < 0) return null;
  return { end: close + 1, tex: s.slice(i, close + 1), display: false };
};

// Longest delimiters first so "$$" is not read as two empty "$…$".
const OPENERS: readonly Opener[] = [
  delimited('$$', '$$', true),
  delimited('\\[', '\\]', true),
  delimited('\\(', '\\)', false),
  environment,
  bareBoxed,
  inlineDollar,
];

export function splitMath(input: string): Segment[] {
  const out: Segment[] = [];
  let text = '';
  const flush = () => {
    if (text) out.push({ kind: 'text', text });
    text = '';
  };
  for (let i = 0; i < input.length; ) {
    const c = input[i]!;
    if (c === '\\' && input[i + 1] === '$') {
      text += '$';
      i += 2;
      continue;
    }
    if (c === '$' || c === '\\') {
      const m = OPENERS.reduce<Match | null>((found, open) => found ?? open(input, i), null);
      if (m && m.tex.trim() && m.tex.length <= MAX_TEX_CHARS) {
        flush();
        out.push({ kind: 'math', tex: m.tex, display: m.display });
        i = m.end;
        continue;
      }
    }
    text += c;
    i++;
  }
  flush();
  return out;
}
