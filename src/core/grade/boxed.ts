// The boxed answers of a solution: `\boxed{…}` and `\fbox{…}` with nested braces, and the brace-less
// `\boxed 5`. One pass over the text whatever it holds (see latex.ts).

import { braceMatches } from './latex.ts';

export interface Boxed {
  /** The content, trimmed. */
  content: string;
  /** Where the `\boxed` command starts. */
  start: number;
  /** Just past the closing brace (or the brace-less argument). */
  end: number;
}

const BOX = /\\(?:boxed|fbox)(?![a-zA-Z])\s*/g;

/** Every closed box in order of appearance; a box nested in another is listed after its parent. */
export function allBoxed(text: string): Boxed[] {
  const out: Boxed[] = [];
  let matches: Map<number, number> | null = null;
  BOX.lastIndex = 0;
  for (let m = BOX.exec(text); m; m = BOX.exec(text)) {
    const at = m.index + m[0].length;
    if (text[at] === '{') {
      matches ??= braceMatches(text);
      const close = matches.get(at) ?? -1;
      if (close >= 0) out.push({ content: text.slice(at + 1, close).trim(), start: m.index, end: close + 1 });
    } else {
      // "\boxed 5": the argument runs to the next space or `$` (how TeX reads a one-token argument is
      // narrower, but models write "\boxed 12.5" meaning the whole number).
      const arg = /^[^\s$]+/.exec(text.slice(at, at + 200));
      if (arg) out.push({ content: arg[0].replace(/[.,;]$/, ''), start: m.index, end: at + arg[0].length });
    }
  }
  return out;
}

/**
 * The answer in the last box of a solution, or null when there is none. A box inside a box yields the
 * innermost content (`\boxed{\boxed{5}}` → `5`).
 */
export function lastBoxed(text: string): string | null {
  // Boxes are listed by start position, so a nested box comes after the box holding it.
  return allBoxed(text).at(-1)?.content ?? null;
}
