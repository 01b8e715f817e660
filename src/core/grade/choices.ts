// The options of a multiple-choice problem, so that an answer given as the option's content
// ("Plane") can be matched to a gold letter ("(C)").

const MARKER = /(?:\\textbf\{\s*\(([A-J])\)\s*\}|\(([A-J])\))/g;
/** Problems longer than this are not scanned for options (the scan is linear, this bounds it more). */
const MAX_PROBLEM = 20_000;

/** Letter → option text, in the problem's order; empty when the problem lists no options. */
export function choiceOptions(problem: string): Map<string, string> {
  const out = new Map<string, string>();
  if (problem.length > MAX_PROBLEM) return out;
  const marks = [...problem.matchAll(MARKER)].map((m) => ({ letter: (m[1] ?? m[2])!, at: m.index, end: m.index + m[0].length }));
  // Options are consecutive letters from A; anything else is "(a)" in prose, not an option list.
  const start = marks.findIndex((m) => m.letter === 'A');
  if (start < 0) return out;
  for (let i = start; i < marks.length; i++) {
    const m = marks[i]!;
    if (m.letter.charCodeAt(0) - 65 !== i - start) break;
    const next = marks[i + 1]?.at ?? problem.length;
    const text = problem
      .slice(m.end, next)
      .split(/\n|\\qquad/)[0]!
      .replace(/\$/g, '')
      .replace(/\\\s/g, ' ')
      .trim();
    if (text) out.set(m.letter, text);
  }
  return out.size >= 2 ? out : new Map();
}
