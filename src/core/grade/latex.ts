// Brace and bracket scanning for LaTeX answers. Everything here is linear in the input length, because
// model output is untrusted: 10k unclosed braces must cost one pass, not one pass per brace.

/**
 * For each `{` that opens a group, the index of the `}` that closes it (-1 when it never closes).
 * Escaped `\{` and `\}` are literal braces in LaTeX, not grouping, so they are skipped.
 */
export function braceMatches(text: string): Map<number, number> {
  const out = new Map<number, number>();
  const stack: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') i++;
    else if (c === '{') stack.push(i);
    else if (c === '}') {
      const open = stack.pop();
      if (open !== undefined) out.set(open, i);
    }
  }
  for (const open of stack) out.set(open, -1);
  return out;
}

const OPENERS = new Set(['(', '[', '{']);
const CLOSERS = new Set([')', ']', '}']);

/**
 * Splits at any of `seps` where no bracket is open. Brackets of any kind count alike (so a half-open
 * interval `[1,2)` nests), `\\{`/`\\}` count as brackets, and a stray closer is ignored rather than
 * driving the depth negative. List longer separators first when one is a prefix of another.
 */
export function splitTopLevel(text: string, seps: readonly string[]): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (depth === 0) {
      // A command separator must end where the command does: "\\le" is not the start of "\\left".
      const sep = seps.find((s) => text.startsWith(s, i) && !(/^\\[a-zA-Z]+$/.test(s) && /[a-zA-Z]/.test(text[i + s.length] ?? '')));
      if (sep) {
        parts.push(text.slice(start, i));
        start = i + sep.length;
        i = start - 1;
        continue;
      }
    }
    if (c === '\\') {
      const next = text[i + 1];
      if (next === '{') depth++;
      else if (next === '}') depth = Math.max(0, depth - 1);
      i++;
    } else if (OPENERS.has(c)) depth++;
    else if (CLOSERS.has(c)) depth = Math.max(0, depth - 1);
  }
  parts.push(text.slice(start));
  return parts;
}

/** True when the first character's bracket closes exactly at the last character. */
export function enclosedBy(text: string, open: string, close: string): boolean {
  if (!text.startsWith(open) || !text.endsWith(close) || text.length < open.length + close.length) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\') {
      if (text[i + 1] === '{') depth++;
      else if (text[i + 1] === '}') depth--;
      i++;
    } else if (OPENERS.has(c)) depth++;
    else if (CLOSERS.has(c)) depth--;
    if (depth === 0 && i < text.length - 1) return false;
  }
  return depth === 0;
}

/** The deepest bracket nesting in `text` (guards the parsers against pathological input). */
export function maxDepth(text: string): number {
  let depth = 0;
  let max = 0;
  for (const c of text) {
    if (OPENERS.has(c)) max = Math.max(max, ++depth);
    else if (CLOSERS.has(c)) depth = Math.max(0, depth - 1);
  }
  return max;
}
