// The last \boxed{…} (or \fbox{…}, or \boxed 5) of a solution, with nested braces.

export function lastBoxed(text: string): string | null {
  let found: string | null = null;
  const re = /\\(?:boxed|fbox)\s*(\{)?/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const start = m.index + m[0].length;
    if (m[1]) {
      let depth = 1;
      let i = start;
      for (; i < text.length && depth > 0; i++) {
        const c = text[i];
        if (c === '\\') i++;
        else if (c === '{') depth++;
        else if (c === '}') depth--;
      }
      if (depth === 0) found = text.slice(start, i - 1).trim();
    } else {
      // "\boxed 5": the argument runs to the next space or `$`.
      const rest = /^[^\s$]+/.exec(text.slice(start));
      if (rest) found = rest[0];
    }
  }
  return found;
}
